"""Where results live. One folder per experiment (named by its hyperparameters), one per trial,
one per branch (the ticket chain, each control, one-shot) and one per level:

    <root>/<experiment>/hparams.json
    <root>/<experiment>/trial_<t>/seeds.json, init.pt (θ0), rewind.pt (θk, when rewinding)
    <root>/<experiment>/trial_<t>/<branch>/level_<k>/mask.pt, final.pt, metrics.json

``metrics.json`` is written last: its presence marks the level as finished. These are the paths
lottery writes to; reading a folder back, and which folders count, is experiments/folder.py.
"""

from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
TICKET = "ticket"


@dataclass(frozen=True)
class LevelPaths:
    folder: Path

    @property
    def mask(self) -> Path:
        return self.folder / "mask.pt"

    @property
    def final(self) -> Path:
        return self.folder / "final.pt"

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.json"

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint.pt"


@dataclass(frozen=True)
class TrialPaths:
    folder: Path

    @property
    def seeds(self) -> Path:
        return self.folder / "seeds.json"

    @property
    def init(self) -> Path:
        return self.folder / "init.pt"

    @property
    def rewind(self) -> Path:
        return self.folder / "rewind.pt"

    def level(self, branch: str, level: int) -> LevelPaths:
        return LevelPaths(self.folder / branch / f"level_{level}")


@dataclass(frozen=True)
class ExperimentPaths:
    folder: Path

    @property
    def hparams(self) -> Path:
        return self.folder / "hparams.json"

    @property
    def lock(self) -> Path:
        return self.folder / ".lock"

    def trial(self, t: int) -> TrialPaths:
        return TrialPaths(self.folder / f"trial_{t}")
