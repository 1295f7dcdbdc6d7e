"""Experiment names are folder names: a preset, a published run or a reproduction target keeps its name
whatever is refactored, so stored results keep reading and extending."""

import json
import re
import sys
from pathlib import Path

import pytest

from lottery.cli import build_parser, hparams_from_args
from lottery.hparams import ExperimentHparams
from lottery.presets import get_preset, preset_names

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import reproduce  # noqa: E402

PRESETS = {
    "conv2": "conv2-cifar10-3249b141ac",
    "conv2-dropout": "conv2-cifar10-738bbb46ec",
    "conv2-quick": "conv2-cifar10-5ed415c60d",
    "conv4": "conv4-cifar10-0fc534bff0",
    "conv4-dropout": "conv4-cifar10-885c56d6ff",
    "conv4-quick": "conv4-cifar10-4a423ef87b",
    "conv6": "conv6-cifar10-ede1f6713a",
    "conv6-dropout": "conv6-cifar10-abd3f120f4",
    "conv6-quick": "conv6-cifar10-67c7655544",
    "lenet": "lenet_300_100-mnist-44136fa355",
    "lenet-digits": "lenet_300_100-digits-cd3c3096f9",
    "resnet18": "resnet18-cifar10-c3d4156b30",
    "resnet18-lr0.01": "resnet18-cifar10-5167597492",
    "resnet18-lr0.03": "resnet18-cifar10-187d8cdcca",
    "resnet18-quick": "resnet18-cifar10-4be4720a69",
    "resnet18-warmup": "resnet18-cifar10-51aa5be7f8",
    "vgg19": "vgg19-cifar10-07c3393275",
    "vgg19-lr0.01": "vgg19-cifar10-5a7ed5e35e",
    "vgg19-quick": "vgg19-cifar10-8ac2a318c0",
    "vgg19-warmup": "vgg19-cifar10-4e80798920",
}

# scripts/reproduce.py's targets: the runs behind docs/results/.
TARGETS = {
    "cifar10-jpeg-conv2": "conv2-cifar10-jpeg-52010eb293",
    "cifar10-jpeg-conv4": "conv4-cifar10-jpeg-007539adb4",
    "cifar10-jpeg-conv6": "conv6-cifar10-jpeg-64f5880653",
    "fashion-mnist": "lenet_300_100-fashion-mnist-39cdea7ce6",
    "mnist": "lenet_300_100-mnist-44136fa355",
}

# Flags that set the fields of both pruning strategies and the common ones.
FLAGS = {
    "--preset lenet-digits --prune-strategy global --prune-global-kinds fc,output --prune-global 0.3": (
        "lenet_300_100-digits-e0f42a9c97"
    ),
    "--preset conv2 --prune-shortcut 0.1 --ignore conv.0.weight": "conv2-cifar10-8865c065f9",
    "--preset resnet18 --prune-strategy layerwise --prune-conv 0.2 --prune-shortcut 0.1": (
        "resnet18-cifar10-eda468c43b"
    ),
}


def name_of(flags: list[str]) -> str:
    return hparams_from_args(build_parser().parse_args(["run", *flags])).name()


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_keeps_its_name(preset):
    assert preset in preset_names()
    assert get_preset(preset).name() == PRESETS[preset]
    assert name_of(["--preset", preset]) == PRESETS[preset]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_reproduction_target_keeps_its_name(target):
    assert name_of(reproduce.TARGETS[target]["experiment"]) == TARGETS[target]


@pytest.mark.parametrize("flags", sorted(FLAGS))
def test_pruning_flags_keep_their_names(flags):
    assert name_of(flags.split()) == FLAGS[flags]


@pytest.mark.parametrize("stored", sorted((ROOT / "docs" / "results").glob("*/hparams.json")), ids=str)
def test_published_runs_keep_their_names(stored):
    record = json.loads(stored.read_text())
    hp = ExperimentHparams.from_dict(record["non_default"])
    assert hp.name() == record["name"]
    assert hp.same_experiment(record["hparams"])  # the folder written then reads as this experiment now


def test_published_readmes_name_pinned_runs():
    """Every experiment folder a results README names is a pinned reproduction target."""
    named = {
        m
        for readme in (ROOT / "docs" / "results").glob("*/README.md")
        for m in re.findall(r"[\w.-]+-[0-9a-f]{10}\b", readme.read_text())
    }
    assert named and named <= set(TARGETS.values())
