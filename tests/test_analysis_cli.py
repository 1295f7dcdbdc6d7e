"""`lottery analyze` and `lottery instability` end to end on tiny runs of the embedded digits data."""

import csv
import statistics
from pathlib import Path

import pytest
import torch

from lottery.experiments import ExperimentFolder
from lottery.analysis.instability import InstabilityRun
from lottery.cli import main

pytest.importorskip("sklearn")


def run_experiment(root: Path, *extra: str) -> Path:
    assert (
        main(
            [
                "run",
                "--preset",
                "lenet-digits",
                "--iterations",
                "100",
                "--levels",
                "2",
                "--out",
                str(root),
                "--no-progress",
                *extra,
            ]
        )
        == 0
    )
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    folder = run_experiment(tmp_path_factory.mktemp("runs"), "--trials", "2", "--oneshot")
    (folder / "trial_x").mkdir()  # not trial_<int> / level_<int>: ignored
    (folder / "trial_0" / "ticket" / "level_2b").mkdir()
    return folder


def read_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_analyze_writes_figures_and_tables(experiment, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert main(["analyze", str(experiment), "--out", str(out)]) == 0
    for name in (
        "layer_density.png",
        "mask_overlap.png",
        "start_values.png",
        "magnitude_change.png",
        "input_connectivity.png",
        "analysis.md",
        "analysis.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    rows = read_rows(out / "analysis.csv")
    kinds = {r["analysis"] for r in rows}
    assert {
        "layer_density",
        "overlap_between_trials",
        "overlap_ticket_oneshot",
        "overlap_successive_levels",
        "start_values",
        "magnitude_change",
        "input_connectivity",
    } <= kinds
    exp = ExperimentFolder(experiment)
    # IMP masks are nested: level k keeps a subset of level k-1, so their Jaccard is the survival ratio
    for r in rows:
        if r["analysis"] == "overlap_successive_levels" and r["statistic"] == "jaccard_mean" and r["layer"] != "all":
            k = int(r["level"])
            layer = r["layer"]
            ratios = [
                int(exp.mask(t, "ticket", k)[layer].sum()) / int(exp.mask(t, "ticket", k - 1)[layer].sum())
                for t in (0, 1)
            ]
            assert float(r["value"]) == pytest.approx(statistics.fmean(ratios), rel=1e-12)
        if r["analysis"] == "overlap_between_trials" and r["statistic"] == "jaccard_mean" and r["layer"] != "all":
            a, b = (exp.mask(t, "ticket", int(r["level"]))[r["layer"]] for t in (0, 1))
            assert float(r["value"]) == int((a & b).sum()) / int((a | b).sum())  # written at full precision
    densities = {
        (r["branch"], r["level"], r["layer"]): float(r["value"]) for r in rows if r["analysis"] == "layer_density"
    }
    assert densities[("ticket", "2", "hidden.0.weight")] == pytest.approx(0.8**2, abs=1e-4)
    assert densities[("oneshot", "2", "output.weight")] == pytest.approx(0.9**2, abs=1e-3)
    assert "overlap_between_trials" in (out / "analysis.md").read_text()


@pytest.mark.slow
def test_analyze_errors(experiment, tmp_path, capsys):
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "a")]) == 1
    assert main(["analyze", str(experiment), "--levels", "7", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "not a lottery experiment folder" in err and "--levels: level(s) 7" in err


@pytest.mark.slow
def test_instability_command(experiment, tmp_path, capsys):
    out = tmp_path / "inst"
    assert (
        main(["instability", str(experiment), "--level", "0,2", "--points", "5", "--out", str(out), "--no-progress"])
        == 0
    )
    for name in (
        "instability.png",
        "instability_barrier.png",
        "instability.md",
        "instability.csv",
        "instability_curves.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    table = read_rows(out / "instability.csv")
    assert [r["level"] for r in table] == ["0", "2"]
    curves = read_rows(out / "instability_curves.csv")
    for r in table:
        errors = [float(c["error"]) for c in curves if c["level"] == r["level"]]
        assert len(errors) == 5
        assert float(r["barrier"]) == pytest.approx(max(errors) - (errors[0] + errors[-1]) / 2, abs=1e-5)
    stored = sorted(p.name for p in (out / "paths").iterdir())
    assert stored == ["trial_0-level_0-rewind_0.json", "trial_0-level_2-rewind_0.json"]
    before = (out / "paths" / stored[0]).read_text()
    assert (
        main(["instability", str(experiment), "--level", "0", "--points", "5", "--out", str(out), "--no-progress"]) == 0
    )  # reuses the stored path
    assert (out / "paths" / stored[0]).read_text() == before
    assert main(["instability", str(experiment), "--level", "9", "--out", str(out), "--no-progress"]) == 2
    assert "no finished ticket level 9" in capsys.readouterr().err


@pytest.mark.slow
def test_rewind_start_is_the_dense_run_at_iteration_k(tmp_path, capsys):
    folder = run_experiment(tmp_path / "runs", "--rewind", "20", "--levels", "1")
    run = InstabilityRun(folder, progress=False)
    stored = ExperimentFolder(folder).start(0)
    replayed = run.replay_dense(20)
    for name, value in stored.items():
        assert torch.allclose(replayed[name], value, atol=1e-5), name
    assert (
        main(
            [
                "instability",
                str(folder),
                "--level",
                "1",
                "--rewind",
                "0,20",
                "--points",
                "3",
                "--out",
                str(tmp_path / "inst"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert [r["rewind"] for r in read_rows(tmp_path / "inst" / "instability.csv")] == ["0", "20"]
    assert (tmp_path / "inst" / "instability_barrier.png").exists()


@pytest.mark.slow
def test_connectivity_of_an_rgb_fc_net_is_a_fraction_of_outputs_times_channels(tmp_path):
    from test_conv import make_batches, write_py2_folder

    from lottery.analysis.analyze import Analysis

    data = write_py2_folder(tmp_path / "cifar", make_batches(n_train_per_batch=12, n_test=10))
    folder = run_experiment(
        tmp_path / "runs",
        "--model",
        "lenet_300_100",
        "--dataset",
        "cifar10",
        "--data-dir",
        str(data),
        "--validation-size",
        "10",
        "--batch-size",
        "10",
        "--levels",
        "1",
        "--iterations",
        "4",
        "--eval-every",
        "2",
    )
    layer, maps = Analysis(folder).connectivity()
    keep = ExperimentFolder(folder).mask(0, "ticket", 1)[layer]  # 300 outputs x (3 x 32 x 32) inputs
    by_hand = keep.view(300, 3, 32, 32).sum(dim=(0, 1)).double() / (300 * 3)
    fractions, density = maps[1]
    assert torch.allclose(fractions, by_hand) and fractions.max() <= 1
    assert fractions.mean() == pytest.approx(density)
    out = tmp_path / "analysis"
    assert main(["analyze", str(folder), "--out", str(out)]) == 0
    assert (out / "input_connectivity.png").stat().st_size > 0


@pytest.mark.slow
def test_no_connectivity_map_when_the_input_layer_is_not_pruned(tmp_path):
    # hidden.1 reads the 300 hidden units of hidden.0 (300 = 3 x 10 x 10, yet no image)
    folder = run_experiment(tmp_path / "runs", "--ignore", "hidden.0.weight", "--levels", "1", "--iterations", "20")
    out = tmp_path / "analysis"
    assert main(["analyze", str(folder), "--out", str(out)]) == 0
    assert not (out / "input_connectivity.png").exists()
    assert not [r for r in read_rows(out / "analysis.csv") if r["analysis"] == "input_connectivity"]
    assert "no connectivity map" in (out / "analysis.md").read_text()


@pytest.mark.slow
def test_instability_keeps_the_two_trained_networks(experiment, tmp_path, monkeypatch):
    from lottery.analysis import instability
    from lottery.storage import load_tensors

    out = tmp_path / "inst"
    argv = ["instability", str(experiment), "--level", "2", "--out", str(out), "--no-progress", "--keep-networks"]
    assert main([*argv, "--points", "5"]) == 0
    stored = load_tensors(out / "networks" / "trial_0-level_2-rewind_0.pt")
    assert (stored["experiment"], stored["trial"], stored["level"], stored["rewind"]) == (experiment.name, 0, 2, 0)
    mask = ExperimentFolder(experiment).mask(0, "ticket", 2)
    a, b = stored["copies"]
    for name, keep in mask.items():
        assert (a[name][~keep] == 0).all() and (b[name][~keep] == 0).all()
        assert not torch.equal(a[name], b[name])  # different data orders
    first = read_rows(out / "instability_curves.csv")

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(instability, "train", no_training)
    assert main([*argv[:-1], "--points", "3"]) == 0  # the stored networks, evaluated at other points
    again = read_rows(out / "instability_curves.csv")
    assert len(again) == 3 and [again[0]["error"], again[-1]["error"]] == [first[0]["error"], first[-1]["error"]]
    monkeypatch.undo()

    (out / "networks" / "trial_0-level_2-rewind_0.pt").write_bytes(b"damaged")
    assert main([*argv, "--points", "3"]) == 0  # trained again and stored again
    assert load_tensors(out / "networks" / "trial_0-level_2-rewind_0.pt")["level"] == 2
