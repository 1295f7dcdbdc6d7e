from dataclasses import replace

import pytest
import torch

from conftest import pruned_lenet
from lottery.errors import LotteryError, UsageError
from lottery.hparams import ExperimentHparams, TrainingHparams
from lottery.models import get_model_spec
from lottery.pruning import apply_mask, layerwise_magnitude_prune
from lottery.training import Schedule, loop, train
from lottery.training.metrics import Curve
from lottery.training.schedule import train_subset


@pytest.mark.parametrize("optimizer,weight_decay", [("adam", 0.0), ("adam", 1e-2), ("sgd", 1e-2)])
def test_pruned_weights_stay_exactly_zero_through_many_steps(tiny_data, optimizer, weight_decay):
    model, mask = pruned_lenet(tiny_data, rate=0.7)
    hp = TrainingHparams(
        optimizer=optimizer, lr=1e-2, weight_decay=weight_decay, batch_size=20, iterations=300, eval_every=100
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, mask, tiny_data, hp, schedule=Schedule(debug=True, progress=False), seed=0)
    params = dict(model.named_parameters())
    for name, keep in mask.items():
        assert torch.count_nonzero(params[name][~keep]) == 0
        assert not torch.equal(params[name][keep], before[name][keep])  # survivors did train


def test_early_stop_is_argmin_of_recorded_validation_loss(tiny_data):
    model, mask = pruned_lenet(tiny_data, rate=0.0)
    hp = TrainingHparams(lr=5e-3, batch_size=20, iterations=400, eval_every=25)
    result = train(model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=1)
    curve = result.curve
    assert curve.iterations == list(range(0, 401, 25))
    best = min(range(len(curve.values("val_loss"))), key=lambda i: curve.values("val_loss")[i])
    assert result.summary["early_stop_iteration"] == curve.iterations[best]
    assert result.summary["test_acc_at_early_stop"] == curve.series["test_acc"].at(curve.iterations[best])
    assert result.summary["test_acc_final"] == curve.series["test_acc"].at(400)
    assert 0 <= result.summary["train_acc_at_early_stop"] <= 1


def test_curve_best_index_takes_first_minimum():
    curve = Curve()
    for i, loss in enumerate([3.0, 1.0, 2.0, 1.0]):
        curve.add(i * 100, val_loss=loss, val_acc=0.0)
    assert curve.best_index() == 1


def test_training_is_deterministic_and_seed_controls_data_order(tiny_data):
    hp = TrainingHparams(lr=1e-2, batch_size=20, iterations=60, eval_every=20)
    runs = []
    for seed in (3, 3, 4):
        model, mask = pruned_lenet(tiny_data)
        runs.append(
            train(model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=seed).curve.values("val_loss")
        )
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_resume_from_checkpoint_replays_exactly(tiny_data, tmp_path):
    hp = TrainingHparams(lr=1e-2, batch_size=20, iterations=200, eval_every=20)
    model, mask = pruned_lenet(tiny_data)
    full = train(model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=0)

    model, mask = pruned_lenet(tiny_data)
    ckpt = tmp_path / "ckpt.pt"
    train(
        model,
        mask,
        tiny_data,
        replace(hp, iterations=130),
        schedule=Schedule(checkpoint_every=40, progress=False),
        seed=0,
        checkpoint=ckpt,
    )  # stands in for a run killed at iteration 130
    state = torch.load(ckpt, weights_only=True)
    assert state["iteration"] == 120
    model, mask = pruned_lenet(tiny_data, seed=99)  # whatever is in memory is replaced by the checkpoint
    apply_mask(model, mask := pruned_lenet(tiny_data)[1])
    resumed = train(
        model, mask, tiny_data, hp, schedule=Schedule(checkpoint_every=40, progress=False), seed=0, checkpoint=ckpt
    )
    assert resumed.curve == full.curve
    for k, v in full.final_state.items():
        assert torch.equal(v, resumed.final_state[k])


def test_a_violated_mask_stops_training_with_a_clear_error(tiny_data):
    from lottery.errors import LotteryError

    model, mask = pruned_lenet(tiny_data)
    with torch.no_grad():
        model.hidden[0].weight.add_(1.0)  # revive pruned weights behind the mask's back
    hp = TrainingHparams(batch_size=20, iterations=20, eval_every=10)
    with pytest.raises(LotteryError, match=r"invariant violated at the start of training.*hidden.0.weight"):
        train(model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=0)


def pruned_conv(data, seed=0):
    """A small conv net (2 conv layers) with half of each conv layer pruned."""
    model = get_model_spec("conv2").build(data.input_shape, data.num_classes)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    weights = dict(model.named_parameters())
    mask = {n: torch.ones_like(weights[n], dtype=torch.bool) for n in model.prunable_kinds()}
    mask = layerwise_magnitude_prune(weights, mask, {n: 0.5 for n in mask if weights[n].dim() == 4})
    apply_mask(model, mask)
    return model, mask


def test_conv_evaluation_in_small_batches_equals_one_pass_over_all_images():
    # conv nets on a CPU evaluate CPU_CONV_EVAL_BATCH images per forward pass, other models EVAL_BATCH;
    # what they compute must not depend on it
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(250, 3, 32, 32, generator=g), torch.randint(0, 10, (250,), generator=g)
    model = get_model_spec("conv2").build((3, 32, 32), 10).eval()
    assert loop.eval_batch_size(model, x) == loop.CPU_CONV_EVAL_BATCH < len(y)
    assert loop.eval_batch_size(get_model_spec("lenet_300_100").build((1, 28, 28), 10), x) == loop.EVAL_BATCH
    loss, correct = loop.per_example(model, x, y)
    with torch.no_grad():
        logits = model(x)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, y, reduction="none"))
    assert torch.equal(correct, logits.argmax(1) == y)


CONV_HP = TrainingHparams(lr=2e-3, batch_size=20, iterations=40, eval_every=10)


@pytest.mark.slow
def test_conv_nets_train_channels_last_on_cpu_with_the_same_results(tiny_data):
    # SGD: Adam's first steps turn rounding noise in near-zero gradients into whole steps of size lr,
    # which would hide what is compared here (the forward, backward and masks in the other layout)
    hp = replace(CONV_HP, optimizer="sgd", lr=0.05, momentum=0.9)
    model, mask = pruned_conv(tiny_data)
    assert loop.prefers_channels_last(model)
    standard = train(model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=0, channels_last=False)
    model, mask = pruned_conv(tiny_data)
    fast = train(
        model, mask, tiny_data, hp, schedule=Schedule(progress=False), seed=0
    )  # channels-last: the default here
    # abs: a near-zero loss (log-softmax of a confident logit) carries an absolute rounding error
    assert fast.curve.values("val_loss") == pytest.approx(standard.curve.values("val_loss"), rel=1e-4, abs=1e-8)
    for name, value in standard.final_state.items():
        torch.testing.assert_close(fast.final_state[name], value, rtol=1e-4, atol=1e-5)
    assert all(v.is_contiguous() for v in fast.final_state.values())
    assert all(p.is_contiguous() for p in model.parameters())  # the caller's model is back in the standard layout
    assert not loop.prefers_channels_last(get_model_spec("lenet_300_100").build((1, 28, 28), 10))
    # a model of the user's own may .view() its activations, which fails on channels-last ones
    assert not loop.prefers_channels_last(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))


@pytest.mark.slow
@pytest.mark.parametrize("first,then", [(True, False), (False, True)])
def test_a_checkpoint_resumes_in_the_other_memory_layout(tiny_data, tmp_path, first, then):
    """Adam's moments must follow their weight's layout: the fused kernel walks both memories in step."""
    model, mask = pruned_conv(tiny_data)
    ckpt = tmp_path / "ckpt.pt"
    train(
        model,
        mask,
        tiny_data,
        replace(CONV_HP, iterations=25),
        schedule=Schedule(checkpoint_every=20, progress=False),
        seed=0,
        checkpoint=ckpt,
        channels_last=first,
    )  # stands in for a run killed at iteration 25
    assert torch.load(ckpt, weights_only=True)["iteration"] == 20
    finals = {}
    for layout in (first, then):
        copy = tmp_path / f"resume-{layout}.pt"
        copy.write_bytes(ckpt.read_bytes())
        model, mask = pruned_conv(tiny_data)
        resumed = train(
            model,
            mask,
            tiny_data,
            replace(CONV_HP, iterations=24),
            schedule=Schedule(progress=False),
            seed=0,
            checkpoint=copy,
            channels_last=layout,
        )
        finals[layout] = resumed.final_state
    for name, value in finals[first].items():
        torch.testing.assert_close(finals[then][name], value, rtol=1e-4, atol=1e-5)


def test_optimizer_state_takes_its_weights_memory_layout():
    weight = torch.randn(4, 3, 3, 3)
    grads = [torch.randn(4, 3, 3, 3) for _ in range(2)]

    def two_steps(layout):
        p = weight.clone().contiguous(memory_format=layout).requires_grad_()
        optimizer = torch.optim.Adam([p], lr=0.1, fused=True)
        p.grad = grads[0].contiguous(memory_format=layout)
        optimizer.step()
        state = loop.contiguous_optimizer_state(optimizer)
        assert all(v.is_contiguous() for v in state["state"][0].values())
        optimizer = torch.optim.Adam([p], lr=0.1, fused=True)
        optimizer.load_state_dict(state)
        loop.match_optimizer_state_layout(optimizer)
        assert all(v.stride() == p.stride() for v in optimizer.state[p].values() if v.dim() == 4)
        p.grad = grads[1].contiguous(memory_format=layout)
        optimizer.step()
        return p.detach()

    expected = two_steps(torch.contiguous_format)
    assert torch.equal(two_steps(torch.channels_last), expected)


def test_bf16_training_keeps_float32_weights_and_pruned_weights_exactly_zero(tiny_data):
    hp = TrainingHparams(lr=1e-2, batch_size=20, iterations=60, eval_every=20)
    exact = train(*pruned_lenet(tiny_data, rate=0.7), tiny_data, hp, schedule=Schedule(progress=False), seed=0)
    model, mask = pruned_lenet(tiny_data, rate=0.7)
    fast = train(
        model, mask, tiny_data, replace(hp, precision="bf16"), schedule=Schedule(debug=True, progress=False), seed=0
    )
    params = dict(model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())  # master weights stay float32
    assert all(torch.count_nonzero(params[n][~keep]) == 0 for n, keep in mask.items())
    assert fast.summary["precision"] == "bf16" and exact.summary["precision"] == "fp32"
    assert not torch.equal(fast.final_state["output.weight"], exact.final_state["output.weight"])  # autocast ran


def test_bf16_resume_from_checkpoint_replays_exactly(tiny_data, tmp_path):
    hp = TrainingHparams(lr=1e-2, batch_size=20, iterations=100, eval_every=20, precision="bf16")
    full = train(*pruned_lenet(tiny_data), tiny_data, hp, schedule=Schedule(progress=False), seed=0)
    ckpt = tmp_path / "ckpt.pt"
    train(
        *pruned_lenet(tiny_data),
        tiny_data,
        replace(hp, iterations=70),
        schedule=Schedule(checkpoint_every=40, progress=False),
        seed=0,
        checkpoint=ckpt,
    )
    assert torch.load(ckpt, weights_only=True)["iteration"] == 40
    resumed = train(*pruned_lenet(tiny_data), tiny_data, hp, schedule=Schedule(progress=False), seed=0, checkpoint=ckpt)
    assert resumed.curve == full.curve
    assert all(torch.equal(v, resumed.final_state[k]) for k, v in full.final_state.items())
    with pytest.raises(LotteryError, match="written by a bf16 run"):  # a checkpoint never resumes in another precision
        train(
            *pruned_lenet(tiny_data),
            tiny_data,
            replace(hp, precision="fp32"),
            schedule=Schedule(progress=False),
            seed=0,
            checkpoint=ckpt,
        )


def test_fp16_on_cpu_and_unknown_precisions_are_refused(tiny_data):
    for precision in ("fp16", "int8"):
        hp = TrainingHparams(batch_size=20, iterations=10, eval_every=10, precision=precision)
        with pytest.raises(UsageError, match=r"precision|fp16"):
            train(*pruned_lenet(tiny_data), tiny_data, hp, schedule=Schedule(progress=False), seed=0)


def test_precision_is_part_of_the_experiment_name_and_a_flag():
    from lottery.cli import build_parser, hparams_from_args

    default, bf16 = ExperimentHparams(), ExperimentHparams(training=TrainingHparams(precision="bf16"))
    assert default.name() == ExperimentHparams(training=TrainingHparams(precision="fp32")).name()
    assert bf16.name() != default.name() and bf16.to_dict()["training"]["precision"] == "bf16"
    args = build_parser().parse_args(["run", "--precision", "bf16"])
    assert hparams_from_args(args).training.precision == "bf16"


def test_train_accuracy_is_measured_on_a_fixed_seeded_subset(tiny_data):
    x, y = train_subset(tiny_data, 100)
    again_x, _ = train_subset(tiny_data, 100)
    assert len(y) == 100 and torch.equal(x, again_x)
    assert train_subset(tiny_data, None)[1] is tiny_data.train_y
    assert train_subset(tiny_data, 10_000)[1] is tiny_data.train_y
    hp = TrainingHparams(lr=1e-2, batch_size=20, iterations=40, eval_every=20)
    model, mask = pruned_lenet(tiny_data)
    result = train(model, mask, tiny_data, hp, schedule=Schedule(progress=False, train_accuracy_examples=100), seed=0)
    assert result.summary["train_accuracy_examples"] == 100
    assert result.summary["train_acc_final"] == loop.evaluate(model, x, y)[1]
    full = train(*pruned_lenet(tiny_data), tiny_data, hp, schedule=Schedule(progress=False), seed=0)
    assert full.summary["train_accuracy_examples"] == len(tiny_data.train_y)  # the default 10,000 > 240: all
    assert full.summary["train_acc_final"] == loop.evaluate(model, tiny_data.train_x, tiny_data.train_y)[1]
