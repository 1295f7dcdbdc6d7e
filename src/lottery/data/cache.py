"""Decoded data sets cached on disk, so a process does not decode the same files again.

A cache file holds the decoded uint8 arrays of one data set (RawData) and is named by a key made of the
data set's name, its reader's version and the sha256 of its source files: changed files (or a changed reader)
miss the cache, they never read stale arrays. Files are written atomically under a lock (processes started
together decode once); a cache file that fails to load or whose arrays fail their crc32 is ignored and rewritten.

Folder: ``$LOTTERY_CACHE``, else ``$XDG_CACHE_HOME/lottery``, else ``~/.cache/lottery`` (then ``decoded/``).
``LOTTERY_CACHE=off`` turns the cache off. A cache that cannot be written only costs time, never the run.
"""

import hashlib
import json
import os
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..errors import LotteryError
from ..storage import load_tensors, save_tensors
from .registry import RawData

ENV = "LOTTERY_CACHE"
_TENSORS = ("train_x", "train_y", "test_x", "test_y")
_FORMAT = 1  # layout of a cache file


def cache_root() -> Path | None:
    """The cache folder, or None when the cache is off."""
    configured = os.environ.get(ENV)
    if configured:
        return None if configured.lower() == "off" else Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lottery"


def cache_path(name: str, reader_version: int, source_sha256: Sequence[str]) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    key = hashlib.sha256(json.dumps([_FORMAT, name, reader_version, list(source_sha256)]).encode()).hexdigest()
    return root / "decoded" / f"{name}-{key[:32]}.pt"


def _crc(t: torch.Tensor) -> int:
    return zlib.crc32(t.contiguous().view(torch.uint8).numpy().data)


def _to_file(raw: RawData) -> dict:
    tensors = {k: getattr(raw, k) for k in _TENSORS}
    return {
        **tensors,
        "crc32": {k: _crc(t) for k, t in tensors.items()},
        "num_classes": raw.num_classes,
        "validation_size": raw.validation_size,
        "files_sha256": raw.files_sha256,
    }


def _from_file(obj) -> RawData | None:
    """The RawData in a loaded cache file, or None if the file is damaged in any way."""
    try:
        tensors = {k: obj[k] for k in _TENSORS}
        if any(not isinstance(t, torch.Tensor) or _crc(t) != obj["crc32"][k] for k, t in tensors.items()):
            return None
        files_sha256 = obj["files_sha256"]  # a file written without it is rewritten with it
        if files_sha256 is not None and not isinstance(files_sha256, str):
            return None
        return RawData(
            **tensors,
            num_classes=int(obj["num_classes"]),
            validation_size=int(obj["validation_size"]),
            files_sha256=files_sha256,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _warn(message: str) -> None:
    print(f"lottery: {message}", file=sys.stderr)


def _skip_write(path: Path, reason: str) -> None:
    _warn(f"cannot write data cache {path} ({reason}); going on without it (the data will be decoded again next time)")


def cached(name: str, reader_version: int, source_sha256: Sequence[str], decode: Callable[[], RawData]) -> RawData:
    """``decode()``'s RawData, from the cache when a file for these sources is there, else decoded and stored."""
    path = cache_path(name, reader_version, source_sha256)
    if path is None:
        return decode()
    raw = _from_file(load_tensors(path))
    if raw is not None:
        return raw
    try:
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock")
        lock.acquire()
    except OSError as e:
        _warn(f"data cache {path.parent} is not usable ({e.strerror or e}); decoding without it")
        return decode()
    try:
        raw = _from_file(load_tensors(path))  # another process may have written it while this one waited
        if raw is None:
            raw = decode()
            try:
                save_tensors(path, _to_file(raw))
            except OSError as e:
                _skip_write(path, e.strerror or str(e))
            except LotteryError:  # storage reports a full disk (or quota) as a LotteryError
                _skip_write(path, "no space left")
        return raw
    finally:
        lock.release()
