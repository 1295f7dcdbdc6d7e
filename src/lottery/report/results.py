"""Reading finished levels back from an experiment folder and aggregating them over trials."""

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..experiments.branches import branch_kind, branch_order
from ..experiments.folder import ExperimentFolder, ExperimentInfo
from ..experiments.level_record import REPORTED_SUMMARY, LevelRecord


@dataclass(frozen=True)
class Results:
    """What an experiment folder holds for reports (read by the rules of experiments/folder.py)."""

    folder: Path
    info: ExperimentInfo
    runs: list[LevelRecord]  # every finished level, by trial, branch folder and level
    notes: list[str]  # the damaged level records left out, one line each


def load_experiment(folder: Path) -> Results:
    exp = ExperimentFolder(Path(folder))
    scan = exp.scan()
    return Results(exp.folder, exp.info, scan.records, scan.notes())


@dataclass
class Stat:
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Stat":
        return cls(statistics.fmean(values), min(values), max(values))


@dataclass
class LevelStats:
    branch: str
    level: int
    density: float
    trials: int
    stats: dict[str, Stat]  # one per summary number of REPORTED_SUMMARY


def by_kind_and_level(runs: list[LevelRecord]) -> dict[tuple[str, int], list[LevelRecord]]:
    """The runs of each (branch kind, level), in report order: a kind's draws and trials together."""
    groups: dict[tuple[str, int], list[LevelRecord]] = {}
    for run in runs:
        groups.setdefault((branch_kind(run.branch), run.level), []).append(run)
    return dict(sorted(groups.items(), key=lambda kv: (branch_order(kv[0][0]), kv[0][1])))


def aggregate(runs: list[LevelRecord]) -> list[LevelStats]:
    """Mean and min/max over trials (and control draws) for each (branch kind, level)."""
    out = []
    for (branch, level), members in by_kind_and_level(runs).items():
        stats = {key: Stat.of([getattr(m.summary, key) for m in members]) for key in REPORTED_SUMMARY}
        out.append(LevelStats(branch, level, statistics.fmean(m.density for m in members), len(members), stats))
    return out
