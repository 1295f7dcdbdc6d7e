"""K fully connected networks of one shape as stacked (K, out, in) weights, trained in one computation.

The forward and backward passes are written out by hand (batched matmuls, ReLU, softmax cross
entropy) into buffers allocated once, so a training step allocates almost nothing and pays the
Python/dispatcher overhead once for all K networks. The math is the one autograd does for
``lenet.FullyConnected`` trained on ``mean cross-entropy``, so the K networks follow the same
trajectory as K separate runs of :func:`training.loop.train`, up to float rounding.
"""

import torch
from torch import nn

from ..models.lenet import FullyConnected
from ..pruning import Mask
from .sparse_fc import SparseLinearStack, sparse_wins


def stackable_fc(models: list[nn.Module]) -> bool:
    """True when every model is a plain ``FullyConnected`` of the same shape, dtype and device."""
    if not models or any(type(m) is not FullyConnected for m in models):
        return False
    if any(isinstance(mod, nn.Dropout) and mod.p > 0 for m in models for mod in m.modules()):
        return False  # per-model dropout streams cannot be replayed in one batched pass
    shapes = [[(n, p.shape, p.dtype, p.device) for n, p in m.named_parameters()] for m in models]
    return all(s == shapes[0] for s in shapes) and shapes[0][0][2] == torch.float32


class StackedFC:
    """``K`` networks: layer ``l`` has weight (K, out, in) and bias (K, out).

    ``params`` (in ``model.named_parameters()`` order, with ``.grad`` buffers attached) are what an
    optimizer steps; ``compute_grads`` fills the gradients of each network's mean cross-entropy,
    with pruned weights' gradients zeroed, as in the one-network loop.
    ``sparse``: layers whose networks all keep at most this fraction of weights use the sparse
    kernels of :mod:`sparse_fc` (None: never).
    ``compute_dtype``: bfloat16 runs the step's matmuls on bfloat16 copies of the weights and
    activations, as autocast does for ``loop.train`` (float32 master weights, gradients and softmax).
    """

    def __init__(
        self,
        models: list[FullyConnected],
        masks: list[Mask],
        sparse: float | None = None,
        compute_dtype: torch.dtype = torch.float32,
    ):
        if compute_dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"the stacked engine computes in float32 or bfloat16, not {compute_dtype}")
        if compute_dtype != torch.float32 and sparse is not None:
            raise ValueError("the sparse kernels compute in float32 only")
        self.compute_dtype = compute_dtype
        self.k = len(models)
        self.layer_names = [f"hidden.{i}" for i in range(len(models[0].hidden))] + ["output"]
        states = [dict(m.named_parameters()) for m in models]
        with torch.no_grad():
            self.weights = [
                torch.stack([s[f"{n}.weight"].detach() for s in states]).contiguous() for n in self.layer_names
            ]
            self.biases = [
                torch.stack([s[f"{n}.bias"].detach() for s in states]).contiguous() for n in self.layer_names
            ]
        self.param_names = [f"{n}.{kind}" for n in self.layer_names for kind in ("weight", "bias")]
        for p in self.weights + self.biases:
            p.grad = torch.zeros_like(p)  # for sparse layers: scratch space of the dense weight gradient
        # Stacked 0/1 masks, only for layers some network prunes (a full layer needs no masking pass).
        self.masks: list[torch.Tensor | None] = []
        self.keep: list[torch.Tensor | None] = []  # boolean, for the invariant check
        for name, w in zip(self.layer_names, self.weights):
            key = f"{name}.weight"
            if any(key in m and not bool(m[key].all()) for m in masks):
                keep = torch.stack(
                    [m[key].to(w.device) if key in m else torch.ones_like(w[0], dtype=torch.bool) for m in masks]
                )
                self.keep.append(keep)
                self.masks.append(keep.to(w.dtype))
            else:
                self.keep.append(None)
                self.masks.append(None)
        self.sparse: list[SparseLinearStack | None] = [
            SparseLinearStack(w, keep)
            if keep is not None and sparse is not None and sparse_wins(keep, sparse)
            else None
            for w, keep in zip(self.weights, self.keep)
        ]
        # What the optimizer steps, in model.named_parameters() order: a sparse layer's packed kept weights.
        self.params = [
            p for s, w, b in zip(self.sparse, self.weights, self.biases) for p in ((w if s is None else s.values), b)
        ]
        self._buffers: dict[int, tuple] = {}

    # -- training -------------------------------------------------------------------------------
    def _buffers_for(self, batch: int) -> tuple:
        """Activation and gradient buffers for a batch size, made once."""
        if batch not in self._buffers:
            w0, dtype = self.weights[0], self.compute_dtype
            acts = [torch.empty(self.k, batch, w.shape[1], device=w0.device) for w in self.weights[1:]]
            outs = [torch.empty(self.k, batch, w.shape[1], device=w0.device, dtype=dtype) for w in self.weights]
            grads = [torch.empty(self.k, batch, w.shape[1], device=w0.device, dtype=dtype) for w in self.weights]
            minus_one = torch.full((self.k, batch, 1), -1.0, device=w0.device)
            self._buffers[batch] = (acts, outs, grads, minus_one)
        return self._buffers[batch]

    def _compute_grads_low(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """:meth:`compute_grads` with the matmuls in ``compute_dtype`` on copies of the weights made
        for this step; logits' softmax, gradients and bias sums in float32."""
        dtype, batch = self.compute_dtype, y.shape[1]
        _, outs, grads, minus_one = self._buffers_for(batch)
        weights = [w.to(dtype) for w in self.weights]
        h = x.reshape(self.k, batch, -1).to(dtype)
        inputs = [h]
        last = len(weights) - 1
        for i, (w, b) in enumerate(zip(weights, self.biases)):
            h = torch.baddbmm(b.unsqueeze(1).to(dtype), h, w.transpose(1, 2), out=outs[i])
            if i < last:
                h.relu_()
                inputs.append(h)
        d = torch.softmax(h.float(), dim=2)
        d.scatter_add_(2, y.unsqueeze(2), minus_one)
        d.mul_(1.0 / batch)
        for i in range(last, -1, -1):
            low = d.to(dtype)
            grad, mask = self.weights[i].grad, self.masks[i]
            assert grad is not None  # attached in __init__
            grad.copy_(torch.bmm(low.transpose(1, 2), inputs[i]))
            if mask is not None:
                grad.mul_(mask)
            torch.sum(d, dim=1, out=self.biases[i].grad, dtype=torch.float32)
            if i > 0:
                below = grads[i - 1]
                torch.bmm(low, weights[i], out=below)
                below.mul_(inputs[i].sign())
                d = below

    def compute_grads(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Gradients of each network's mean cross-entropy on its batch ``x[k]`` (K, B, ...), ``y`` (K, B)."""
        if self.compute_dtype != torch.float32:
            return self._compute_grads_low(x, y)
        batch = y.shape[1]
        _, outs, grads, minus_one = self._buffers_for(batch)
        h = x.reshape(self.k, batch, -1)
        inputs = [h]
        last = len(self.weights) - 1
        for i, (w, b, sparse) in enumerate(zip(self.weights, self.biases, self.sparse)):
            if sparse is not None:
                h = sparse.forward(h, b, out=outs[i])
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=outs[i])
            if i < last:
                h.relu_()
                inputs.append(h)
        # d(mean CE)/d(logits) = (softmax - onehot) / B, per network
        d = torch.softmax(h, dim=2)
        d.scatter_add_(2, y.unsqueeze(2), minus_one)
        d.mul_(1.0 / batch)
        for i in range(last, -1, -1):
            w, sparse, mask = self.weights[i], self.sparse[i], self.masks[i]
            assert w.grad is not None  # attached in __init__
            if sparse is not None:
                sparse.weight_grad(d, inputs[i], scratch=w.grad)
            else:
                torch.bmm(d.transpose(1, 2), inputs[i], out=w.grad)
                if mask is not None:
                    w.grad.mul_(mask)
            torch.sum(d, dim=1, out=self.biases[i].grad)
            if i > 0:
                below = grads[i - 1]
                torch.bmm(d, w, out=below)  # a sparse layer's dense mirror is exact (zeros where pruned)
                below.mul_(inputs[i].sign())  # ReLU: pass the gradient where the unit was active
                d = below

    def after_step(self) -> None:
        """Hook run after every optimizer step (the sparse kernels refresh their copies of the weights)."""
        for s in self.sparse:
            if s is not None:
                s.refresh()

    def pruned_nonzero(self) -> list[int]:
        """Indices of networks with a pruned weight that is not exactly zero (should be empty)."""
        bad: set[int] = set()
        for w, keep in zip(self.weights, self.keep):
            if keep is not None:
                nonzero = (w.detach() * ~keep).flatten(1).ne(0).any(1)
                bad.update(int(i) for i in nonzero.nonzero().flatten())
        return sorted(bad)

    # -- evaluation -----------------------------------------------------------------------------
    @torch.no_grad()
    def eval_weights(self, dtype: torch.dtype = torch.float32) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The layers' (weight, bias) in ``dtype``, laid out for :meth:`logits` once per evaluation:
        the first layer of all K networks as one (in, K*out) matrix, the others as (K, in, out)."""
        w0, b0 = self.weights[0].detach(), self.biases[0].detach()
        first = (w0.reshape(-1, w0.shape[2]).t().to(dtype).contiguous(), b0.reshape(-1).to(dtype))
        rest = [
            (w.detach().transpose(1, 2).to(dtype).contiguous(), b.detach().unsqueeze(1).to(dtype))
            for w, b in zip(self.weights[1:], self.biases[1:])
        ]
        return [first] + rest

    @torch.no_grad()
    def logits(self, x: torch.Tensor, weights: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """(K, N, classes) float32 logits of all networks on the same inputs ``x`` (N, ...), with
        ``weights`` from :meth:`eval_weights`: their dtype is the precision of the matmuls (bfloat16
        uses the CPU's AMX/AVX-512 units or GPU tensor cores, accumulating in float32).
        The first layer of all K networks is one (N, in) x (in, K*out) matmul."""
        n = x.shape[0]
        (w0, b0), rest = weights[0], weights[1:]
        h = torch.addmm(b0, x.reshape(n, -1).to(w0.dtype), w0).view(n, self.k, -1).transpose(0, 1)
        # ReLU and the copy to (K, N, out) in one pass (batched matmuls on the strided view ran ~2x
        # slower, and a separate in-place ReLU costs as much as the copy in bfloat16)
        h = torch.clamp_min(h, 0, out=torch.empty(h.shape, dtype=h.dtype, device=h.device))
        for i, (w, b) in enumerate(rest):
            h = torch.baddbmm(b, h, w)
            if i < len(rest) - 1:
                h.relu_()
        return h.float()

    # -- networks in and out --------------------------------------------------------------------
    def state_of(self, k: int) -> dict[str, torch.Tensor]:
        """Network ``k``'s state dict (copies), named like ``FullyConnected.state_dict()``."""
        dense = [p for pair in zip(self.weights, self.biases) for p in pair]
        return {name: p[k].detach().clone() for name, p in zip(self.param_names, dense)}

    @torch.no_grad()
    def load_state(self, k: int, state: dict[str, torch.Tensor]) -> None:
        for i, name in enumerate(self.layer_names):
            self.weights[i][k].copy_(state[f"{name}.weight"])
            self.biases[i][k].copy_(state[f"{name}.bias"])
        for s in self.sparse:
            if s is not None:
                s.load_from_mirror()

    def unpack(self, slot: int, tensor: torch.Tensor) -> torch.Tensor:
        """A per-parameter tensor of ``params[slot]`` (e.g. Adam's moments) in stacked dense form (K, ...)."""
        s = self.sparse[slot // 2] if slot % 2 == 0 else None
        return tensor if s is None else s.to_dense(tensor)

    def pack(self, slot: int, dense: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`unpack`."""
        s = self.sparse[slot // 2] if slot % 2 == 0 else None
        return dense if s is None else s.to_packed(dense)
