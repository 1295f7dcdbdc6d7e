"""Crash safety: a run killed at random moments resumes with the same command and ends with
results identical to an uninterrupted run; damaged result files are redone, never trusted."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from lottery.cli import main

ARGS = [
    "run",
    "--preset",
    "lenet-digits",
    "--iterations",
    "300",
    "--eval-every",
    "20",
    "--checkpoint-every",
    "40",
    "--levels",
    "2",
    "--no-progress",
]


def results(out):
    """Every level's metrics (minus wall time) and final weights, keyed by path."""
    metrics, weights = {}, {}
    for path in sorted(out.rglob("metrics.json")):
        m = json.loads(path.read_text())
        m["summary"].pop("train_seconds")
        metrics[str(path.relative_to(out))] = m
    for path in sorted(out.rglob("final.pt")):
        weights[str(path.relative_to(out))] = torch.load(path, weights_only=True)
    return metrics, weights


def cli(out):
    return [sys.executable, "-m", "lottery", *ARGS, "--out", str(out)]


@pytest.mark.slow
def test_killed_runs_resume_to_identical_results(tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(cli(reference), check=True, capture_output=True)

    killed = tmp_path / "killed"
    rng = random.Random(1)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(cli(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 6.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "the run finished before any kill; the test did not exercise resuming"
    subprocess.run(cli(killed), check=True, capture_output=True)

    ref_metrics, ref_weights = results(reference)
    got_metrics, got_weights = results(killed)
    assert got_metrics.keys() == ref_metrics.keys() and len(ref_metrics) == 3
    assert got_metrics == ref_metrics
    for key, state in ref_weights.items():
        assert all(torch.equal(state[k], got_weights[key][k]) for k in state)
    assert not list(killed.rglob("checkpoint.pt")) and not list(killed.rglob(".*.tmp"))


@pytest.mark.slow
def test_damaged_result_file_is_redone(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*ARGS, "--levels", "1", "--iterations", "60", "--out", str(out)]) == 0
    reference, _ = results(out)
    metrics_file = next(out.rglob("level_1/metrics.json"))
    metrics_file.write_text(metrics_file.read_text()[:50])  # a half-written file
    assert main([*ARGS, "--levels", "1", "--iterations", "60", "--out", str(out)]) == 0
    assert results(out)[0] == reference


@pytest.mark.slow
def test_same_command_same_results_and_show_prints_seeds(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main([*ARGS, "--levels", "1", "--iterations", "60", "--seed", "7", "--out", str(out)]) == 0
    assert results(a)[0] == results(b)[0]
    folder = next(a.iterdir())
    assert main(["show", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "trial 0: 7" in shown and "Pm %" in shown
    seeds = json.loads((folder / "trial_0" / "seeds.json").read_text())
    assert seeds["trial_seed"] == 7 and {"init", "data_order", "dropout", "validation_split"} <= seeds.keys()
