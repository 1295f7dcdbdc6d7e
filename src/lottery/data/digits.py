"""The embedded offline default: scikit-learn's bundled 8x8 digits, upsampled to MNIST's 28x28.

It needs no download, so the main job runs on any fresh machine. 1,797 images: 297 test,
300 validation, 1,200 train.
"""

from pathlib import Path

import torch
import torch.nn.functional as F

from .registry import RawData, register_dataset


@register_dataset("digits")
def digits(folder: Path, download: bool) -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    # Fixed test split (the data set has no official one).
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    test, train = order[:297], order[297:]
    return RawData(images[train], labels[train], images[test], labels[test], num_classes=10, validation_size=300)
