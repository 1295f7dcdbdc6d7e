"""Data sets: registry, in-memory splits, batch stream. Each module of this package that defines a data
set registers it (DATASETS finds them on its first lookup)."""

from .registry import DATASETS, RawData, dataset_names, register_dataset
from .splits import BatchStream, DataSplits, default_data_dir, load_splits

__all__ = [
    "DATASETS",
    "BatchStream",
    "DataSplits",
    "RawData",
    "dataset_names",
    "default_data_dir",
    "load_splits",
    "register_dataset",
]
