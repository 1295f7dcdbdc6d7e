"""Experiment flags generated from the hparams fields, run-time options, and the pruning-strategy registry."""

import dataclasses
import json
import pickle

import pytest
import torch
from conftest import make_splits

from lottery.cli import build_parser, hparams_from_args, subcommand
from lottery.errors import LotteryError, UsageError
from lottery.experiments import Experiment
from lottery.experiments.fanout import ExperimentHandle
from lottery.hparams import DatasetHparams, ExperimentHparams, PruningHparams, TrainingHparams, with_strategy_settings
from lottery.options import RunOptions, SpeedOptions
from lottery.pruning import STRATEGIES, LayerWise, PruningStrategy, keep_largest, register_strategy
from lottery.settings import pruning_rate, setting
from lottery.storage import save_json

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=20, eval_every=10)
)


def leaf_fields():
    hp = ExperimentHparams()
    return [(owner, f) for owner, f in hp.settings()]


def test_every_setting_has_a_flag_with_help():
    parser = build_parser()
    run = subcommand(parser, "run")
    by_dest = {action.dest: action for action in run._actions}
    sections = {
        type(getattr(ExperimentHparams(), f.name)): f.name + "."
        for f in dataclasses.fields(ExperimentHparams)
        if dataclasses.is_dataclass(getattr(ExperimentHparams(), f.name))
    }
    for owner, f in leaf_fields():
        action = by_dest[sections.get(type(owner), "") + f.name]
        assert action.help and action.default is None, f.name  # None: keep the preset's value


@pytest.mark.parametrize(
    "flags,expected",
    [
        (["--lr-drop-factor", "0.5"], lambda hp: hp.training.lr_drop_factor == 0.5),
        (["--split-seed", "3"], lambda hp: hp.dataset.split_seed == 3),
        (
            ["--prune-strategy", "global", "--prune-global-kinds", "fc,output"],
            lambda hp: hp.pruning.global_kinds == ("fc", "output"),
        ),
        (["--rewind", "5", "--seed", "2"], lambda hp: (hp.rewind_iteration, hp.seed) == (5, 2)),
        (
            ["--no-augment", "--lr-drops", "10,20"],
            lambda hp: (hp.dataset.augment, hp.training.lr_drops) == (False, (10, 20)),
        ),
    ],
)
def test_flags_set_their_field(flags, expected):
    hp = hparams_from_args(build_parser().parse_args(["run", "--preset", "lenet-digits", *flags]))
    assert expected(hp)


def test_a_pruning_rate_is_checked_by_its_field():
    with pytest.raises(UsageError, match=r"--prune-fc 1.0 is impossible"):
        dataclasses.replace(TINY, pruning=PruningHparams(fc_rate=1.0)).validate()
    with pytest.raises(UsageError, match=r"--prune-global -0.1 is impossible"):
        dataclasses.replace(TINY, pruning=PruningHparams(strategy="global", global_rate=-0.1)).validate()


def test_folders_of_layerwise_runs_written_under_an_older_global_default_still_resume(tmp_path):
    data = make_splits(shape=(1, 10, 10))
    with Experiment(TINY, tmp_path, data=data, progress=False) as exp:
        folder = exp.paths.hparams
    stored = json.loads(folder.read_text())
    stored["hparams"]["pruning"]["global_kinds"] = ["conv"]  # a field layer-wise pruning does not read
    save_json(folder, stored)
    with Experiment(TINY, tmp_path, data=data, progress=False):
        pass
    stored["hparams"]["pruning"]["fc_rate"] = 0.3  # one it reads
    save_json(folder, stored)
    with pytest.raises(Exception, match="holds different hyperparameters"):
        with Experiment(TINY, tmp_path, data=data, progress=False):
            pass


def test_same_experiment_compares_the_fields_the_run_reads():
    global_hp = dataclasses.replace(TINY, pruning=PruningHparams(strategy="global"))
    stored = json.loads(json.dumps(global_hp.to_dict()))
    assert global_hp.same_experiment(stored)
    stored["pruning"]["global_kinds"] = ["conv"]
    assert not global_hp.same_experiment(stored)
    assert not global_hp.same_experiment({"pruning": {"no_such_field": 1}})


def test_run_options_are_one_object_shared_with_workers(tmp_path):
    exp = Experiment(
        TINY,
        tmp_path,
        RunOptions(debug=True, checkpoint_every=7),
        data=make_splits(shape=(1, 10, 10)),
        speed=SpeedOptions(together=3),
    )
    assert exp.options == RunOptions(debug=True, checkpoint_every=7, speed=SpeedOptions(together=3))
    handle = pickle.loads(pickle.dumps(ExperimentHandle.of(exp)))
    assert handle.options == exp.options
    with pytest.raises(UsageError, match="is not a device"):
        RunOptions(device="gpu0")
    with pytest.raises(UsageError, match="--checkpoint-every"):
        RunOptions(checkpoint_every=0)


@pytest.fixture
def output_first():
    """A strategy registered for one test: halves the output layer every round."""

    @register_strategy("output-first")
    class OutputFirst(PruningStrategy):
        """Halves the output layer every round, leaves the others dense."""

        @classmethod
        def from_hparams(cls, p, kinds):
            return cls([name for name, kind in kinds.items() if kind == "output"])

        def __init__(self, names):
            self.inner = LayerWise({name: 0.5 for name in names})

        def prune(self, weights, mask):
            return {**mask, **self.inner.prune(weights, {n: mask[n] for n in self.inner.rates})}

        def prune_to_counts(self, trained, target):
            return {n: keep_largest(trained, [n], int(k.sum()))[n] for n, k in target.items()}

    try:
        yield OutputFirst
    finally:
        STRATEGIES.unregister("output-first")


def test_a_new_strategy_is_one_registered_class(output_first, tmp_path):
    assert "output-first" in build_parser().parse_args(["run", "--prune-strategy", "output-first"]).__dict__.values()
    hp = dataclasses.replace(TINY, pruning=PruningHparams(strategy="output-first"))
    with Experiment(hp, tmp_path, data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        mask = exp.full_mask()
        pruned = exp.prune(exp.fresh_init(0), mask)
    assert int(pruned["output.weight"].sum()) == mask["output.weight"].numel() // 2
    assert all(bool(pruned[n].all()) for n in mask if n != "output.weight")
    with pytest.raises(UsageError, match=r"--prune-fc 0.3 is unused by --prune-strategy output-first"):
        dataclasses.replace(hp, pruning=PruningHparams(strategy="output-first", fc_rate=0.3)).validate()
    assert torch.equal(
        exp.pruning_strategy.prune_to_counts(exp.fresh_init(0), pruned)["output.weight"].sum(),
        pruned["output.weight"].sum(),
    )


def test_a_strategy_declares_its_settings_and_pruning_hparams_reads_them(output_first):
    assert [f.name for f in dataclasses.fields(PruningHparams)] == [
        "strategy",
        *LayerWise.settings,  # the default strategy's first
        "global_rate",
        "global_kinds",
        "ignore",
    ]
    output_first.settings = {"output_first_rate": setting(0.5, check=pruning_rate, help="output-first: the rate")}

    def pruning_hparams():  # what PruningHparams becomes with output-first's module in src/lottery/pruning/strategies/
        class Pruning:
            strategy: str = setting("layerwise", help="the strategy")
            ignore: tuple[str, ...] = setting((), help="never pruned")

        return dataclasses.dataclass(frozen=True)(with_strategy_settings(Pruning))

    Pruning = pruning_hparams()
    fields = {f.name: f for f in dataclasses.fields(Pruning)}
    assert list(fields)[-2:] == ["output_first_rate", "ignore"] and Pruning().output_first_rate == 0.5
    assert fields["output_first_rate"].metadata["check"] is pruning_rate
    with pytest.raises(LotteryError, match="declares settings PruningHparams lacks"):
        dataclasses.replace(TINY, pruning=PruningHparams(strategy="output-first")).validate()
    output_first.settings = {"fc_rate": setting(0.5, help="taken by layerwise")}
    with pytest.raises(LotteryError, match="'fc_rate' of strategy 'output-first' is declared twice"):
        pruning_hparams()
