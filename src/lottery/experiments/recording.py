"""Recording a trained level, and deciding whether a level has finished.

A level is recorded by saving its final weights, θk when asked for, and its record (experiments/level_record.py)
as metrics.json, written last so that its presence marks the level as finished. A level is finished when
that metrics.json is the level record of that very folder and its ``mask.pt`` and ``final.pt`` load with
matching names and shapes. Anything less (a file cut short, a hand-edited or misplaced record) is damaged:
the level's files are removed and the level is trained again.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import LotteryError
from ..pruning import Mask, density, layer_density
from ..storage import load_json, save_json, save_tensors
from .folder import ExperimentFolder
from .layout import LevelPaths
from .level_record import MUST_MATCH, LevelRecord, NotALevelRecord, Summary

STALE_TEMP_SECONDS = 60  # a temp file this old is a crash's leftover, not a write in progress


@dataclass
class LevelRequest:
    """One network to train for (trial, branch, level): LevelQueue.train_level's arguments."""

    trial: int
    branch: str
    level: int
    start_state: dict
    mask: Mask
    start_iteration: int = 0
    snapshot: tuple[int, Path] | None = None
    extra: dict | None = None

    @property
    def label(self) -> str:
        return f"trial {self.trial} {self.branch} level {self.level}"

    def paths(self, exp) -> LevelPaths:
        return exp.paths.trial(self.trial).level(self.branch, self.level)


def record_level(request: LevelRequest, paths: LevelPaths, result, seeds: dict, numerics: dict) -> dict:
    """Save what training ``request`` gave (``result``: a training/batched result) and return its record as
    JSON. ``seeds`` (the trial's named seeds) and ``numerics`` (settings that change numbers) are recorded with it."""
    mask, snapshot = request.mask, request.snapshot
    check_pruned_are_zero(result.final_state, mask, paths.folder)
    record = LevelRecord(
        trial=request.trial,
        branch=request.branch,
        level=request.level,
        density=density(mask),
        layer_density=layer_density(mask),
        summary=Summary.from_json(result.summary),
        curve=result.curve.to_dict(),
        seeds=seeds,
        numerics=numerics,
        extra=request.extra or {},
    )
    save_tensors(paths.final, {k: v.cpu() for k, v in result.final_state.items()})
    if snapshot:
        save_tensors(snapshot[1], {k: v.cpu() for k, v in result.snapshot.items()})
    metrics = record.to_json()
    save_json(paths.metrics, metrics)
    if paths.checkpoint.exists():
        os.unlink(paths.checkpoint)
    for leftover in paths.folder.glob(".*.tmp"):  # a write cut short by a crash (storage.atomic_write)
        leftover.unlink(missing_ok=True)
    return metrics


def check_pruned_are_zero(final_state: dict, mask: Mask, where: Path) -> None:
    """What is saved must match the mask: every pruned weight exactly zero."""
    nonzero = sum(int(torch.count_nonzero(final_state[n].cpu()[~m.cpu()])) for n, m in mask.items())
    if nonzero:
        raise LotteryError(f"invariant violated in {where}: {nonzero} pruned weights are nonzero after training")


def _shapes(path: Path) -> dict[str, torch.Size] | None:
    """Name -> shape of a saved dict of tensors, or None if it does not load as one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # absent, truncated, not a torch file
        return None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        return None
    return {name: value.shape for name, value in state.items()}


def _record_of(metrics, paths: LevelPaths) -> LevelRecord | None:
    """The level record in ``metrics`` (a parsed metrics.json) if it is that of ``paths``' level."""
    try:
        record = LevelRecord.from_json(metrics)
    except NotALevelRecord:
        return None
    folder = paths.folder
    place = (folder.parent.parent.name, folder.parent.name, folder.name)
    return record if place == (f"trial_{record.trial}", record.branch, f"level_{record.level}") else None


def finished_record(paths: LevelPaths) -> dict | None:
    """The level's record (as JSON) if it finished intact; None if it did not finish. A damaged finished
    level loses its files (so that it is redone, its mask recomputed, and nobody reads them meanwhile)."""
    metrics = load_json(paths.metrics)
    if metrics is None and not paths.metrics.exists():
        return None
    record = _record_of(metrics, paths)
    if record is not None:
        mask, final = _shapes(paths.mask), _shapes(paths.final)
        if (
            mask is not None
            and final is not None
            and mask.keys() == record.layer_density.keys()
            and all(final.get(name) == shape for name, shape in mask.items())
        ):
            return metrics
    for damaged in (paths.metrics, paths.mask, paths.final):  # the record first: it marks the level finished
        damaged.unlink(missing_ok=True)
    return None


def check_numerics(folder: ExperimentFolder, current: dict) -> None:
    """Refuse to add levels computed with other :data:`MUST_MATCH` settings than the finished ones."""
    wanted = {key: current[key] for key in MUST_MATCH}
    for record in folder.records():
        found = record.computed_with()
        if found != wanted:
            differ = ", ".join(
                f"{key.replace('_', '-')} {found[key]} (this run: {wanted[key]})"
                for key in MUST_MATCH
                if found[key] != wanted[key]
            )
            raise LotteryError(
                f"{folder.folder} holds levels computed with --{differ}; run again with "
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
