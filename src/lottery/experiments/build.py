"""An experiment's data, networks and trial seeds, made from its hyperparameters. `lottery run`
(:class:`~lottery.experiments.Experiment`) and the analyses of a finished folder (analysis/instability.py)
both make them here, so that an analysis retrains exactly the networks the run trained."""

from pathlib import Path

import torch

from ..data import DataSplits, load_splits
from ..hparams import ExperimentHparams
from ..models import LotteryModel, get_model_spec


def load_data(hp: ExperimentHparams, data_dir: Path | None, download: bool) -> DataSplits:
    """The training, validation and test splits of ``hp.dataset`` (on the CPU)."""
    d = hp.dataset
    return load_splits(d.name, data_dir, download, d.validation_size, d.split_seed)


def build_model(hp: ExperimentHparams, data: DataSplits, device: torch.device) -> LotteryModel:
    """A fresh network of ``hp.model`` for ``data``'s input shape and classes, on ``device``."""
    spec = get_model_spec(hp.model.name)
    return spec.build(data.input_shape, data.num_classes, dropout=hp.model.dropout).to(device)


def trial_seed(hp: ExperimentHparams, trial: int) -> int:
    """The seed every random choice of ``trial`` derives from (θ0, data order, dropout, controls)."""
    return hp.seed + trial
