"""Data sets: registry, in-memory splits, batch stream. Importing registers the built-in data sets."""

from . import cifar, cifar_jpeg, digits, mnist  # noqa: F401  (registers data sets)
from .registry import RawData, dataset_names, register_dataset
from .splits import BatchStream, DataSplits, default_data_dir, load_splits

__all__ = [
    "BatchStream",
    "DataSplits",
    "RawData",
    "dataset_names",
    "default_data_dir",
    "load_splits",
    "register_dataset",
]
