"""An experiment folder: its hyperparameters and lock, its data, models, seeds and θ0, and pruning.
Training and recording levels: experiments/level_queue.py and experiments/recording.py."""

import json
from functools import cached_property
from pathlib import Path

import filelock
import torch

from ..data import DataSplits, load_splits
from ..errors import LotteryError
from ..hparams import ExperimentHparams
from ..models import LotteryModel, get_model_spec
from ..pruning import Mask, full_mask, global_magnitude_prune, layerwise_magnitude_prune
from ..seeds import derive_seed, generator
from ..training.batched import SpeedOptions
from .layout import FORMAT_VERSION, ExperimentPaths, LevelPaths
from .level_queue import LevelQueue
from .recording import LevelRequest
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
        return load_json(paths.metrics)

    @cached_property
    def level_queue(self) -> LevelQueue:
        """Trains and records this experiment's levels (experiments/level_queue.py)."""
        return LevelQueue(self)

    def train_level(self, trial: int, branch: str, level: int, start_state: dict, mask: Mask, *,
                    start_iteration: int = 0, snapshot: tuple[int, Path] | None = None,
                    extra: dict | None = None):
        """Train one masked network and record it; see :meth:`LevelQueue.train_level`."""
        return self.level_queue.train_level(trial, branch, level, start_state, mask, start_iteration=start_iteration,
                                            snapshot=snapshot, extra=extra)

    def deferring(self):
        """Queue the levels asked for in the block and train them together at its end; see
        :meth:`LevelQueue.deferring`."""
        return self.level_queue.deferring()

    def train_levels(self, requests: list[LevelRequest]) -> list[tuple[dict, object]]:
        return self.level_queue.train_levels(requests)
