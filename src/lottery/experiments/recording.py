"""Recording a trained level: its final weights, θk when asked for, and metrics.json (written last,
so that its presence marks the level as finished)."""

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import LotteryError
from ..pruning import Mask, density, layer_density
from ..storage import save_json, save_tensors
from .layout import ExperimentPaths, LevelPaths


@dataclass
class LevelRequest:
    """One network to train for (trial, branch, level), from ``start_state`` under ``mask``.
    ``snapshot=(k, path)`` also saves the weights at iteration k (θk) to ``path``; ``extra`` is
    recorded in the level's metrics.json."""

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

    def paths(self, experiment: ExperimentPaths) -> LevelPaths:
        return experiment.trial(self.trial).level(self.branch, self.level)


def record_level(request: LevelRequest, paths: LevelPaths, result, seeds: dict, numerics: dict) -> dict:
    """Save what training ``request`` gave (``result``: a training/batched result) and return its metrics.
    ``seeds`` (the trial's named seeds) and ``numerics`` (settings that change numbers) are recorded with it."""
    mask, snapshot = request.mask, request.snapshot
    measured = density(mask)
    check_pruned_are_zero(result.final_state, mask, paths.folder)
    metrics = {
        "trial": request.trial,
        "branch": request.branch,
        "level": request.level,
        "density": measured,
        "layer_density": layer_density(mask),
        "summary": result.summary,
        "curve": result.curve.to_dict(),
        "seeds": seeds,
        "numerics": numerics,
        **(request.extra or {}),
    }
    save_tensors(paths.final, {k: v.cpu() for k, v in result.final_state.items()})
    if snapshot:
        save_tensors(snapshot[1], {k: v.cpu() for k, v in result.snapshot.items()})
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
