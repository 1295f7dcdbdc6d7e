"""The follow-up controls' draws (pruning/draws.py): sign-preserving reinit, weight shuffle and mask shuffle,
on plain masks and state dicts."""

import pytest
import torch

from conftest import model_state, ticket
from lottery.analysis import jaccard
from lottery.pruning.draws import mask_shuffle, sign_preserving_reinit, weight_shuffle


MODELS = ["lenet_300_100", "conv2"]


@pytest.mark.parametrize("model", MODELS)
def test_sign_preserving_reinit(model):
    start, mask = ticket(model)
    fresh, _ = model_state(model, 1)
    out, out_mask = sign_preserving_reinit(start, mask, fresh)
    for name, keep in mask.items():
        assert torch.equal(out_mask[name], keep)
        kept = out[name][keep]
        assert torch.equal(torch.sign(kept), torch.sign(start[name][keep]))
        assert torch.equal(kept.abs(), fresh[name][keep].abs())
        assert not torch.equal(kept, start[name][keep])
        assert bool((out[name][~keep] == 0).all())
    for name in start.keys() - mask.keys():
        assert torch.equal(out[name], start[name])
    again, _ = sign_preserving_reinit(start, mask, fresh)
    assert all(torch.equal(out[k], again[k]) for k in out)


@pytest.mark.parametrize("model", MODELS)
def test_weight_shuffle(model):
    start, mask = ticket(model)
    out, out_mask = weight_shuffle(start, mask, torch.Generator().manual_seed(3))
    moved = 0
    for name, keep in mask.items():
        assert torch.equal(out_mask[name], keep)
        assert torch.equal(torch.sort(out[name][keep]).values, torch.sort(start[name][keep]).values)
        assert bool((out[name][~keep] == 0).all())
        moved += int((out[name][keep] != start[name][keep]).sum())
    assert moved > 0.9 * sum(int(m.sum()) for m in mask.values())  # a permutation, not the identity
    for name in start.keys() - mask.keys():
        assert torch.equal(out[name], start[name])
    same, _ = weight_shuffle(start, mask, torch.Generator().manual_seed(3))
    other, _ = weight_shuffle(start, mask, torch.Generator().manual_seed(4))
    assert all(torch.equal(out[k], same[k]) for k in out)
    assert not all(torch.equal(out[k], other[k]) for k in mask)


@pytest.mark.parametrize("model", MODELS)
def test_mask_shuffle(model):
    start, mask = ticket(model)
    out, new_mask = mask_shuffle(start, mask, torch.Generator().manual_seed(5))
    for name, keep in mask.items():
        assert int(new_mask[name].sum()) == int(keep.sum())
        assert new_mask[name].shape == keep.shape
        assert torch.equal(out[name][new_mask[name]], start[name][new_mask[name]])
        assert bool((out[name][~new_mask[name]] == 0).all())
    assert jaccard(mask, new_mask)["all"] < 0.5  # a new mask, about as far from the ticket as chance
    same_state, same = mask_shuffle(start, mask, torch.Generator().manual_seed(5))
    _, other = mask_shuffle(start, mask, torch.Generator().manual_seed(6))
    assert all(torch.equal(new_mask[k], same[k]) and torch.equal(out[k], same_state[k]) for k in mask)
    assert not all(torch.equal(new_mask[k], other[k]) for k in mask)


def test_draws_leave_inputs_alone():
    start, mask = ticket()
    before = {k: v.clone() for k, v in start.items()}
    weight_shuffle(start, mask, torch.Generator().manual_seed(0))
    sign_preserving_reinit(start, mask, model_state("lenet_300_100", 1)[0])
    assert all(torch.equal(before[k], start[k]) for k in start)
