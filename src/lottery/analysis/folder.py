"""Reading masks and weights back from an experiment folder (layout: experiments/layout.py).

Only folders named exactly ``trial_<int>`` and ``level_<int>`` count, and a level only once its
``metrics.json`` exists (it is written last); anything else in the folder is ignored.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import LotteryError
from ..experiments.records import ExperimentInfo, read_experiment_info
from ..experiments.layout import TICKET, ExperimentPaths, LevelPaths, TrialPaths
from ..hparams import ExperimentHparams
from ..pruning import Mask
from ..storage import load_json, load_tensors

_TRIAL = re.compile(r"trial_(\d+)")
_LEVEL = re.compile(r"level_(\d+)")


def _numbered(folder: Path, pattern: re.Pattern) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if p.is_dir() and (m := pattern.fullmatch(p.name)))


@dataclass
class ExperimentFolder:
    folder: Path

    def __post_init__(self):
        info = load_json(self.paths.hparams)
        if not isinstance(info, dict) or "hparams" not in info:
            raise LotteryError(f"{self.folder} is not a lottery experiment folder (no readable hparams.json)")

    @property
    def paths(self) -> ExperimentPaths:
        return ExperimentPaths(Path(self.folder))

    @cached_property
    def info(self) -> ExperimentInfo:
        return read_experiment_info(self.paths.folder)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def hparams(self) -> ExperimentHparams:
        return self.info.hparams

    def trials(self) -> list[int]:
        return _numbered(self.paths.folder, _TRIAL)

    def trial(self, t: int) -> TrialPaths:
        return self.paths.trial(t)

    def branches(self, t: int) -> list[str]:
        folder = self.trial(t).folder
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def levels(self, t: int, branch: str) -> list[int]:
        """Finished levels of a branch (metrics.json written)."""
        return [
            k
            for k in _numbered(self.trial(t).folder / branch, _LEVEL)
            if self.trial(t).level(branch, k).metrics.exists()
        ]

    def level(self, t: int, branch: str, k: int) -> LevelPaths:
        return self.trial(t).level(branch, k)

    def mask(self, t: int, branch: str, k: int) -> Mask:
        return self._load(self.level(t, branch, k).mask, f"the mask of trial {t} {branch} level {k}")

    def final(self, t: int, branch: str, k: int) -> dict:
        return self._load(self.level(t, branch, k).final, f"the trained weights of trial {t} {branch} level {k}")

    def initial(self, t: int) -> dict:
        return self._load(self.trial(t).init, f"θ0 of trial {t}")

    def start(self, t: int) -> dict:
        """Where the ticket's pruned levels start: θ0, or θk when the experiment rewinds."""
        if self.hparams.rewind_iteration:
            return self._load(self.trial(t).rewind, f"θ{self.hparams.rewind_iteration} of trial {t}")
        return self.initial(t)

    def ticket_levels(self, t: int) -> list[int]:
        return self.levels(t, TICKET)

    @staticmethod
    def _load(path: Path, what: str):
        value = load_tensors(path)
        if value is None:
            raise LotteryError(f"{what} ({path}) is missing or damaged")
        return value
