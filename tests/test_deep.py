"""Section 4 of the paper: VGG-19 and ResNet-18 on CIFAR-sized images, SGD schedules with warmup,
global pruning, rewinding to θk, batch-norm state on reset, augmentation, Figures 7-8."""

import dataclasses
import json
from dataclasses import replace

import pytest
import torch
from conftest import make_splits

import lottery.training.batched as batched_module
import lottery.training.loop as loop_module
from lottery.cli import build_parser, hparams_from_args
from lottery.data import BatchStream
from lottery.data.augment import flip_and_crop
from lottery.errors import UsageError
from lottery.experiments import Experiment, TICKET
from lottery.experiments.imp import run_ticket_level
from lottery.experiments.level_record import LevelRecord, Summary
from lottery.hparams import DatasetHparams, ExperimentHparams, ModelHparams, PruningHparams, TrainingHparams
from lottery.models import CONV, OUTPUT, SHORTCUT, count_weights, get_model_spec
from lottery.presets import get_preset, preset_names
from lottery.pruning import GlobalRanking
from lottery.seeds import generator
from lottery.report.iterations import accuracy_at, iteration_text, iterations_figure, points_at
from lottery.storage import load_tensors
from lottery.training import Schedule, learning_rate, train

IMAGE = (3, 32, 32)


def build(name):
    model = get_model_spec(name).build(IMAGE, 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    return model


def conv3x3(pairs):
    return sum(9 * a * b for a, b in pairs)


# -- models -------------------------------------------------------------------------------------


def test_vgg19_has_the_papers_20m_weights_and_prunes_no_output():
    # 2x64 pool 2x128 pool 4x256 pool 4x512 pool 4x512, 3x3 convs; output fc 512 -> 10.
    widths = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
    conv = conv3x3(zip([3] + widths[:-1], widths, strict=True))
    model = build("vgg19")
    assert count_weights(model, (CONV,)) == conv == 20_018_880
    assert count_weights(model, (OUTPUT,)) == 512 * 10
    assert count_weights(model) == 20_024_000  # "20.0M" in the paper's Figure 2
    assert list(model.prunable_kinds().values()).count(CONV) == 16
    assert model(torch.randn(2, *IMAGE)).shape == (2, 10)


def test_resnet18_is_the_20_layer_cifar_resnet_with_tagged_shortcuts():
    # conv 16; stages of 3 blocks x 2 convs at 16, 32, 64 filters; 1x1 shortcuts where the width changes.
    convs = [(3, 16)] + [(16, 16)] * 6 + [(16, 32)] + [(32, 32)] * 5 + [(32, 64)] + [(64, 64)] * 5
    model = build("resnet18")
    kinds = model.prunable_kinds()
    assert count_weights(model, (CONV,)) == conv3x3(convs) == 267_696
    assert count_weights(model, (SHORTCUT,)) == 16 * 32 + 32 * 64
    assert count_weights(model, (OUTPUT,)) == 64 * 10
    assert count_weights(model) == 270_896  # "~271K" in the paper
    assert sorted(n for n, k in kinds.items() if k == SHORTCUT) == [
        "blocks.3.downsample.0.weight",
        "blocks.6.downsample.0.weight",
    ]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 21
    assert model(torch.randn(2, *IMAGE)).shape == (2, 10)
    assert count_weights(get_model_spec("resnet20").build(IMAGE, 10)) == 270_896


def test_deep_models_refuse_flat_inputs_and_dropout():
    with pytest.raises(UsageError, match="image data"):
        get_model_spec("resnet18").build((784,), 10)
    with pytest.raises(UsageError, match="dropout"):
        get_model_spec("vgg19").build(IMAGE, 10, dropout=0.5)


# -- learning-rate schedule ---------------------------------------------------------------------


def test_warmup_then_drops_at_chosen_iterations():
    hp = TrainingHparams(optimizer="sgd", lr=0.1, warmup=10_000, lr_drops=(56_000, 84_000))
    expected = {
        0: 0.1 / 10_000,
        4_999: 0.05,
        9_999: 0.1,
        10_000: 0.1,
        55_999: 0.1,
        56_000: 0.01,
        83_999: 0.01,
        84_000: 0.001,
        111_999: 0.001,
    }
    for iteration, lr in expected.items():
        assert learning_rate(hp, iteration) == pytest.approx(lr), iteration
    # Warmup longer than the first drop: both apply.
    hp = TrainingHparams(optimizer="sgd", lr=0.03, warmup=20_000, lr_drops=(10_000,))
    assert learning_rate(hp, 14_999) == pytest.approx(0.03 * 0.75 * 0.1)


def test_training_steps_use_the_schedule_and_continue_it_after_a_rewind(monkeypatch):
    seen = []

    def recording_optimizer(params, hp):
        optimizer = real_make_optimizer(params, hp)
        optimizer.register_step_pre_hook(lambda opt, *_: seen.append(opt.param_groups[0]["lr"]))
        return optimizer

    real_make_optimizer = loop_module.make_optimizer
    monkeypatch.setattr(loop_module, "make_optimizer", recording_optimizer)
    data = make_splits(n_train=16, n_val=8, n_test=8)
    model = get_model_spec("lenet_300_100").build(data.input_shape, 10)
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n.endswith("weight")}
    hp = TrainingHparams(optimizer="sgd", lr=0.1, warmup=4, lr_drops=(5,), batch_size=8, iterations=7, eval_every=7)
    train(model, mask, data, hp, schedule=Schedule(start_iteration=2, progress=False), seed=0)
    assert seen == pytest.approx([0.075, 0.1, 0.1, 0.01, 0.01])  # iterations 2..6


# -- augmentation -------------------------------------------------------------------------------


def test_flip_and_crop_shifts_each_image_within_its_zero_padding():
    x = torch.randn(64, 3, 8, 8)
    out = flip_and_crop(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape
    found = set()
    for image, result in zip(x, out, strict=True):
        matches = []
        for flip in (False, True):
            padded = torch.nn.functional.pad(image.flip(2) if flip else image, (2, 2, 2, 2))
            matches += [
                (flip, dy, dx)
                for dy in range(5)
                for dx in range(5)
                if torch.equal(padded[:, dy : dy + 8, dx : dx + 8], result)
            ]
        assert matches, "output is not a flipped/shifted copy of its input"
        found.update(matches)
    assert {f for f, _, _ in found} == {False, True}
    assert len({(dy, dx) for _, dy, dx in found}) > 10


def test_augmented_batches_replay_exactly_and_vary_per_iteration():
    data = make_splits(n_train=32, shape=IMAGE)
    stream = BatchStream(data.train_x, data.train_y, 8, seed=5, augment=flip_and_crop)
    again = BatchStream(data.train_x, data.train_y, 8, seed=5, augment=flip_and_crop)
    plain = BatchStream(data.train_x, data.train_y, 8, seed=5)
    assert torch.equal(stream.batch(9)[0], again.batch(9)[0])
    assert not torch.equal(stream.batch(9)[0], plain.batch(9)[0])
    assert torch.equal(stream.batch(9)[1], plain.batch(9)[1])  # labels untouched
    # The crops of iteration i are drawn from a generator named by (stream seed, i) alone.
    assert torch.equal(stream.batch(3)[0], flip_and_crop(plain.batch(3)[0], generator(5, "augment", 3)))


# -- global pruning, rewinding, batch norm ------------------------------------------------------


def deep_hparams(rewind=0, ignore=(), augment=True):
    return ExperimentHparams(
        model=ModelHparams("resnet18"),
        dataset=DatasetHparams("synthetic", augment=augment),
        training=TrainingHparams(
            optimizer="sgd",
            lr=0.05,
            weight_decay=1e-4,
            batch_size=8,
            iterations=4,
            eval_every=2,
            warmup=2,
            lr_drops=(3,),
        ),
        pruning=PruningHparams(strategy="global", global_rate=0.2, global_kinds=(CONV,), ignore=ignore),
        rewind_iteration=rewind,
    )


def open_experiment(tmp_path, hp):
    data = make_splits(n_train=32, n_val=16, n_test=16, shape=IMAGE)
    return Experiment(hp, tmp_path, data=data, progress=False, debug=True)


def test_global_pruning_ranks_all_conv_layers_together_and_spares_the_rest(tmp_path):
    with open_experiment(tmp_path, deep_hparams(ignore=("conv.weight",))) as exp:
        kinds = exp.prunable_kinds
        state = exp.initial_state(0)
        state["blocks.0.conv1.weight"] = state["blocks.0.conv1.weight"] * 1e-3  # the smallest layer by far
        mask = exp.prune(state, exp.full_mask())
    conv = [n for n, k in kinds.items() if k == CONV]
    assert "conv.weight" not in mask and "conv.weight" not in conv
    total = sum(mask[n].numel() for n in conv)
    assert sum(int((~mask[n]).sum()) for n in conv) == round(0.2 * total)
    assert not mask["blocks.0.conv1.weight"].any()  # ranked with the others it goes first, entirely (not 20%)
    for name, kind in kinds.items():
        if kind != CONV:
            assert mask[name].all(), name  # output and shortcuts never pruned
    pruned = torch.cat([state[n][~mask[n]].abs() for n in conv])
    kept = torch.cat([state[n][mask[n]].abs() for n in conv])
    assert pruned.max() <= kept.min()


def record_starts(monkeypatch):
    """Capture the state each level starts training from, and the iteration it starts at.
    (Conv nets are not stacked: the experiment trains each one with loop.train.)"""
    starts = []
    real_train = batched_module.train

    def recording_train(model, mask, data, hp, seed, schedule, **kwargs):
        state = {k: v.clone() for k, v in model.state_dict().items()}
        starts.append({"state": state, **dataclasses.asdict(schedule), **kwargs})
        return real_train(model, mask, data, hp, seed, schedule, **kwargs)

    monkeypatch.setattr(batched_module, "train", recording_train)
    return starts


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, 2])
def test_reset_restores_weights_and_batch_norm_to_theta_k(tmp_path, monkeypatch, k):
    starts = record_starts(monkeypatch)
    with open_experiment(tmp_path, deep_hparams(rewind=k, ignore=("conv.weight",))) as exp:
        run_ticket_level(exp, 0, 1)  # levels 0 and 1
        theta0 = exp.initial_state(0)
        trial = exp.paths.trial(0)
        rewind = load_tensors(trial.rewind)
        level0_final = load_tensors(trial.level(TICKET, 0).final)
        mask = load_tensors(trial.level(TICKET, 1).mask)
        level1_final = load_tensors(trial.level(TICKET, 1).final)
    assert [s["start_iteration"] for s in starts] == [0, k]
    assert all(s["augment"] is flip_and_crop for s in starts)
    assert torch.equal(starts[0]["state"]["bn.running_mean"], theta0["bn.running_mean"])
    if k == 0:
        assert rewind is None
        target = theta0
    else:
        assert starts[0]["snapshot_at"] == k
        target = rewind
        # θk is the state after k steps of the level-0 run: replay those k steps alone.
        replay = get_model_spec("resnet18").build(IMAGE, 10)
        replay.load_state_dict(theta0)
        with open_experiment(tmp_path / "replay", deep_hparams(rewind=0, ignore=("conv.weight",))) as fresh:
            hp = replace(fresh.hp.training, iterations=k)
            result = train(
                replay,
                fresh.full_mask(),
                fresh.data,
                hp,
                fresh.trial_seed(0),
                schedule=Schedule(progress=False),
                augment=flip_and_crop,
            )
        for name, value in result.final_state.items():
            assert torch.allclose(rewind[name].float(), value.float(), atol=1e-6), name
        assert not torch.equal(rewind["bn.running_mean"], theta0["bn.running_mean"])
        assert not torch.equal(rewind["blocks.0.conv1.weight"], theta0["blocks.0.conv1.weight"])
    start = starts[1]["state"]
    assert sum(int((~m).sum()) for m in mask.values()) > 0  # level 1 is pruned
    for name, value in target.items():
        expected = value * mask[name] if name in mask else value
        assert torch.equal(start[name], expected), name
    # Batch-norm statistics come from θ0/θk, not from the trained network that was pruned.
    assert not torch.equal(start["bn.running_var"], level0_final["bn.running_var"])
    assert int(start["bn.num_batches_tracked"]) == k
    assert "conv.weight" not in mask  # the ignored layer is never masked, nor zeroed
    assert torch.count_nonzero(level1_final["conv.weight"]) == 3 * 16 * 9


def test_augmentation_is_off_unless_asked(tmp_path, monkeypatch):
    starts = record_starts(monkeypatch)
    with open_experiment(tmp_path, deep_hparams(augment=False)) as exp:
        run_ticket_level(exp, 0, 0)
    assert starts[0]["augment"] is None


# -- presets and command line -------------------------------------------------------------------


def test_deep_presets_are_valid_sgd_global_conv_pruning_on_cifar10():
    deep = [name for name in preset_names() if name.startswith(("vgg19", "resnet18"))]
    assert len(deep) >= 8
    kinds = {model: get_model_spec(model).build(IMAGE, 10).prunable_kinds() for model in ("vgg19", "resnet18")}
    for name in deep:
        hp = get_preset(name)
        hp.validate()
        assert (hp.dataset.name, hp.training.optimizer, hp.training.momentum, hp.training.weight_decay) == (
            "cifar10",
            "sgd",
            0.9,
            1e-4,
        ), name
        assert (hp.pruning.strategy, hp.pruning.global_rate) == ("global", 0.2)
        # ranked together: exactly the conv layers (not the output layer, not ResNet shortcuts)
        ranked = GlobalRanking.from_hparams(hp.pruning, kinds[hp.model.name]).names
        assert ranked == [n for n, kind in kinds[hp.model.name].items() if kind == CONV], name
        assert hp.dataset.augment == name.startswith("resnet18"), name
        assert all(0 < drop < hp.training.iterations for drop in hp.training.lr_drops), name
    assert get_preset("vgg19-warmup").training.warmup == 10_000
    assert get_preset("resnet18-warmup").training.warmup == 20_000


def test_cli_switches_augmentation_and_rewinding():
    parse = build_parser().parse_args
    hp = hparams_from_args(parse(["run", "--preset", "resnet18-quick", "--no-augment", "--rewind", "500"]))
    assert (hp.dataset.augment, hp.rewind_iteration) == (False, 500)
    assert hparams_from_args(parse(["run", "--preset", "vgg19", "--augment"])).dataset.augment is True


# -- Figures 7-8 --------------------------------------------------------------------------------


def fake_run(branch, level, density, accuracies, trial=0) -> LevelRecord:
    curve = {"iterations": [0, 500, 1000], "val_loss": [1, 1, 1], "val_acc": [0, 0, 0], "test_acc": accuracies}
    numbers = [f.name for f in dataclasses.fields(Summary) if f.name != "other"]
    summary = Summary(**dict.fromkeys(numbers, 0.0) | {"early_stop_iteration": 1000})
    return LevelRecord(trial, branch, level, density, {}, summary, curve, seeds={})


def test_accuracy_read_at_an_iteration_from_the_stored_curve():
    curve = fake_run("ticket", 0, 1.0, [0.1, 0.5, 0.8]).curve
    assert accuracy_at(curve, 500) == 0.5
    assert accuracy_at(curve, 999) == 0.5  # between evaluations: the last one before
    assert accuracy_at(curve, 1000) == 0.8
    with pytest.raises(UsageError, match="past the end"):
        accuracy_at(curve, 1001)
    runs = [
        fake_run("ticket", 1, 0.8, [0.1, 0.6, 0.9]),
        fake_run("ticket", 1, 0.8, [0.1, 0.4, 0.7], trial=1),
        fake_run("reinit_0", 1, 0.8, [0.1, 0.2, 0.3]),
        fake_run("random_0", 1, 0.8, [0.1, 0.1, 0.1]),
    ]
    points = points_at(runs, 500)
    assert [(p.branch, p.level) for p in points] == [("reinit", 1), ("ticket", 1)]
    ticket = points[1].accuracy
    assert (ticket.mean, ticket.low, ticket.high) == (pytest.approx(0.5), 0.4, 0.6)


def test_iterations_figure_from_experiment_folders(tmp_path):
    folders = []
    for lr in (0.1, 0.01):
        folder = tmp_path / f"lr{lr}"
        (folder / "trial_0" / "ticket" / "level_0").mkdir(parents=True)
        hparams = ExperimentHparams(training=TrainingHparams(lr=lr)).to_dict()
        (folder / "hparams.json").write_text(json.dumps({"name": folder.name, "hparams": hparams, "non_default": {}}))
        for level, density in ((0, 1.0), (1, 0.8)):
            level_dir = folder / "trial_0" / "ticket" / f"level_{level}"
            level_dir.mkdir(parents=True, exist_ok=True)
            (level_dir / "metrics.json").write_text(
                json.dumps(fake_run("ticket", level, density, [0.1, 0.5, 0.8]).to_json())
            )
        folders.append(folder)
    path = iterations_figure(folders, [500, 1000], tmp_path / "fig" / "fig7.png")
    assert (iteration_text(30_000), iteration_text(500), iteration_text(1500)) == ("30K", "500", "1,500")
    assert path.stat().st_size > 10_000
    with pytest.raises(UsageError, match="past the end"):
        iterations_figure(folders, [2000], tmp_path / "bad.png")
