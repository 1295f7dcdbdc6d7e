"""Reading finished levels back from an experiment folder and aggregating them over trials."""

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..experiments.branches import branch_kind, branch_order
from ..experiments.layout import ExperimentPaths
from ..experiments.records import TABLE_KEYS, is_level_record, read_experiment_info
from ..storage import load_json

SUMMARY_KEYS = (
    "early_stop_iteration",
    "val_loss_at_early_stop",
    "test_acc_at_early_stop",
    "train_acc_at_early_stop",
    "test_acc_final",
    "train_acc_final",
)


def load_experiment(folder: Path) -> tuple[dict, list[dict]]:
    """(hparams.json contents as JSON: name, non_default, hparams; metrics of every finished level)."""
    paths = ExperimentPaths(Path(folder))
    info = read_experiment_info(folder).to_json()
    runs = []
    for trial in paths.trials():
        tp = paths.trial(trial)
        for branch in tp.branches():
            for level in tp.levels(branch):
                metrics = load_json(tp.level(branch, level).metrics)
                if is_record_of(metrics, trial, branch, level) and is_level_record(metrics, keys=TABLE_KEYS):
                    runs.append(metrics)
    return info, runs


def is_record_of(metrics, trial: int, branch: str, level: int) -> bool:
    """Whether ``metrics`` is the record of the level at this place: a copied folder (``ticket_old``,
    a branch folder copied under another name) holds the record of another place and is skipped."""
    return isinstance(metrics, dict) and (metrics.get("trial"), metrics.get("branch"), metrics.get("level")) == (
        trial,
        branch,
        level,
    )


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
    stats: dict[str, Stat]


def aggregate(runs: list[dict]) -> list[LevelStats]:
    """Mean and min/max over trials (and control draws) for each (branch kind, level)."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for run in runs:
        groups.setdefault((branch_kind(run["branch"]), run["level"]), []).append(run)
    out = []
    for (branch, level), members in sorted(groups.items(), key=lambda kv: (branch_order(kv[0][0]), kv[0][1])):
        stats = {key: Stat.of([m["summary"][key] for m in members]) for key in SUMMARY_KEYS}
        out.append(LevelStats(branch, level, statistics.fmean(m["density"] for m in members), len(members), stats))
    return out
