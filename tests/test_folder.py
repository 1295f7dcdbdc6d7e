"""Reading a results folder back (experiments/folder.py) and the level record (experiments/level_record.py)."""

import shutil
from pathlib import Path

import pytest

from lottery.cli import main

FORMAT_1 = Path(__file__).parent / "data" / "digits-run-format-1"
FORMAT_1_NAME = "lenet_300_100-digits-e72953d56b"


@pytest.fixture
def format_1_folder(tmp_path) -> Path:
    """A copy of a folder written by an earlier lottery of folder format 1 (tests/data/digits-run-format-1)."""
    folder = tmp_path / FORMAT_1_NAME
    shutil.copytree(FORMAT_1 / FORMAT_1_NAME, folder)
    return folder


def test_a_folder_written_by_format_1_reads_with_the_same_numbers(format_1_folder, tmp_path, capsys):
    assert main(["show", str(format_1_folder)]) == 0
    shown = capsys.readouterr()
    assert shown.out == (FORMAT_1 / "show.txt").read_text().replace("FOLDER", str(format_1_folder))
    assert shown.err == ""
    out = tmp_path / "report"
    assert main(["report", str(format_1_folder), "--out", str(out)]) == 0
    for table in ("table.csv", "table.md"):
        assert (out / table).read_text() == (FORMAT_1 / table).read_text(), table
