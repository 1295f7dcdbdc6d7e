"""How figures and tables name an experiment's data set. The registry name, except for a data set whose
results must never pass for another's: the JPEG copy of CIFAR-10 reads "CIFAR-10 (JPEG copy)"."""

from ..data.cifar_jpeg import LABEL as CIFAR10_JPEG_LABEL
from ..data.cifar_jpeg import NAME as CIFAR10_JPEG
from ..hparams import ExperimentHparams

DATASET_LABELS = {CIFAR10_JPEG: CIFAR10_JPEG_LABEL}


def dataset_label(hparams: ExperimentHparams) -> str:
    """The data set of ``hparams`` as titles print it."""
    return DATASET_LABELS.get(hparams.dataset.name, hparams.dataset.name)


def experiment_title(name: str, hparams: ExperimentHparams, trials: int) -> str:
    """A figure's title: network, data set and trials, then the experiment folder's name."""
    runs = f"{trials} trial{'s' if trials != 1 else ''}"
    return f"{hparams.model.name} on {dataset_label(hparams)}, {runs} ({name})"


def datasets_title(hparams: list[ExperimentHparams]) -> str:
    """The data sets of several experiments, each once: the default title of figures that compare them."""
    return ", ".join(dict.fromkeys(dataset_label(h) for h in hparams))
