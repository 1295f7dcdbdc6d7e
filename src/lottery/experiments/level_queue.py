"""Training levels: :meth:`LevelTrainer.train_levels` trains and records the levels it is given in one
call (levels that start at the same iteration share one batched computation). The trainer is built from
explicit parts (folder, data, model builder, training settings, seeds, run options), not from an
experiment; the levels' start weights and masks come with the requests (experiments/branches.py)."""

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..data import DataSplits
from ..data.augment import flip_and_crop
from ..errors import LotteryError
from ..hparams import TrainingHparams
from ..models import LotteryModel
from ..options import RunOptions
from ..pruning import apply_mask
from ..storage import load_tensors, save_tensors
from ..training.batched import Job, train_many
from ..training.schedule import Schedule
from .layout import ExperimentPaths, LevelPaths
from .level_request import LevelRequest
from .recording import finished_record, record_level


@dataclass(frozen=True)
class LevelTrainer:
    """Trains and records the levels of one experiment folder."""

    paths: ExperimentPaths
    data: DataSplits
    build_model: Callable[[], LotteryModel]  # a fresh network on the device levels train on
    training: TrainingHparams
    augment: bool  # flip-and-crop training batches (hp.dataset.augment)
    seeds: Callable[[int], dict]  # trial -> its named seeds, recorded; "trial_seed" seeds the training
    options: RunOptions
    numerics: dict  # settings that change numbers, recorded with each level (records.numerics)

    def train_levels(self, requests: list[LevelRequest]) -> list[dict]:
        """Train and record the levels of ``requests`` (which must not depend on each other) and
        return the metrics of each, in order; a level that had finished is read back, not redone.
        Levels that start and end at the same iterations (and snapshot at the same one) train in one batched
        computation, at most ``speed.together`` networks at a time (training/batched.py)."""
        speed = self.options.speed
        out: list = [None] * len(requests)
        groups: dict[tuple, list] = {}
        for i, request in enumerate(requests):
            paths = request.paths(self.paths)
            done = finished_record(paths)
            if done is not None:
                out[i] = done
                continue
            key = (
                request.start_iteration,
                request.iterations or self.training.iterations,
                request.snapshot[0] if request.snapshot else None,
                self.options.test_curve_at(request.level),
            )
            groups.setdefault(key, []).append((i, request, paths, self._prepare_level(request, paths)))
        for (start, end, snapshot_at, test_curve), members in groups.items():
            if end <= start:
                raise LotteryError(f"{members[0][1].label} would train from iteration {start} to {end}: nothing")
            for lo in range(0, len(members), speed.together):
                chunk = members[lo : lo + speed.together]
                label = (
                    chunk[0][1].label
                    if len(chunk) == 1
                    else f"{len(chunk)} networks, level {', '.join(sorted({str(m[1].level) for m in chunk}))}"
                )
                schedule = Schedule(
                    checkpoint_every=self.options.checkpoint_every,
                    start_iteration=start,
                    snapshot_at=snapshot_at,
                    test_curve=test_curve,
                    debug=self.options.debug,
                    progress=self.options.progress,
                    description=label,
                )
                results = train_many(
                    [job for *_, job in chunk],
                    self.data,
                    replace(self.training, iterations=end),
                    schedule,
                    augment=flip_and_crop if self.augment else None,
                    eval_dtype=speed.eval_dtype,
                    sparse=speed.sparse_below if torch.device(self.options.device).type == "cpu" else None,
                )
                for (i, request, paths, _), result in zip(chunk, results):
                    out[i] = record_level(request, paths, result, self.seeds(request.trial), self.numerics)
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
        model = self.build_model()
        model.load_state_dict(request.start_state)
        apply_mask(model, mask)
        return Job(model, mask, self.seeds(request.trial)["trial_seed"], checkpoint=paths.checkpoint)
