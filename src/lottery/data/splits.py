"""In-memory train/validation/test tensors and the seeded batch stream used for training."""

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UsageError
from ..seeds import generator
from .registry import check_data_dir, get_loader


@dataclass
class DataSplits:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    files_sha256: str | None = None  # RawData.files_sha256 of the data read (None: pinned by checksums, or in memory)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def to(self, device) -> "DataSplits":
        return DataSplits(
            self.train_x.to(device),
            self.train_y.to(device),
            self.val_x.to(device),
            self.val_y.to(device),
            self.test_x.to(device),
            self.test_y.to(device),
            self.num_classes,
            self.files_sha256,
        )


def default_data_dir(name: str) -> Path:
    return Path.home() / ".cache" / "lottery" / "data" / name


def load_splits(
    name: str,
    data_dir: Path | None = None,
    download: bool = False,
    validation_size: int | None = None,
    split_seed: int = 0,
) -> DataSplits:
    """Load a data set, hold out a seeded validation set from its training split, standardize per channel."""
    loader = get_loader(name)
    folder = Path(data_dir) if data_dir else default_data_dir(name)
    check_data_dir(name, folder)
    raw = loader(folder, download)
    n_val = raw.validation_size if validation_size is None else validation_size
    if not 0 < n_val < len(raw.train_y):
        raise UsageError(f"validation size {n_val} must be between 1 and {len(raw.train_y) - 1} for {name}")
    order = torch.randperm(len(raw.train_y), generator=generator(split_seed, "validation split"))
    val, train = order[:n_val], order[n_val:]
    train_x = raw.train_x[train].float()
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def standardize(x):
        return ((x.float() - mean) / std).contiguous()

    return DataSplits(
        standardize(raw.train_x[train]),
        raw.train_y[train].clone(),
        standardize(raw.train_x[val]),
        raw.train_y[val].clone(),
        standardize(raw.test_x),
        raw.test_y.clone(),
        raw.num_classes,
        raw.files_sha256,
    )


class BatchStream:
    """Batches for iteration i, a pure function of (seed, i): resuming at any iteration replays exactly.

    Each epoch is a fresh seeded permutation; the last partial batch of an epoch is dropped.
    The training set is permuted once per epoch so batches are contiguous views (no per-step copy).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int, augment=None):
        if not 0 < batch_size <= len(y):
            raise UsageError(f"batch size {batch_size} must be between 1 and the training set size {len(y)}")
        self.x, self.y, self.batch_size, self.seed, self.augment = x, y, batch_size, seed, augment
        self.steps_per_epoch = len(y) // batch_size
        self._epoch: int | None = None

    def _permuted(self, epoch: int):
        if self._epoch != epoch:
            perm = torch.randperm(len(self.y), generator=generator(self.seed, "epoch", epoch)).to(self.x.device)
            self._px, self._py = self.x[perm], self.y[perm]
            self._epoch = epoch
        return self._px, self._py

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, step = divmod(iteration, self.steps_per_epoch)
        px, py = self._permuted(epoch)
        lo = step * self.batch_size
        x, y = px[lo : lo + self.batch_size], py[lo : lo + self.batch_size]
        if self.augment is not None:
            x = self.augment(x, generator(self.seed, "augment", iteration, device="cpu"))
        return x, y
