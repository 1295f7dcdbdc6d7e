"""Models, data sets, pruning strategies, presets and branches are registries of one kind: a clash is
refused in one line, an unknown name lists the known ones, and a module in the home package is found."""

import subprocess
import sys

import pytest

from lottery.data import DATASETS
from lottery.errors import LotteryError, UsageError
from lottery.experiments import BRANCHES
from lottery.models import MODELS
from lottery.presets import PRESETS
from lottery.pruning import STRATEGIES
from lottery.registry import Registry

REGISTRIES = {
    "model": MODELS,
    "dataset": DATASETS,
    "pruning strategy": STRATEGIES,
    "preset": PRESETS,
    "branch": BRANCHES,
}
BUILT_IN = {  # one built-in entry each, found without importing its module by hand
    "model": ("lottery.models", "MODELS", "vgg19"),
    "dataset": ("lottery.data", "DATASETS", "cifar10-jpeg"),
    "pruning strategy": ("lottery.pruning.strategy", "STRATEGIES", "global"),
    "preset": ("lottery.presets", "PRESETS", "resnet18-quick"),
    "branch": ("lottery.experiments.branches", "BRANCHES", "weight_shuffle"),
}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registry_refuses_a_clash_in_one_line(kind):
    registry = REGISTRIES[kind]
    name = registry.names()[0]
    before = registry.get(name)
    with pytest.raises(LotteryError) as refused:
        registry.register(name, before)
    assert str(refused.value) == f"{kind} {name!r} is registered twice: rename one of them"
    assert registry.get(name) is before


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registry_names_the_known_names_for_an_unknown_one(kind):
    registry = REGISTRIES[kind]
    with pytest.raises(UsageError) as unknown:
        registry.get("no-such-name")
    assert str(unknown.value) == f"unknown {kind} 'no-such-name'; choose one of: {', '.join(registry.names())}"
    assert "no-such-name" not in registry and registry.names()[0] in registry


def test_every_registry_finds_the_modules_of_its_package():
    """In a fresh process, a lookup finds the built-in entries: nothing imports their modules by hand."""
    code = "\n".join(
        f"from {module} import {registry}\nassert {name!r} in {registry}.names(), {registry}.names()"
        for module, registry, name in BUILT_IN.values()
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_module_in_the_home_package_registers_itself(tmp_path, monkeypatch):
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("from plugins_registry import THINGS\nTHINGS.register('first', 1)\n")
    (package / "second.py").write_text("from plugins_registry import THINGS\nTHINGS.register('second', 2)\n")
    (tmp_path / "plugins_registry.py").write_text(
        "from lottery.registry import Registry\nTHINGS = Registry('thing', 'plugins')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from plugins_registry import THINGS

    assert THINGS.names() == ["first", "second"] and THINGS.values() == [1, 2]
    THINGS.unregister("first")
    assert THINGS.names() == ["second"]
    for name in ("plugins_registry", "plugins", "plugins.first", "plugins.second"):
        monkeypatch.delitem(sys.modules, name)


def test_a_unique_attribute_clashes_like_a_name():
    class Entry:
        def __init__(self, flag):
            self.flag = flag

    things = Registry("thing", "lottery.registry", unique="flag")
    things.register("a", Entry("--a"))
    things.register("b", Entry(None))
    things.register("c", Entry(None))  # None is no value: never a clash
    with pytest.raises(LotteryError, match=r"^thing 'd' takes the flag --a of 'a': rename one of them$"):
        things.register("d", Entry("--a"))
    assert things.names() == ["a", "b", "c"]
