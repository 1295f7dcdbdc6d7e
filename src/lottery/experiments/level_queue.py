"""Training the levels an experiment asks for: one at a time, or queued in a :meth:`LevelQueue.deferring`
block and trained together (levels that start at the same iteration share one batched computation)."""

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..data.augment import flip_and_crop
from ..errors import LotteryError
from ..pruning import Mask, apply_mask
from ..storage import load_tensors, save_tensors
from ..training.batched import Job, train_many
from ..training.schedule import Schedule
from .layout import LevelPaths
from .recording import LevelRequest, record_level

if TYPE_CHECKING:
    from .experiment import Experiment


class LevelQueue:
    """The level training of one experiment (``exp`` gives the data, models, seeds and options)."""

    def __init__(self, exp: "Experiment"):
        self.exp = exp
        self._deferred: list[LevelRequest] | None = None  # train_level calls queued by deferring()

    def train_level(
        self,
        trial: int,
        branch: str,
        level: int,
        start_state: dict,
        mask: Mask,
        *,
        start_iteration: int = 0,
        snapshot: tuple[int, Path] | None = None,
        extra: dict | None = None,
    ):
        """Train one masked network from ``start_state`` and record it. Returns (metrics, result);
        result is None when the level had already finished (nothing is redone).
        ``snapshot=(k, path)`` also saves the weights at iteration k (θk) to ``path``.
        Inside :meth:`deferring` an unfinished level is only queued, and (None, None) is returned."""
        request = LevelRequest(trial, branch, level, start_state, mask, start_iteration, snapshot, extra)
        if self._deferred is not None:
            done = self.exp.finished(request.paths(self.exp))
            if done is not None:
                return done, None
            self._deferred.append(request)
            return None, None
        return self.train_levels([request])[0]

    @contextmanager
    def deferring(self):
        """Queue the levels that ``train_level`` is asked for in the block; at its end, train them
        together (see :meth:`train_levels`). Levels queued in one block must not depend on each other."""
        if self._deferred is not None:
            raise LotteryError("internal error: deferring() blocks cannot nest")
        self._deferred = []
        try:
            yield
            queued = self._deferred
        finally:
            self._deferred = None
        self.train_levels(queued)

    def train_levels(self, requests: list[LevelRequest]) -> list[tuple[dict, object]]:
        """Train and record several levels; returns (metrics, result) for each, like train_level.
        Levels that start at the same iteration (and snapshot at the same one) train in one batched
        computation, at most ``speed.together`` networks at a time (training/batched.py)."""
        exp = self.exp
        out: list = [None] * len(requests)
        groups: dict[tuple, list] = {}
        for i, request in enumerate(requests):
            paths = request.paths(exp)
            done = exp.finished(paths)
            if done is not None:
                out[i] = (done, None)
                continue
            key = (
                request.start_iteration,
                request.snapshot[0] if request.snapshot else None,
                exp.options.test_curve_at(request.level),
            )
            groups.setdefault(key, []).append((i, request, paths, self._prepare_level(request, paths)))
        for (start, snapshot_at, test_curve), members in groups.items():
            for lo in range(0, len(members), exp.speed.together):
                chunk = members[lo : lo + exp.speed.together]
                label = (
                    chunk[0][1].label
                    if len(chunk) == 1
                    else f"{len(chunk)} networks, level {', '.join(sorted({str(m[1].level) for m in chunk}))}"
                )
                schedule = Schedule(
                    checkpoint_every=exp.options.checkpoint_every,
                    start_iteration=start,
                    snapshot_at=snapshot_at,
                    test_curve=test_curve,
                    debug=exp.options.debug,
                    progress=exp.progress,
                    description=label,
                )
                results = train_many(
                    [job for *_, job in chunk],
                    exp.data,
                    exp.hp.training,
                    schedule,
                    augment=flip_and_crop if exp.hp.dataset.augment else None,
                    eval_dtype=exp.speed.eval_dtype,
                    sparse=exp.speed.sparse_below if exp.device.type == "cpu" else None,
                )
                for (i, request, paths, _), result in zip(chunk, results):
                    out[i] = (record_level(request, paths, result, exp.seeds(request.trial), exp.numerics), result)
        return out

    def _prepare_level(self, request: LevelRequest, paths: LevelPaths) -> Job:
        """Save (or check) the level's mask; the masked network at its start weights."""
        mask = request.mask
        stored = load_tensors(paths.mask)
        if stored is None:
            save_tensors(paths.mask, mask)
        elif stored.keys() != mask.keys() or any(not torch.equal(stored[n], mask[n].cpu()) for n in mask):
            raise LotteryError(
                f"{paths.mask} differs from the mask recomputed for this level; the results "
                f"folder is inconsistent. Move {paths.folder} aside and run again"
            )
        model = self.exp.build_model()
        model.load_state_dict(request.start_state)
        apply_mask(model, mask)
        return Job(model, mask, self.exp.trial_seed(request.trial), checkpoint=paths.checkpoint)
