"""The follow-up controls as branches: sign-preserving reinit and layer-wise weight shuffle."""

import pytest
import torch
from conftest import make_splits

from lottery.experiments import TICKET, Experiment, run_experiment
from lottery.experiments.followup import SIGN_REINIT, WEIGHT_SHUFFLE
from lottery.hparams import DatasetHparams, ExperimentHparams, TrainingHparams
from lottery.report import load_experiment
from lottery.storage import load_tensors

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=30, eval_every=10)
)
LEVELS = 2


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    data = make_splits(shape=(1, 10, 10))
    with Experiment(TINY, tmp_path_factory.mktemp("runs"), data=data, progress=False) as exp:
        run_experiment(exp, 1, LEVELS, sign_reinit_draws=1, weight_shuffle_draws=1)
        yield exp


def start_weights(exp, branch, level):
    """The weights a level trained from: its recorded mask applied to the branch's start state."""
    paths = exp.paths.trial(0).level(branch, level)
    return load_tensors(paths.mask), load_tensors(paths.final)


@pytest.mark.parametrize("branch", [f"{SIGN_REINIT}_0", f"{WEIGHT_SHUFFLE}_0"])
def test_followup_levels_use_the_ticket_mask(done, branch):
    for k in range(1, LEVELS + 1):
        ticket_mask, _ = start_weights(done, TICKET, k)
        mask, final = start_weights(done, branch, k)
        assert all(torch.equal(ticket_mask[n], mask[n]) for n in ticket_mask)
        assert all(final[n][~m].abs().sum() == 0 for n, m in mask.items())  # pruned weights stayed zero


def test_sign_reinit_keeps_theta0_signs_with_fresh_magnitudes(done):
    from lottery.experiments.followup import SignPreservingReinit

    theta0 = done.initial_state(0)
    s = SignPreservingReinit().start(done, 0, 0, LEVELS)
    for name, keep in s.mask.items():
        kept, base = s.state[name][keep], theta0[name][keep]
        assert torch.equal(torch.sign(kept), torch.where(base < 0, -1.0, 1.0))
        assert not torch.equal(kept.abs(), base.abs())  # magnitudes are a fresh draw
        assert s.state[name][~keep].abs().sum() == 0


def test_weight_shuffle_permutes_kept_values_within_each_layer(done):
    from lottery.experiments.followup import WeightShuffle

    theta0 = done.initial_state(0)
    a = WeightShuffle().start(done, 0, 0, LEVELS)
    b = WeightShuffle().start(done, 0, 0, LEVELS)
    for name, keep in a.mask.items():
        kept = a.state[name][keep]
        assert torch.equal(kept.sort().values, theta0[name][keep].sort().values)  # same multiset per layer
        assert not torch.equal(kept, theta0[name][keep])
        assert torch.equal(a.state[name], b.state[name])  # seeded: the same draw twice


def test_followup_branches_are_reported(done):
    runs = load_experiment(done.paths.folder).runs
    assert {r.branch for r in runs} == {TICKET, f"{SIGN_REINIT}_0", f"{WEIGHT_SHUFFLE}_0"}
