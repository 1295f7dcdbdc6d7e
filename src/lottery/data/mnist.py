"""MNIST and Fashion-MNIST from the four official IDX .gz files."""

from pathlib import Path

import torch

from .cache import cached
from .files import fetch
from .idx import read_idx
from .registry import RawData, register_dataset

_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

MNIST_SHA256 = dict(
    zip(
        _FILES,
        (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    )
)
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

FASHION_SHA256 = dict(
    zip(
        _FILES,
        (
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        ),
    )
)
FASHION_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]


READER_VERSION = 1  # bump when decoding changes: cached arrays of older readers are then not used


def load_idx_folder(
    folder: Path, checksums: dict[str, str], mirrors: list[str], download: bool, cache_name: str = "idx"
) -> RawData:
    paths = [fetch(folder, name, checksums[name], mirrors, download) for name in _FILES]  # each sha256-verified

    def decode() -> RawData:
        train_x, train_y, test_x, test_y = (torch.from_numpy(read_idx(p).copy()) for p in paths)
        return RawData(
            train_x.unsqueeze(1),
            train_y.long(),
            test_x.unsqueeze(1),
            test_y.long(),
            num_classes=10,
            validation_size=5000,
        )

    return cached(cache_name, READER_VERSION, [checksums[name] for name in _FILES], decode)


@register_dataset("mnist")
def mnist(folder: Path, download: bool) -> RawData:
    return load_idx_folder(folder, MNIST_SHA256, MNIST_MIRRORS, download, "mnist")


@register_dataset("fashion-mnist")
def fashion_mnist(folder: Path, download: bool) -> RawData:
    return load_idx_folder(folder, FASHION_SHA256, FASHION_MIRRORS, download, "fashion-mnist")
