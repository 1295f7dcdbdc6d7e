"""Damaged result folders, full disks, unwritable outputs, mixed numeric settings and file
permissions: each gives a redo or one clear error line, never a traceback or a silently wrong number."""

import dataclasses
import json
import os
import shutil
import time

import pytest
import torch

from lottery.cli import main
from lottery.experiments.level_record import LevelRecord, NotALevelRecord, Summary
from lottery.storage import save_json, save_tensors
from lottery.training import Schedule, loop, rng
from lottery.hparams import TrainingHparams

from conftest import FullDisk, QUICK_RUN, make_splits

QUICK = QUICK_RUN


def run_cli(capsys, argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def level_results(folder):
    """metrics (minus wall time), mask and final weights of every finished level, keyed by its path in the folder."""
    out = {}
    for path in sorted(folder.rglob("metrics.json")):
        metrics = json.loads(path.read_text())
        metrics["summary"].pop("train_seconds")
        tensors = {name: torch.load(path.parent / name, weights_only=True) for name in ("mask.pt", "final.pt")}
        out[str(path.parent.relative_to(folder))] = (metrics, tensors)
    return out


def same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0] == b[key][0]
        for name, state in a[key][1].items():
            assert state.keys() == b[key][1][name].keys()
            assert all(torch.equal(state[n], b[key][1][name][n]) for n in state)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-level experiment (its results root, its folder, its results)."""
    out = tmp_path_factory.mktemp("finished")
    assert main(QUICK + ["--out", str(out)]) == 0
    folder = next(p for p in out.iterdir() if p.is_dir())
    return out, folder, level_results(folder)


@pytest.fixture
def copy_of(finished, tmp_path):
    out, folder, reference = finished
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "out", tmp_path / "out" / folder.name, reference


# -- numerics --------------------------------------------------------------------------------------
def test_each_level_records_its_evaluation_precision(finished):
    _, _, reference = finished
    for metrics, _ in reference.values():
        assert metrics["numerics"]["eval_precision"] == "fp32"
        assert "sparse_below" in metrics["numerics"]


def test_a_folder_is_not_extended_with_another_evaluation_precision(copy_of, capsys):
    out, folder, _ = copy_of
    code, err = run_cli(capsys, QUICK + ["--levels", "2", "--eval-precision", "bf16", "--out", out])
    assert code == 1 and "--eval-precision fp32 (this run: bf16)" in err and len(err.strip().splitlines()) == 1
    assert not (folder / "trial_0" / "ticket" / "level_2").exists()


def test_levels_recorded_without_numerics_count_as_fp32(copy_of, capsys):
    out, folder, _ = copy_of
    for path in folder.rglob("metrics.json"):
        metrics = json.loads(path.read_text())
        del metrics["numerics"]
        path.write_text(json.dumps(metrics))
    code, err = run_cli(capsys, QUICK + ["--eval-precision", "bf16", "--out", out])
    assert code == 1 and "--eval-precision fp32" in err
    code, _ = run_cli(capsys, QUICK + ["--levels", "2", "--out", out])
    assert code == 0 and (folder / "trial_0" / "ticket" / "level_2" / "metrics.json").exists()


# -- data checked even when nothing is left to train ------------------------------------------------
def test_missing_data_is_reported_when_every_level_had_finished(tmp_path, capsys, fashion_dir):
    argv = QUICK + ["--dataset", "fashion-mnist", "--iterations", "20", "--out", tmp_path]
    assert run_cli(capsys, argv + ["--data-dir", fashion_dir])[0] == 0
    code, err = run_cli(capsys, argv + ["--data-dir", tmp_path / "empty"])
    assert code == 1 and "missing data file" in err


# -- damaged result folders ------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["{}", "[1, 2]", '{"trial": 0}', "null"])
def test_a_metrics_file_that_is_not_a_level_record_is_redone(copy_of, capsys, content):
    out, folder, reference = copy_of
    damaged = folder / "trial_0" / "ticket" / "level_1" / "metrics.json"
    damaged.write_text(content)
    code, _ = run_cli(capsys, ["show", folder])  # readers skip it meanwhile
    assert code == 0
    code, _ = run_cli(capsys, QUICK + ["--out", out])
    assert code == 0
    same(level_results(folder), reference)


def test_a_record_copied_into_another_levels_folder_is_redone(copy_of, capsys):
    out, folder, reference = copy_of
    ticket = folder / "trial_0" / "ticket"
    shutil.copy(ticket / "level_0" / "metrics.json", ticket / "level_1" / "metrics.json")
    assert run_cli(capsys, QUICK + ["--out", out])[0] == 0
    same(level_results(folder), reference)


@pytest.mark.parametrize("name", ["mask.pt", "final.pt"])
def test_a_truncated_tensor_file_in_a_finished_level_is_redone(copy_of, capsys, tmp_path, name):
    out, folder, reference = copy_of
    level = folder / "trial_0" / "ticket" / "level_1"
    data = (level / name).read_bytes()
    (level / name).write_bytes(data[: len(data) // 2])
    assert run_cli(capsys, QUICK + ["--out", out])[0] == 0
    same(level_results(folder), reference)
    assert main(["export", str(folder), "--level", "1", "--out", str(tmp_path / "ticket.pt")]) == 0


def test_a_mask_with_other_names_than_its_record_is_redone(copy_of, capsys):
    out, folder, reference = copy_of
    level = folder / "trial_0" / "ticket" / "level_1"
    mask = torch.load(level / "mask.pt", weights_only=True)
    save_tensors(level / "mask.pt", {"renamed": next(iter(mask.values()))})
    assert run_cli(capsys, QUICK + ["--out", out])[0] == 0
    same(level_results(folder), reference)


def test_a_level_record_is_read_only_with_its_fields_of_the_right_types():
    numbers = [f.name for f in dataclasses.fields(Summary) if f.name != "other"]
    summary = dict.fromkeys(numbers, 0.5) | {"early_stop_iteration": 20, "precision": "fp32"}
    record = {
        "trial": 0,
        "branch": "ticket",
        "level": 1,
        "density": 0.8,
        "layer_density": {"fc.weight": 0.8},
        "summary": summary,
        "curve": {},
        "seeds": {},
        "control": {"kind": "reinit"},
    }
    assert LevelRecord.from_json(record).to_json() == record
    for bad in (
        {**record, "level": "1"},
        {**record, "trial": True},
        {k: v for k, v in record.items() if k != "curve"},
        {**record, "summary": {}},
        {**record, "summary": {**summary, "early_stop_iteration": 20.5}},
        {**record, "layer_density": {"fc.weight": "all"}},
        [record],
    ):
        with pytest.raises(NotALevelRecord):
            LevelRecord.from_json(bad)


def test_stale_hparams_temp_files_are_cleaned(copy_of, capsys):
    out, folder, _ = copy_of
    stale, fresh = folder / ".hparams.json.abc123.tmp", folder / ".hparams.json.def456.tmp"
    stale.write_text("{")
    fresh.write_text("{")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    assert run_cli(capsys, QUICK + ["--out", out])[0] == 0
    assert not stale.exists() and fresh.exists()  # a fresh one may be another process's write in progress


# -- full disk -------------------------------------------------------------------------------------


def fill_disk(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDisk(real_fdopen(fd, *a, **k)))


def test_a_full_disk_is_one_line_naming_the_folder_and_the_space_needed(tmp_path, monkeypatch):
    path = tmp_path / "results" / "metrics.json"
    save_json(path, {"old": 1})
    fill_disk(monkeypatch)
    with pytest.raises(Exception) as info:
        save_json(path, {"new": 2})
    message = str(info.value)
    assert type(info.value).__name__ == "LotteryError"
    assert "no space left" in message and str(path.parent) in message and "bytes needed" in message
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": 1}  # intact
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp file left


def test_a_full_disk_during_a_run_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    fill_disk(monkeypatch)
    code, err = run_cli(capsys, QUICK + ["--out", tmp_path])
    assert code == 1 and "no space left" in err and len(err.strip().splitlines()) == 1


# -- unwritable outputs of export, compare, iterations ----------------------------------------------
@pytest.mark.parametrize("command", [["export", "--level", "1"], ["compare"], ["iterations", "--at", "20"]])
def test_unwritable_out_of_export_compare_iterations_is_one_line(finished, tmp_path, capsys, command):
    _, folder, _ = finished
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    name, *rest = command
    for out, says in [(blocker / "sub" / "x.png", "is a file"), (tmp_path / "a-folder", "is a folder")]:
        code, err = run_cli(capsys, [name, folder, *rest, "--out", out])
        assert code == 1 and says in err and str(out) in err
    assert blocker.read_text() == "not a folder"


# -- permissions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_result_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        save_json(tmp_path / "a.json", {})
        save_tensors(tmp_path / "b.pt", {"x": torch.zeros(1)})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode
    assert (tmp_path / "b.pt").stat().st_mode & 0o777 == mode


# -- random state in checkpoints --------------------------------------------------------------------
def test_checkpoints_carry_the_cuda_generator_when_training_on_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: torch.tensor([7], dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: calls.append((state, device)))
    cuda = torch.device("cuda")
    state = rng.rng_state(cuda)
    assert torch.equal(state["cuda_rng"], torch.tensor([7], dtype=torch.uint8)) and "rng" in state
    rng.restore_rng_state(state, cuda)
    assert len(calls) == 1 and torch.equal(calls[0][0], state["cuda_rng"]) and calls[0][1] == cuda
    assert "cuda_rng" not in rng.rng_state(torch.device("cpu"))


def test_training_saves_and_restores_the_random_state_through_rng(tmp_path, monkeypatch):
    saved, restored = [], []

    def fake_rng_state(device):
        saved.append(device)
        return {"rng": torch.get_rng_state(), "cuda_rng": torch.tensor([9], dtype=torch.uint8)}

    monkeypatch.setattr(loop, "rng_state", fake_rng_state)
    monkeypatch.setattr(loop, "restore_rng_state", lambda state, device: restored.append((state, device)))
    data = make_splits(shape=(1, 8, 8))
    mask = {"1.weight": torch.ones(10, 64, dtype=torch.bool)}
    hp = TrainingHparams(batch_size=40, iterations=8, eval_every=2)
    for _ in range(2):  # the second call resumes from the checkpoint the first one left
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        loop.train(
            model,
            mask,
            data,
            hp,
            0,
            schedule=Schedule(checkpoint_every=4, progress=False),
            checkpoint=tmp_path / "c.pt",
        )
    assert saved and all(d == torch.device("cpu") for d in saved)
    assert len(restored) == 1 and torch.equal(restored[0][0]["cuda_rng"], torch.tensor([9], dtype=torch.uint8))
