"""``cifar10-jpeg``: CIFAR-10 (JPEG copy), the 60,000 CIFAR-10 images as lossy JPEG files (quality 75).

Not the official release: decoded pixels differ from it, so results on it are labelled "CIFAR-10 (JPEG copy)",
never plain CIFAR-10. The data folder (``--data-dir``) may be, first match wins:

1. a folder holding ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` (or .png),
2. a folder holding ``cifar10-jpeg.tar`` (sha256-verified when it has that name) or ``cifar10-jpeg.tar.gz``,
3. a tar file itself, laid out as in 1.

It cannot be downloaded; ``--dataset cifar10 --download`` fetches the official release. Labels follow the class
folders sorted by name (for CIFAR-10 that is the official order, airplane=0 ... truck=9).
"""

from pathlib import Path

from ..errors import LotteryError
from .cache import cached
from .files import sha256_of
from .imagefolder import LAYOUT, folder_digest, read_image_folder
from .registry import RawData, register_dataset

NAME = "cifar10-jpeg"
LABEL = "CIFAR-10 (JPEG copy)"
KNOWN_TAR = "cifar10-jpeg.tar"
KNOWN_TAR_SHA256 = "9b03d8b82c98f5420bb09c198e785690c784f29d4133b4935b90bda314410880"
READER_VERSION = 1  # bump when decoding or ordering changes: cached arrays of older readers are then not used
VALIDATION_SIZE = 5000


def find_source(folder: Path) -> Path:
    """The folder or tar to read (see the module doc)."""
    folder = Path(folder)
    if folder.is_file():
        return folder
    if (folder / "train").is_dir() or (folder / "test").is_dir():
        return folder
    for name in (KNOWN_TAR, KNOWN_TAR + ".gz"):
        if (folder / name).is_file():
            return folder / name
    if not folder.exists():
        raise LotteryError(f"data folder {folder} does not exist; put {KNOWN_TAR} there (or its {LAYOUT})")
    raise LotteryError(
        f"no {LABEL} data in {folder}: put {KNOWN_TAR} there, or images laid out as {LAYOUT}; "
        "it cannot be downloaded (--dataset cifar10 --download fetches the official release)"
    )


def source_sha256(source: Path) -> str:
    """The source's content digest; the known tar must have its published sha256."""
    if source.is_dir():
        return folder_digest(source)
    try:
        digest = sha256_of(source)
    except OSError as e:
        raise LotteryError(f"cannot read {source}: {e.strerror}") from None
    if source.name == KNOWN_TAR and digest != KNOWN_TAR_SHA256:
        raise LotteryError(
            f"corrupt or altered {source}: sha256 is {digest}, expected {KNOWN_TAR_SHA256}; "
            f"replace it with an intact copy (or rename it to read it as an unverified image tar)"
        )
    return digest


@register_dataset(NAME, reads_a_file=True)
def cifar10_jpeg(folder: Path, download: bool) -> RawData:
    source = find_source(folder)

    def decode() -> RawData:
        images = read_image_folder(source)
        return RawData(
            images.train_x,
            images.train_y,
            images.test_x,
            images.test_y,
            num_classes=len(images.classes),
            validation_size=VALIDATION_SIZE,
            files_sha256=images.files_sha256,
        )

    return cached(NAME, READER_VERSION, [source_sha256(source)], decode)
