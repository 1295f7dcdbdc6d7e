"""Data sets by name. A loader returns the raw official train/test split; splitting and
normalization are shared (see splits.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UsageError


@dataclass
class RawData:
    train_x: torch.Tensor  # uint8, N x C x H x W
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    validation_size: int  # the default number of training examples held out for validation


_DATASETS: dict[str, Callable[[Path, bool], RawData]] = {}


def register_dataset(name: str):
    def decorator(loader):
        _DATASETS[name] = loader
        return loader

    return decorator


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def get_loader(name: str) -> Callable[[Path, bool], RawData]:
    try:
        return _DATASETS[name]
    except KeyError:
        raise UsageError(f"unknown dataset {name!r}; choose one of: {', '.join(dataset_names())}") from None
