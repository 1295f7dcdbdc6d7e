"""An experiment folder: its hyperparameters and lock, its data, models, seeds and θ0, and pruning.
Training and recording levels: experiments/level_queue.py and experiments/recording.py."""

from dataclasses import replace
from functools import cached_property
from pathlib import Path

import filelock
import torch

from ..data import BatchStream, DataSplits
from ..errors import LotteryError, UsageError
from ..hparams import ExperimentHparams
from ..models import LotteryModel, get_model_spec
from ..pruning import Mask, PruningStrategy, full_mask, get_strategy
from ..seeds import derive_seed, generator
from ..options import RunOptions, SpeedOptions
from .build import build_model, load_data, trial_seed
from .folder import ExperimentFolder
from .data_record import KEY as DATA_KEY, check_data_record, data_record
from .layout import FORMAT_VERSION, ExperimentPaths, LevelPaths
from .level_queue import LevelQueue
from .level_record import numerics
from .recording import check_numerics, finished_record, remove_stale_temp_files
from ..storage import load_json, load_tensors, save_json, save_tensors


class Experiment:
    """Use as a context manager: entering creates/validates the folder and takes its lock."""

    def __init__(
        self,
        hp: ExperimentHparams,
        root: Path,
        options: RunOptions | None = None,
        *,
        data: DataSplits | None = None,
        **option_fields,
    ):
        """``options``: how and where it runs (:class:`RunOptions`); single fields of it may be given as
        keywords instead (``Experiment(hp, root, progress=False)``). ``data``: in-memory data instead of
        the data set named in ``hp``."""
        hp.validate()
        get_model_spec(hp.model.name)  # fail early on an unknown model
        self.hp = hp
        self.paths = ExperimentPaths(Path(root) / hp.name())
        self.options = replace(options or RunOptions(), **option_fields)
        self.device = torch.device(self.options.device)
        self._data = data
        self.given_data = data  # in-memory data (None: loaded by name); workers reopening this experiment reuse it
        self._lock: filelock.BaseFileLock | None = None

    @property
    def progress(self) -> bool:
        return self.options.progress

    @property
    def speed(self) -> SpeedOptions:
        """How networks train: batched together, evaluation precision, sparse kernels."""
        return self.options.speed

    # -- folder, lock -------------------------------------------------------------------------
    def __enter__(self) -> "Experiment":
        self.check()
        try:
            self.paths.folder.mkdir(parents=True, exist_ok=True)
            probe = self.paths.folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise LotteryError(
                f"cannot write results to {self.paths.folder}: {e.strerror}; choose another folder with --out"
            ) from None
        self._check_or_write_hparams()
        lock = self._lock = filelock.FileLock(str(self.paths.lock))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise LotteryError(
                f"another lottery process is already running the experiment in "
                f"{self.paths.folder}; wait for it to finish (or stop it) and run again"
            ) from None
        try:
            remove_stale_temp_files(self.paths.folder)
            check_numerics(ExperimentFolder(self.paths.folder), self.numerics)
            self._record_data_if_missing()
        except BaseException:
            lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()

    def check(self) -> None:
        """Refuse, with one line and before anything is written, a run that cannot work: data that is
        missing or too small for the split, a batch larger than the training set, --ignore names the
        model lacks, settings the model cannot use, a pruning strategy that would prune nothing."""
        data = self.data
        BatchStream(data.train_x, data.train_y, self.hp.training.batch_size, seed=0)  # checks the batch size
        _ = self.pruning_strategy  # setting it up refuses a strategy that would prune nothing

    def _check_or_write_hparams(self) -> None:
        stored = load_json(self.paths.hparams)
        if stored is None:
            if self.paths.hparams.exists():
                raise LotteryError(
                    f"{self.paths.hparams} is unreadable; the results folder is damaged. Move it aside and run again"
                )
            save_json(
                self.paths.hparams,
                {
                    "format_version": FORMAT_VERSION,
                    "name": self.hp.name(),
                    "hparams": self.hp.to_dict(),
                    "non_default": self.hp.non_default(),
                    DATA_KEY: data_record(self.data),
                },
            )
            return
        if stored.get("format_version") != FORMAT_VERSION:
            raise LotteryError(
                f"{self.paths.folder} was written by an incompatible lottery version "
                f"(format {stored.get('format_version')}, this version reads {FORMAT_VERSION}); "
                "use another --out folder or that version of lottery"
            )
        if not self.hp.same_experiment(stored.get("hparams")):
            raise LotteryError(
                f"{self.paths.hparams} holds different hyperparameters than this run; "
                "the folder is not this experiment's. Move it aside and run again"
            )
        self._check_data(stored)

    def _check_data(self, stored: dict) -> None:
        """Refuse to extend a folder made from other data (experiments/data_record.py)."""
        advice = "run with the data it was made from (--data-dir), or use another --out folder for this data"
        check_data_record(stored, data_record(self.data), self.paths.hparams, advice)

    def _record_data_if_missing(self) -> None:
        """Record this run's data in a folder written before data records existed (under the lock)."""
        stored = load_json(self.paths.hparams)
        if isinstance(stored, dict) and DATA_KEY not in stored:
            save_json(self.paths.hparams, {**stored, DATA_KEY: data_record(self.data)})
        elif isinstance(stored, dict):
            self._check_data(stored)  # recorded by another process since the check on entering

    # -- data, models ------------------------------------------------------------------------
    @property
    def data(self) -> DataSplits:
        if self._data is None:
            self._data = load_data(self.hp, self.options.data_dir, self.options.download)
        if self._data.train_x.device != self.device:
            self._data = self._data.to(self.device)
        return self._data

    def build_model(self) -> LotteryModel:
        return build_model(self.hp, self.data, self.device)

    @cached_property
    def prunable_kinds(self) -> dict[str, str]:
        """Prunable weight name -> kind, without the layers the user asked to ignore."""
        kinds = self.build_model().prunable_kinds()
        unknown = [name for name in self.hp.pruning.ignore if name not in kinds]
        if unknown:
            raise UsageError(f"--ignore names unknown layers {unknown}; prunable layers are {sorted(kinds)}")
        return {n: k for n, k in kinds.items() if n not in self.hp.pruning.ignore}

    def trial_seed(self, trial: int) -> int:
        return trial_seed(self.hp, trial)

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
        return {
            "trial_seed": s,
            "init": derive_seed(s, "init"),
            "data_order": derive_seed(s, "data order"),
            "dropout": derive_seed(s, "dropout"),
            "validation_split": self.hp.dataset.split_seed,
        }

    # -- pruning ------------------------------------------------------------------------------
    def full_mask(self) -> Mask:
        return {n: m.cpu() for n, m in full_mask(self.build_model(), self.prunable_kinds).items()}

    @cached_property
    def pruning_strategy(self) -> PruningStrategy:
        """The strategy of hp.pruning (pruning/strategy.py), set up for this model's prunable layers."""
        return get_strategy(self.hp.pruning.strategy).from_hparams(self.hp.pruning, self.prunable_kinds)

    def prune(self, weights: dict, mask: Mask) -> Mask:
        """One round of magnitude pruning of ``weights`` (a trained state dict) under ``mask``."""
        return self.pruning_strategy.prune(weights, mask)

    # -- one level ----------------------------------------------------------------------------
    def finished(self, paths: LevelPaths) -> dict | None:
        """The level's metrics if it finished intact (a damaged level is redone: see recording.py)."""
        return finished_record(paths)

    @property
    def numerics(self) -> dict:
        return numerics(self.speed, self.device)

    @cached_property
    def level_queue(self) -> LevelQueue:
        """Trains and records this experiment's levels (experiments/level_queue.py)."""
        return LevelQueue(self)
