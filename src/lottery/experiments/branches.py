"""Branches by name: the ticket chain and every network trained next to it (controls, one-shot).

A branch is one class, registered with :func:`register_branch`; everything else reads it from here:
its command-line flag (whose keyword is also :func:`~lottery.experiments.run_experiment`'s), its
folders, the units the runner plans for it, and in reports its order, plot style and paper figures.
A new branch is one module in this package that defines and registers its class: BRANCHES imports
every module here before its first lookup (see docs/extending.md).
"""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import UsageError
from ..pruning import Mask
from ..registry import Registry
from ..settings import parse_non_negative_int
from .level_request import LevelRequest


@dataclass(frozen=True)
class Style:
    """How a branch is drawn in the figures."""

    color: str
    marker: str
    label: str


@dataclass(frozen=True)
class Start:
    """Where one level of a branch starts: weights, mask and the iteration training begins at;
    ``iterations``: the iteration it trains to (None: the experiment's ``--iterations``)."""

    state: dict
    mask: Mask
    iteration: int = 0
    snapshot: tuple[int, Path] | None = None  # also save the weights at iteration k (θk) to this path
    extra: dict | None = None  # recorded in the level's metrics.json (seeds, provenance)
    iterations: int | None = None


def level_list(text: str) -> tuple[int, ...]:
    levels = tuple(int(v) for v in text.split(",") if v.strip())
    if not levels:  # an empty list would silently run nothing
        raise argparse.ArgumentTypeError(f"names no level, got {text!r}; give K,L,...")
    return levels


class Branch:
    """A kind of network trained at each pruning level of a trial. Subclasses set the class
    attributes and :meth:`start`; a *drawn* branch (the default) is asked for a number of draws
    ``--<flag> N`` and keeps each draw in its own folder ``<name>_<draw>``."""

    name: ClassVar[str]  # folder name (drawn: <name>_<draw>), and the branch's name in tables and figures
    order: ClassVar[int]  # position in tables, figures and the run order of a trial (ticket first)
    style: ClassVar[Style]
    figures: ClassVar[tuple[int, ...]] = ()  # the paper's figures this branch is drawn in
    from_paper: ClassVar[bool] = True  # one of the 2019 paper's branches: a report notes when it is missing
    flag: ClassVar[str | None] = None  # e.g. "--reinit-draws"; None: always run (the ticket chain)
    help: ClassVar[str] = ""
    drawn: ClassVar[bool] = True
    first_level: ClassVar[int] = 1  # controls share the ticket's dense level 0

    @property
    def option(self) -> str:
        """The flag's argparse dest, also run_experiment's keyword: --reinit-draws -> reinit_draws."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else self.name

    @property
    def usage(self) -> str:
        return f"{self.flag} N" if self.drawn else str(self.flag)

    def add_argument(self, group) -> None:
        group.add_argument(
            self.flag, dest=self.option, type=parse_non_negative_int, default=0, metavar="N", help=self.help
        )

    def request(self, args: argparse.Namespace):
        """The flag's value as run_experiment's keyword takes it (a branch with settings flags combines them)."""
        return getattr(args, self.option)

    def units(self, request, levels: int) -> list[tuple[int, int]]:
        """(draw, level) pairs to run for ``request`` (the flag's value) in an experiment of ``levels``."""
        return [(d, k) for d in range(request) for k in range(self.first_level, levels + 1)]

    def folder(self, draw: int) -> str:
        return f"{self.name}_{draw}" if self.drawn else self.name

    def start(self, exp, trial: int, draw: int, level: int) -> Start:
        raise NotImplementedError

    def check_request(self, exp, request) -> None:
        """Refuse, before anything trains, a request that ``exp`` cannot run (a UsageError)."""


BRANCHES: Registry[Branch] = Registry("branch", "lottery.experiments", unique="flag")


def register_branch(cls: type[Branch]) -> type[Branch]:
    """Class decorator: make ``cls`` a branch of every experiment (flag, plan, reports)."""
    branch = cls()
    BRANCHES.register(branch.name, branch)
    return cls


def unregister_branch(name: str) -> None:
    BRANCHES.unregister(name)


def all_branches() -> list[Branch]:
    """Every registered branch, in report order (the ticket first)."""
    return sorted(BRANCHES.values(), key=lambda b: (b.order, b.name))


def requestable_branches() -> list[Branch]:
    """The branches a run asks for by flag (all but the ticket chain)."""
    return [b for b in all_branches() if b.flag]


def split_kind(kind: str) -> tuple[str, str]:
    """A kind's branch name and settings tag: ``reinit-iterations20000`` -> (``reinit``, ``iterations20000``);
    a branch run with its default settings has no tag."""
    name, _, settings = kind.partition("-")
    return name, settings


def get_branch(name: str) -> Branch:
    """The branch of a name or kind; ``<name>-<settings>`` is branch ``<name>`` run with other settings."""
    return BRANCHES.get(split_kind(name)[0])


def find_branch(name: str) -> Branch | None:
    """:func:`get_branch`, or None where no branch has that name."""
    base = split_kind(name)[0]
    return BRANCHES.get(base) if base in BRANCHES else None


def branch_kind(folder: str) -> str:
    """'reinit_2' -> 'reinit': the branch a folder belongs to (draws of one branch are aggregated)."""
    head, _, tail = folder.rpartition("_")
    return head if head and tail.isdigit() else folder


def branch_order(kind: str) -> tuple[int, str]:
    """Sort key of a branch kind in reports (``reinit-iterations20000`` next to ``reinit``); branches
    not registered here go last, by name."""
    branch = find_branch(kind)
    return (branch.order, kind) if branch is not None else (1 << 30, kind)


def figure_branches(figure: int) -> tuple[str, ...]:
    """The branches drawn in the paper's Figure ``figure``, in report order."""
    return tuple(b.name for b in all_branches() if figure in b.figures)


def requests_from_args(args: argparse.Namespace) -> dict:
    """The branch flags' values, as run_experiment's keywords."""
    return {b.option: b.request(args) for b in requestable_branches()}


def check_requests(requests: dict) -> None:
    known = {b.option for b in requestable_branches()}
    unknown = sorted(set(requests) - known)
    if unknown:
        raise UsageError(f"unknown branch request(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


@dataclass(frozen=True)
class Unit:
    """One level of one draw of a branch in one trial: what the runner plans and trains (picklable)."""

    kind: Branch
    trial: int
    draw: int
    level: int

    @property
    def branch(self) -> str:
        """The branch's folder: ticket, reinit_0, oneshot, ..."""
        return self.kind.folder(self.draw)

    @property
    def label(self) -> str:
        return f"trial {self.trial} {self.branch} level {self.level}"


def train_units(exp, units: Sequence[Unit]) -> list[dict]:
    """Train (or read back, when finished) ``units`` together and return their metrics, in order.
    Every start is read before anything trains, so the units must not depend on each other: a
    branch's start only reads what earlier levels wrote (the runner trains those first)."""
    for unit in units:
        if unit.level < unit.kind.first_level:
            raise ValueError(
                f"the {unit.kind.name} branch starts at level {unit.kind.first_level}: "
                "level 0 is the shared dense network"
            )
    records = [exp.finished(exp.paths.trial(u.trial).level(u.branch, u.level)) for u in units]
    todo = [u for u, record in zip(units, records) if record is None]
    trained = iter(exp.level_trainer.train_levels([level_request(exp, u) for u in todo]) if todo else [])
    return [record if record is not None else next(trained) for record in records]


def level_request(exp, unit: Unit) -> LevelRequest:
    """What training ``unit`` needs: its branch's start, read from what earlier levels wrote."""
    s = unit.kind.start(exp, unit.trial, unit.draw, unit.level)
    return LevelRequest(
        unit.trial, unit.branch, unit.level, s.state, s.mask, s.iteration, s.snapshot, s.extra, s.iterations
    )


def run_branch_level(exp, branch: Branch, trial: int, draw: int, level: int) -> dict:
    """Train (or read back, when finished) one level of one draw of ``branch``; returns its metrics.
    The earlier levels its start reads must be finished. Module-level and given the branch object,
    so that a unit pickles for a worker process."""
    return train_units(exp, [Unit(branch, trial, draw, level)])[0]
