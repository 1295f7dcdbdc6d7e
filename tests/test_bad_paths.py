"""Every command against every kind of bad path: one line on stderr, a non-zero exit, nothing lost and
no partial output file.

The table below names each command (the ``lottery`` subcommands and the scripts in scripts/ that take
paths; scripts/time_deep.py takes none) with the paths it reads and writes. Each column of the matrix
is a kind of bad path:

- an input that is missing, or a file where a folder is expected;
- an output that is a file where a folder is expected, or the reverse;
- an output that cannot be written: below a regular file (unwritable whoever runs it, root included);
- a full disk, simulated in this process: files open, then every write under the test's folder fails
  with ENOSPC (a real full disk behaves so), both on a fresh output and over an earlier one.

A new command joins the table with one row.
"""

import builtins
import errno
import hashlib
import io
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import TINY_RUN

from lottery.analysis.instability import InstabilityRun
from lottery.cli import build_parser, hparams_from_args, main

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import paper_claims  # noqa: E402
import reproduce  # noqa: E402


@dataclass(frozen=True)
class Command:
    name: str
    argv: Callable[[Path, Path], list]  # (input, output) -> arguments
    output: str | None  # "folder", "file" or None (writes nothing)
    entry: Callable = main  # main(argv) -> exit code, or raises SystemExit
    prog: tuple[str, ...] = ("lottery",)  # what its error line may start with
    input: str = "experiment"  # what the input is: "experiment" folder, results "root", "table" file


def reproduce_main(argv):
    reproduce.cli(argv)
    return 0


def claims_main(argv):
    paper_claims.main(argv)
    return 0


COMMANDS = [
    Command("run", lambda _, out: TINY_RUN + ["--levels", "1", "--no-progress", "--out", out], "folder", input=""),
    Command("show", lambda exp, _: ["show", exp], None),
    Command("report", lambda exp, out: ["report", exp, "--out", out], "folder"),
    Command("analyze", lambda exp, out: ["analyze", exp, "--out", out], "folder"),
    Command(
        "instability",
        lambda exp, out: ["instability", exp, "--level", "1", "--points", "3", "--no-progress", "--out", out],
        "folder",
    ),
    Command("compare", lambda exp, out: ["compare", exp, "--out", out], "file"),
    Command("iterations", lambda exp, out: ["iterations", exp, "--at", "10", "--out", out], "file"),
    Command("export", lambda exp, out: ["export", exp, "--level", "1", "--out", out], "file"),
    Command(
        "scripts/reproduce.py",
        lambda root, out: ["mnist", "--report-only", "--no-progress", "--out", root, "--report-dir", out],
        "folder",
        entry=reproduce_main,
        prog=("reproduce", "lottery"),  # its report's errors are lottery's
        input="root",
    ),
    Command("scripts/paper_claims.py", lambda table, _: [table], None, claims_main, ("paper_claims",), "table"),
]
WRITERS = [c for c in COMMANDS if c.output]
# (command, bad path) pairs that apply: a file where a folder is read or written, and the reverse
BAD_INPUTS = [
    pytest.param(c, case, id=f"{c.name}-{case}")
    for c in COMMANDS
    if c.input
    for case in ["missing", "folder for file" if c.input == "table" else "file for folder"]
]
BAD_OUTPUTS = [
    pytest.param(c, case, id=f"{c.name}-{case}")
    for c in WRITERS
    for case in ["below a file", "folder for file" if c.output == "file" else "file for folder"]
]


# -- a finished experiment to read ------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A finished two-level experiment, a results root holding it under the mnist reproduction's name,
    and the table.csv of its report (the inputs of the commands above, by ``Command.input``)."""
    root = tmp_path_factory.mktemp("inputs")
    assert main(TINY_RUN + ["--levels", "1", "--test-curve", "0,1", "--no-progress", "--out", str(root / "runs")]) == 0
    experiment = next((root / "runs").iterdir())
    target = reproduce.TARGETS["mnist"]["experiment"]
    mnist = root / "mnist-root" / hparams_from_args(build_parser().parse_args(["run", *target])).name()
    shutil.copytree(experiment, mnist)
    assert main(["report", str(experiment), "--out", str(root / "report")]) == 0  # also warms up matplotlib
    return {"experiment": experiment, "root": mnist.parent, "table": root / "report" / "table.csv", "": root}


def call(command: Command, argv: list, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = command.entry([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def files(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` with the hash of its content."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        if folder.exists()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused_cleanly(command: Command, argv: list, capsys, *watched: Path) -> str:
    """Run ``command``: one line on stderr, a non-zero exit, every file under ``watched`` as it was."""
    before = files(*watched)
    code, err = call(command, argv, capsys)
    assert code not in (0, None), err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(tuple(f"{p}: error: " for p in command.prog)), err
    assert files(*watched) == before  # nothing new (no partial file), nothing changed or lost
    return lines[0]


# -- inputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command,case", BAD_INPUTS)
def test_a_bad_input_path_is_one_line(command, case, inputs, tmp_path, capsys):
    given = inputs[command.input]
    if case == "missing":
        bad = tmp_path / "missing" / given.name
    elif case == "folder for file":
        bad = tmp_path
    elif command.input == "experiment":
        bad = given / "hparams.json"  # the experiment's own file, given for its folder
    else:
        bad = tmp_path / "a-file"
        bad.write_text("a file")
    refused_cleanly(command, command.argv(bad, tmp_path / "out"), capsys, tmp_path, inputs[""])


# -- outputs --------------------------------------------------------------------------------------
def no_training(*args, **kwargs):
    raise AssertionError("trained before checking the output path")


@pytest.mark.parametrize("command,case", BAD_OUTPUTS)
def test_a_bad_output_path_is_one_line_before_any_work(command, case, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(InstabilityRun, "measure", no_training)  # the work that takes long
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    if case == "file for folder":
        out = blocker
    elif case == "folder for file":
        out = tmp_path
    else:
        out = blocker / "sub" / ("out.png" if command.output == "file" else "out")
    line = refused_cleanly(command, command.argv(inputs[command.input], out), capsys, tmp_path, inputs[""])
    assert str(out) in line or str(blocker) in line


class NoSpace:
    """A file opened on a full disk: opening works (and creates it), every write fails."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    writelines = write

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, name):
        return getattr(self._f, name)


def fill_disk(patch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make every write to a file under ``folder`` fail with ENOSPC, whichever way the file was opened."""
    folder = folder.resolve()

    def under(path) -> bool:
        return Path(os.path.abspath(path)).resolve().is_relative_to(folder)

    def fd_under(fd: int) -> bool:
        return under(os.readlink(f"/proc/self/fd/{fd}"))

    real_open, real_fdopen, real_write = io.open, os.fdopen, os.write

    def open_(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        writes = set(mode) & set("wax+")
        named = isinstance(file, (str, bytes, os.PathLike))
        return NoSpace(f) if writes and (under(file) if named else fd_under(file)) else f

    def fdopen(fd, mode="r", *args, **kwargs):
        f = real_fdopen(fd, mode, *args, **kwargs)
        return NoSpace(f) if set(mode) & set("wax+") and fd_under(fd) else f

    def write(fd, data):
        if fd_under(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    patch.setattr(builtins, "open", open_)
    patch.setattr(io, "open", open_)
    patch.setattr(os, "fdopen", fdopen)
    patch.setattr(os, "write", write)


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: c.name)
@pytest.mark.parametrize("earlier", [False, True], ids=["fresh output", "over an earlier output"])
def test_a_full_disk_is_one_line_and_loses_nothing(command, earlier, inputs, tmp_path, capsys):
    out = tmp_path / ("out.png" if command.output == "file" else "out")
    argv = command.argv(inputs[command.input], out)
    if earlier:  # an earlier run's output, which a failed rewrite must leave whole
        code, err = call(command, argv, capsys)
        assert code == 0, err
    with pytest.MonkeyPatch.context() as patch:
        fill_disk(patch, tmp_path)
        line = refused_cleanly(command, argv, capsys, tmp_path, inputs[""])
    assert "no space left" in line.lower()


def test_every_command_is_in_the_table():
    """A new subcommand or script fails here until it has a row above."""
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    tabled = {c.name for c in COMMANDS}
    assert set(subcommands) - {"presets"} <= tabled  # presets reads and writes nothing
    scripts = {f"scripts/{p.name}" for p in SCRIPTS.glob("*.py")} - {"scripts/time_deep.py"}  # takes no path
    assert scripts <= tabled
