"""What data an experiment was made from: the ``data`` entry of its hparams.json.

The data set's name and split settings are hyperparameters (part of the experiment's name); the files they are
read from are not. The record pins those: the split sizes, the number of classes and, for data read from image
files (``cifar10-jpeg``'s folder or tar), a sha256 over the files' paths and contents. MNIST, Fashion-MNIST and
CIFAR-10 files must have their published checksums, so their record holds the sizes only.

The record sits beside the hyperparameters in hparams.json, not among them: it never changes a name. A folder
is extended, and analysed, only with data of the same record; a folder written before records existed has
none, and takes the record of the first run that extends it.
"""

from pathlib import Path

from ..data import DataSplits
from ..errors import LotteryError

KEY = "data"


def data_record(data: DataSplits) -> dict:
    record: dict = {
        "train": len(data.train_y),
        "validation": len(data.val_y),
        "test": len(data.test_y),
        "classes": data.num_classes,
    }
    if data.files_sha256 is not None:
        record["image_files_sha256"] = data.files_sha256
    return record


def check_data_record(stored: dict, current: dict, hparams_file: Path, advice: str) -> None:
    """Refuse data whose record differs from the one in ``stored`` (a parsed hparams.json) in one line ending
    with ``advice``; a folder without a record passes."""
    recorded = stored.get(KEY)
    if recorded is None or recorded == current:
        return
    if not isinstance(recorded, dict):
        raise LotteryError(f"{hparams_file} holds a damaged data record; the results folder is damaged")
    differ = "; ".join(
        f"{key.replace('_', ' ')} {recorded.get(key, 'none')} (this data: {current.get(key, 'none')})"
        for key in sorted(recorded.keys() | current.keys())
        if recorded.get(key) != current.get(key)
    )
    raise LotteryError(f"{hparams_file.parent} was made from other data: {differ}; {advice}")
