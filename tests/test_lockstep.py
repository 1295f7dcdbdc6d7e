"""Whole experiments in lockstep (experiments/lockstep.py): the networks of a level trained together, in this
process or split evenly over workers, give what training one level at a time gives."""

import pytest
import torch

from conftest import TINY_RUN, make_splits
from lottery.cli import main
from lottery.executors import LocalExecutor
from lottery.experiments import Experiment, run_experiment
from lottery.experiments.runner import split_evenly, task_count
from lottery.hparams import ExperimentHparams, TrainingHparams
from lottery.options import SpeedOptions
from lottery.storage import load_json, load_tensors


def experiment_results(folder):
    """(branch, trial, level) -> (curve, mask, final weights) of every finished level of a run."""
    out = {}
    for path in sorted(folder.rglob("metrics.json")):
        m = load_json(path)
        out[m["branch"], m["trial"], m["level"]] = (
            m["curve"],
            load_tensors(path.parent / "mask.pt"),
            load_tensors(path.parent / "final.pt"),
            m["summary"],
        )
    return out


def run_whole_experiment(root, data, together, executor=None):
    hp = ExperimentHparams(training=TrainingHparams(batch_size=40, iterations=24, eval_every=8))
    with Experiment(hp, root, data=data, progress=False, speed=SpeedOptions(together=together)) as exp:
        run_experiment(exp, 2, 2, reinit_draws=1, random_draws=1, oneshot=True, executor=executor)
        return experiment_results(exp.paths.folder)


SMALL = make_splits(shape=(1, 8, 8))  # LeNet on 8x8 inputs: whole experiments in a few seconds


@pytest.fixture(scope="module")
def one_level_at_a_time(tmp_path_factory):
    return run_whole_experiment(tmp_path_factory.mktemp("one"), SMALL, together=1)


@pytest.mark.slow
def test_experiment_in_lockstep_matches_one_level_at_a_time(tmp_path, one_level_at_a_time):
    expected = one_level_at_a_time
    got = run_whole_experiment(tmp_path, SMALL, together=16)
    assert got.keys() == expected.keys() and len(got) == 2 * (3 + 3 * 2)  # ticket 0-2; 3 branches x levels 1-2
    for key, (curve, mask, final, _) in expected.items():
        g_curve, g_mask, g_final, g_summary = got[key]
        assert all(torch.equal(mask[n], g_mask[n]) for n in mask), key
        assert g_curve["val_loss"]["values"] == pytest.approx(curve["val_loss"]["values"], rel=1e-4, abs=1e-6), key
        assert g_curve["test_acc"] == curve["test_acc"], key
        for name, value in final.items():
            torch.testing.assert_close(g_final[name], value, atol=1e-5, rtol=1e-4)
        # level 0: both trials' dense networks; levels 1-2: 2 trials x (ticket, reinit, random, one-shot)
        assert g_summary["trained_together"] == (2 if key[2] == 0 else 8)


@pytest.mark.slow
def test_lockstep_trials_in_worker_processes(tmp_path, one_level_at_a_time):
    expected = one_level_at_a_time
    with LocalExecutor(workers=2) as executor:
        got = run_whole_experiment(tmp_path, SMALL, together=16, executor=executor)
    assert got.keys() == expected.keys()
    for key, (curve, mask, _, _) in expected.items():
        assert all(torch.equal(mask[n], got[key][1][n]) for n in mask), key
        assert got[key][0]["val_loss"]["values"] == pytest.approx(curve["val_loss"]["values"], rel=1e-4, abs=1e-6), key
        assert got[key][3]["trained_together"] == (1 if key[2] == 0 else 4)  # each level split over the 2 workers


class RecordingExecutor:
    """Runs tasks here, one after another, but the way worker tasks run (each reopens the experiment);
    records how many tasks each map call was given."""

    in_process = False

    def __init__(self, parallelism):
        self.parallelism, self.task_counts = parallelism, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def map(self, fn, units):
        units = list(units)
        self.task_counts.append(len(units))
        return [fn(u) for u in units]


@pytest.mark.slow
def test_lockstep_over_workers_splits_every_level_evenly(tmp_path, one_level_at_a_time):
    executor = RecordingExecutor(parallelism=3)
    got = run_whole_experiment(tmp_path, SMALL, together=16, executor=executor)
    # level 0: 2 dense networks -> 2 tasks of 1; levels 1-2: 8 networks -> 3 tasks of 3, 3 and 2
    assert executor.task_counts == [2, 3, 3]
    sizes = sorted(summary["trained_together"] for key, (_, _, _, summary) in got.items() if key[2] == 1)
    assert sizes == [2, 2, 3, 3, 3, 3, 3, 3]
    for key, (curve, mask, _, _) in one_level_at_a_time.items():
        assert all(torch.equal(mask[n], got[key][1][n]) for n in mask), key
        assert got[key][0]["val_loss"]["values"] == pytest.approx(curve["val_loss"]["values"], rel=1e-4, abs=1e-6), key


@pytest.mark.slow
def test_lockstep_tasks_never_exceed_the_networks_trained_together(tmp_path):
    executor = RecordingExecutor(parallelism=2)
    got = run_whole_experiment(tmp_path, SMALL, together=3, executor=executor)
    # 8 networks of a level, at most 3 per task: 4 tasks of 2, two for each worker (not 3, not 2)
    assert executor.task_counts == [2, 4, 4]
    assert max(summary["trained_together"] for *_, summary in got.values()) == 2  # within the limit of 3


def test_task_count_gives_every_worker_as_many_tasks():
    assert task_count(33, 8, 2) == 6  # 6 tasks of 5-6 networks, 3 per worker; 5 would leave one idle
    assert task_count(3, 8, 2) == 2  # the 3 ticket networks of a level: 2 + 1
    assert task_count(8, 16, 3) == 3
    assert task_count(2, 16, 3) == 2  # never more tasks than networks
    assert task_count(16, 8, 2) == 2
    assert task_count(17, 8, None) == 3  # a cluster of unknown size: only the limit of 8 together
    assert task_count(1, 8, None) == 1


def test_split_evenly():
    assert split_evenly(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert split_evenly([1, 2], 2) == [[1], [2]]
    assert split_evenly(list(range(15)), 2) == [list(range(8)), list(range(8, 15))]


@pytest.mark.slow
def test_command_line_speed_options(tmp_path):
    args = [
        *TINY_RUN,
        "--levels",
        "1",
        "--trials",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path),
        "--threads",
        "1",
    ]
    assert main(args + ["--batch-networks", "4", "--eval-precision", "bf16"]) == 0
    together = {
        (m["trial"], m["level"]): m["summary"]["trained_together"]
        for m in map(load_json, tmp_path.rglob("metrics.json"))
    }
    assert together == {(0, 0): 2, (1, 0): 2, (0, 1): 2, (1, 1): 2}  # both trials' networks of a level together
    with pytest.raises(SystemExit) as exit_:
        main(args + ["--batch-networks", "0"])
    assert exit_.value.code == 2
    assert main(args + ["--sparse-below", "1.5"]) == 2
