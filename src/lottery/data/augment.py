"""CIFAR data augmentation (He et al. 2016): random horizontal flip, then a random 32x32 crop of
the image zero-padded by 4 pixels on each side.

Vectorized over the batch, on the batch's device. All randomness comes from the given CPU
generator, which BatchStream seeds per iteration, so a resumed run replays the same crops.
Inputs are already standardized, so the zero padding is the per-channel training mean.
"""

import torch
import torch.nn.functional as F

PAD = 4


def flip_and_crop(x: torch.Tensor, generator: torch.Generator, pad: int = PAD) -> torch.Tensor:
    """A new N x C x H x W batch: each image flipped with probability 1/2 and shifted by up to ``pad`` pixels."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    top = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip, top, left = flip.to(x.device), top.to(x.device), left.to(x.device)
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (top.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (left.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]
