import pytest
import torch

from lottery.errors import UsageError
from lottery.models import get_model_spec
from lottery.pruning import density, global_magnitude_prune, layerwise_magnitude_prune, random_mask_like


def lenet():
    model = get_model_spec("lenet_300_100").build((1, 28, 28), 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    return model


def test_lenet_kinds_and_exact_counts_per_layer():
    model = lenet()
    kinds = model.prunable_kinds()
    assert kinds == {"hidden.0.weight": "fc", "hidden.1.weight": "fc", "output.weight": "output"}
    weights = dict(model.named_parameters())
    mask = {n: torch.ones_like(weights[n], dtype=torch.bool) for n in kinds}
    rates = {"hidden.0.weight": 0.2, "hidden.1.weight": 0.2, "output.weight": 0.1}
    for _ in range(1, 4):
        before = {n: int(m.sum()) for n, m in mask.items()}
        mask = layerwise_magnitude_prune(weights, mask, rates)
        for n, m in mask.items():
            assert int(m.sum()) == before[n] - round(rates[n] * before[n])
    assert int(mask["hidden.0.weight"].sum()) == 120422  # 235200 -> 188160 -> 150528 -> 120422
    assert int(mask["output.weight"].sum()) == 729  # 1000 -> 900 -> 810 -> 729


def test_smallest_magnitudes_go_first_and_pruned_stay_pruned():
    w = torch.tensor([[0.5, -0.1, 0.3, -0.9, 0.05]])
    mask = layerwise_magnitude_prune({"w": w}, {"w": torch.ones_like(w, dtype=torch.bool)}, {"w": 0.4})
    assert mask["w"].tolist() == [[True, False, True, True, False]]
    # Next round ranks only survivors, even if a pruned weight now looks large.
    w2 = torch.tensor([[0.5, 9.0, 0.3, -0.9, 9.0]])
    mask2 = layerwise_magnitude_prune({"w": w2}, mask, {"w": 0.34})
    assert mask2["w"].tolist() == [[True, False, False, True, False]]


def test_ties_at_threshold_prune_exactly_the_requested_count():
    w = torch.ones(10, 10)  # every magnitude ties
    mask = layerwise_magnitude_prune({"w": w}, {"w": torch.ones(10, 10, dtype=torch.bool)}, {"w": 0.2})
    assert int(mask["w"].sum()) == 80


def test_global_pruning_ranks_layers_together_and_skips_unlisted():
    a, b, c = torch.full((10,), 0.1), torch.full((10,), 1.0), torch.full((10,), 0.01)
    weights = {"a": a, "b": b, "c": c}
    mask = {n: torch.ones(10, dtype=torch.bool) for n in weights}
    new = global_magnitude_prune(weights, mask, 0.5, ["a", "b"])
    assert int(new["a"].sum()) == 0 and int(new["b"].sum()) == 10  # all of a is smaller than b
    assert int(new["c"].sum()) == 10  # not listed: untouched even though smallest


def test_impossible_rates_are_refused():
    w = {"w": torch.ones(4)}
    m = {"w": torch.ones(4, dtype=torch.bool)}
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(UsageError, match="impossible"):
            layerwise_magnitude_prune(w, m, {"w": rate})


def test_random_mask_keeps_per_layer_counts_at_new_positions():
    model = lenet()
    weights = dict(model.named_parameters())
    mask = {n: torch.ones_like(weights[n], dtype=torch.bool) for n in model.prunable_kinds()}
    mask = layerwise_magnitude_prune(weights, mask, {n: 0.5 for n in mask})
    random = random_mask_like(mask, torch.Generator().manual_seed(1))
    for n in mask:
        assert int(random[n].sum()) == int(mask[n].sum())
        assert not torch.equal(random[n], mask[n])
    assert density(random) == density(mask)
