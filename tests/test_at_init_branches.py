"""Pruning at initialization as branches (experiments/at_init.py): counts, checks, settings, resume,
worker processes, the command line, reports and analyses."""

import pytest
import torch
from conftest import TINY_RUN, make_splits

from lottery.analysis.analyze import analyze
from lottery.cli import main
from lottery.errors import LotteryError, UsageError
from lottery.executors import LocalExecutor
from lottery.experiments import TICKET, Experiment, run_experiment
from lottery.experiments.at_init import (
    Draw,
    Draws,
    Snip,
    SnipInvert,
    SnipReinit,
    SnipSettings,
    Synflow,
    SynflowSettings,
    SynflowShuffle,
    method_mask,
    scoring_batches,
)
from lottery.experiments.branches import branch_kind
from lottery.hparams import ExperimentHparams, TrainingHparams
from lottery.options import SpeedOptions
from lottery.pruning.at_init import snip_scores
from lottery.report.paper import make_report
from lottery.report.plots import style
from lottery.storage import load_json, load_tensors

TINY = ExperimentHparams(training=TrainingHparams(batch_size=40, iterations=12, eval_every=4))
LEVEL = 2  # branches run at this level only (the ticket runs 0..2)
FAST_SYNFLOW = SynflowSettings(rounds=10)
REQUESTS = {
    "snip_draws": 1,
    "grasp_draws": 1,
    "synflow_draws": Draws(1, FAST_SYNFLOW),
    "snip_shuffle_draws": 1,
    "snip_reinit_draws": 1,
    "snip_invert_draws": 1,
    "grasp_invert_draws": 1,
}
FOLDERS = ("snip_0", "grasp_0", "synflow-rounds10_0", "snip_shuffle_0", "snip_reinit_0", "snip_invert_0")
HIDDEN = ("hidden.0.weight", "hidden.1.weight")  # ranked together under layer-wise pruning; output keeps its count


@pytest.fixture(scope="module")
def small_data():
    return make_splits(shape=(1, 8, 8))


def run(root, data, executor=None, **requests):
    with Experiment(TINY, root, data=data, progress=False) as exp:
        ran = run_experiment(exp, 1, LEVEL, control_levels=[LEVEL], executor=executor, **requests)
    return exp, ran


@pytest.fixture(scope="module")
def done(small_data, tmp_path_factory):
    exp, _ = run(tmp_path_factory.mktemp("runs"), small_data, **REQUESTS)
    return exp


def mask(exp, folder, level=LEVEL):
    return load_tensors(exp.paths.trial(0).level(folder, level).mask)


def counts(m):
    return {n: int(v.sum()) for n, v in m.items()}


@pytest.mark.parametrize("folder", [*FOLDERS, "grasp_invert_0"])
def test_each_branch_keeps_the_tickets_counts(done, folder):
    ticket, own = counts(mask(done, TICKET)), counts(mask(done, folder))
    assert own.keys() == ticket.keys()
    assert sum(own[n] for n in HIDDEN) == sum(ticket[n] for n in HIDDEN)  # ranked together
    assert own["output.weight"] == ticket["output.weight"]  # the output layer follows the experiment's rate
    record = load_json(done.paths.trial(0).level(folder, LEVEL).metrics)["at_init"]
    assert record["ranked_together"] == list(HIDDEN) and record["scored"] == "θ0"
    assert record["method"] == branch_kind(folder).partition("_")[0].partition("-")[0]


def test_masks_differ_from_the_tickets_and_from_each_others(done):
    masks = {f: mask(done, f) for f in (TICKET, "snip_0", "grasp_0", "synflow-rounds10_0", "snip_invert_0")}
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert any(not torch.equal(masks[a][n], masks[b][n]) for n in HIDDEN), (a, b)


def test_snip_keeps_its_highest_scores_and_invert_the_lowest(done):
    draw = Draw(0, SnipSettings())
    model = done.build_model()
    model.load_state_dict(done.initial_state(0))
    model.eval()
    scores = snip_scores(model, list(HIDDEN), scoring_batches(done, 0, "snip", draw, LEVEL))
    flat = torch.cat([scores[n].flatten() for n in HIDDEN])
    for folder, kept_high in (("snip_0", True), ("snip_invert_0", False)):
        keep = torch.cat([mask(done, folder)[n].flatten() for n in HIDDEN])
        kept, removed = flat[keep], flat[~keep]
        assert (kept.min() >= removed.max()) if kept_high else (kept.max() <= removed.min())


def test_checks_change_one_thing_of_the_methods_mask(done):
    snip, shuffled, reinit = mask(done, "snip_0"), mask(done, "snip_shuffle_0"), mask(done, "snip_reinit_0")
    assert counts(shuffled) == counts(snip) and any(not torch.equal(shuffled[n], snip[n]) for n in snip)
    assert all(torch.equal(reinit[n], snip[n]) for n in snip)
    start = SnipReinit().start(done, 0, Draw(0, SnipSettings()), LEVEL)
    theta0 = done.initial_state(0)
    assert all(not torch.equal(start.state[n], theta0[n]) for n in HIDDEN) and start.iteration == 0
    records = {f: load_json(done.paths.trial(0).level(f, LEVEL).metrics)["at_init"] for f in FOLDERS}
    assert records["snip_shuffle_0"]["check"] == "shuffle" and "mask_seed" in records["snip_shuffle_0"]
    assert records["snip_reinit_0"]["check"] == "reinit" and "init_seed" in records["snip_reinit_0"]
    assert records["snip_0"]["scoring_seed"] == records["snip_invert_0"]["scoring_seed"]  # the same examples
    assert records["synflow-rounds10_0"]["settings"] == {"rounds": 10, "layerwise": False}
    assert "scoring_seed" not in records["synflow-rounds10_0"]  # data-free


def test_settings_name_the_folder_and_layerwise_keeps_per_layer_counts(done, small_data):
    settings = SnipSettings(batches=2, batch_size=30, layerwise=True)
    run(done.paths.folder.parent, small_data, snip_draws=Draws(1, settings), snip_invert_draws=Draws(1, settings))
    folder = "snip-batches2-batchsize30-layerwise_0"
    assert counts(mask(done, folder)) == counts(mask(done, TICKET))
    assert counts(mask(done, "snip_invert-batches2-batchsize30-layerwise_0")) == counts(mask(done, TICKET))
    record = load_json(done.paths.trial(0).level(folder, LEVEL).metrics)["at_init"]
    assert record["settings"] == {"batches": 2, "batch_size": 30, "layerwise": True} and record["ranked_together"] == []
    assert load_json(done.paths.trial(0).level("snip_0", LEVEL).metrics)["at_init"]["settings"]["batches"] == 1
    assert style("snip-batches2-batchsize30-layerwise").label == "SNIP (batches2-batchsize30-layerwise)"


def test_finished_levels_are_not_redone_and_a_lost_one_is_redone_with_its_mask(done, small_data):
    _, ran = run(done.paths.folder.parent, small_data, **REQUESTS)
    assert ran == []
    level = done.paths.trial(0).level("snip_shuffle_0", LEVEL)
    before = load_tensors(level.mask)
    level.metrics.unlink()
    _, ran = run(done.paths.folder.parent, small_data, **REQUESTS)
    assert [u.branch for u in ran] == ["snip_shuffle_0"]
    assert all(torch.equal(before[n], load_tensors(level.mask)[n]) for n in before)


def test_method_masks_are_pure_functions_of_the_trial(done):
    """Recomputed without the stored mask, a method gives the same mask (so checks see the method's)."""
    for method, settings in (("snip", SnipSettings()), ("synflow", FAST_SYNFLOW)):
        folder = "snip_0" if method == "snip" else "synflow-rounds10_0"
        again = method_mask(done, 0, method, Draw(0, settings), LEVEL)
        assert all(torch.equal(again[n], mask(done, folder)[n]) for n in again)
    inverted = SnipInvert().start(done, 0, 0, LEVEL).mask  # an int draw means the default settings
    assert all(torch.equal(inverted[n], mask(done, "snip_invert_0")[n]) for n in inverted)


def test_bad_requests_are_refused(done):
    with pytest.raises(UsageError, match="more than the training split's"):
        scoring_batches(done, 0, "snip", Draw(0, SnipSettings(batches=3)), LEVEL)  # 300 of 240 examples
    assert len(Snip().units(2, 3)) == 6
    with pytest.raises(UsageError, match="every draw would train the same network"):
        Synflow().units(2, 3)
    assert len(SynflowShuffle().units(2, 3)) == 6  # shuffles differ from draw to draw
    with pytest.raises(UsageError, match="are not SnipSettings"):
        Snip().units(Draws(1, FAST_SYNFLOW), 2)
    with pytest.raises(UsageError, match="--snip-batches 0 is impossible"):
        SnipSettings(batches=0)
    with pytest.raises(UsageError, match="number of draws"):
        Snip().units(True, 2)


def test_scores_that_are_not_finite_are_refused_in_one_line(done, monkeypatch):
    import lottery.experiments.at_init as at_init

    monkeypatch.setattr(
        at_init, "snip_scores", lambda model, names, batches: {n: torch.full((2,), float("nan")) for n in names}
    )
    with pytest.raises(LotteryError, match=r"snip at trial 0 level 2: scores of .* are not all finite"):
        method_mask(done, 0, "snip", Draw(0, SnipSettings()), LEVEL)


def test_report_and_analysis_draw_the_branches(done, tmp_path):
    written, _ = make_report([done.paths.folder], tmp_path / "report")
    assert tmp_path / "report" / "at_init.png" in written
    table = (tmp_path / "report" / "table.md").read_text()
    assert "snip_shuffle" in table and "synflow-rounds10" in table
    files = analyze([done.paths.folder], tmp_path / "analysis")
    assert tmp_path / "analysis" / "mask_overlap_at_init.png" in files
    rows = (tmp_path / "analysis" / "analysis.csv").read_text()
    assert ",overlap_ticket_at_init,snip," in rows and ",overlap_ticket_at_init,snip_invert," in rows


@pytest.mark.slow
def test_worker_processes_write_the_same_results(small_data, done, tmp_path):
    requests = {k: REQUESTS[k] for k in ("snip_draws", "synflow_draws", "snip_shuffle_draws")}
    with LocalExecutor(workers=2) as executor:
        parallel, _ = run(tmp_path, small_data, executor=executor, **requests)
    for folder in ("snip_0", "synflow-rounds10_0", "snip_shuffle_0"):
        assert all(torch.equal(mask(parallel, folder)[n], mask(done, folder)[n]) for n in HIDDEN)
        a = load_json(parallel.paths.trial(0).level(folder, LEVEL).metrics)["summary"]
        b = load_json(done.paths.trial(0).level(folder, LEVEL).metrics)["summary"]
        assert a["test_acc_final"] == pytest.approx(b["test_acc_final"], abs=1e-6)


def test_networks_trained_together_get_the_same_masks(small_data, done, tmp_path):
    """--batch-networks: a level's branches are queued and trained together; masks are unchanged."""
    requests = {k: REQUESTS[k] for k in ("snip_draws", "synflow_draws", "snip_shuffle_draws", "snip_reinit_draws")}
    with Experiment(TINY, tmp_path, data=small_data, progress=False, speed=SpeedOptions(together=4)) as exp:
        run_experiment(exp, 1, LEVEL, control_levels=[LEVEL], **requests)
    for folder in ("snip_0", "synflow-rounds10_0", "snip_shuffle_0", "snip_reinit_0"):
        assert all(torch.equal(mask(exp, folder)[n], mask(done, folder)[n]) for n in HIDDEN)


def test_command_line_flags(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for flag in ("--snip-draws N", "--grasp-invert-draws N", "--synflow-shuffle-draws N", "--synflow-rounds N"):
        assert flag in out
    assert [line.split()[0] for line in out.splitlines() if line.strip()].count("--pai-layerwise") == 1  # added once
    base = [*TINY_RUN, "--levels", "1", "--no-progress", "--out", str(tmp_path)]
    assert main([*base, "--snip-batches", "4"]) == 2
    assert "--snip-batches 4 is unused" in capsys.readouterr().err
    assert main([*base, "--pai-layerwise"]) == 2
    assert "--pai-layerwise is unused" in capsys.readouterr().err
    assert main([*base, "--synflow-draws", "2"]) == 2
    assert "every draw would train the same network" in capsys.readouterr().err
