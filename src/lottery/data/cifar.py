"""CIFAR-10 from the official python release (``cifar-10-python.tar.gz``, Krizhevsky 2009).

The data folder may hold, first match wins:

1. ``cifar-10-batches-py/`` with the six batch files (the extracted archive),
2. the six batch files directly,
3. ``cifar-10-python.tar.gz`` (sha256-verified, read in memory, never extracted),
4. nothing: with ``--download`` the archive is fetched (and verified) first.

Batches are unpickled with an allow-list that admits numpy arrays and nothing else, so a crafted
file cannot run code. A batch holding the official 10,000 images must also match the official
md5; smaller batches in the same format (tiny test data) are accepted on their structure alone.
"""

import codecs
import hashlib
import importlib
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import LotteryError
from .cache import cached
from .files import fetch
from .registry import RawData, register_dataset

ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
# md5 of the extracted official files (as listed with the archive and used by torchvision).
OFFICIAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
OFFICIAL_BATCH_SIZE = 10_000
IMAGE_BYTES = 3 * 32 * 32
NUM_CLASSES = 10
READER_VERSION = 1  # bump when parsing changes: cached arrays of older readers are then not used


def _numpy_helper(submodule: str, name: str):
    """numpy's pickle helpers moved from numpy.core to numpy._core in numpy 2; old files name the former."""
    for module in ("numpy._" + submodule, "numpy." + submodule):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"this numpy has no {submodule}.{name}")


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals a pickled numpy array needs; anything else is refused."""

    _NUMPY_HELPERS = frozenset({("core.multiarray", "_reconstruct"), ("core.numeric", "_frombuffer")})

    def find_class(self, module: str, name: str):
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        submodule = module.removeprefix("numpy.").removeprefix("_")  # numpy._core.x / numpy.core.x -> core.x
        if module.startswith("numpy.") and (submodule, name) in self._NUMPY_HELPERS:
            return _numpy_helper(submodule, name)
        if (module, name) == ("_codecs", "encode"):  # how Python 3 writes bytes at protocol 2
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")


def parse_batch(raw: bytes, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N x 3 x 32 x 32 uint8, labels N int64) from the bytes of one batch file."""

    def corrupt(reason: str) -> LotteryError:
        return LotteryError(
            f"corrupt or truncated CIFAR-10 batch {where}: {reason}; replace it with the official file from {ARCHIVE}"
        )

    try:
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # a damaged pickle can fail in many ways; all mean the same to the user
        raise corrupt(f"cannot unpickle it ({type(e).__name__}: {e})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise corrupt("it is not a dict with b'data' and b'labels'")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise corrupt(f"b'data' must be a uint8 array of shape (N, {IMAGE_BYTES})")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise corrupt("b'labels' is not a list of integers") from None
    if labels.shape != (len(data),):
        raise corrupt(f"it has {len(data)} images but {labels.size} labels")
    if len(labels) and not (0 <= labels.min() and labels.max() < NUM_CLASSES):
        raise corrupt(f"labels must be in 0..{NUM_CLASSES - 1}")
    if len(data) == OFFICIAL_BATCH_SIZE and hashlib.md5(raw).hexdigest() != OFFICIAL_MD5[name]:
        raise corrupt("it has the official size but not the official md5")
    # Each row is 1,024 red, then green, then blue bytes, each a row-major 32x32 plane.
    return data.reshape(-1, 3, 32, 32), labels


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise LotteryError(f"cannot read CIFAR-10 batch {path}: {e.strerror}") from None


def _batches_from_folder(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if not (folder / name).exists()]
    if missing:
        raise LotteryError(
            f"missing CIFAR-10 batch file {folder / missing[0]} (the folder has some batches "
            "but not all six); extract the complete official archive there"
        )
    return {
        name: parse_batch(_read_file(folder / name), name, str(folder / name)) for name in (*TRAIN_BATCHES, TEST_BATCH)
    }


def read_archive(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for name in (*TRAIN_BATCHES, TEST_BATCH):
                member = f"{BATCH_DIR}/{name}"
                try:
                    f = tar.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    raise LotteryError(f"CIFAR-10 archive {path} has no file {member}")
                out[name] = parse_batch(f.read(), name, f"{path}:{member}")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise LotteryError(f"cannot read CIFAR-10 archive {path}: {e}") from None
    return out


def _batch_folder(folder: Path) -> Path | None:
    for candidate in (folder / BATCH_DIR, folder):
        if any((candidate / name).exists() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return candidate
    return None


def _archive(folder: Path, download: bool) -> Path:
    """The verified official archive in ``folder`` (fetched first when absent and ``download``)."""
    if not (folder / ARCHIVE).exists() and not download:
        raise LotteryError(
            f"no CIFAR-10 data in {folder}: put the official {ARCHIVE} there (or its extracted "
            f"{BATCH_DIR}/ folder), or pass --download to fetch it"
        )
    return fetch(folder, ARCHIVE, ARCHIVE_SHA256, MIRRORS, download)


def _raw_data(batches: dict[str, tuple[np.ndarray, np.ndarray]]) -> RawData:
    def stack(names):
        images = np.concatenate([batches[n][0] for n in names])
        labels = np.concatenate([batches[n][1] for n in names])
        return torch.from_numpy(images), torch.from_numpy(labels)

    train_x, train_y = stack(TRAIN_BATCHES)
    test_x, test_y = stack((TEST_BATCH,))
    return RawData(train_x, train_y, test_x, test_y, num_classes=NUM_CLASSES, validation_size=5000)


@register_dataset("cifar10")
def cifar10(folder: Path, download: bool) -> RawData:
    """The official split, from the first source present in ``folder`` (see the module doc)."""
    folder = Path(folder)
    batch_folder = _batch_folder(folder)
    if batch_folder is not None:  # extracted batches are arrays already: reading them is as fast as a cache
        return _raw_data(_batches_from_folder(batch_folder))
    archive = _archive(folder, download)  # verified: its expected sha256 is its content's
    return cached("cifar10", READER_VERSION, [ARCHIVE_SHA256], lambda: _raw_data(read_archive(archive)))
