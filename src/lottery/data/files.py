"""Local data files: sha256 verification and (when online) download from a list of mirrors."""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import LotteryError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str) -> None:
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise LotteryError(
            f"corrupt or truncated data file {path}: sha256 is {actual}, expected {expected_sha256}; "
            "put the official file there, or pass --download to replace it with a verified download"
        )


def fetch(folder: Path, filename: str, sha256: str, mirrors: list[str], download: bool) -> Path:
    """Return ``folder/filename`` after checking its sha256; download it first if absent and allowed.

    A file that exists but fails the checksum is never used; with ``download`` it is replaced by a
    downloaded copy once that copy passes the checksum (until then it stays as it was).
    """
    path = Path(folder) / filename
    if not path.exists():
        if not download:
            raise LotteryError(f"missing data file {path}; put the official file there, or pass --download to fetch it")
        _download(path, sha256, mirrors)
    elif download and sha256_of(path) != sha256:
        _download(path, sha256, mirrors)
    verify(path, sha256)
    return path


def _download(path: Path, sha256: str, mirrors: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + path.name
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
            if sha256_of(Path(tmp)) != sha256:
                errors.append(f"{url}: checksum mismatch")
                continue
            os.replace(tmp, path)
            return
        except (urllib.error.URLError, OSError) as e:
            errors.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise LotteryError(f"could not download {path.name}: " + "; ".join(errors))
