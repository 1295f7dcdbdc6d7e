"""Instability analysis: interpolation, the error barrier, batch norm statistics, and the command on a tiny run."""

import pytest
import torch
from torch import nn

from lottery.analysis.instability import bump_height, error_barrier, interpolate, path_errors, recompute_batchnorm


def test_error_barrier_of_a_known_bump():
    assert error_barrier([0.1, 0.3, 0.5, 0.3, 0.2]) == pytest.approx(0.5 - 0.15)
    assert error_barrier([0.2, 0.1, 0.2]) == pytest.approx(0.0)  # a dip is no barrier
    with pytest.raises(ValueError):
        error_barrier([0.1])


def test_bump_height_is_measured_from_the_line_between_the_ends():
    alphas = [0, 0.25, 0.5, 0.75, 1]
    assert bump_height(alphas, [0.1, 0.3, 0.5, 0.3, 0.2]) == pytest.approx(0.5 - 0.15)
    rising = [0.1, 0.11, 0.14, 0.17, 0.2]  # never above the line: no bump, though the barrier is 0.05
    assert bump_height(alphas, rising) == 0 and error_barrier(rising) == pytest.approx(0.05)
    assert bump_height(alphas, [0.1, 0.1, 0.3, 0.2, 0.2]) == pytest.approx(0.15)


def permuted_pair():
    """Two networks computing the same function (x -> logits [0, x]) with their two hidden units swapped.
    On the line between them the weights are scaled by c = 1 - 2α, the logits become [0, c² x]: right
    everywhere except at α = 1/2, where all logits are 0 and every input goes to class 0."""
    model = nn.Sequential(nn.Linear(1, 2, bias=False), nn.ReLU(), nn.Linear(2, 2, bias=False))
    a = {"0.weight": torch.tensor([[1.0], [-1.0]]), "2.weight": torch.tensor([[0.0, 0.0], [1.0, -1.0]])}
    b = {"0.weight": torch.tensor([[-1.0], [1.0]]), "2.weight": torch.tensor([[0.0, 0.0], [-1.0, 1.0]])}
    x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]])
    y = torch.tensor([0, 0, 1, 1])
    return model, a, b, x, y


def test_path_errors_find_the_bump():
    model, a, b, x, y = permuted_pair()
    alphas, errors = path_errors(model, a, b, None, x, y, points=5)
    assert alphas == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert errors == pytest.approx([0, 0, 0.5, 0, 0])
    assert error_barrier(errors) == pytest.approx(0.5)
    _, errors = path_errors(model, a, b, None, x, y, points=4)  # α = 1/2 is not on this grid
    assert error_barrier(errors) == 0


def test_identical_copies_have_no_barrier():
    model, a, _, x, y = permuted_pair()
    _, errors = path_errors(model, a, a, None, x, y, points=7)
    assert error_barrier(errors) == 0 and len(set(errors)) == 1


def test_interpolation_respects_the_mask():
    a = {"w": torch.tensor([1.0, 2.0, 3.0]), "n": torch.tensor(4)}
    b = {"w": torch.tensor([3.0, 4.0, 5.0]), "n": torch.tensor(9)}
    mid = interpolate(a, b, 0.5, {"w": torch.tensor([True, False, True])})
    assert mid["w"].tolist() == [2.0, 0.0, 4.0] and int(mid["n"]) == 4


def test_batchnorm_statistics_are_recomputed():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5), nn.Linear(3, 2))
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)) * 3 + 1
    model.eval()
    recompute_batchnorm(model, x, batch=50)
    norm = model[0]
    assert torch.allclose(norm.running_mean, x.mean(0), atol=1e-5)
    assert torch.allclose(norm.running_var, x.var(0), atol=1e-4)
    assert norm.momentum == 0.1 and not model.training and not model[1].training
    model, a, b, xs, ys = permuted_pair()
    with_bn = nn.Sequential(nn.BatchNorm1d(1), *model)
    with pytest.raises(Exception, match="batch norm"):
        path_errors(with_bn, a, b, None, xs, ys, points=3)
