"""Ticket anatomy and the follow-up controls' draws, on plain masks and state dicts."""

import pytest
import torch

from lottery.analysis import (border_share, expected_random_jaccard, expected_random_jaccard_counts, first_image_layer,
                              input_connectivity, jaccard, magnitude_change, start_values)
from lottery.pruning.draws import mask_shuffle, sign_preserving_reinit, weight_shuffle
from lottery.api import TicketSearch
from lottery.models import get_model_spec
from lottery.pruning import random_mask_like


def model_state(name: str, seed: int):
    shape = (1, 28, 28) if name == "lenet_300_100" else (3, 32, 32)
    model = get_model_spec(name).build(shape, 10)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for p in model.parameters():  # nonzero biases: tensors outside the mask must come through unchanged
            if p.dim() == 1:
                p.uniform_(-1, 1)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, model


def ticket(name: str = "lenet_300_100", keep: float = 0.3):
    """θ0 and a mask keeping ``keep`` of each prunable layer (magnitude pruned, as a ticket would be)."""
    state, model = model_state(name, 0)
    search = TicketSearch(model, rate=1 - keep)
    return state, search.prune()


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


def test_jaccard_by_hand():
    a = {"w": torch.tensor([True, True, False, False]), "v": torch.tensor([True, False])}
    b = {"w": torch.tensor([True, False, True, False]), "v": torch.tensor([True, False])}
    j = jaccard(a, b)
    assert j["w"] == pytest.approx(1 / 3) and j["v"] == 1.0 and j["all"] == pytest.approx(2 / 4)
    assert jaccard(a, a)["all"] == 1.0
    assert jaccard({"w": torch.zeros(3, dtype=torch.bool)}, {"w": torch.zeros(3, dtype=torch.bool)})["w"] == 1.0


def test_expected_random_jaccard_matches_sampling():
    n, a, b = 40, 10, 16
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(20000):
        x, y = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
        x[torch.randperm(n, generator=g)[:a]] = True
        y[torch.randperm(n, generator=g)[:b]] = True
        samples.append(int((x & y).sum()) / int((x | y).sum()))
    assert expected_random_jaccard_counts(n, a, b) == pytest.approx(sum(samples) / len(samples), abs=0.003)
    assert expected_random_jaccard_counts(n, n, b) == pytest.approx(b / n)  # A is everything: J = |B| / n
    assert expected_random_jaccard_counts(n, 0, b) == 0.0


def test_expected_random_jaccard_of_real_masks():
    _, mask = ticket(keep=0.2)
    g = torch.Generator().manual_seed(1)
    sampled = [jaccard(random_mask_like(mask, g), random_mask_like(mask, g)) for _ in range(20)]
    expected = expected_random_jaccard(mask, mask)
    for layer in expected:
        mean = sum(s[layer] for s in sampled) / len(sampled)
        assert expected[layer] == pytest.approx(mean, abs=0.01)
    assert expected["all"] == pytest.approx(0.2 / (2 - 0.2), rel=0.02)  # 20% kept everywhere


def test_start_values_and_magnitude_change():
    start = {"w": torch.tensor([[1.0, -2.0], [3.0, -4.0]])}
    final = {"w": torch.tensor([[0.5, -3.0], [0.0, 9.0]])}
    mask = {"w": torch.tensor([[True, True], [False, True]])}
    kept, pruned = start_values(start, mask)["w"]
    assert kept.tolist() == [1.0, -2.0, -4.0] and pruned.tolist() == [3.0]
    assert magnitude_change(start, final, mask)["w"].tolist() == [-0.5, 1.0, 5.0]


def test_input_connectivity():
    _, mask = ticket()
    assert first_image_layer(mask) == "hidden.0.weight"
    _, conv_mask = ticket("conv2")
    assert first_image_layer(conv_mask) is None
    layer = torch.zeros(5, 784, dtype=torch.bool)
    layer[:, 0] = True  # pixel (0, 0) keeps all 5 outgoing weights
    layer[2, 28 * 27 + 27] = True  # pixel (27, 27) keeps one
    counts = input_connectivity(layer)
    assert counts.shape == (28, 28) and counts[0, 0] == 5 and counts[27, 27] == 1 and counts.sum() == 6
    rgb = torch.ones(2, 3 * 32 * 32, dtype=torch.bool)
    assert torch.equal(input_connectivity(rgb), torch.full((32, 32), 6.0, dtype=torch.float64))
    with pytest.raises(ValueError):
        input_connectivity(torch.ones(2, 10, dtype=torch.bool))
    centre = torch.zeros(28, 28)
    centre[4:-4, 4:-4] = 1
    assert border_share(centre) == 0.0 and border_share(torch.ones(28, 28)) == 1.0
