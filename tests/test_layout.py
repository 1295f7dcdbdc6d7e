"""Reading an experiment folder back: only lottery's own trial_<t>/<branch>/level_<k> folders are results."""

import shutil

import pytest
from conftest import make_splits

from lottery.cli import main
from lottery.experiments import TICKET, Experiment, ExperimentFolder, run_experiment
from lottery.hparams import DatasetHparams, ExperimentHparams, TrainingHparams
from lottery.report import aggregate, load_experiment

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=10, eval_every=10)
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    with Experiment(TINY, tmp_path_factory.mktemp("runs"), data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1)
        return exp.paths.folder


def where(runs):
    return sorted((r.trial, r.branch, r.level) for r in runs)


def copy_folders(folder, trial_copies=(), level_copies=(), branch_copies=()):
    trial = folder / "trial_0"
    for name in trial_copies:
        shutil.copytree(trial, folder / name)
    for name in level_copies:
        shutil.copytree(trial / TICKET / "level_1", trial / TICKET / name)
    for source, name in branch_copies:
        shutil.copytree(trial / source, trial / name)


def test_copied_result_folders_are_not_counted_twice(finished, tmp_path):
    folder = tmp_path / "exp"
    shutil.copytree(finished, folder)
    before = load_experiment(folder).runs
    copy_folders(
        folder,
        trial_copies=("trial_0_old", "trial_00"),
        level_copies=("level_01",),
        branch_copies=((TICKET, "ticket_old"), ("reinit_0", "reinit_0_1")),
    )
    exp = ExperimentFolder(folder)
    assert exp.trials() == [0]
    assert exp.branches(0) == ["reinit_0", TICKET]
    assert exp.draws(0, "reinit") == [0] and exp.draws(0, TICKET) == [0]
    assert exp.levels(0, TICKET) == [0, 1]
    runs = load_experiment(folder).runs
    assert where(runs) == where(before)
    assert [ls.trials for ls in aggregate(runs)] == [1, 1, 1]  # means and min/max over the real runs only


def test_stray_folder_names_neither_crash_show_nor_report(finished, tmp_path, capsys):
    folder = tmp_path / "exp"
    shutil.copytree(finished, folder)
    before = load_experiment(folder).runs
    copy_folders(
        folder,
        trial_copies=("trial_0 (copy)", "trial_+1", "trial_1.bak", "trial_"),
        level_copies=("level_1.bak", "level_1 (copy)", "level_"),
        branch_copies=((TICKET, "ticket (copy)"), ("reinit_0", "reinit_0.bak")),
    )
    (folder / "trial_7").write_text("a file, not a trial folder")
    runs = load_experiment(folder).runs
    assert where(runs) == where(before)
    assert main(["show", str(folder)]) == 0
    assert "trial 0" in capsys.readouterr().out
    assert main(["report", str(folder), "--out", str(tmp_path / "report")]) == 0
