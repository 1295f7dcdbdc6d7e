"""Reading an experiment folder back (layout: experiments/layout.py), with one rule for what counts,
for every reader: `lottery run` (the settings of finished levels), `show`, `report`, `compare`,
`iterations`, `analyze`, `instability` and `export`.

* a trial is a folder named exactly ``trial_<t>`` and a level one named exactly ``level_<k>`` (no leading
  zeros: ``trial_00``, ``trial_0_old`` and ``level_1.bak`` are copies, not results);
* a branch is a folder of a registered branch (experiments/branches.py): ``ticket``, ``oneshot``, or
  ``<name>_<draw>`` for a drawn branch (``reinit_0``); ``ticket_old`` or ``reinit_0_1`` is not one;
* a level is finished when its ``metrics.json`` (written last) is the level record of that very place
  (experiments/level_record.py). One that is not (cut short, edited, copied from another place) is
  *damaged*: readers leave it out and name it, and the next `lottery run` redoes the level.

Nothing here writes: the checks that make a run redo a damaged level are in experiments/recording.py.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import LotteryError, UsageError
from ..hparams import ExperimentHparams
from ..pruning import Mask
from ..storage import load_json, load_tensors
from .branches import Branch, find_branch
from .layout import TICKET, ExperimentPaths, LevelPaths, TrialPaths
from .level_record import LevelRecord, NotALevelRecord

NUMBER = "(0|[1-9][0-9]*)"  # a folder's number: no sign, no leading zeros


def check_distinct(names: list[str]) -> None:
    """Refuse an experiment given twice to a reader of several (`report`, `analyze`): its files would clash."""
    twice = sorted(n for n in set(names) if names.count(n) > 1)
    if twice:
        raise UsageError(f"the same experiment is given twice: {', '.join(twice)}")


def numbered(folder: Path, prefix: str) -> list[int]:
    """The sorted numbers n of the subfolders of ``folder`` named exactly ``<prefix>_<n>``."""
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(prefix) + "_" + NUMBER)
    return sorted(int(m[1]) for p in folder.iterdir() if (m := pattern.fullmatch(p.name)) and p.is_dir())


def branch_folder(name: str) -> tuple[Branch, int] | None:
    """(registered branch, draw) of a trial's subfolder ``name``; None when it is no branch's folder."""
    branch = find_branch(name)
    if branch is not None and not branch.drawn:
        return branch, 0
    head, _, draw = name.rpartition("_")
    branch = find_branch(head)
    if branch is not None and branch.drawn and re.fullmatch(NUMBER, draw):
        return branch, int(draw)
    return None


@dataclass(frozen=True)
class ExperimentInfo:
    """An experiment folder's hparams.json, read and parsed once: its name, the non-default settings
    (as stored) and the hyperparameters as :class:`ExperimentHparams`."""

    name: str
    non_default: dict
    hparams: ExperimentHparams

    def to_json(self) -> dict:
        return {"name": self.name, "non_default": self.non_default, "hparams": self.hparams.to_dict()}


def read_experiment_info(folder: Path) -> ExperimentInfo:
    """The hparams.json of ``folder``; one line naming the file when it is missing, damaged or unreadable."""
    path = ExperimentPaths(Path(folder)).hparams
    stored = load_json(path)
    if not isinstance(stored, dict) or not isinstance(stored.get("hparams"), dict):
        raise LotteryError(f"{folder} is not a lottery experiment folder (no readable hparams.json)")
    try:
        hp = ExperimentHparams.from_dict(stored["hparams"])
    except (TypeError, ValueError) as e:
        raise LotteryError(f"{path} holds hyperparameters this lottery cannot read: {e}") from None
    return ExperimentInfo(stored.get("name", hp.name()), stored.get("non_default", hp.non_default()), hp)


@dataclass(frozen=True)
class FolderScan:
    """Every finished level's record, and the ``metrics.json`` files left out as damaged."""

    records: list[LevelRecord]
    damaged: list[Path]

    def notes(self) -> list[str]:
        """One line per damaged file, for the reader to print."""
        return [
            f"{path} is not a level record (cut short or edited): left out; `lottery run` of this "
            "experiment redoes the level"
            for path in self.damaged
        ]


class ExperimentFolder:
    """An experiment folder, read only. Opening it reads its hparams.json (one line when there is none);
    every other question reads the folder as it is at that moment (a run may be adding levels)."""

    def __init__(self, folder: Path):
        self.paths = ExperimentPaths(Path(folder))
        _ = self.info

    @property
    def folder(self) -> Path:
        return self.paths.folder

    @cached_property
    def info(self) -> ExperimentInfo:
        return read_experiment_info(self.folder)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def hparams(self) -> ExperimentHparams:
        return self.info.hparams

    # -- what counts --------------------------------------------------------------------------
    def trials(self) -> list[int]:
        return numbered(self.folder, "trial")

    def branches(self, trial: int) -> list[str]:
        """The folders of registered branches in ``trial``, by name."""
        folder = self.trial(trial).folder
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and branch_folder(p.name) is not None)

    def draws(self, trial: int, branch: str) -> list[int]:
        """The draws of the registered branch named ``branch`` in ``trial`` (``[0]`` for an undrawn branch)."""
        found = (branch_folder(name) for name in self.branches(trial))
        return sorted(draw for kind, draw in filter(None, found) if kind.name == branch)

    def levels(self, trial: int, branch: str) -> list[int]:
        """The finished levels of the branch folder ``branch`` (``ticket``, ``reinit_0``, ...)."""
        if branch not in self.branches(trial):
            return []
        return [k for k in numbered(self.trial(trial).folder / branch, "level") if self.record(trial, branch, k)]

    def ticket_levels(self, trial: int) -> list[int]:
        return self.levels(trial, TICKET)

    def record(self, trial: int, branch: str, level: int) -> LevelRecord | None:
        """The level's record; None when it has not finished, its metrics.json is damaged, or the place is
        not one that counts."""
        if trial < 0 or level < 0 or branch_folder(branch) is None:
            return None
        try:
            return self._read(trial, branch, level)
        except NotALevelRecord:
            return None

    def scan(self) -> FolderScan:
        """Every finished level's record (by trial, branch folder, level) and the damaged metrics.json files."""
        records, damaged = [], []
        for trial in self.trials():
            for branch in self.branches(trial):
                for level in numbered(self.trial(trial).folder / branch, "level"):
                    try:
                        record = self._read(trial, branch, level)
                    except NotALevelRecord:
                        damaged.append(self.level(trial, branch, level).metrics)
                        continue
                    if record is not None:
                        records.append(record)
        return FolderScan(records, damaged)

    def records(self) -> list[LevelRecord]:
        return self.scan().records

    def _read(self, trial: int, branch: str, level: int) -> LevelRecord | None:
        """None when the level has not finished (no metrics.json); NotALevelRecord when it is damaged."""
        path = self.level(trial, branch, level).metrics
        metrics = load_json(path)
        if metrics is None and not path.exists():
            return None
        if metrics is None:
            raise NotALevelRecord("it does not parse")
        record = LevelRecord.from_json(metrics)
        if not record.is_of(trial, branch, level):
            raise NotALevelRecord(f"it is the record of trial {record.trial} {record.branch} level {record.level}")
        return record

    # -- paths and tensors --------------------------------------------------------------------
    def trial(self, trial: int) -> TrialPaths:
        return self.paths.trial(trial)

    def level(self, trial: int, branch: str, level: int) -> LevelPaths:
        return self.trial(trial).level(branch, level)

    def mask(self, trial: int, branch: str, level: int) -> Mask:
        return self._load(self.level(trial, branch, level).mask, f"the mask of trial {trial} {branch} level {level}")

    def final(self, trial: int, branch: str, level: int) -> dict:
        what = f"the trained weights of trial {trial} {branch} level {level}"
        return self._load(self.level(trial, branch, level).final, what)

    def initial(self, trial: int) -> dict:
        return self._load(self.trial(trial).init, f"θ0 of trial {trial}")

    def start(self, trial: int) -> dict:
        """Where the ticket's pruned levels start: θ0, or θk when the experiment rewinds."""
        if self.hparams.rewind_iteration:
            return self._load(self.trial(trial).rewind, f"θ{self.hparams.rewind_iteration} of trial {trial}")
        return self.initial(trial)

    @staticmethod
    def _load(path: Path, what: str):
        value = load_tensors(path)
        if value is None:
            raise LotteryError(f"{what} ({path}) is missing or damaged")
        return value
