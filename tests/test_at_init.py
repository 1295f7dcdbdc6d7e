"""Pruning-at-initialization scores and masks (pruning/at_init.py), checked against hand computations."""

import pytest
import torch
from torch import nn

from lottery.models import get_model_spec
from lottery.pruning.at_init import (
    grasp_scores,
    keep_bottom,
    keep_top,
    ranking_groups,
    schedule_count,
    snip_scores,
    synflow_mask,
    synflow_scores,
    linearized,
)


def two_layer(seed=0, sizes=(5, 4, 3)) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(sizes[0], sizes[1], bias=False, dtype=torch.float64),
        nn.ReLU(),
        nn.Linear(sizes[1], sizes[2], bias=False, dtype=torch.float64),
    )
    return net


def batch(seed=1, n=6, inputs=5, classes=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, inputs, generator=g, dtype=torch.float64), torch.randint(classes, (n,), generator=g)


def hand_gradient(w1, w2, x, y, temperature=1.0):
    """∂L/∂W1, ∂L/∂W2 of the mean cross-entropy of softmax(W2 relu(W1 x) / T), written out."""
    a = x @ w1.T
    h = a.clamp_min(0)
    p = torch.softmax(h @ w2.T / temperature, dim=1)
    dz = (p - torch.nn.functional.one_hot(y, w2.shape[0]).double()) / (len(y) * temperature)
    dw2 = dz.T @ h
    dw1 = ((dz @ w2) * (a > 0)).T @ x
    return dw1, dw2


def test_snip_scores_match_a_hand_computation():
    net, b = two_layer(), batch()
    w1, w2 = net[0].weight.detach(), net[2].weight.detach()
    dw1, dw2 = hand_gradient(w1, w2, *b)
    scores = snip_scores(net, ["0.weight", "2.weight"], [b])
    assert torch.allclose(scores["0.weight"], (dw1 * w1).abs())
    assert torch.allclose(scores["2.weight"], (dw2 * w2).abs())
    # several batches: the gradient is their mean
    b2 = batch(seed=2)
    both = snip_scores(net, ["0.weight", "2.weight"], [b, b2])
    dw1b, _ = hand_gradient(w1, w2, *b2)
    assert torch.allclose(both["0.weight"], ((dw1 + dw1b) / 2 * w1).abs())


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_grasp_scores_match_a_hand_computation(temperature):
    """S = −θ ⊙ Hg, with g the hand gradient and Hg its central difference along g (float64)."""
    net, b = two_layer(seed=3), batch(seed=4)
    w1, w2 = net[0].weight.detach(), net[2].weight.detach()
    g1, g2 = hand_gradient(w1, w2, *b, temperature)
    eps = 1e-6
    plus = hand_gradient(w1 + eps * g1, w2 + eps * g2, *b, temperature)
    minus = hand_gradient(w1 - eps * g1, w2 - eps * g2, *b, temperature)
    hg1, hg2 = ((p - m) / (2 * eps) for p, m in zip(plus, minus))
    scores = grasp_scores(net, ["0.weight", "2.weight"], [b], temperature)
    assert torch.allclose(scores["0.weight"], -w1 * hg1, atol=1e-8)
    assert torch.allclose(scores["2.weight"], -w2 * hg2, atol=1e-8)
    assert scores["0.weight"].abs().sum() > 0  # not trivially zero


def test_scoring_leaves_the_model_unchanged():
    net, b = two_layer(), batch()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    snip_scores(net, ["0.weight"], [b])
    grasp_scores(net, ["0.weight"], [b])
    synflow_scores(linearized(net), {"0.weight": torch.ones(4, 5, dtype=torch.bool)}, (5,))
    synflow_mask(net, [(("0.weight", "2.weight"), 7)], (5,), rounds=3)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())


def test_synflow_scores_are_positive_and_conserve_flow():
    """Hand computation for f(x) = W2 relu(W1 x) with |W|: R = 1ᵀ|W2||W1|1, score(W1)ij = (1ᵀ|W2|)i |W1|ij,
    score(W2)ki = |W2|ki (|W1|1)i; every layer's scores sum to R (Tanaka et al.'s conservation)."""
    net = two_layer(seed=5)
    a1, a2 = net[0].weight.detach().abs(), net[2].weight.detach().abs()
    full = {n: torch.ones_like(p, dtype=torch.bool) for n, p in net.named_parameters()}
    scores = synflow_scores(linearized(net), full, (5,))
    flow = (a2 @ a1 @ torch.ones(5, dtype=torch.float64)).sum()
    assert torch.allclose(scores["0.weight"], a2.sum(0)[:, None] * a1)
    assert torch.allclose(scores["2.weight"], a2 * (a1 @ torch.ones(5, dtype=torch.float64))[None, :])
    assert all((s > 0).all() for s in scores.values())
    for s in scores.values():
        assert torch.isclose(s.sum(), flow)
    # with a mask, pruned weights score 0 and the conservation holds for the masked network
    mask = {n: torch.rand(p.shape, generator=torch.Generator().manual_seed(0)) < 0.6 for n, p in net.named_parameters()}
    masked = synflow_scores(linearized(net), mask, (5,))
    assert all((masked[n][~m] == 0).all() for n, m in mask.items())
    assert torch.isclose(masked["0.weight"].sum(), masked["2.weight"].sum())


def test_keep_top_keeps_exact_counts_per_group_with_stable_ties():
    scores = {"a": torch.tensor([3.0, 1.0, 1.0, 5.0]), "b": torch.tensor([[1.0, 2.0], [0.0, 4.0]])}
    mask = keep_top(scores, [(("a", "b"), 3)])
    assert mask["a"].tolist() == [True, False, False, True] and mask["b"].tolist() == [[False, False], [False, True]]
    ties = keep_top({"a": torch.ones(5)}, [(("a",), 2)])
    assert ties["a"].tolist() == [False, False, False, True, True]  # the earliest of equal scores go, as in magnitude
    own = keep_top(scores, [(("a",), 1), (("b",), 2)])
    assert int(own["a"].sum()) == 1 and int(own["b"].sum()) == 2
    low = keep_bottom(scores, [(("a", "b"), 2)])  # 0, then the last of the three 1s
    assert low["b"].tolist() == [[True, False], [True, False]] and not low["a"].any()
    survivors = {"a": torch.tensor([True, True, True, False]), "b": torch.ones(2, 2, dtype=torch.bool)}
    kept = keep_top(scores, [(("a", "b"), 2)], survivors)
    assert not kept["a"][3] and kept["b"][1, 1] and kept["a"][0]
    with pytest.raises(ValueError, match="cannot keep"):
        keep_top(scores, [(("a",), 5)])
    with pytest.raises(ValueError, match="not all finite"):
        keep_top({"a": torch.tensor([1.0, float("nan")])}, [(("a",), 1)])


def test_schedule_is_exponential_and_ends_exactly():
    counts = [schedule_count(1000, 10, r, 4) for r in range(1, 5)]
    assert counts == [round(1000 * 0.01**0.25), round(1000 * 0.01**0.5), round(1000 * 0.01**0.75), 10]
    assert schedule_count(1000, 0, 2, 4) == 0 and schedule_count(0, 0, 1, 4) == 0


def test_ranking_groups_keep_the_target_counts():
    target = {"fc1": torch.rand(20, 10) < 0.3, "fc2": torch.rand(5, 20) < 0.5, "out": torch.rand(3, 5) < 0.9}
    together = ranking_groups(target, ["fc1", "fc2"])
    assert together == [
        (("fc1", "fc2"), int(target["fc1"].sum() + target["fc2"].sum())),
        (("out",), int(target["out"].sum())),
    ]
    assert ranking_groups(target, ["fc1", "fc2"], layerwise=True) == [((n,), int(m.sum())) for n, m in target.items()]


def test_synflow_mask_keeps_exact_counts():
    net = two_layer(seed=6, sizes=(8, 6, 4))
    mask = synflow_mask(net, [(("0.weight",), 11), (("2.weight",), 5)], (8,), rounds=10)
    assert int(mask["0.weight"].sum()) == 11 and int(mask["2.weight"].sum()) == 5
    inverted = synflow_mask(net, [(("0.weight", "2.weight"), 9)], (8,), rounds=10, lowest=True)
    assert int(sum(m.sum() for m in inverted.values())) == 9


def connected(mask: dict, names: list[str]) -> bool:
    """Whether some input reaches some output through kept weights of the fully connected layers ``names``."""
    reach = torch.ones(mask[names[0]].shape[1], dtype=torch.bool)
    for n in names:
        reach = (mask[n].double() @ reach.double()) > 0
    return bool(reach.any())


def test_synflow_keeps_lenet_connected_at_extreme_sparsity_where_snip_collapses():
    model = get_model_spec("lenet_300_100").build((1, 28, 28), 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    model.eval()
    names = list(model.prunable_kinds())
    groups = [(tuple(names), 60)]  # 60 of 266,200 weights, ranked together as in the methods' papers
    synflow = synflow_mask(model, groups, (1, 28, 28), rounds=100)
    assert int(sum(m.sum() for m in synflow.values())) == 60
    assert all(synflow[n].any() for n in names) and connected(synflow, names)
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(100, 1, 28, 28, generator=g), torch.randint(10, (100,), generator=g))]
    snip = keep_top(snip_scores(model, names, data), groups)
    assert int(sum(m.sum() for m in snip.values())) == 60
    assert not connected(snip, names)  # layer collapse: SNIP's global ranking cuts every path
