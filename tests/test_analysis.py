"""Ticket anatomy: mask overlap, start values, magnitude change and input connectivity, on plain masks."""

import pytest
import torch

from conftest import ticket
from lottery.analysis import (
    border_share,
    expected_random_jaccard,
    expected_random_jaccard_counts,
    first_image_layer,
    input_connectivity,
    jaccard,
    magnitude_change,
    start_values,
)
from lottery.pruning import random_mask_like


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
    state, mask = ticket()
    assert first_image_layer(mask, state) == "hidden.0.weight"
    conv_state, conv_mask = ticket("conv2")
    assert first_image_layer(conv_mask, conv_state) is None
    layer = torch.zeros(5, 784, dtype=torch.bool)
    layer[:, 0] = True  # pixel (0, 0) keeps all 5 outgoing weights
    layer[2, 28 * 27 + 27] = True  # pixel (27, 27) keeps one
    fractions = input_connectivity(layer)
    assert fractions.shape == (28, 28) and fractions[0, 0] == 1 and fractions[27, 27] == 1 / 5
    assert fractions.sum() == 6 / 5
    with pytest.raises(ValueError):
        input_connectivity(torch.ones(2, 10, dtype=torch.bool))
    centre = torch.zeros(28, 28)
    centre[4:-4, 4:-4] = 1
    assert border_share(centre) == 0.0 and border_share(torch.ones(28, 28)) == 1.0


def test_input_connectivity_of_rgb_images_is_a_fraction_of_outputs_times_channels():
    # 2 outputs reading 3 x 2 x 2 images: input index = channel * 4 + row * 2 + column
    layer = torch.zeros(2, 12, dtype=torch.bool)
    layer[:, [0, 4, 8]] = True  # pixel (0, 0): all 2 x 3 outgoing weights kept
    layer[0, [1, 5]] = True  # pixel (0, 1): output 0 in red and green, 2 of 6
    layer[1, 11] = True  # pixel (1, 1): output 1 in blue, 1 of 6
    expected = torch.tensor([[6 / 6, 2 / 6], [0, 1 / 6]], dtype=torch.float64)
    assert torch.allclose(input_connectivity(layer), expected)
    assert torch.equal(input_connectivity(torch.ones(2, 3 * 32 * 32, dtype=torch.bool)), torch.ones(32, 32))
    assert input_connectivity(layer).mean() == pytest.approx(layer.float().mean())  # the layer's density


def test_connectivity_is_only_for_the_layer_reading_the_input():
    state, mask = ticket()
    del mask["hidden.0.weight"]  # left unpruned: hidden.1 (300 inputs, also 3 x 10 x 10) reads hidden units
    assert first_image_layer(mask, state) is None
    assert first_image_layer(mask, state, (3, 10, 10)) is None
