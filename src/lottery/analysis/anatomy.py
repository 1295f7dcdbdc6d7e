"""What a ticket is made of, from its mask and weights alone (any model, any source of masks: an
experiment folder or :mod:`lottery.api`): where its start weights lie, how far its kept weights grow,
and which input pixels keep connections."""

import math

import torch

from ..pruning import Mask


def start_values(start: dict, mask: Mask) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, (start values of kept weights, start values of pruned weights) as flat CPU tensors."""
    out = {}
    for name, keep in mask.items():
        values, keep = start[name].detach().cpu().reshape(-1), keep.cpu().reshape(-1)
        out[name] = (values[keep], values[~keep])
    return out


def magnitude_change(start: dict, final: dict, mask: Mask) -> dict[str, torch.Tensor]:
    """Per layer, |θ_final| - |θ_start| of the kept weights (flat CPU tensors): positive where training grew them."""
    out = {}
    for name, keep in mask.items():
        keep = keep.cpu().reshape(-1)
        out[name] = (
            final[name].detach().cpu().reshape(-1)[keep].abs() - start[name].detach().cpu().reshape(-1)[keep].abs()
        )
    return out


def image_shape_for(features: int) -> tuple[int, int, int] | None:
    """(channels, height, width) of square grayscale or RGB images flattened to ``features`` inputs, or None."""
    for channels in (1, 3):
        side = math.isqrt(features // channels)
        if features % channels == 0 and side * side * channels == features:
            return channels, side, side
    return None


def input_layer(state: dict) -> str | None:
    """The name of the layer that reads the model's input: the first weight (a tensor of two or more dimensions)
    of ``state``, a state dict in the model's order (every registered model creates its layers in the order
    its forward pass uses them). None when ``state`` holds no weight."""
    return next((name for name, value in state.items() if value.dim() >= 2), None)


def first_image_layer(mask: Mask, state: dict, image_shape: tuple[int, ...] | None = None) -> str | None:
    """The layer reading the input (see :func:`input_layer`; ``state``: the model's weights, e.g. θ0) if the
    mask prunes it, it is fully connected and it reads whole images (``image_shape``, or square grayscale/RGB
    images inferred from its input count); None otherwise (a conv net, or a first layer left unpruned: a deeper
    layer's inputs are hidden units, not pixels)."""
    name = input_layer(state)
    keep = mask.get(name) if name is not None else None
    if keep is None or keep.dim() != 2:
        return None
    shape = image_shape or image_shape_for(keep.shape[1])
    return name if shape is not None and math.prod(shape) == keep.shape[1] else None


def input_connectivity(layer_mask: torch.Tensor, image_shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """The fraction of each input pixel's outgoing weights that a fully connected first layer keeps (mask:
    outputs x inputs), as a height x width map in [0, 1]. A pixel of a C-channel image has outputs x C
    outgoing weights (one per output and channel), so its value is the kept ones among them over
    outputs x C: the mean over channels of the per-channel fractions."""
    shape = tuple(image_shape) if image_shape else image_shape_for(layer_mask.shape[1])
    if shape is None or math.prod(shape) != layer_mask.shape[1]:
        raise ValueError(f"a layer with {layer_mask.shape[1]} inputs does not read images of shape {shape}")
    counts = layer_mask.cpu().sum(0).to(torch.float64).view(*shape)
    channels = shape[0] if len(shape) == 3 else 1
    per_pixel = counts.sum(0) if counts.dim() == 3 else counts
    return per_pixel / (layer_mask.shape[0] * channels)


def border_share(connectivity: torch.Tensor, width: int = 4) -> float:
    """The mean connectivity of the ``width``-pixel border divided by the mean over the whole image: 1 when the
    border is as connected as the average pixel, 0 when it lost every connection."""
    inner = torch.zeros_like(connectivity, dtype=torch.bool)
    inner[width:-width, width:-width] = True
    overall = float(connectivity.mean())
    return float(connectivity[~inner].mean()) / overall if overall else float("nan")
