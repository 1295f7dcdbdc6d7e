"""Ticket files: plain state dict + masks, applied as torch.nn.utils.prune masks, round-tripped."""

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from lottery.cli import main
from lottery.errors import LotteryError
from lottery.experiments import Experiment, run_imp
from lottery.export import (
    apply_to_model,
    export_experiment_ticket,
    load_into,
    load_ticket,
    make_permanent,
    masks_from_model,
    save_ticket,
)
from lottery.hparams import ExperimentHparams, TrainingHparams
from lottery.models import get_model_spec
from lottery.pruning import layerwise_magnitude_prune


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def half_masks(model):
    weights = dict(model.named_parameters())
    names = ["0.weight", "2.weight"]
    full = {n: torch.ones_like(weights[n], dtype=torch.bool) for n in names}
    return layerwise_magnitude_prune(weights, full, {n: 0.5 for n in names})


def test_ticket_file_is_a_plain_state_dict_with_masks(tmp_path):
    model = mlp()
    masks = half_masks(model)
    save_ticket(tmp_path / "t.pt", model, masks, meta={"note": "hi"})
    raw = torch.load(tmp_path / "t.pt", weights_only=True)  # no lottery classes needed to read it
    assert raw["format"] == "lottery-ticket" and raw["version"] == 1
    assert set(raw["state_dict"]) == set(model.state_dict())
    assert raw["meta"] == {"density": 0.5, "note": "hi"}
    for name, keep in masks.items():
        assert torch.equal(raw["masks"][name], keep)
        assert torch.equal(raw["state_dict"][name], model.state_dict()[name] * keep)  # pruned entries stored as 0


def test_round_trip_through_torch_prune_masks(tmp_path):
    source = mlp(0)
    masks = half_masks(source)
    save_ticket(tmp_path / "t.pt", source, masks)
    target = mlp(1)  # different weights: all of them must come from the file
    ticket = load_into(target, tmp_path / "t.pt")
    assert ticket.density == 0.5
    # torch's pruning reparametrization: weight = weight_orig * weight_mask
    assert isinstance(target[0].weight_orig, nn.Parameter) and prune.is_pruned(target)
    assert torch.equal(target[0].weight_mask.bool(), masks["0.weight"])
    round_trip = masks_from_model(target)
    assert round_trip.keys() == masks.keys() and all(torch.equal(round_trip[n], masks[n]) for n in masks)
    x = torch.randn(5, 6)
    reference = mlp(0)
    with torch.no_grad():
        for name, keep in masks.items():
            dict(reference.named_parameters())[name].mul_(keep)
    assert torch.allclose(target(x), reference(x))
    # further training through the torch masks keeps pruned weights at zero
    opt = torch.optim.SGD(target.parameters(), lr=0.5, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        target(x).square().sum().backward()
        opt.step()
    assert torch.count_nonzero(target[0].weight[~masks["0.weight"]]) == 0
    make_permanent(target)
    assert not prune.is_pruned(target) and isinstance(target[0].weight, nn.Parameter)
    assert torch.count_nonzero(target[0].weight[~masks["0.weight"]]) == 0
    # and a permanent model saves again as a plain ticket
    save_ticket(tmp_path / "again.pt", target, round_trip)
    again = load_ticket(tmp_path / "again.pt")
    assert torch.equal(again.state_dict["2.weight"], target[2].weight.detach())


def test_bad_tickets_and_mismatched_models_are_clear_errors(tmp_path):
    model = mlp()
    masks = half_masks(model)
    with pytest.raises(LotteryError, match="names no tensor"):
        save_ticket(tmp_path / "x.pt", model, {"9.weight": masks["0.weight"]})
    with pytest.raises(LotteryError, match="bool tensor of shape"):
        save_ticket(tmp_path / "x.pt", model, {"0.weight": masks["0.weight"].float()})
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(LotteryError, match="not a lottery ticket file"):
        load_ticket(tmp_path / "other.pt")
    with pytest.raises(LotteryError, match="no ticket file"):
        load_ticket(tmp_path / "missing.pt")
    with pytest.raises(LotteryError, match="no module"):
        apply_to_model(nn.Sequential(nn.Linear(6, 8)), masks)
    with pytest.raises(LotteryError, match="has shape"):
        apply_to_model(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)), masks)


HP = ExperimentHparams(training=TrainingHparams(batch_size=40, iterations=8, eval_every=4))


def test_export_from_an_experiment_via_the_cli(tiny_data, tmp_path, capsys):
    with Experiment(HP, tmp_path / "runs", data=tiny_data, progress=False) as exp:
        run_imp(exp, 1, 1)
        folder = exp.paths.folder
    out = tmp_path / "ticket.pt"
    assert main(["export", str(folder), "--trial", "0", "--level", "1", "--out", str(out)]) == 0
    assert "density" in capsys.readouterr().out
    ticket = load_ticket(out)
    mask = torch.load(folder / "trial_0" / "ticket" / "level_1" / "mask.pt", weights_only=True)
    theta0 = torch.load(folder / "trial_0" / "init.pt", weights_only=True)
    assert ticket.meta["level"] == 1 and ticket.meta["model"] == "lenet_300_100" and ticket.meta["weights"] == "reset"
    for name, keep in mask.items():
        assert torch.equal(ticket.masks[name], keep)
        assert torch.equal(ticket.state_dict[name], theta0[name] * keep)  # the ticket: θ0 under the mask
    # it loads into a freshly built lottery model through torch's pruning utilities
    model = get_model_spec("lenet_300_100").build(tiny_data.input_shape, tiny_data.num_classes)
    load_into(model, out)
    assert masks_from_model(model).keys() == mask.keys()
    final = export_experiment_ticket(folder, 0, 1, tmp_path / "final.pt", weights="final")
    trained = torch.load(folder / "trial_0" / "ticket" / "level_1" / "final.pt", weights_only=True)
    assert all(torch.equal(final.state_dict[k], trained[k]) for k in trained)
    assert main(["export", str(folder), "--trial", "0", "--level", "5", "--out", str(out)]) == 1
    assert "no finished ticket level 5 (finished: 0, 1)" in capsys.readouterr().err
