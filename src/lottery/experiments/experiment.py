"""An experiment folder: its hyperparameters, lock, data, models and the training of one level."""

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import filelock
import torch

from ..data import DataSplits, load_splits
from ..data.augment import flip_and_crop
from ..errors import LotteryError
from ..hparams import ExperimentHparams
from ..models import LotteryModel, get_model_spec
from ..pruning import (Mask, apply_mask, density, full_mask, global_magnitude_prune, layer_density,
                       layerwise_magnitude_prune)
from ..seeds import derive_seed, generator
from ..training.batched import Job, SpeedOptions, train_many
from .layout import FORMAT_VERSION, ExperimentPaths, LevelPaths
from .records import check_numerics, finished_record, numerics, remove_stale_temp_files
from ..storage import load_json, load_tensors, save_json, save_tensors


class Experiment:
    """Use as a context manager: entering creates/validates the folder and takes its lock."""

    def __init__(self, hp: ExperimentHparams, root: Path, *, data_dir: Path | None = None,
                 download: bool = False, device: str = "cpu", progress: bool = True, debug: bool = False,
                 checkpoint_every: int = 1000, data: DataSplits | None = None, speed: SpeedOptions | None = None):
        hp.validate()
        get_model_spec(hp.model.name)  # fail early on an unknown model
        self.hp = hp
        self.paths = ExperimentPaths(Path(root) / hp.name())
        self.data_dir, self.download, self.device = data_dir, download, torch.device(device)
        self.progress, self.debug, self.checkpoint_every = progress, debug, checkpoint_every
        self._data = data
        self.given_data = data  # in-memory data (None: loaded by name); workers reopening this experiment reuse it
        self._lock = None
        self.speed = speed or SpeedOptions()  # how networks train: batched together, eval precision
        self._deferred: list[LevelRequest] | None = None  # train_level calls queued by deferring()

    # -- folder, lock -------------------------------------------------------------------------
    def __enter__(self) -> "Experiment":
        try:
            self.paths.folder.mkdir(parents=True, exist_ok=True)
            probe = self.paths.folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise LotteryError(f"cannot write results to {self.paths.folder}: {e.strerror}; "
                               "choose another folder with --out") from None
        self._check_or_write_hparams()
        self._lock = filelock.FileLock(str(self.paths.lock))
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise LotteryError(f"another lottery process is already running the experiment in "
                               f"{self.paths.folder}; wait for it to finish (or stop it) and run again") from None
        try:
            remove_stale_temp_files(self.paths.folder)
            check_numerics(self.paths, self.numerics)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()

    def _check_or_write_hparams(self) -> None:
        stored = load_json(self.paths.hparams)
        if stored is None:
            if self.paths.hparams.exists():
                raise LotteryError(f"{self.paths.hparams} is unreadable; the results folder is damaged. "
                                   "Move it aside and run again")
            save_json(self.paths.hparams, {"format_version": FORMAT_VERSION, "name": self.hp.name(),
                                           "hparams": self.hp.to_dict(), "non_default": self.hp.non_default()})
            return
        if stored.get("format_version") != FORMAT_VERSION:
            raise LotteryError(f"{self.paths.folder} was written by an incompatible lottery version "
                               f"(format {stored.get('format_version')}, this version reads {FORMAT_VERSION}); "
                               "use another --out folder or that version of lottery")
        if stored.get("hparams") != json.loads(json.dumps(self.hp.to_dict())):  # JSON stores tuples as lists
            raise LotteryError(f"{self.paths.hparams} holds different hyperparameters than this run; "
                               "the folder is not this experiment's. Move it aside and run again")

    # -- data, models ------------------------------------------------------------------------
    @property
    def data(self) -> DataSplits:
        if self._data is None:
            d = self.hp.dataset
            self._data = load_splits(d.name, self.data_dir, self.download, d.validation_size, d.split_seed)
        if self._data.train_x.device != self.device:
            self._data = self._data.to(self.device)
        return self._data

    def build_model(self) -> LotteryModel:
        data = self.data
        spec = get_model_spec(self.hp.model.name)
        return spec.build(data.input_shape, data.num_classes, dropout=self.hp.model.dropout).to(self.device)

    @cached_property
    def prunable_kinds(self) -> dict[str, str]:
        """Prunable weight name -> kind, without the layers the user asked to ignore."""
        kinds = self.build_model().prunable_kinds()
        unknown = [name for name in self.hp.pruning.ignore if name not in kinds]
        if unknown:
            raise LotteryError(f"--ignore names unknown layers {unknown}; prunable layers are {sorted(kinds)}")
        return {n: k for n, k in kinds.items() if n not in self.hp.pruning.ignore}

    def trial_seed(self, trial: int) -> int:
        return self.hp.seed + trial

    def fresh_init(self, trial: int, *purpose) -> dict:
        """A state dict drawn from the init distribution with a seed named by (trial, purpose)."""
        model = self.build_model().cpu()  # drawn on the CPU: same θ0 on every device (and CPU generators)
        model.reset_parameters(generator(self.trial_seed(trial), "init", *purpose))
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def initial_state(self, trial: int) -> dict:
        """θ0 of a trial, saved once and reused by every level and control."""
        paths = self.paths.trial(trial)
        state = load_tensors(paths.init)
        if state is None:
            state = self.fresh_init(trial)
            save_tensors(paths.init, state)
            save_json(paths.seeds, self.seeds(trial))
        return state

    def seeds(self, trial: int) -> dict:
        s = self.trial_seed(trial)
        return {"trial_seed": s, "init": derive_seed(s, "init"), "data_order": derive_seed(s, "data order"),
                "dropout": derive_seed(s, "dropout"), "validation_split": self.hp.dataset.split_seed}

    # -- pruning ------------------------------------------------------------------------------
    def full_mask(self) -> Mask:
        return {n: m.cpu() for n, m in full_mask(self.build_model(), self.prunable_kinds).items()}

    def prune(self, weights: dict, mask: Mask) -> Mask:
        """One round of magnitude pruning of ``weights`` (a trained state dict) under ``mask``."""
        p = self.hp.pruning
        if p.strategy == "global":
            names = [n for n, kind in self.prunable_kinds.items() if kind in p.global_kinds]
            return global_magnitude_prune(weights, mask, p.global_rate, names)
        rate_of = {"conv": p.conv_rate, "fc": p.fc_rate, "output": p.output_rate, "shortcut": p.shortcut_rate}
        rates = {n: rate_of[kind] for n, kind in self.prunable_kinds.items()}
        return layerwise_magnitude_prune(weights, mask, rates)

    # -- one level ----------------------------------------------------------------------------
    def finished(self, paths: LevelPaths) -> dict | None:
        """The level's metrics if it finished intact (a damaged level is redone: see records.py)."""
        return finished_record(paths)

    @property
    def numerics(self) -> dict:
        return numerics(self.speed, self.device)

    def train_level(self, trial: int, branch: str, level: int, start_state: dict, mask: Mask, *,
                    start_iteration: int = 0, snapshot: tuple[int, Path] | None = None,
                    extra: dict | None = None):
        """Train one masked network from ``start_state`` and record it. Returns (metrics, result);
        result is None when the level had already finished (nothing is redone).
        ``snapshot=(k, path)`` also saves the weights at iteration k (θk) to ``path``.
        Inside :meth:`deferring` an unfinished level is only queued, and (None, None) is returned."""
        request = LevelRequest(trial, branch, level, start_state, mask, start_iteration, snapshot, extra)
        if self._deferred is not None:
            done = self.finished(request.paths(self))
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

    def train_levels(self, requests: list["LevelRequest"]) -> list[tuple[dict, object]]:
        """Train and record several levels; returns (metrics, result) for each, like train_level.
        Levels that start at the same iteration (and snapshot at the same one) train in one batched
        computation, at most ``speed.together`` networks at a time (training/batched.py)."""
        out: list = [None] * len(requests)
        groups: dict[tuple, list] = {}
        for i, request in enumerate(requests):
            paths = request.paths(self)
            done = self.finished(paths)
            if done is not None:
                out[i] = (done, None)
                continue
            key = (request.start_iteration, request.snapshot[0] if request.snapshot else None)
            groups.setdefault(key, []).append((i, request, paths, self._prepare_level(request, paths)))
        for (start, snapshot_at), members in groups.items():
            for lo in range(0, len(members), self.speed.together):
                chunk = members[lo:lo + self.speed.together]
                label = (chunk[0][1].label if len(chunk) == 1 else
                         f"{len(chunk)} networks, level {', '.join(sorted({str(m[1].level) for m in chunk}))}")
                results = train_many([job for *_, job in chunk], self.data, self.hp.training,
                                     checkpoint_every=self.checkpoint_every,
                                     augment=flip_and_crop if self.hp.dataset.augment else None,
                                     start_iteration=start, snapshot_at=snapshot_at, debug=self.debug,
                                     progress=self.progress, description=label, eval_dtype=self.speed.eval_dtype,
                                     sparse=self.speed.sparse_below if self.device.type == "cpu" else None)
                for (i, request, paths, _), result in zip(chunk, results):
                    out[i] = (self._record_level(request, paths, result), result)
        return out

    def _prepare_level(self, request: "LevelRequest", paths: LevelPaths) -> Job:
        """Save (or check) the level's mask; the masked network at its start weights."""
        mask = request.mask
        stored = load_tensors(paths.mask)
        if stored is None:
            save_tensors(paths.mask, mask)
        elif stored.keys() != mask.keys() or any(not torch.equal(stored[n], mask[n].cpu()) for n in mask):
            raise LotteryError(f"{paths.mask} differs from the mask recomputed for this level; the results "
                               f"folder is inconsistent. Move {paths.folder} aside and run again")
        model = self.build_model()
        model.load_state_dict(request.start_state)
        apply_mask(model, mask)
        return Job(model, mask, self.trial_seed(request.trial), checkpoint=paths.checkpoint)

    def _record_level(self, request: "LevelRequest", paths: LevelPaths, result) -> dict:
        mask, snapshot = request.mask, request.snapshot
        measured = density(mask)
        check_pruned_are_zero(result.final_state, mask, paths.folder)
        metrics = {"trial": request.trial, "branch": request.branch, "level": request.level, "density": measured,
                   "layer_density": layer_density(mask), "summary": result.summary,
                   "curve": result.curve.to_dict(), "seeds": self.seeds(request.trial), "numerics": self.numerics,
                   **(request.extra or {})}
        save_tensors(paths.final, {k: v.cpu() for k, v in result.final_state.items()})
        if snapshot:
            save_tensors(snapshot[1], {k: v.cpu() for k, v in result.snapshot.items()})
        save_json(paths.metrics, metrics)
        if paths.checkpoint.exists():
            os.unlink(paths.checkpoint)
        for leftover in paths.folder.glob(".*.tmp"):  # a write cut short by a crash (storage.atomic_write)
            leftover.unlink(missing_ok=True)
        return metrics


@dataclass
class LevelRequest:
    """One network to train for (trial, branch, level): Experiment.train_level's arguments."""

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

    def paths(self, exp: "Experiment") -> LevelPaths:
        return exp.paths.trial(self.trial).level(self.branch, self.level)


def check_pruned_are_zero(final_state: dict, mask: Mask, where: Path) -> None:
    """What is saved must match the mask: every pruned weight exactly zero."""
    nonzero = sum(int(torch.count_nonzero(final_state[n].cpu()[~m.cpu()])) for n, m in mask.items())
    if nonzero:
        raise LotteryError(f"invariant violated in {where}: {nonzero} pruned weights are nonzero after training")
