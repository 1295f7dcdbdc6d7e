"""Image files laid out as ``train/<class>/<image>`` and ``test/<class>/<image>`` (.jpg, .jpeg, .png), read from a
folder or from a tar file (plain or compressed, read in memory, never extracted).

Classes are the class folder names sorted by name; label i is the i-th. Files are listed in name order and then
put into a fixed seeded order, so arrays never come out sorted by class. Images are decoded with Pillow; all must
have the same size. They come out as 1 channel when every image is grayscale, else as 3 (RGB).
"""

import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ..errors import LotteryError
from ..seeds import generator

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LAYOUT = "train/<class>/<image> and test/<class>/<image> (.jpg, .jpeg or .png)"
ORDER_SEED = 0  # the fixed shuffle of each split; part of the reader (changing it changes every array)


@dataclass
class ImageSplits:
    train_x: torch.Tensor  # uint8, N x C x H x W, in the seeded order
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    files_sha256: str  # the images' paths and contents (folder_digest's value, for a tar as for a folder)


class _Source:
    """The image files of a folder or tar: their relative posix paths and a way to read each one's bytes."""

    def __init__(self, where: Path, names: list[str], read: Callable[[str], bytes]):
        self.where, self.names, self.read = where, names, read


def _folder_source(folder: Path) -> _Source:
    names = [
        p.relative_to(folder).as_posix()
        for split in SPLITS
        if (folder / split).is_dir()
        for p in (folder / split).rglob("*")
        if p.is_file()
    ]

    def read(name: str) -> bytes:
        try:
            return (folder / name).read_bytes()
        except OSError as e:
            raise LotteryError(f"cannot read image {folder / name}: {e.strerror}") from None

    return _Source(folder, names, read)


def _tar_source(tar: tarfile.TarFile, path: Path) -> _Source:
    members = {}
    for m in tar.getmembers():
        if m.isfile():
            members[PurePosixPath(m.name.removeprefix("./")).as_posix()] = m

    def read(name: str) -> bytes:
        f = tar.extractfile(members[name])
        if f is None:
            raise LotteryError(f"cannot read {name} in image tar {path}")
        return f.read()

    return _Source(path, list(members), read)


def _images_by_split(source: _Source) -> dict[str, list[tuple[str, str]]]:
    """For each split, (path, class) of its images in name order; a layout error is one line naming the file."""
    found: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for name in sorted(source.names):
        parts = name.split("/")
        if parts[0] not in SPLITS or parts[-1].startswith("."):
            continue  # other files beside train/ and test/ (a README) and hidden files are not images
        if len(parts) != 3 or not parts[2].lower().endswith(IMAGE_SUFFIXES):
            raise LotteryError(f"unexpected file {name} in {source.where}: expected only {LAYOUT}")
        found[parts[0]].append((name, parts[1]))
    for split in SPLITS:
        if not found[split]:
            raise LotteryError(f"no {split} images in {source.where}: expected {LAYOUT}")
    train_classes = sorted({c for _, c in found["train"]})
    test_classes = sorted({c for _, c in found["test"]})
    if test_classes != train_classes:
        extra = sorted(set(test_classes) ^ set(train_classes))
        raise LotteryError(
            f"train/ and test/ in {source.where} have different class folders ({', '.join(extra)} in only one of them)"
        )
    return found


def _decode(raw: bytes, name: str, where: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # only readers of image folders need Pillow loaded

    try:
        with Image.open(io.BytesIO(raw)) as image:
            gray = image.mode in ("1", "L")
            pixels = np.asarray(image.convert("L" if gray else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise LotteryError(f"cannot decode image {name} in {where}: {e}") from None
    return pixels[None] if gray else pixels.transpose(2, 0, 1)  # C x H x W


def _file_entry(name: str, raw: bytes) -> bytes:
    """One image's part of the digest of a file list: its path and the sha256 of its bytes."""
    return name.encode() + b"\0" + hashlib.sha256(raw).digest()


def _decode_split(source: _Source, images: list[tuple[str, str]], classes: list[str], split: str, digest):
    """The split's images and labels in the seeded order; each file read also goes into ``digest`` (a sha256)."""
    arrays = []
    for name, _ in images:
        raw = source.read(name)
        digest.update(_file_entry(name, raw))
        arrays.append(_decode(raw, name, source.where))
    first_name, first = images[0][0], arrays[0]
    for (name, _), a in zip(images, arrays):
        if a.shape[1:] != first.shape[1:]:
            raise LotteryError(
                f"image {name} in {source.where} is {a.shape[2]}x{a.shape[1]} pixels but "
                f"{first_name} is {first.shape[2]}x{first.shape[1]}: all images must have one size"
            )
    channels = max(a.shape[0] for a in arrays)
    x = np.stack([np.broadcast_to(a, (channels, *a.shape[1:])) for a in arrays])
    label = {c: i for i, c in enumerate(classes)}
    y = np.array([label[c] for _, c in images], dtype=np.int64)
    order = torch.randperm(len(y), generator=generator(ORDER_SEED, "image folder order", split))
    return torch.from_numpy(x)[order].contiguous(), torch.from_numpy(y)[order].contiguous()


def _with_source(path: Path, use: Callable[[_Source], object]):
    if path.is_dir():
        return use(_folder_source(path))
    try:
        with tarfile.open(path) as tar:  # plain, .gz, .bz2 or .xz: detected from the bytes
            return use(_tar_source(tar, path))
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise LotteryError(f"cannot read image tar {path}: {e}") from None
    except OSError as e:
        raise LotteryError(f"cannot read image tar {path}: {e.strerror or e}") from None


def read_image_folder(path: Path) -> ImageSplits:
    """Decode every image of the folder or tar at ``path`` (see the module doc for the layout and order)."""

    def read(source: _Source) -> ImageSplits:
        found = _images_by_split(source)
        classes = sorted({c for _, c in found["train"]})
        digest = hashlib.sha256()
        train_x, train_y = _decode_split(source, found["train"], classes, "train", digest)
        test_x, test_y = _decode_split(source, found["test"], classes, "test", digest)
        if train_x.shape[1:] != test_x.shape[1:]:
            raise LotteryError(
                f"train and test images in {path} differ in size or channels "
                f"({tuple(train_x.shape[1:])} vs {tuple(test_x.shape[1:])})"
            )
        return ImageSplits(train_x, train_y, test_x, test_y, classes, digest.hexdigest())

    return _with_source(Path(path), read)


def folder_digest(folder: Path) -> str:
    """sha256 over the image files' paths and contents (train, then test, each in name order): the cache key
    of an image folder (not of a tar), and :attr:`ImageSplits.files_sha256` of a folder or tar with those files."""

    def digest(source: _Source) -> str:
        h = hashlib.sha256()
        found = _images_by_split(source)
        for name, _ in found["train"] + found["test"]:
            h.update(_file_entry(name, source.read(name)))
        return h.hexdigest()

    return _with_source(Path(folder), digest)
