"""Start weights and masks of the follow-up controls, drawn from a ticket (mask + the state its survivors start from).

* :func:`sign_preserving_reinit` (Zhou et al. 2019, "Deconstructing Lottery Tickets"): the ticket's mask,
  magnitudes from a fresh draw of the init distribution, the signs of the ticket's start weights;
* :func:`weight_shuffle` (Frankle et al. 2021, "Pruning Neural Networks at Initialization: Why are We
  Missing the Mark?"): the ticket's mask, its kept start values permuted among the kept positions of each layer;
* :func:`mask_shuffle` (same paper): the mask permuted within each layer (same count per layer), the start
  weights at the new kept positions. For a ticket pruned layer by layer this is the paper's random pruning
  control (``random_mask_like``) under another name: both draw a uniform mask with the ticket's per-layer counts.

Each is a pure function ``(start state, mask, fresh state | generator) -> (start state, mask)``: tensors not
in the mask (biases, batch norm) are the ticket's, so a control differs from the ticket only in what it
studies, and pruned positions are exactly zero. ``start`` is θ0, or θk when the ticket rewinds.
"""

import torch

from .mask import Mask
from .magnitude import random_mask_like


def _masked_copy(start: dict, mask: Mask) -> dict:
    out = {k: v.detach().clone() for k, v in start.items()}
    for name, keep in mask.items():
        out[name][~keep.to(out[name].device)] = 0
    return out


def _check(start: dict, mask: Mask, other: dict | None = None) -> None:
    for name, keep in mask.items():
        if name not in start or (other is not None and name not in other):
            raise KeyError(f"mask {name!r} names no tensor of the state dict")
        if keep.shape != start[name].shape:
            raise ValueError(f"mask {name!r} has shape {tuple(keep.shape)}, the weight {tuple(start[name].shape)}")


def sign_preserving_reinit(start: dict, mask: Mask, fresh: dict) -> tuple[dict, Mask]:
    """Kept weights get |fresh| with the sign of ``start`` (a zero start weight counts as positive)."""
    _check(start, mask, fresh)
    out = _masked_copy(start, mask)
    for name, keep in mask.items():
        magnitude = fresh[name].detach().abs().to(out[name].device, out[name].dtype)
        signed = torch.where(start[name] < 0, -magnitude, magnitude)
        out[name] = torch.where(keep.to(signed.device), signed, torch.zeros_like(signed))
    return out, {n: m.clone() for n, m in mask.items()}


def weight_shuffle(start: dict, mask: Mask, generator: torch.Generator) -> tuple[dict, Mask]:
    """Each layer's kept start values, permuted among that layer's kept positions."""
    _check(start, mask)
    out = _masked_copy(start, mask)
    for name, keep in mask.items():
        flat, kept = out[name].view(-1), keep.reshape(-1).nonzero().squeeze(1).to(out[name].device)
        order = torch.randperm(len(kept), generator=generator).to(kept.device)
        flat[kept] = start[name].detach().reshape(-1)[kept][order].to(flat.dtype)
    return out, {n: m.clone() for n, m in mask.items()}


def mask_shuffle(start: dict, mask: Mask, generator: torch.Generator) -> tuple[dict, Mask]:
    """A uniformly random mask with the same number of kept weights in each layer, and the start weights
    at its kept positions."""
    _check(start, mask)
    shuffled = random_mask_like(mask, generator)
    return _masked_copy(start, shuffled), shuffled
