"""Result files written atomically (temp file, fsync, rename): a crash never leaves a half-written
file under a real name, and a file that still fails to parse is treated as absent and redone."""

import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import LotteryError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def output_folder(out: Path, what: str) -> Path:
    """Create the folder ``out`` for ``what`` (\"the report\", \"the analysis\") or say in one line why not."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LotteryError(
            f"cannot write {what} to {out}: {error.strerror}; choose another folder with --out"
        ) from None
    return out


def current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _write_error(e, path, data) from None
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates 0600 files; results should be as readable as any other file the user creates
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_error(e, path, data) from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_error(e: OSError, path: Path, data: bytes) -> LotteryError:
    """A full disk (or quota) as one line naming the folder and the space needed; any other failure
    (permissions, a file where a folder belongs) as one line naming the file."""
    if e.errno not in NO_SPACE:
        return LotteryError(f"cannot write {path}: {e.strerror or e}")
    try:
        free = f", {_size(shutil.disk_usage(path.parent).free)} free"
    except OSError:
        free = ""
    return LotteryError(
        f"no space left to write {path.name} in {path.parent} ({_size(len(data))} needed{free}); "
        "free some space (files already written are intact) and run the same command again"
    )


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1_000_000 else f"{n / 1e6:.1f} MB"


def save_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


def save_json(path: Path, obj) -> None:
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def load_json(path: Path):
    """The parsed file, or None if it is absent or unreadable (then the work that writes it is redone)."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # NotADirectoryError: a file stands where a folder of the path should be


def save_tensors(path: Path, obj) -> None:
    import torch  # here, not at the top: commands that only read JSON start without importing torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, buffer.getvalue())


def load_tensors(path: Path):
    """Like load_json: None if absent or unreadable."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception:  # truncated/corrupt pickle: redo
        return None
