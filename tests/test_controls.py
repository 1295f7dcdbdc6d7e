"""Random reinit, random pruning and one-shot pruning as branches of a tiny IMP experiment."""

from dataclasses import replace

import pytest
import torch
from conftest import make_splits
from scipy.stats import ks_2samp

from lottery.experiments import TICKET, Experiment, ExperimentFolder, run_experiment
from lottery.experiments.branch_settings import Draws
from lottery.experiments.branches import branch_order
from lottery.experiments.controls import (
    ControlSettings,
    random_mask,
    reinit_state,
    run_random_level,
    run_reinit_level,
)
from lottery.experiments.oneshot import ONESHOT, oneshot_mask, run_oneshot_level
from lottery.experiments.runner import plan
from lottery.errors import UsageError
from lottery.options import SpeedOptions
from lottery.report.plots import line_styles, style
from lottery.hparams import DatasetHparams, ExperimentHparams, PruningHparams, TrainingHparams
from lottery.pruning import keep_largest
from lottery.pruning import density
from lottery.storage import load_json, load_tensors
from lottery.training.metrics import Curve

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=30, eval_every=10)
)
LEVELS, DRAWS = 2, 2


def small_data():
    return make_splits(shape=(1, 10, 10))  # 100 inputs: LeNet-300-100 with ~61K weights trains fast


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One trial, 2 levels, 2 reinit draws, 2 random draws and one-shot, all finished."""
    with Experiment(TINY, tmp_path_factory.mktemp("runs"), data=small_data(), progress=False) as exp:
        run_experiment(exp, 1, LEVELS, reinit_draws=DRAWS, random_draws=DRAWS, oneshot=True)
        yield exp


def level(exp, branch, k, what):
    return load_tensors(getattr(exp.paths.trial(0).level(branch, k), what))


def counts(mask):
    return {name: int(m.sum()) for name, m in mask.items()}


def test_reinit_masks_equal_the_tickets_and_weights_are_fresh_draws(done):
    theta0 = load_tensors(done.paths.trial(0).init)
    seeds = set()
    for d in range(DRAWS):
        for k in range(1, LEVELS + 1):
            ticket = level(done, TICKET, k, "mask")
            reinit = level(done, f"reinit_{d}", k, "mask")
            assert ticket.keys() == reinit.keys()
            assert all(torch.equal(ticket[n], reinit[n]) for n in ticket)
            metrics = load_json(done.paths.trial(0).level(f"reinit_{d}", k).metrics)
            assert metrics["control"]["kind"] == "reinit" and metrics["control"]["draw"] == d
            seeds.add(metrics["control"]["init_seed"])
        fresh = reinit_state(done, 0, d)
        for name in done.prunable_kinds:
            assert not torch.equal(fresh[name], theta0[name])
            # independent draws: essentially uncorrelated with θ0
            corr = torch.corrcoef(torch.stack([fresh[name].flatten(), theta0[name].flatten()]))[0, 1]
            assert abs(float(corr)) < 0.1
    assert len(seeds) == DRAWS  # one seed per draw, shared by the levels of that draw
    assert not torch.equal(reinit_state(done, 0, 0)["hidden.0.weight"], reinit_state(done, 0, 1)["hidden.0.weight"])


def test_reinit_weights_follow_the_init_distribution(done):
    theta0, fresh = load_tensors(done.paths.trial(0).init), reinit_state(done, 0, 0)
    for name in ("hidden.0.weight", "hidden.1.weight"):  # the layers big enough for a sharp test
        a, b = theta0[name].flatten().numpy(), fresh[name].flatten().numpy()
        assert ks_2samp(a, b).pvalue > 0.01
        assert ks_2samp(a, 1.2 * b).pvalue < 1e-6  # the test would notice a 20% wrong scale
        assert abs(b.std() / a.std() - 1) < 0.03
    for name in theta0:
        if name.endswith("bias"):
            assert torch.equal(fresh[name], theta0[name])  # zeros in both


def test_random_masks_keep_per_layer_counts_at_new_positions(done):
    for k in range(1, LEVELS + 1):
        ticket = level(done, TICKET, k, "mask")
        draws = [level(done, f"random_{d}", k, "mask") for d in range(DRAWS)]
        for mask in draws:
            assert counts(mask) == counts(ticket)
            assert density(mask) == density(ticket)
            for name in ticket:
                if not ticket[name].all():
                    assert not torch.equal(mask[name], ticket[name])
        assert not torch.equal(draws[0]["hidden.0.weight"], draws[1]["hidden.0.weight"])
        assert torch.equal(random_mask(done, 0, 0, k)["hidden.0.weight"], draws[0]["hidden.0.weight"])  # seeded
    # the random draw at level 2 is not nested in level 1: a fresh random mask per level
    m1, m2 = (level(done, "random_0", k, "mask")["hidden.0.weight"] for k in (1, 2))
    assert bool((m2 & ~m1).any())


def test_oneshot_reaches_the_ticket_pm_exactly_by_dense_magnitudes(done):
    dense = level(done, TICKET, 0, "final")
    for k in range(1, LEVELS + 1):
        ticket, oneshot = level(done, TICKET, k, "mask"), level(done, ONESHOT, k, "mask")
        assert counts(oneshot) == counts(ticket)
        metrics = load_json(done.paths.trial(0).level(ONESHOT, k).metrics)
        ticket_metrics = load_json(done.paths.trial(0).level(TICKET, k).metrics)
        assert metrics["density"] == ticket_metrics["density"] < 1
        assert metrics["layer_density"] == ticket_metrics["layer_density"]
        for name, keep in oneshot.items():
            magnitudes = dense[name].abs()
            if not keep.all():
                assert magnitudes[keep].min() >= magnitudes[~keep].max()
    # one step to level 1's Pm is exactly IMP's first round; deeper, one-shot and iterative differ
    assert all(
        torch.equal(level(done, ONESHOT, 1, "mask")[n], level(done, TICKET, 1, "mask")[n]) for n in done.prunable_kinds
    )
    assert not torch.equal(
        level(done, ONESHOT, 2, "mask")["hidden.0.weight"], level(done, TICKET, 2, "mask")["hidden.0.weight"]
    )


def test_oneshot_with_global_pruning_matches_the_total_count(tmp_path):
    hp = replace(TINY, pruning=PruningHparams(strategy="global", global_kinds=("fc", "output"), global_rate=0.5))
    with Experiment(hp, tmp_path, data=small_data(), progress=False) as exp:
        weights = exp.fresh_init(0)
        target = exp.prune(exp.fresh_init(0, "other"), exp.full_mask())
        mask = oneshot_mask(exp, weights, target)
    assert sum(counts(mask).values()) == sum(counts(target).values())
    kept = torch.cat([weights[n].abs()[m] for n, m in mask.items()])
    dropped = torch.cat([weights[n].abs()[~m] for n, m in mask.items()])
    assert kept.min() >= dropped.max()  # ranked across layers together


def test_keep_largest_is_exact_with_ties():
    w = {"a": torch.tensor([1.0, 1.0, 1.0, 2.0]), "b": torch.tensor([[1.0, 3.0]])}
    mask = keep_largest(w, ["a", "b"], 3)
    assert counts(mask) == {"a": 1, "b": 2}  # the earliest of equal magnitudes are pruned first
    assert mask["a"].tolist() == [False, False, False, True] and mask["b"].tolist() == [[True, True]]
    with pytest.raises(ValueError):
        keep_largest(w, ["a"], 5)


def test_each_branch_starts_from_its_own_weights(tmp_path):
    """With a vanishing learning rate the trained weights stay where each branch started."""
    hp = replace(TINY, training=replace(TINY.training, lr=1e-9, iterations=2, eval_every=1))
    with Experiment(hp, tmp_path, data=small_data(), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1, random_draws=1, oneshot=True)
        theta0 = load_tensors(exp.paths.trial(0).init)
        starts = {"reinit_0": reinit_state(exp, 0, 0), "random_0": theta0, ONESHOT: theta0}
        for branch, start in starts.items():
            mask, final = level(exp, branch, 1, "mask"), level(exp, branch, 1, "final")
            for name in exp.prunable_kinds:
                assert torch.allclose(final[name], start[name] * mask[name], atol=1e-6), (branch, name)
        assert not torch.allclose(starts["reinit_0"]["hidden.0.weight"], theta0["hidden.0.weight"], atol=1e-3)


def test_plan_resume_and_no_control_at_level_0(done):
    units = plan(done, 2, LEVELS, reinit_draws=DRAWS, random_draws=DRAWS, oneshot=True)
    assert len(units) == 2 * ((LEVELS + 1) + (2 * DRAWS + 1) * LEVELS)
    assert all(u.level >= 1 for u in units if u.branch != TICKET)
    assert [u.trial for u in units] == sorted(u.trial for u in units)  # a trial finishes before the next
    trial = done.paths.trial(0)
    assert {"reinit_0", "reinit_1", "random_0", "random_1", ONESHOT, TICKET} == set(
        ExperimentFolder(done.paths.folder).branches(0)
    )
    assert not (trial.folder / "reinit_0" / "level_0").exists()
    assert run_experiment(done, 1, LEVELS, reinit_draws=DRAWS, random_draws=DRAWS, oneshot=True) == []
    for run in (
        lambda: run_reinit_level(done, 0, 0, 0),
        lambda: run_random_level(done, 0, 0, 0),
        lambda: run_oneshot_level(done, 0, 0),
    ):
        with pytest.raises(ValueError):
            run()


def test_interrupted_control_level_is_redone_alone(tmp_path):
    with Experiment(TINY, tmp_path, data=small_data(), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1)
        paths = exp.paths.trial(0).level("reinit_0", 1)
        before = load_json(paths.metrics)
        paths.metrics.unlink()
        redone = run_experiment(exp, 1, 1, reinit_draws=1)
        assert [(u.branch, u.level) for u in redone] == [("reinit_0", 1)]
        after = load_json(paths.metrics)
    assert after["summary"]["test_acc_final"] == before["summary"]["test_acc_final"]  # same seeds, same result


def test_progress_bar_counts_units_and_skips_finished_ones(tmp_path, capsys):
    with Experiment(
        replace(TINY, training=replace(TINY.training, iterations=10)), tmp_path, data=small_data(), progress=True
    ) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1)
        first = capsys.readouterr().err
        run_experiment(exp, 1, 1, reinit_draws=1, oneshot=True)
        second = capsys.readouterr().err
    assert "levels: 100%" in first and "3/3" in first and "trial 0 reinit_0 level 1" in first
    assert "<" in first  # tqdm's elapsed<remaining (ETA)
    assert "trial 0 ticket level 0" not in second and "3/4" in second and "4/4" in second  # resumed


def test_with_rewinding_branches_restart_from_theta_k_at_iteration_k(tmp_path):
    hp = replace(TINY, rewind_iteration=2, training=replace(TINY.training, lr=1e-9, iterations=4, eval_every=1))
    with Experiment(hp, tmp_path, data=small_data(), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1, random_draws=1, oneshot=True)
        theta_k = load_tensors(exp.paths.trial(0).rewind)
        for branch in ("reinit_0", "random_0", ONESHOT):
            metrics = load_json(exp.paths.trial(0).level(branch, 1).metrics)
            assert Curve.from_dict(metrics["curve"]).iterations == [2, 3, 4]  # same budget and schedule as the ticket
        for branch in ("random_0", ONESHOT):
            mask, final = level(exp, branch, 1, "mask"), level(exp, branch, 1, "final")
            assert all(torch.allclose(final[n], theta_k[n] * mask[n], atol=1e-6) for n in exp.prunable_kinds)


def test_control_levels_limit_the_controls_not_the_ticket_chain(done):
    units = plan(done, 1, LEVELS, control_levels=[LEVELS], reinit_draws=DRAWS, random_draws=1, oneshot=True)
    ticket = [u.level for u in units if u.branch == TICKET]
    assert ticket == list(range(LEVELS + 1))
    controls = [(u.branch, u.level) for u in units if u.branch != TICKET]
    expected = [*(f"reinit_{d}" for d in range(DRAWS)), "random_0", ONESHOT]
    assert sorted(controls) == sorted((b, LEVELS) for b in expected)
    with pytest.raises(UsageError, match=r"outside 1\.\.2"):
        plan(done, 1, LEVELS, control_levels=[0, LEVELS], reinit_draws=1)


def test_a_control_with_its_own_budget_trains_to_it_in_its_own_folder(tmp_path):
    budget = TINY.training.iterations + 20
    with Experiment(TINY, tmp_path, data=small_data(), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1)
        run_experiment(exp, 1, 1, reinit_draws=Draws(1, ControlSettings(budget)))
        trial = exp.paths.trial(0)
        longer, shorter = (load_json(trial.level(b, 1).metrics) for b in (f"reinit-iterations{budget}_0", "reinit_0"))
    assert longer["control"]["iterations"] == budget and "iterations" not in shorter["control"]
    assert longer["curve"]["val_loss"]["iterations"][-1] == budget
    assert shorter["curve"]["val_loss"]["iterations"][-1] == TINY.training.iterations
    # the same weights, mask and data order: the same network up to the shorter budget, then more training
    n = len(shorter["curve"]["val_loss"]["iterations"])
    assert longer["curve"]["val_loss"]["iterations"][:n] == shorter["curve"]["val_loss"]["iterations"]
    assert longer["curve"]["val_loss"]["values"][:n] == pytest.approx(shorter["curve"]["val_loss"]["values"], rel=1e-5)
    assert longer["curve"]["val_loss"]["values"][-1] != pytest.approx(shorter["curve"]["val_loss"]["values"][-1])


def test_networks_of_other_budgets_never_train_together(tmp_path):
    budget = TINY.training.iterations + 10
    speed = SpeedOptions(together=8)
    with Experiment(TINY, tmp_path, data=small_data(), progress=False, speed=speed) as exp:
        run_experiment(exp, 1, 1, reinit_draws=2, random_draws=Draws(1, ControlSettings(budget)))
        trial = exp.paths.trial(0)
        records = {
            b: load_json(trial.level(b, 1).metrics) for b in ("reinit_0", "reinit_1", f"random-iterations{budget}_0")
        }
    ends = {b: m["curve"]["val_loss"]["iterations"][-1] for b, m in records.items()}
    together = {b: m["summary"]["trained_together"] for b, m in records.items()}
    assert ends == {"reinit_0": 30, "reinit_1": 30, f"random-iterations{budget}_0": budget}
    # level 1 of the ticket and of both reinit draws train together; the longer control alone
    assert together == {"reinit_0": 3, "reinit_1": 3, f"random-iterations{budget}_0": 1}


def test_a_control_budget_sorts_and_draws_with_its_control():
    assert branch_order("reinit-iterations20000")[0] == branch_order("reinit")[0] < branch_order("random")[0]
    assert style("reinit-iterations20000").label == "random reinit (iterations20000)"
    styles = line_styles(["ticket", "reinit", "reinit-iterations20000", "reinit-iterations30000"])
    assert len({(marker, line) for _, marker, line, _ in styles.values()}) == 4  # told apart in the legend
    assert styles["reinit-iterations30000"][0] == styles["reinit"][0]  # in the control's colour


@pytest.mark.parametrize(
    "requests,message",
    [
        (dict(reinit_draws=Draws(1, ControlSettings(TINY.training.iterations))), "is the experiment's --iterations"),
        (dict(random_draws=Draws(1, ControlSettings(5))), "ends before the control starts, at iteration 10"),
    ],
)
def test_a_control_budget_that_changes_nothing_or_ends_before_the_start_is_refused(tmp_path, requests, message):
    rewound = replace(TINY, rewind_iteration=10)
    with Experiment(rewound, tmp_path, data=small_data(), progress=False) as exp:
        with pytest.raises(UsageError, match=message):
            plan(exp, 1, 1, **requests)
    with pytest.raises(UsageError, match="positive number"):
        ControlSettings(0)
