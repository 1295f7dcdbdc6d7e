"""Lazy test evaluation (training/evaluation.py): the test set is evaluated only at the end, on the final and
on the early-stop weights, unless the run asks for the whole test curve; every published number is the same."""

import json
from dataclasses import replace


from conftest import TINY_RUN, pruned_lenet
from lottery.cli import main
from lottery.hparams import TrainingHparams
from lottery.training import Schedule, train
from lottery.training.batched import Job, train_many
from lottery.training.evaluation import EvaluationPlan
from lottery.training.metrics import Curve
from test_training import CONV_HP, pruned_conv

HP = TrainingHparams(lr=2e-2, batch_size=20, iterations=300, eval_every=20)  # lr high enough to overfit
NETS = [(0, 0.0, 10), (1, 0.5, 11), (2, 0.9, 12)]  # (init seed, pruning rate, training seed)


def assert_lazy_equals_full(lazy, full):
    """The lazy run's numbers are the full run's; it tested only the early-stop and the final weights."""
    assert {k: v for k, v in lazy.summary.items() if k != "train_seconds"} == {
        k: v for k, v in full.summary.items() if k != "train_seconds"
    }
    assert lazy.curve.series["val_loss"] == full.curve.series["val_loss"]
    assert lazy.curve.series["val_acc"] == full.curve.series["val_acc"]
    assert full.curve.has_full("test_acc") and not lazy.curve.has_full("test_acc")
    early_stop, last = full.curve.early_stop_iteration, full.curve.iterations[-1]
    assert lazy.curve.series["test_acc"].iterations == sorted({early_stop, last})
    for it, value in zip(lazy.curve.series["test_acc"].iterations, lazy.curve.values("test_acc")):
        assert value == full.curve.series["test_acc"].at(it)
    for name, value in full.final_state.items():
        assert value.equal(lazy.final_state[name])


def test_plan_tests_at_the_end_only():
    plan = EvaluationPlan(every=100, iterations=250)
    assert [it for it in range(251) if plan.evaluates(it)] == [0, 100, 200, 250]
    assert [it for it in range(251) if plan.evaluates(it) and plan.tests(it)] == [250]
    full = replace(plan, test_curve=True)
    assert [it for it in range(251) if full.evaluates(it) and full.tests(it)] == [0, 100, 200, 250]


def test_lenet_lazy_test_evaluation_gives_the_full_runs_results(tiny_data):
    runs = {}
    for test_curve in (True, False):
        model, mask = pruned_lenet(tiny_data, 0.5, 1)
        runs[test_curve] = train(model, mask, tiny_data, HP, 11, Schedule(progress=False, test_curve=test_curve))
    assert_lazy_equals_full(runs[False], runs[True])


def test_batched_lazy_test_evaluation_gives_the_full_runs_results(tiny_data):
    runs = {}
    for test_curve in (True, False):
        jobs = [Job(*pruned_lenet(tiny_data, r, i), seed=s) for i, r, s in NETS]
        runs[test_curve] = train_many(jobs, tiny_data, HP, Schedule(progress=False, test_curve=test_curve))
    for lazy, full in zip(runs[False], runs[True], strict=True):
        assert lazy.summary["trained_together"] == 3
        assert_lazy_equals_full(lazy, full)
    # some stop early before the end: their early-stop weights were tested apart from the final ones
    assert any(r.summary["early_stop_iteration"] < HP.iterations for r in runs[False])


def test_conv_lazy_test_evaluation_gives_the_full_runs_results(tiny_data):
    runs = {}
    hp = replace(CONV_HP, iterations=60)
    for test_curve in (True, False):
        model, mask = pruned_conv(tiny_data)
        runs[test_curve] = train(model, mask, tiny_data, hp, 0, Schedule(progress=False, test_curve=test_curve))
    assert_lazy_equals_full(runs[False], runs[True])


def test_a_lazy_run_resumes_from_its_checkpoint_to_the_same_curve(tiny_data, tmp_path):
    model, mask = pruned_lenet(tiny_data, 0.5, 1)
    full = train(model, mask, tiny_data, HP, 11, Schedule(progress=False))
    model, mask = pruned_lenet(tiny_data, 0.5, 1)
    ckpt = tmp_path / "c.pt"
    train(
        model,
        mask,
        tiny_data,
        replace(HP, iterations=130),
        11,
        Schedule(progress=False, checkpoint_every=60),
        checkpoint=ckpt,
    )
    model, mask = pruned_lenet(tiny_data, 0.5, 1)
    resumed = train(model, mask, tiny_data, HP, 11, Schedule(progress=False, checkpoint_every=60), checkpoint=ckpt)
    assert resumed.curve == full.curve


def test_curves_of_older_records_read_as_whole_curves():
    dense = {
        "iterations": [0, 10, 20],
        "val_loss": [2.0, 1.0, 1.5],
        "val_acc": [0.1, 0.5, 0.4],
        "test_acc": [0.1, 0.6, 0.5],
    }
    curve = Curve.from_dict(dense)
    assert curve.iterations == [0, 10, 20] and curve.has_full("test_acc")
    assert curve.series["test_acc"].at(10) == 0.6 and curve.best_index() == 1
    assert Curve.from_dict(json.loads(json.dumps(curve.to_dict()))) == curve


def test_test_curve_is_a_run_option_that_extends_the_same_experiment(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main([*TINY_RUN, "--eval-every", "2", "--levels", "1", "--out", str(out)]) == 0
    assert main([*TINY_RUN, "--eval-every", "2", "--levels", "2", "--test-curve", "2", "--out", str(out)]) == 0
    (folder,) = out.iterdir()  # one experiment: the option is not part of its name
    curves = {
        level: Curve.from_dict(json.loads((folder / f"trial_0/ticket/level_{level}/metrics.json").read_text())["curve"])
        for level in (0, 1, 2)
    }
    assert not curves[0].has_full("test_acc") and not curves[1].has_full("test_acc")
    assert curves[2].has_full("test_acc")
    capsys.readouterr()
    # Figure 3 draws only levels with whole test curves; asking for another one is one line naming --test-curve
    assert main(["report", str(folder), "--out", str(tmp_path / "r"), "--levels-for-curves", "0,2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--test-curve 0" in err
    assert main(["report", str(folder), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "fig3.png").exists()
    capsys.readouterr()
    # lottery iterations at an evaluation without a test point
    untested = sorted(set(curves[1].iterations) - set(curves[1].series["test_acc"].iterations))
    assert untested  # over 11 evaluations the validation loss does not fall every time
    assert main(["iterations", str(folder), "--at", str(untested[0]), "--out", str(tmp_path / "i.png")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--test-curve" in err[0] and err[0].startswith("lottery: error:")


def test_a_test_point_measured_late_is_recorded_in_iteration_order():
    curve = Curve()
    for it, loss in ((0, 2.0), (10, 1.0), (20, 1.5)):
        curve.add(it, val_loss=loss, val_acc=0.5)
    curve.add(20, test_acc=0.7)
    curve.add(curve.early_stop_iteration, test_acc=0.8)  # the early-stop weights, tested at the end
    assert curve.series["test_acc"].iterations == [10, 20] and curve.values("test_acc") == [0.8, 0.7]
