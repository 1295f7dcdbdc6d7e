"""Pruning at initialization: the scores of SNIP, GraSP and SynFlow, and masks keeping exact counts.

* SNIP (Lee et al., ICLR 2019): |g ⊙ θ|, g the gradient of the loss on a few batches; keeps the highest;
* GraSP (Wang et al., ICLR 2020): S = −θ ⊙ Hg, H the Hessian of the loss; removes the highest S, so it
  keeps the *lowest* (the weights whose removal would reduce the gradient flow most);
* SynFlow (Tanaka et al., NeurIPS 2020): data-free. With every weight replaced by |θ| and an all-ones
  input, R = Σ f(1) and the score is θ ⊙ ∂R/∂θ (positive); pruned over ``rounds`` rounds on an
  exponential schedule, the scores recomputed on the surviving weights each round.

Every function is pure: the model passed in is read, never changed (SynFlow works on a copy), and a
mask keeps exactly the asked counts. A *group* is a list of layers ranked together and how many of
their weights to keep: the methods' papers rank every layer together (one group); a layer in a group
of its own keeps its own count. Ties go as in magnitude pruning: a stable sort removes the earliest
of equal scores. Scores are computed in the model's mode and dtype; call ``.eval()`` first for a
network with batch norm or dropout.
"""

import copy
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .mask import Mask

Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, integer labels)
Group = tuple[tuple[str, ...], int]  # (layers ranked together, weights they keep in all)


def _params(model: nn.Module, names: Iterable[str]) -> dict[str, torch.Tensor]:
    named = dict(model.named_parameters())
    missing = [n for n in names if n not in named]
    if missing:
        raise KeyError(f"the model has no parameters {missing}")
    return {n: named[n] for n in names}


def _loss(model: nn.Module, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x) / temperature, y)


def mean_gradient(
    model: nn.Module, names: Sequence[str], batches: Sequence[Batch], temperature: float = 1.0
) -> dict[str, torch.Tensor]:
    """The gradient of the cross-entropy (logits divided by ``temperature``), averaged over ``batches``."""
    if not batches:
        raise ValueError("scoring needs at least one batch")
    params = _params(model, names)
    total = [torch.zeros_like(p) for p in params.values()]
    for batch in batches:
        for t, g in zip(total, torch.autograd.grad(_loss(model, batch, temperature), list(params.values()))):
            t += g.detach()
    return {n: t / len(batches) for n, t in zip(params, total)}


def snip_scores(model: nn.Module, names: Sequence[str], batches: Sequence[Batch]) -> dict[str, torch.Tensor]:
    """SNIP's connection sensitivity |g ⊙ θ| of the weights ``names`` (higher: kept)."""
    params = _params(model, names)
    grad = mean_gradient(model, names, batches)
    return {n: (grad[n] * p.detach()).abs() for n, p in params.items()}


def grasp_scores(
    model: nn.Module, names: Sequence[str], batches: Sequence[Batch], temperature: float = 1.0
) -> dict[str, torch.Tensor]:
    """GraSP's S = −θ ⊙ Hg of the weights ``names`` (lower: kept), g and H the gradient and Hessian of
    the loss over ``names`` averaged over ``batches``; Hg = ∂(g·∇L)/∂θ with g held fixed."""
    params = _params(model, names)
    grad = mean_gradient(model, names, batches, temperature)
    hg = [torch.zeros_like(p) for p in params.values()]
    for batch in batches:
        live = torch.autograd.grad(_loss(model, batch, temperature), list(params.values()), create_graph=True)
        flow = torch.stack([(grad[n] * g).sum() for n, g in zip(params, live)]).sum()
        for h, d in zip(hg, torch.autograd.grad(flow, list(params.values()))):
            h += d.detach()
    return {n: -p.detach() * h / len(batches) for (n, p), h in zip(params.items(), hg)}


def linearized(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` with every weight, bias and batch-norm statistic replaced by its absolute
    value (SynFlow's linearization). Float64: the flow is a product over layers that overflows float32 in deep nets."""
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    return net


def synflow_scores(net: nn.Module, mask: Mask, input_shape: Sequence[int]) -> dict[str, torch.Tensor]:
    """One SynFlow round on ``net`` (already :func:`linearized`) with ``mask`` applied: θ ⊙ ∂R/∂θ for the
    weights of ``mask``, R the sum of the outputs for an all-ones input. Pruned weights score 0."""
    params = _params(net, mask)
    with torch.no_grad():
        full = {n: p.detach().clone() for n, p in params.items()}
        for n, p in params.items():
            p.mul_(mask[n].to(p.device, p.dtype))
    try:
        first = next(iter(params.values()))
        flow = net(torch.ones(1, *input_shape, dtype=first.dtype, device=first.device)).sum()
        grads = torch.autograd.grad(flow, list(params.values()))
        return {n: (g * p).detach() for (n, p), g in zip(params.items(), grads)}
    finally:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(full[n])


def keep_top(scores: dict[str, torch.Tensor], groups: Sequence[Group], survivors: Mask | None = None) -> Mask:
    """For each group, keep its count of highest ``scores`` among ``survivors`` (default: every weight),
    ranked over the group's layers together. Returns a CPU mask for every layer of the groups."""
    out: Mask = {}
    for names, count in groups:
        flat = torch.cat([scores[n].detach().flatten().double().cpu() for n in names])
        if not torch.isfinite(flat).all():
            raise ValueError(f"scores of {', '.join(names)} are not all finite")
        alive = (
            torch.cat([survivors[n].flatten().cpu() for n in names])
            if survivors is not None
            else torch.ones(flat.numel(), dtype=torch.bool)
        )
        candidates = alive.nonzero().squeeze(1)
        if not 0 <= count <= candidates.numel():
            raise ValueError(f"cannot keep {count} of the {candidates.numel()} surviving weights of {', '.join(names)}")
        order = torch.sort(flat[candidates], stable=True).indices  # ascending: the first ones are removed
        keep = torch.zeros(flat.numel(), dtype=torch.bool)
        keep[candidates[order[candidates.numel() - count :]]] = True
        offset = 0
        for n in names:
            size = scores[n].numel()
            out[n] = keep[offset : offset + size].view(scores[n].shape)
            offset += size
    return out


def keep_bottom(scores: dict[str, torch.Tensor], groups: Sequence[Group], survivors: Mask | None = None) -> Mask:
    """:func:`keep_top` of the negated scores: keep the lowest (the inverted ranking)."""
    return keep_top({n: -s for n, s in scores.items()}, groups, survivors)


def schedule_count(total: int, kept: int, round_: int, rounds: int) -> int:
    """Weights a group keeps after round ``round_`` of ``rounds`` on SynFlow's exponential schedule:
    total · (kept/total)^(round/rounds), exactly ``kept`` after the last round."""
    if round_ >= rounds or total == 0:
        return kept
    return min(total, max(kept, round(total * (kept / total) ** (round_ / rounds))))


def synflow_mask(
    model: nn.Module, groups: Sequence[Group], input_shape: Sequence[int], rounds: int = 100, lowest: bool = False
) -> Mask:
    """SynFlow's iterative pruning from the dense ``model`` to the groups' counts in ``rounds`` rounds.
    ``lowest``: keep the lowest scores each round instead (the inverted ranking)."""
    if rounds < 1:
        raise ValueError(f"SynFlow needs at least one round, got {rounds}")
    net = linearized(model)
    params = _params(net, [n for names, _ in groups for n in names])
    mask: Mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
    sizes = [(names, sum(params[n].numel() for n in names), kept) for names, kept in groups]
    choose = keep_bottom if lowest else keep_top
    for r in range(1, rounds + 1):
        scores = synflow_scores(net, mask, input_shape)
        mask = choose(scores, [(names, schedule_count(total, kept, r, rounds)) for names, total, kept in sizes], mask)
    return {n: m.cpu() for n, m in mask.items()}


def ranking_groups(target: Mask, ranked: Iterable[str], layerwise: bool = False) -> list[Group]:
    """Groups that keep as many weights as ``target``: the layers ``ranked`` together keep their total
    (``layerwise``: each its own count), every other layer of ``target`` its own count."""
    together = [] if layerwise else [n for n in target if n in set(ranked)]
    groups: list[Group] = [(tuple(together), sum(int(target[n].sum()) for n in together))] if together else []
    return groups + [((n,), int(keep.sum())) for n, keep in target.items() if n not in together]
