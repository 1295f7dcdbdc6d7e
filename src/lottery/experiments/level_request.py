"""A level to train: the trial, branch and level it records as, its start weights and mask."""

from dataclasses import dataclass
from pathlib import Path

from ..pruning import Mask
from .layout import ExperimentPaths, LevelPaths


@dataclass
class LevelRequest:
    """One network to train for (trial, branch, level), from ``start_state`` under ``mask``.
    ``snapshot=(k, path)`` also saves the weights at iteration k (θk) to ``path``; ``extra`` is
    recorded in the level's metrics.json; ``iterations``: the iteration it trains to (None: the
    experiment's)."""

    trial: int
    branch: str
    level: int
    start_state: dict
    mask: Mask
    start_iteration: int = 0
    snapshot: tuple[int, Path] | None = None
    extra: dict | None = None
    iterations: int | None = None

    @property
    def label(self) -> str:
        return f"trial {self.trial} {self.branch} level {self.level}"

    def paths(self, experiment: ExperimentPaths) -> LevelPaths:
        return experiment.trial(self.trial).level(self.branch, self.level)
