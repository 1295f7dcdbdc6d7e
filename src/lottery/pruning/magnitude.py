"""Magnitude pruning: layer-wise (each layer its own rate) and global (layers ranked together).

Counts are exact: a round removes ``round(rate * remaining)`` weights, chosen by a stable sort
of the surviving weights' magnitudes, so ties at the threshold never prune extra weights.
"""

import torch

from ..errors import UsageError
from .mask import Mask


def check_rate(rate: float, what: str = "pruning rate") -> None:
    if not 0.0 <= rate < 1.0:
        raise UsageError(f"{what} {rate} is impossible: it must be in [0, 1)")


def _smallest_survivors(magnitudes: torch.Tensor, keep: torch.Tensor, count: int) -> torch.Tensor:
    """Flat indices of the ``count`` smallest magnitudes among kept entries."""
    survivors = keep.flatten().nonzero().squeeze(1)
    order = torch.sort(magnitudes.flatten()[survivors], stable=True).indices
    return survivors[order[:count]]


def prune_count(remaining: int, rate: float) -> int:
    return round(rate * remaining)


def layerwise_magnitude_prune(weights: dict[str, torch.Tensor], mask: Mask, rates: dict[str, float]) -> Mask:
    """Prune ``rates[name]`` of the remaining weights of each layer ``name``, by magnitude."""
    new_mask = {}
    for name, keep in mask.items():
        rate = rates.get(name, 0.0)
        check_rate(rate)
        keep = keep.clone()
        count = prune_count(int(keep.sum()), rate)
        if count:
            flat = keep.view(-1)
            flat[_smallest_survivors(weights[name].detach().abs().cpu(), keep.cpu(), count).to(keep.device)] = False
        new_mask[name] = keep
    return new_mask


def global_magnitude_prune(weights: dict[str, torch.Tensor], mask: Mask, rate: float, names: list[str]) -> Mask:
    """Prune ``rate`` of the remaining weights of all layers in ``names`` ranked together; others untouched."""
    check_rate(rate)
    new_mask = {name: keep.clone() for name, keep in mask.items()}
    if not names:
        return new_mask
    magnitudes = torch.cat([weights[n].detach().abs().cpu().flatten() for n in names])
    keep_all = torch.cat([mask[n].cpu().flatten() for n in names])
    chosen = _smallest_survivors(magnitudes, keep_all, prune_count(int(keep_all.sum()), rate))
    keep_all[chosen] = False
    offset = 0
    for n in names:
        size = mask[n].numel()
        new_mask[n] = keep_all[offset : offset + size].view_as(mask[n]).to(mask[n].device)
        offset += size
    return new_mask


def keep_largest(weights: dict[str, torch.Tensor], names: list[str], kept: int) -> Mask:
    """Masks for ``names`` keeping the ``kept`` largest magnitudes, ranked across all of them together.
    Ties go the same way as in magnitude pruning: a stable sort prunes the earliest of equal weights."""
    magnitudes = torch.cat([weights[n].detach().abs().cpu().flatten() for n in names])
    if not 0 <= kept <= magnitudes.numel():
        raise ValueError(f"cannot keep {kept} of {magnitudes.numel()} weights")
    keep = torch.ones(magnitudes.numel(), dtype=torch.bool)
    keep[torch.sort(magnitudes, stable=True).indices[: magnitudes.numel() - kept]] = False
    out, offset = {}, 0
    for n in names:
        size = weights[n].numel()
        out[n] = keep[offset : offset + size].view(weights[n].shape)
        offset += size
    return out


def random_mask_like(mask: Mask, generator: torch.Generator) -> Mask:
    """A random mask with exactly the same number of kept weights in each layer as ``mask``."""
    out = {}
    for name, keep in mask.items():
        kept = int(keep.sum())
        chosen = torch.randperm(keep.numel(), generator=generator)[:kept]
        new = torch.zeros(keep.numel(), dtype=torch.bool)
        new[chosen] = True
        out[name] = new.view_as(keep).to(keep.device)
    return out
