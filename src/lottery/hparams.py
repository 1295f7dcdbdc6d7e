"""Hyperparameters as frozen dataclasses, and the experiment name derived from them.

An experiment is named by a hash of its *non-default* hyperparameters, so adding a new field
with a default later does not rename existing experiments. ``levels`` and ``trials`` are not
part of the name: asking for more of them extends an experiment instead of starting another.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from .errors import UsageError


@dataclass(frozen=True)
class ModelHparams:
    name: str = "lenet_300_100"
    dropout: float = 0.0


@dataclass(frozen=True)
class DatasetHparams:
    name: str = "mnist"
    validation_size: int | None = None  # None: the data set's default (5,000 for MNIST/CIFAR-10)
    split_seed: int = 0  # which training examples are held out for validation
    augment: bool = False  # random flip + 4-pixel pad-and-crop (CIFAR ResNet)


@dataclass(frozen=True)
class TrainingHparams:
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1.2e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    batch_size: int = 60
    iterations: int = 50_000
    eval_every: int = 100
    warmup: int = 0  # linear learning-rate warmup over this many iterations
    lr_drops: tuple[int, ...] = ()  # iterations at which the learning rate is multiplied by lr_drop_factor
    lr_drop_factor: float = 0.1
    precision: str = "fp32"  # fp32 | bf16 | fp16: autocast dtype of the forward/backward (weights stay float32)


@dataclass(frozen=True)
class PruningHparams:
    strategy: str = "layerwise"  # layerwise | global
    conv_rate: float = 0.0  # fraction of remaining weights pruned per round, per kind of layer
    fc_rate: float = 0.2
    output_rate: float = 0.1
    shortcut_rate: float = 0.0
    global_rate: float = 0.2  # strategy=global: fraction of all prunable weights ranked together
    global_kinds: tuple[str, ...] = ("conv",)  # strategy=global: kinds of layer ranked together
    ignore: tuple[str, ...] = ()  # parameter names never pruned


@dataclass(frozen=True)
class ExperimentHparams:
    model: ModelHparams = field(default_factory=ModelHparams)
    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)
    pruning: PruningHparams = field(default_factory=PruningHparams)
    seed: int = 0  # trial t uses seed + t
    rewind_iteration: int = 0  # reset survivors to their weights at this iteration (0: to θ0)

    def validate(self) -> None:
        t, p = self.training, self.pruning
        if t.optimizer not in ("adam", "sgd"):
            raise UsageError(f"unknown optimizer {t.optimizer!r}; choose adam or sgd")
        for name, value in (("iterations", t.iterations), ("batch size", t.batch_size),
                            ("eval interval", t.eval_every)):
            if value <= 0:
                raise UsageError(f"{name} must be positive, got {value}")
        if t.lr <= 0:
            raise UsageError(f"learning rate must be positive, got {t.lr}")
        if t.warmup < 0 or t.weight_decay < 0:
            raise UsageError("warmup and weight decay must not be negative")
        if not 0 <= self.model.dropout < 1:
            raise UsageError(f"dropout {self.model.dropout} must be in [0, 1)")
        if p.strategy not in ("layerwise", "global"):
            raise UsageError(f"unknown pruning strategy {p.strategy!r}; choose layerwise or global")
        for name in ("conv_rate", "fc_rate", "output_rate", "shortcut_rate", "global_rate"):
            rate = getattr(p, name)
            if not 0 <= rate < 1:
                raise UsageError(f"pruning rate {name.replace('_', ' ')}={rate} is impossible: it must be in [0, 1)")
        if not 0 <= self.rewind_iteration < t.iterations:
            raise UsageError(f"rewind iteration {self.rewind_iteration} must be in [0, iterations)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentHparams":
        def build(kind, values):
            names = {f.name for f in dataclasses.fields(kind)}
            unknown = set(values) - names
            if unknown:
                raise ValueError(f"unknown {kind.__name__} fields: {sorted(unknown)}")
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
            return kind(**values)

        d = dict(d)
        parts = {"model": ModelHparams, "dataset": DatasetHparams, "training": TrainingHparams,
                 "pruning": PruningHparams}
        for key, kind in parts.items():
            d[key] = build(kind, d.get(key, {}))
        return build(cls, d)

    def non_default(self) -> dict:
        """Fields that differ from the dataclass defaults, nested like to_dict()."""
        out: dict = {}
        default = ExperimentHparams()
        for f in dataclasses.fields(self):
            value, base = getattr(self, f.name), getattr(default, f.name)
            if dataclasses.is_dataclass(value):
                diff = {k: v for k, v in dataclasses.asdict(value).items() if dataclasses.asdict(base)[k] != v}
                if diff:
                    out[f.name] = diff
            elif value != base:
                out[f.name] = value
        return out

    def digest(self) -> str:
        text = json.dumps(self.non_default(), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def name(self) -> str:
        return f"{self.model.name}-{self.dataset.name}-{self.digest()}"
