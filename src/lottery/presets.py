"""The paper's settings per model (Frankle & Carbin 2019, Figure 2), plus quick variants.

A preset is a function of nothing that returns complete ExperimentHparams; command-line flags
override single fields of it.
"""

from dataclasses import replace

from .errors import UsageError
from .hparams import DatasetHparams, ExperimentHparams, ModelHparams, PruningHparams, TrainingHparams

_PRESETS: dict[str, tuple[str, ExperimentHparams]] = {}


def register_preset(name: str, description: str, hparams: ExperimentHparams) -> None:
    _PRESETS[name] = (description, hparams)


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def describe_presets() -> str:
    return "\n".join(f"  {name:<18} {_PRESETS[name][0]}" for name in preset_names())


def get_preset(name: str) -> ExperimentHparams:
    try:
        return _PRESETS[name][1]
    except KeyError:
        raise UsageError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}") from None


LENET_MNIST = ExperimentHparams(
    model=ModelHparams("lenet_300_100"),
    dataset=DatasetHparams("mnist"),
    training=TrainingHparams(optimizer="adam", lr=1.2e-3, batch_size=60, iterations=50_000),
    pruning=PruningHparams(fc_rate=0.2, output_rate=0.1),
)
register_preset("lenet", "LeNet-300-100 on MNIST, paper settings (Adam 1.2e-3, 50K its, fc 20%, out 10%)",
                LENET_MNIST)
register_preset("lenet-digits", "LeNet-300-100 on the embedded digits data, 2,000 its (runs anywhere, ~1 min)",
                replace(LENET_MNIST, dataset=DatasetHparams("digits"),
                        training=replace(LENET_MNIST.training, iterations=2_000, eval_every=50)))
