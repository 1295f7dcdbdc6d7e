"""Data sets by name. A module of this package registers a loader, which returns the raw official
train/test split (splitting and normalization are shared, see splits.py); DATASETS imports every
module here before its first lookup."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..registry import Registry


@dataclass
class RawData:
    train_x: torch.Tensor  # uint8, N x C x H x W
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    validation_size: int  # the default number of training examples held out for validation


Loader = Callable[[Path, bool], RawData]  # (data folder, download missing files) -> the raw data
DATASETS: Registry[Loader] = Registry("dataset", "lottery.data")


def register_dataset(name: str):
    def decorator(loader):
        DATASETS.register(name, loader)
        return loader

    return decorator


def dataset_names() -> list[str]:
    return DATASETS.names()


def get_loader(name: str) -> Loader:
    return DATASETS.get(name)
