"""The Python API on a user's own nn.Module: prunable selection, rates, masks that hold under the
user's own training, rewinding, and find_ticket end to end."""

import pytest
import torch
from torch import nn

from lottery.api import TicketSearch, as_splits, default_prunable, find_ticket
from lottery.errors import LotteryError, UsageError
from lottery.hparams import TrainingHparams
from lottery.training.metrics import Curve


class SmallNet(nn.Module):
    """Not a LotteryModel: a user's own module with a conv, a norm and nested linear layers."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x):
        return self.head(self.norm(self.conv(x)).relu())


def blobs(n, seed, classes=3):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, 1, 6, 6, generator=torch.Generator().manual_seed(99))
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + 0.3 * torch.randn(n, 1, 6, 6, generator=g), y


def net(seed=0):
    torch.manual_seed(seed)
    return SmallNet()


FAST = TrainingHparams(lr=1e-2, batch_size=20, iterations=40, eval_every=20)


def test_default_prunable_is_every_linear_and_conv_weight():
    assert default_prunable(net()) == ["conv.weight", "head.1.weight", "head.3.weight"]
    by_fn = TicketSearch(net(), prunable=lambda name, p: name.startswith("head") and p.dim() == 2)
    assert by_fn.names == ["head.1.weight", "head.3.weight"]
    with pytest.raises(UsageError, match="unknown parameters"):
        TicketSearch(net(), prunable=["head.9.weight"])
    with pytest.raises(UsageError, match="no prunable parameters"):
        TicketSearch(net(), prunable=lambda name, p: False)


def test_layerwise_rates_prune_exact_counts_per_layer():
    search = TicketSearch(net(), rate=0.5, rates={"head.3.weight": 0.25})
    masks = search.prune()
    assert int(masks["conv.weight"].sum()) == 36 - 18
    assert int(masks["head.1.weight"].sum()) == 2304 - 1152
    assert int(masks["head.3.weight"].sum()) == 48 - 12
    assert search.level == 1
    assert search.density == pytest.approx((18 + 1152 + 36) / (36 + 2304 + 48))
    # the pruned ones are the smallest magnitudes of each layer
    w = dict(search.model.named_parameters())["head.1.weight"].detach().abs()
    assert w[~masks["head.1.weight"]].max() <= w[masks["head.1.weight"]].min()


def test_global_rate_ranks_all_prunable_weights_together():
    model = net()
    with torch.no_grad():
        model.head[3].weight.mul_(100)  # the output layer's weights are now the largest of all
    search = TicketSearch(model, global_rate=0.5)
    masks = search.prune()
    assert sum(int(m.sum()) for m in masks.values()) == (36 + 2304 + 48) // 2
    assert bool(masks["head.3.weight"].all())  # none of the large ones were pruned
    with pytest.raises(UsageError, match="not both"):
        TicketSearch(net(), rates={"conv.weight": 0.1}, global_rate=0.2)
    with pytest.raises(UsageError, match="impossible"):
        TicketSearch(net(), rate=1.0)
    with pytest.raises(UsageError, match="not prunable"):
        TicketSearch(net(), rates={"conv.bias": 0.1})


def user_training(steps, optimizer_factory, call_apply_mask=True):
    """A user's own loop, as they might write it."""

    def train_fn(model, apply_mask):
        x, y = blobs(60, seed=1)
        opt = optimizer_factory(model.parameters())
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if call_apply_mask:
                apply_mask()
        return {"steps": steps}

    return train_fn


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=1e-1),
    ],
)
def test_users_own_training_cannot_revive_pruned_weights(make_opt):
    search = TicketSearch(net(), rate=0.6)
    search.train_level(user_training(20, make_opt))
    search.prune()
    search.reset()
    before = {n: p.detach().clone() for n, p in search.model.named_parameters()}
    record = search.train_level(user_training(20, make_opt, call_apply_mask=False))  # gradient hooks alone
    assert record["result"] == {"steps": 20} and record["level"] == 1
    params = dict(search.model.named_parameters())
    for name, keep in search.masks.items():
        assert torch.count_nonzero(params[name][~keep]) == 0
        assert not torch.equal(params[name][keep], before[name][keep])  # survivors trained


def test_an_optimizer_carried_across_levels_is_caught_unless_apply_mask_is_called():
    model = net()
    search = TicketSearch(model, rate=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)  # built once: its moments remember pruned weights
    search.train_level(user_training(10, lambda p: opt))
    search.prune()
    search.reset()
    with pytest.raises(LotteryError, match="revived pruned weights"):
        search.train_level(user_training(5, lambda p: opt, call_apply_mask=False))
    search.reset()
    search.train_level(user_training(5, lambda p: opt))  # with apply_mask() after each step all is well
    params = dict(model.named_parameters())
    assert all(torch.count_nonzero(params[n][~k]) == 0 for n, k in search.masks.items())


def test_reset_restores_theta0_for_survivors_and_buffers():
    model = net()
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    search = TicketSearch(model, rate=0.5)
    search.train_level(data=(blobs(60, 1), blobs(30, 2)), hparams=FAST)
    assert not torch.equal(model.norm.running_mean, theta0["norm.running_mean"])
    search.prune()
    search.reset()
    state = model.state_dict()
    for name, value in theta0.items():
        expected = value * search.masks[name] if name in search.masks else value
        assert torch.equal(state[name], expected), name


def test_builtin_training_rewinds_to_the_weights_at_iteration_k():
    model = net()
    search = TicketSearch(model, rate=0.5, rewind_iteration=10)
    with pytest.raises(LotteryError, match="train the dense network first"):
        search.reset()
    dense = search.train_level(data=(blobs(60, 1), blobs(30, 2)), hparams=FAST)
    assert Curve.from_dict(dense["curve"]).iterations == [0, 20, 40]
    theta_k = {k: v.clone() for k, v in search.rewind_state.items()}
    assert not torch.equal(theta_k["head.1.weight"], search.initial_state["head.1.weight"])
    search.prune()
    search.reset()
    assert torch.equal(model.head[1].weight, theta_k["head.1.weight"] * search.masks["head.1.weight"])
    record = search.train_level(data=(blobs(60, 1), blobs(30, 2)), hparams=FAST)
    assert Curve.from_dict(record["curve"]).iterations == [20, 40]  # trained from iteration k=10 on, not from 0


def test_find_ticket_end_to_end_learns_and_prunes():
    train, val, test = blobs(120, 1), blobs(60, 2), blobs(60, 3)
    model = net()
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    ticket = find_ticket(
        model,
        train,
        val,
        test_data=test,
        levels=2,
        rates={"head.3.weight": 0.1},
        rate=0.5,
        lr=1e-2,
        batch_size=20,
        iterations=60,
        eval_every=20,
    )
    assert [r["level"] for r in ticket.history] == [0, 1, 2]
    densities = [r["density"] for r in ticket.history]
    assert densities[0] == 1.0 > densities[1] > densities[2] == ticket.density
    assert int(ticket.masks["head.3.weight"].sum()) == 48 - 5 - 4  # 10% of 48, then 10% of 43
    assert ticket.history[-1]["summary"]["test_acc_at_early_stop"] > 0.6  # 3 well-separated classes
    for name, value in theta0.items():  # the ticket is θ0 under its masks, and the model holds it
        expected = value * ticket.masks[name] if name in ticket.masks else value
        assert torch.equal(ticket.state_dict[name], expected)
        assert torch.equal(model.state_dict()[name], expected)


def test_find_ticket_rejects_bad_input():
    with pytest.raises(UsageError, match="unknown training setting"):
        find_ticket(net(), blobs(10, 1), blobs(10, 2), iteratons=5)
    with pytest.raises(UsageError, match=r"\(inputs, labels\) pair"):
        find_ticket(net(), blobs(10, 1)[0], blobs(10, 2), iterations=5)
    with pytest.raises(UsageError, match="5 inputs but 4 labels"):
        as_splits((torch.zeros(5, 2), torch.zeros(4)), (torch.zeros(2, 2), torch.zeros(2)))


def test_a_model_pruned_with_torch_prune_starts_the_search_from_its_masks():
    from torch.nn.utils import prune

    model = net()
    prune.l1_unstructured(model.head[1], "weight", amount=0.5)
    before = model.head[1].weight_mask.bool().clone()
    x = torch.randn(5, 1, 6, 6)
    model.eval()
    expected = model(x)
    search = TicketSearch(model, rate=0.2)
    assert torch.equal(search.masks["head.1.weight"], before)
    assert isinstance(model.head[1].weight, nn.Parameter) and not hasattr(model.head[1], "weight_orig")
    assert torch.equal(model(x), expected)  # the same network, now in plain parameters
    kept = int(before.sum())
    search.prune()
    assert int(search.masks["head.1.weight"].sum()) == kept - round(0.2 * kept)
    assert not (search.masks["head.1.weight"] & ~before).any()  # never revives what torch pruned
    search.reset()
    assert int(torch.count_nonzero(model.head[1].weight)) == int(search.masks["head.1.weight"].sum())


def test_a_torch_pruned_weight_left_out_of_prunable_is_a_usage_error():
    from torch.nn.utils import prune

    model = net()
    prune.random_unstructured(model.conv, "weight", amount=0.3)
    with pytest.raises(UsageError, match=r"conv.weight.*torch.nn.utils.prune.*prunable="):
        TicketSearch(model, prunable=["head.1.weight"])
