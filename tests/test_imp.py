"""Iterative magnitude pruning end to end on tiny data."""

from dataclasses import replace

import pytest
import torch

from lottery.experiments import TICKET, Experiment, run_imp
from lottery.hparams import DatasetHparams, ExperimentHparams, TrainingHparams
from lottery.report import aggregate, load_experiment
from lottery.storage import load_json, load_tensors
from lottery.training.metrics import Curve

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=60, eval_every=20)
)


def run(tmp_path, data, hp=TINY, trials=1, levels=3):
    with Experiment(hp, tmp_path, data=data, progress=False) as exp:
        run_imp(exp, trials, levels)
        return exp


def test_imp_levels_prune_reset_and_record(tmp_path, tiny_data):
    exp = run(tmp_path, tiny_data)
    trial = exp.paths.trial(0)
    theta0 = load_tensors(trial.init)
    densities = []
    for level in range(4):
        paths = trial.level(TICKET, level)
        metrics = load_json(paths.metrics)
        mask = load_tensors(paths.mask)
        densities.append(metrics["density"])
        assert metrics["layer_density"]["hidden.0.weight"] == pytest.approx(0.8**level, abs=1e-4)
        assert metrics["layer_density"]["output.weight"] == pytest.approx(0.9**level, abs=1e-3)
        assert metrics["summary"]["early_stop_iteration"] in Curve.from_dict(metrics["curve"]).iterations
        final = load_tensors(paths.final)
        for name, keep in mask.items():
            assert torch.count_nonzero(final[name][~keep]) == 0
        if level:  # this level's mask came from pruning the previous level's trained weights
            prev = trial.level(TICKET, level - 1)
            expected = exp.prune(load_tensors(prev.final), load_tensors(prev.mask))
            assert all(torch.equal(expected[n], mask[n]) for n in mask)
    assert densities == sorted(densities, reverse=True) and densities[0] == 1.0
    assert 0.5 < densities[-1] < 0.55  # ≈ 0.8^3 for fc layers, 0.9^3 for the small output layer
    assert torch.equal(load_tensors(trial.init)["hidden.0.bias"], theta0["hidden.0.bias"])


def test_reset_restores_theta0_for_surviving_weights_and_biases(tmp_path, tiny_data):
    """A level's starting point is m ⊙ θ0 (weights) and θ0 (biases): rerunning level 2 from the
    stored θ0 and mask reproduces the stored result exactly, and a different start would not."""
    exp = run(tmp_path, tiny_data, levels=2)
    trial = exp.paths.trial(0)
    theta0, mask = load_tensors(trial.init), load_tensors(trial.level(TICKET, 2).mask)
    from lottery.pruning import apply_mask
    from lottery.training import Schedule
    from lottery.training.batched import Job, train_many  # what Experiment trains with

    model = exp.build_model()
    model.load_state_dict(theta0)
    apply_mask(model, mask)
    state = model.state_dict()
    for name, value in theta0.items():
        expected = value * mask[name] if name in mask else value
        assert torch.equal(state[name], expected)
    (result,) = train_many(
        [Job(model, mask, exp.trial_seed(0))], tiny_data, TINY.training, schedule=Schedule(progress=False)
    )
    stored = load_tensors(trial.level(TICKET, 2).final)
    assert all(torch.equal(stored[k], v) for k, v in result.final_state.items())


def test_rerunning_a_finished_experiment_does_no_work(tmp_path, tiny_data):
    exp = run(tmp_path, tiny_data, levels=1)
    stamps = {p: p.stat().st_mtime_ns for p in exp.paths.folder.rglob("*") if p.is_file()}
    run(tmp_path, tiny_data, levels=1)
    assert {p: p.stat().st_mtime_ns for p in exp.paths.folder.rglob("*") if p.is_file()} == stamps


def test_trials_use_their_own_seeds_and_aggregate(tmp_path, tiny_data):
    exp = run(tmp_path, tiny_data, trials=2, levels=1)
    a, b = (load_tensors(exp.paths.trial(t).init) for t in (0, 1))
    assert not torch.equal(a["hidden.0.weight"], b["hidden.0.weight"])
    runs = load_experiment(exp.paths.folder).runs
    levels = aggregate(runs)
    assert [(ls.branch, ls.level, ls.trials) for ls in levels] == [("ticket", 0, 2), ("ticket", 1, 2)]
    accs = [r.summary.test_acc_at_early_stop for r in runs if r.level == 1]
    assert levels[1].stats["test_acc_at_early_stop"].low == min(accs)
    assert levels[1].stats["test_acc_at_early_stop"].high == max(accs)


def test_experiment_name_hashes_only_non_default_fields():
    assert ExperimentHparams().non_default() == {}
    a = replace(TINY, training=replace(TINY.training, lr=1e-3))
    assert a.name() != TINY.name() and a.name() == replace(TINY, training=replace(TINY.training, lr=1e-3)).name()
    assert ExperimentHparams.from_dict(a.to_dict()) == a
