"""Bad input gives one clear error line (exit 2 for usage errors), never a traceback, and never
touches existing results."""

import json
import shutil

import filelock
import pytest

from lottery.cli import build_parser, hparams_from_args, main

QUICK = ["run", "--preset", "lenet-digits", "--iterations", "40", "--eval-every", "20", "--levels", "1",
         "--no-progress"]


def run_cli(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def experiment_folder(tmp_path, argv):
    args = build_parser().parse_args(argv + ["--out", str(tmp_path)])
    return tmp_path / hparams_from_args(args).name()


@pytest.mark.parametrize("argv,message", [
    (["--model", "resnet9000"], "invalid choice: 'resnet9000'"),
    (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
    (["--preset", "nope"], "invalid choice: 'nope'"),
    (["--prune-fc", "1.0"], "impossible"),
    (["--prune-output", "-0.1"], "impossible"),
    (["--levels", "-1"], "must be 0 or more"),
    (["--iterations", "-5"], "must be a positive integer"),
    (["--iterations", "ten"], "invalid"),
])
def test_usage_errors_exit_2(capsys, tmp_path, argv, message):
    code, err = run_cli(capsys, QUICK + argv + ["--out", str(tmp_path)])
    assert code == 2 and message in err
    assert not any(tmp_path.iterdir())  # nothing was created


def test_impossible_rewind_is_a_usage_error(capsys, tmp_path):
    code, err = run_cli(capsys, QUICK + ["--rewind", "40", "--out", str(tmp_path)])
    assert code == 2 and "rewind iteration 40" in err


def test_missing_data_files(capsys, tmp_path):
    code, err = run_cli(capsys, QUICK + ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "none"),
                                         "--out", str(tmp_path / "out")])
    assert code == 1 and "missing data file" in err and "--download" in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_and_truncated_data_files(capsys, tmp_path, fashion_dir):
    data = tmp_path / "data"
    shutil.copytree(fashion_dir, data)
    target = data / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])  # truncated
    code, err = run_cli(capsys, QUICK + ["--dataset", "fashion-mnist", "--data-dir", str(data),
                                         "--out", str(tmp_path / "out")])
    assert code == 1 and "corrupt or truncated data file" in err and str(target) in err
    assert "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05" in err


def test_results_folder_from_an_incompatible_version_is_left_alone(capsys, tmp_path):
    folder = experiment_folder(tmp_path, QUICK)
    folder.mkdir(parents=True)
    old = {"format_version": 999, "hparams": {}}
    (folder / "hparams.json").write_text(json.dumps(old))
    code, err = run_cli(capsys, QUICK + ["--out", str(tmp_path)])
    assert code == 1 and "incompatible lottery version" in err
    assert json.loads((folder / "hparams.json").read_text()) == old
    assert sorted(p.name for p in folder.iterdir()) == ["hparams.json"]


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("I am not a folder")
    code, err = run_cli(capsys, QUICK + ["--out", str(blocker / "results")])
    assert code == 1 and "cannot write results" in err and "--out" in err
    assert blocker.read_text() == "I am not a folder"


def test_second_process_on_the_same_experiment_is_refused(capsys, tmp_path):
    folder = experiment_folder(tmp_path, QUICK)
    folder.mkdir(parents=True)
    with filelock.FileLock(str(folder / ".lock")):  # stands in for another running process
        code, err = run_cli(capsys, QUICK + ["--out", str(tmp_path)])
    assert code == 1 and "another lottery process is already running" in err
    assert not list(folder.glob("trial_*"))
