"""Data sets by name. A module of this package registers a loader, which returns the raw official
train/test split (splitting and normalization are shared, see splits.py); DATASETS imports every
module here before its first lookup."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UsageError
from ..registry import Registry


@dataclass
class RawData:
    train_x: torch.Tensor  # uint8, N x C x H x W
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    validation_size: int  # the default number of training examples held out for validation
    # sha256 of the image files' paths and contents, for data read from image files; None where the data set's
    # published checksums pin its files
    files_sha256: str | None = None


Loader = Callable[[Path, bool], RawData]  # (data folder, download missing files) -> the raw data
DATASETS: Registry[Loader] = Registry("dataset", "lottery.data")
_READS_A_FILE: set[str] = set()  # data sets whose data folder may also be a single file (an archive)


def register_dataset(name: str, *, reads_a_file: bool = False):
    """``reads_a_file``: the loader also takes a file (an archive) where it is given the data folder."""

    def decorator(loader):
        DATASETS.register(name, loader)
        if reads_a_file:
            _READS_A_FILE.add(name)
        return loader

    return decorator


def check_data_dir(name: str, path: Path) -> None:
    """What ``--data-dir`` may name, for every command: a folder, or a file where the data set reads one."""
    DATASETS.discover()  # the loaders register what they read as they are imported
    if name not in _READS_A_FILE and path.exists() and not path.is_dir():
        raise UsageError(f"--data-dir {path} is a file, not a folder ({name} reads its files from a folder)")


def dataset_names() -> list[str]:
    return DATASETS.names()


def get_loader(name: str) -> Loader:
    return DATASETS.get(name)
