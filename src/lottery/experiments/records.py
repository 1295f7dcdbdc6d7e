"""What a finished level's files must hold to count as finished, and the settings recorded with its numbers.

A level is finished when its ``metrics.json`` is a level record for that very folder and its ``mask.pt``
and ``final.pt`` load with matching names and shapes. Anything less (a file cut short, a hand-edited or
misplaced record) is damaged: the level's files are removed and the level is trained again.

``numerics`` in each record holds the settings that change numbers without being part of the
experiment's name. Settings in :data:`MUST_MATCH` change them by more than float rounding, so a folder
whose finished levels used other values is not extended with this run's.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import LotteryError
from ..hparams import ExperimentHparams
from ..storage import load_json
from .layout import ExperimentPaths, LevelPaths

RECORD_KEYS: dict[str, type | tuple[type, ...]] = {
    "trial": int,
    "branch": str,
    "level": int,
    "density": (int, float),
    "layer_density": dict,
    "summary": dict,
    "curve": dict,
    "seeds": dict,
}
TABLE_KEYS = ("trial", "branch", "level", "density")  # what every table and figure reads of a record
MUST_MATCH = ("eval_precision",)  # bf16 evaluation changes accuracies by more than float rounding
RECORDED_BEFORE_NUMERICS = {"eval_precision": "fp32"}  # levels written before records held "numerics"
STALE_TEMP_SECONDS = 60  # a temp file this old is a crash's leftover, not a write in progress


def numerics(speed, device: torch.device) -> dict:
    """The settings of this run that change numbers (``speed``: a training.batched.SpeedOptions).
    Sparse kernels are used on the CPU only; their results agree with dense ones to float rounding."""
    return {
        "eval_precision": speed.eval_precision,
        "sparse_below": speed.sparse_below if device.type == "cpu" else None,
    }


def is_level_record(metrics, paths: LevelPaths | None = None, keys=tuple(RECORD_KEYS)) -> bool:
    """Whether ``metrics`` (a parsed metrics.json) is a finished level's record (of ``paths``' level, if
    given) with at least ``keys``, each of the right type."""
    if not isinstance(metrics, dict):
        return False
    if any(isinstance(metrics.get(key), bool) or not isinstance(metrics.get(key), RECORD_KEYS[key]) for key in keys):
        return False
    if paths is None:
        return True
    folder = paths.folder
    return (
        folder.name == f"level_{metrics['level']}"
        and folder.parent.name == metrics["branch"]
        and folder.parent.parent.name == f"trial_{metrics['trial']}"
    )


def _shapes(path: Path) -> dict[str, torch.Size] | None:
    """Name -> shape of a saved dict of tensors, or None if it does not load as one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # absent, truncated, not a torch file
        return None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        return None
    return {name: value.shape for name, value in state.items()}


def finished_record(paths: LevelPaths) -> dict | None:
    """The level's metrics if it finished intact; None if it did not finish. A damaged finished level
    loses its files (so that it is redone, its mask recomputed, and nobody reads them meanwhile)."""
    metrics = load_json(paths.metrics)
    if metrics is None and not paths.metrics.exists():
        return None
    if metrics is not None and is_level_record(metrics, paths):
        mask, final = _shapes(paths.mask), _shapes(paths.final)
        if (
            mask is not None
            and final is not None
            and mask.keys() == metrics["layer_density"].keys()
            and all(final.get(name) == shape for name, shape in mask.items())
        ):
            return metrics
    for damaged in (paths.metrics, paths.mask, paths.final):  # the record first: it marks the level finished
        damaged.unlink(missing_ok=True)
    return None


def recorded_numerics(metrics: dict) -> dict:
    """The :data:`MUST_MATCH` settings a level record was computed with."""
    recorded = metrics.get("numerics")
    recorded = recorded if isinstance(recorded, dict) else {}
    return {key: recorded.get(key, RECORDED_BEFORE_NUMERICS[key]) for key in MUST_MATCH}


def check_numerics(paths: ExperimentPaths, current: dict) -> None:
    """Refuse to add levels computed with other :data:`MUST_MATCH` settings than the finished ones."""
    wanted = {key: current[key] for key in MUST_MATCH}
    for trial in paths.trials():
        trial_paths = paths.trial(trial)
        for branch in trial_paths.branches():
            for level in trial_paths.levels(branch):
                metrics = load_json(trial_paths.level(branch, level).metrics)
                if not is_level_record(metrics):
                    continue
                found = recorded_numerics(metrics)
                if found != wanted:
                    differ = ", ".join(
                        f"{key.replace('_', '-')} {found[key]} (this run: {wanted[key]})"
                        for key in MUST_MATCH
                        if found[key] != wanted[key]
                    )
                    raise LotteryError(
                        f"{paths.folder} holds levels computed with --{differ}; run again with "
                        "the same setting, or use another --out folder for this one"
                    )


def remove_stale_temp_files(folder: Path) -> None:
    """Temp files of hparams.json left at the experiment's root by a crash (storage.atomic_write)."""
    for leftover in folder.glob(".hparams.json.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TEMP_SECONDS:
                leftover.unlink()
        except FileNotFoundError:
            pass


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
