"""Executors and the fan-out of experiment jobs: in process, in local worker processes, on a local Ray instance."""

import os
import socket
import sys

import pytest
import torch

from lottery.errors import LotteryError, UsageError
from lottery.executors import LocalExecutor, RayExecutor, check_reachable, make_executor
from lottery.experiments import Experiment, run_experiment, run_imp
from lottery.experiments.fanout import Call, ExperimentHandle, map_jobs
from lottery.hparams import ExperimentHparams, TrainingHparams
from lottery.storage import load_json, load_tensors

from conftest import make_splits

TRIALS, LEVELS, BRANCHES = 2, 1, ("ticket", "reinit_0", "random_0", "oneshot")
TINY = ExperimentHparams(training=TrainingHparams(batch_size=40, iterations=12, eval_every=4))


@pytest.fixture(scope="module")
def small_data():
    return make_splits(shape=(1, 8, 8))  # LeNet on 8x8 inputs: training costs next to nothing


@pytest.fixture(scope="module")
def in_process_results(small_data, tmp_path_factory):
    """The reference: two trials with every kind of branch, run one after another in this process."""
    return results(run_with(LocalExecutor(), tmp_path_factory.mktemp("in_process"), small_data))


@pytest.fixture(scope="module")
def two_workers():
    with LocalExecutor(workers=2) as ex:  # one pool for the module: starting processes is the slow part
        yield ex


def worker_pid(_unit) -> int:
    return os.getpid()


def results(folder, branches=BRANCHES):
    """(metrics summary, density, mask) of every (trial, branch, level) of a run, for comparing two runs."""
    out = {}
    for t in range(TRIALS):
        for branch in branches:
            for k in range(0 if branch == "ticket" else 1, LEVELS + 1):
                paths = folder / f"trial_{t}" / branch / f"level_{k}"
                metrics = load_json(paths / "metrics.json")
                assert metrics is not None, f"{paths} did not finish"
                out[t, branch, k] = (metrics["summary"], metrics["density"], load_tensors(paths / "mask.pt"))
    return out


def assert_same_results(a, b):
    assert a.keys() == b.keys()
    for key in a:
        summary_a, density_a, mask_a = a[key]
        summary_b, density_b, mask_b = b[key]
        assert density_a == density_b
        assert mask_a.keys() == mask_b.keys() and all(torch.equal(mask_a[n], mask_b[n]) for n in mask_a)
        for name in ("early_stop_iteration", "test_acc_at_early_stop", "test_acc_final", "val_loss_final"):
            assert summary_a[name] == pytest.approx(summary_b[name], rel=1e-4, abs=1e-6), (key, name)


def run_with(executor, tmp_path, data):
    """The whole experiment, as `lottery run` runs it."""
    with Experiment(TINY, tmp_path, data=data, progress=False) as exp:
        run_experiment(exp, TRIALS, LEVELS, reinit_draws=1, random_draws=1, oneshot=True, executor=executor)
        return exp.paths.folder


# -- local --------------------------------------------------------------------------------------------


def test_in_process_executor_maps_in_order_in_this_process():
    with LocalExecutor() as ex:
        assert ex.in_process
        assert ex.map(lambda u: u * u, [3, 1, 2]) == [9, 1, 4]
        assert set(ex.map(worker_pid, range(3))) == {os.getpid()}


@pytest.mark.slow
def test_worker_processes_run_units_elsewhere_and_keep_order(two_workers):
    assert not two_workers.in_process
    assert two_workers.map(abs, [-3, 1, -2, 5]) == [3, 1, 2, 5]
    assert os.getpid() not in two_workers.map(worker_pid, range(4))


@pytest.mark.slow
def test_units_in_worker_processes_write_the_same_results_as_in_process(
    small_data, two_workers, in_process_results, tmp_path
):
    parallel = run_with(two_workers, tmp_path, small_data)
    assert_same_results(in_process_results, results(parallel))
    # each trial's θ0 is written once, by its own worker, in the usual layout
    assert all((parallel / f"trial_{t}" / "init.pt").exists() for t in range(2))


@pytest.mark.slow
def test_run_imp_fans_out_whole_ticket_chains(small_data, two_workers, in_process_results, tmp_path):
    with Experiment(TINY, tmp_path, data=small_data, progress=False) as exp:
        run_imp(exp, TRIALS, LEVELS, two_workers)
        folder = exp.paths.folder
    assert [p.name for p in (folder / "trial_0").iterdir() if p.is_dir()] == ["ticket"]
    reference = {key: value for key, value in in_process_results.items() if key[1] == "ticket"}
    assert_same_results(reference, results(folder, branches=("ticket",)))


def test_jobs_run_their_calls_in_order_against_the_experiment(small_data, tmp_path):
    with Experiment(TINY, tmp_path, data=small_data, progress=False) as exp:
        results = map_jobs(
            exp,
            [
                [Call(Experiment.trial_seed, (1,)), Call(Experiment.trial_seed, (2,))],
                [],
                [Call(Experiment.trial_seed, (5,))],
            ],
        )
    assert results == [[1, 2], [5]]  # empty jobs are dropped


def test_worker_that_cannot_see_the_results_folder_says_so(small_data, tmp_path):
    exp = Experiment(TINY, tmp_path, data=small_data)  # never entered: no hparams.json on disk
    with pytest.raises(LotteryError, match="file system they all share"):
        ExperimentHandle.of(exp).open()


@pytest.mark.slow
def test_errors_in_worker_processes_reach_the_driver_as_lottery_errors(small_data, two_workers, tmp_path):
    exp = Experiment(TINY, tmp_path, data=small_data)
    with pytest.raises(LotteryError, match="cannot see"):
        map_jobs(exp, [[Call(Experiment.trial_seed, (0,))], [Call(Experiment.trial_seed, (1,))]], two_workers)


def test_make_executor_rejects_bad_choices(monkeypatch):
    assert isinstance(make_executor("local", workers=3), LocalExecutor)
    with pytest.raises(UsageError, match="unknown executor"):
        make_executor("dask")
    with pytest.raises(UsageError, match="--address only applies"):
        make_executor("local", address="auto")
    with pytest.raises(UsageError, match="must be positive"):
        make_executor("local", workers=0)
    with pytest.raises(UsageError, match="is not 'auto', 'host:port'"):
        check_reachable("nonsense")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    check_reachable(f"127.0.0.1:{port}")  # someone listens: fine
    check_reachable(f"ray://127.0.0.1:{port}")
    listener.close()
    with pytest.raises(LotteryError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")  # nobody does: fail now, not after Ray's minutes of retries
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(UsageError, match=r"pip install 'lottery\[ray\]'"):
        make_executor("ray")


def spawned_children(pid: int) -> list[int]:
    """Worker processes (multiprocessing spawn) whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_processes_exit_when_the_driver_is_killed(tmp_path):
    import signal
    import subprocess
    import time

    argv = [
        sys.executable,
        "-m",
        "lottery",
        "run",
        "--preset",
        "lenet-digits",
        "--iterations",
        "4000",
        "--levels",
        "3",
        "--trials",
        "2",
        "--workers",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
            workers = spawned_children(driver.pid)
        assert len(workers) == 2, "the driver never started its two workers"
        while not list(tmp_path.rglob("init.pt")) and time.monotonic() < deadline:  # workers are training
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        gone_by = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not any(alive(w) for w in workers), "workers kept running after their driver was killed"
    finally:
        if driver.poll() is None:
            driver.kill()
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)


# -- Ray ----------------------------------------------------------------------------------------------
# Last in the module: its Ray instance, torn down with the module, is then up only while Ray tests
# run, never beside the process-heavy tests above.


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lottery[ray]'); Ray tests skipped")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_executor_maps_in_order_with_a_cap_on_tasks_in_flight(local_ray):
    with RayExecutor(max_in_flight=1) as ex:
        assert ex.map(lambda u: u * 10, [3, 1, 2]) == [30, 10, 20]
        assert os.getpid() not in ex.map(lambda u: os.getpid(), range(2))
    assert local_ray.is_initialized()  # it did not start Ray, so it leaves it running


@pytest.mark.slow
def test_units_on_ray_write_the_same_results_as_in_process(local_ray, small_data, in_process_results, tmp_path):
    with RayExecutor() as ex:
        distributed = run_with(ex, tmp_path, small_data)
    assert_same_results(in_process_results, results(distributed))


@pytest.mark.slow
def test_lottery_errors_in_ray_tasks_reach_the_driver_as_themselves(local_ray, small_data, tmp_path):
    exp = Experiment(TINY, tmp_path, data=small_data)  # never entered: workers cannot find the folder
    with RayExecutor() as ex, pytest.raises(LotteryError, match="file system they all share") as caught:
        map_jobs(exp, [[Call(Experiment.trial_seed, (0,))]], ex)
    assert type(caught.value) is LotteryError  # unwrapped: one line, no remote traceback
