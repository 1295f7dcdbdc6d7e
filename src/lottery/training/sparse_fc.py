"""A very sparse stacked layer: only its kept weights are optimized, and its forward pass is a sparse matmul.

For a layer of K networks whose masks keep few weights, the dense path wastes most of its work:
the optimizer steps every weight (pruned ones included, with zero gradients) and the forward
matmul multiplies by zeros. Here the kept weights are one packed vector (the optimizer's
parameter), the K networks' weights one block-diagonal CSR matrix for the forward pass, and a
dense copy (``mirror``, zeros where pruned) serves the weight gradient (a dense batched matmul,
then a gather of the kept entries: faster on CPU than a sampled sparse matmul above ~2% density),
the input gradient and evaluation. benchmarks/sparse_kernels.py measures where this wins.
"""

import warnings

import torch

# The sparse forward matmul beats the dense one at or below this density (measured on a 2-core
# AVX-512 CPU for LeNet's layers at batch 60; see benchmarks/sparse_kernels.py).
SPARSE_FORWARD_DENSITY = 0.1
# The sampled sparse matmul (SDDMM) beats a dense weight gradient + gather at or below this density.
SAMPLED_GRAD_DENSITY = 0.02


def sparse_wins(keep: torch.Tensor, threshold: float) -> bool:
    """Whether every network of a stacked layer keeps at most ``threshold`` of its weights."""
    return bool((keep.flatten(1).float().mean(1) <= threshold).all())


class SparseLinearStack:
    """Packed kept weights of a stacked layer (K, out, in) with mask ``keep`` (same shape, bool).

    ``values`` is what the optimizer steps (it gets a ``.grad``); ``mirror`` is the stacked dense
    weight, rewritten from ``values`` after every step by :meth:`refresh`.
    """

    def __init__(self, mirror: torch.Tensor, keep: torch.Tensor):
        self.mirror = mirror
        self.k, self.out, self.inp = mirror.shape
        # Kept positions in row-major order, which is the CSR order of the block-diagonal matrix
        # whose block k is network k's (out, in) weight.
        self.index = keep.reshape(-1).nonzero().squeeze(1)
        self.values = mirror.detach().reshape(-1)[self.index].clone()
        self.values.grad = torch.zeros_like(self.values)
        self.use_sparse_forward = sparse_wins(keep, SPARSE_FORWARD_DENSITY)
        self.use_sampled_grad = sparse_wins(keep, SAMPLED_GRAD_DENSITY)
        rows = self.index // self.inp  # k * out + row within the block
        self.columns = ((rows // self.out) * self.inp + self.index % self.inp).to(torch.int32)
        counts = torch.bincount(rows, minlength=self.k * self.out)
        self.crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).to(torch.int32)

    def matrix(self) -> torch.Tensor:
        with warnings.catch_warnings():  # "sparse CSR support is in beta": fine for the kernels used here
            warnings.simplefilter("ignore")
            return torch.sparse_csr_tensor(self.crow, self.columns, self.values, (self.k * self.out, self.k * self.inp))

    def forward(self, h: torch.Tensor, bias: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out`` (K, B, out) = h (K, B, in) @ W^T + bias, for all K networks."""
        if not self.use_sparse_forward:
            return torch.baddbmm(bias.unsqueeze(1), h, self.mirror.transpose(1, 2), out=out)
        batch = h.shape[1]
        stacked = h.transpose(1, 2).reshape(self.k * self.inp, batch)  # block k: network k's inputs
        z = torch.sparse.mm(self.matrix(), stacked).view(self.k, self.out, batch)
        return torch.add(z.transpose(1, 2), bias.unsqueeze(1), out=out)

    def weight_grad(self, d: torch.Tensor, h: torch.Tensor, scratch: torch.Tensor) -> None:
        """Gradient of the kept weights: (d^T h) (K, out, in) at the kept positions; computed densely
        into ``scratch`` and gathered, or, when very sparse, only at the kept positions (SDDMM)."""
        if self.use_sampled_grad:
            batch = h.shape[1]
            rows = d.transpose(1, 2).reshape(self.k * self.out, batch)  # block k: network k's output grads
            columns = h.transpose(0, 1).reshape(batch, self.k * self.inp)  # block k: network k's inputs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sampled = torch.sparse.sampled_addmm(self.matrix(), rows, columns, beta=0.0)
            grad = self.values.grad
            assert grad is not None  # attached in __init__
            grad.copy_(sampled.values())
            return
        torch.bmm(d.transpose(1, 2), h, out=scratch)
        torch.index_select(scratch.view(-1), 0, self.index, out=self.values.grad)

    @torch.no_grad()
    def refresh(self) -> None:
        """Write the stepped values into the dense mirror (pruned entries stay exactly zero)."""
        self.mirror.view(-1).index_copy_(0, self.index, self.values)

    @torch.no_grad()
    def load_from_mirror(self) -> None:
        self.values.copy_(self.mirror.reshape(-1)[self.index])

    def to_dense(self, packed: torch.Tensor) -> torch.Tensor:
        """A packed per-weight tensor (optimizer state) as (K, out, in), zeros where pruned."""
        dense = packed.new_zeros(self.k * self.out * self.inp)
        dense[self.index] = packed
        return dense.view(self.k, self.out, self.inp)

    def to_packed(self, dense: torch.Tensor) -> torch.Tensor:
        return dense.reshape(-1)[self.index].clone()
