"""No import cycles among lottery's modules, counting every import: at module level, inside functions and
under ``if TYPE_CHECKING:``. A cycle makes the import order matter and hides which module owns what."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

KNOWN: set[frozenset[str]] = set()  # cycles tolerated for now: none


def module_names() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "lottery").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The lottery modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports a, and a.b when b is a module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_finder_sees_every_kind_of_import():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    modules = module_names()
    assert "lottery.experiments.branches" in imports_of(
        "lottery.cli", modules["lottery.cli"], modules
    )  # from .experiments.branches import ...
    assert "lottery.analysis.analyze" in imports_of("lottery.cli", modules["lottery.cli"], modules)  # in a function


def test_no_import_cycles():
    found = [c for c in cycles(graph()) if frozenset(c) not in KNOWN]
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_pruning_strategies_and_their_settings_load_without_torch():
    """hparams.py reads every strategy's settings, also in commands that train nothing (``lottery --help``)."""
    code = (
        "import sys, dataclasses\nfrom lottery.hparams import PruningHparams\nfrom lottery.pruning import STRATEGIES\n"
        "assert {'global', 'layerwise'} <= set(STRATEGIES.names())\n"
        "assert 'global_kinds' in {f.name for f in dataclasses.fields(PruningHparams)}\n"
        "assert 'torch' not in sys.modules, [m for m in sys.modules if m.startswith('lottery')]"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_lottery_pruning_exports_each_name_of_the_module_that_defines_it():
    import lottery.pruning

    for name in lottery.pruning.__all__:
        module = importlib.import_module(f"lottery.pruning.{lottery.pruning._MODULE_OF[name]}")
        assert getattr(lottery.pruning, name) is getattr(module, name)
    assert sorted(lottery.pruning.__all__) == sorted(lottery.pruning._MODULE_OF)
    assert set(lottery.pruning.__all__) <= set(dir(lottery.pruning))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        lottery.pruning.no_such_name  # noqa: B018
