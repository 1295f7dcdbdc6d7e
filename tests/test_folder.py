"""Reading a results folder back (experiments/folder.py) and the level record (experiments/level_record.py)."""

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import TINY_RUN

from lottery.analysis.analyze import Analysis
from lottery.cli import main
from lottery.experiments import TICKET

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


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run of 20 iterations on the embedded digits: 1 trial, 2 levels, one random-pruning draw."""
    root = tmp_path_factory.mktemp("runs")
    assert main([*TINY_RUN, "--levels", "2", "--random-draws", "1", "--no-progress", "--out", str(root)]) == 0
    (folder,) = root.iterdir()
    return folder


@pytest.fixture
def copy(finished, tmp_path) -> Path:
    folder = tmp_path / finished.name
    shutil.copytree(finished, folder)
    return folder


def rewrite_record(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def table_rows(shown: str) -> set[tuple[str, int]]:
    """(branch, level) of each row of the table `lottery show` prints."""
    return {(m[1], int(m[2])) for m in re.finditer(r"^ *([a-z_]+) +([0-9]+) +[0-9.]+ ", shown, re.MULTILINE)}


def test_analyze_counts_a_copied_trial_once(copy):
    shutil.copytree(copy / "trial_0", copy / "trial_00")
    assert Analysis(copy).trials == [0]


def test_analyze_reads_branches_by_the_rule_of_show_and_report(copy):
    trial = copy / "trial_0"
    shutil.copytree(trial / TICKET, trial / "ticket_old")
    shutil.copytree(trial / "random_0", trial / "random_1")  # holds random_0's records: not a second draw
    rewrite_record(trial / "random_1" / "level_1" / "metrics.json", layer_density={})
    analysis = Analysis(copy)
    assert analysis.exp.branches(0) == ["random_0", "random_1", TICKET]
    assert analysis.exp.levels(0, "random_1") == []
    assert set(analysis.densities()) == {TICKET, "random"}


@pytest.mark.parametrize("command", ["show", "report"])
def test_a_record_with_an_empty_summary_is_left_out_and_named(copy, tmp_path, capsys, command):
    metrics = copy / "trial_0" / TICKET / "level_1" / "metrics.json"
    rewrite_record(metrics, summary={})
    assert main([command, str(copy), *(["--out", str(tmp_path / "report")] if command == "report" else [])]) == 0
    err = capsys.readouterr().err
    assert err.count(f"note: {metrics} ") == 1
    if command == "report":
        rows = (tmp_path / "report" / "table.csv").read_text().splitlines()
        assert not any(",ticket,1," in row for row in rows) and any(",ticket,2," in row for row in rows)


@pytest.mark.parametrize("command", ["show", "report"])
def test_a_truncated_record_is_named_in_a_note(copy, tmp_path, capsys, command):
    metrics = copy / "trial_0" / "random_0" / "level_2" / "metrics.json"
    metrics.write_text(metrics.read_text()[:100])
    assert main([command, str(copy), *(["--out", str(tmp_path / "report")] if command == "report" else [])]) == 0
    out, err = capsys.readouterr()
    assert f"note: {metrics}" in err
    if command == "show":
        assert table_rows(out) == {(TICKET, 0), (TICKET, 1), (TICKET, 2), ("random", 1)}


def test_run_redoes_a_level_whose_summary_is_empty(copy, capsys):
    metrics = copy / "trial_0" / TICKET / "level_2" / "metrics.json"
    before = json.loads(metrics.read_text())["summary"]
    rewrite_record(metrics, summary={})
    command = [*TINY_RUN, "--levels", "2", "--random-draws", "1", "--no-progress", "--out", str(copy.parent)]
    assert main(command) == 0
    after = json.loads(metrics.read_text())["summary"]
    assert after.pop("train_seconds") > 0 and before.pop("train_seconds") > 0
    assert after == before  # redone, to the same numbers
    assert (TICKET, 2) in table_rows(capsys.readouterr().out)


PREVIOUS = Path(__file__).parent / "data" / "digits-run-previous-version"  # levels 0-1, made at commit 68d8db8


def test_a_folder_made_by_the_previous_version_extends_with_the_same_name_and_numbers(tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(PREVIOUS, root)
    (folder,) = root.iterdir()
    before = {level: (folder / f"trial_0/ticket/level_{level}/metrics.json").read_text() for level in (0, 1)}
    assert main([*TINY_RUN, "--levels", "2", "--no-progress", "--out", str(root)]) == 0
    assert [p.name for p in root.iterdir()] == [folder.name]  # the same experiment, not a new folder
    for level, text in before.items():  # finished levels are read, not redone
        assert (folder / f"trial_0/ticket/level_{level}/metrics.json").read_text() == text
    extended = json.loads((folder / "trial_0/ticket/level_2/metrics.json").read_text())
    assert extended["level"] == 2 and 0 < extended["density"] < 0.8
    capsys.readouterr()
