"""Masks: one boolean tensor per prunable weight (True = kept)."""

import torch
from torch import nn

Mask = dict[str, torch.Tensor]


def full_mask(model: nn.Module, names) -> Mask:
    params = dict(model.named_parameters())
    return {name: torch.ones_like(params[name], dtype=torch.bool) for name in names}


def density(mask: Mask) -> float:
    """Pm: the fraction of prunable weights that remain."""
    total = sum(m.numel() for m in mask.values())
    return sum(int(m.sum()) for m in mask.values()) / total if total else 1.0


def layer_density(mask: Mask) -> dict[str, float]:
    return {name: int(m.sum()) / m.numel() for name, m in mask.items()}


@torch.no_grad()
def apply_mask(model: nn.Module, mask: Mask) -> None:
    """Zero the pruned weights in place."""
    params = dict(model.named_parameters())
    for name, m in mask.items():
        params[name].mul_(m.to(params[name].device, params[name].dtype))


def pruned_weights_nonzero(model: nn.Module, mask: Mask) -> list[str]:
    """Names of weights that are nonzero where the mask prunes them (should be empty)."""
    params = dict(model.named_parameters())
    return [name for name, m in mask.items() if bool((params[name].detach()[~m.to(params[name].device)] != 0).any())]
