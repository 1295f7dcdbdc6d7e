"""Where results live. One folder per experiment (named by its hyperparameters), one per trial,
one per branch (the ticket chain, each control, one-shot) and one per level:

    <root>/<experiment>/hparams.json
    <root>/<experiment>/trial_<t>/seeds.json, init.pt (θ0), rewind.pt (θk, when rewinding)
    <root>/<experiment>/trial_<t>/<branch>/level_<k>/mask.pt, final.pt, metrics.json

``metrics.json`` is written last: its presence marks the level as finished. Reading a folder back
only accepts these exact names (``trial_<t>``, ``level_<k>``, no leading zeros): a copy such as
``trial_0_old`` or ``level_1.bak`` is not a result.
"""

import re
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
TICKET = "ticket"


def numbered(folder: Path, prefix: str) -> list[int]:
    """The sorted numbers n of the subfolders of ``folder`` named exactly ``<prefix>_<n>``."""
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(prefix) + "_(0|[1-9][0-9]*)")
    return sorted(int(m[1]) for p in folder.iterdir() if (m := pattern.fullmatch(p.name)) and p.is_dir())


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

    def branches(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir()) if self.folder.exists() else []

    def levels(self, branch: str) -> list[int]:
        """The finished levels of ``branch``."""
        return [k for k in numbered(self.folder / branch, "level") if self.level(branch, k).metrics.exists()]


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

    def trials(self) -> list[int]:
        return numbered(self.folder, "trial")
