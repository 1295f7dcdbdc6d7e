"""Hyperparameters as frozen dataclasses, and the experiment name derived from them.

An experiment is named by a hash of its *non-default* hyperparameters, so adding a new field
with a default later does not rename existing experiments. ``levels`` and ``trials`` are not
part of the name: asking for more of them extends an experiment instead of starting another.

Each field is declared with :func:`~lottery.settings.setting`: its help text, its command-line flag (by
default the field name with dashes), how a flag's text is parsed and the check its value must pass. A
pruning strategy declares its own fields (pruning/strategy.py); :class:`PruningHparams` reads them from
the strategy registry. The command line (cli.py) generates the experiment flags from these, and
:meth:`ExperimentHparams.validate` runs the checks: each rule lives in one place.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import LotteryError, UsageError
from .pruning.strategy import STRATEGIES
from .settings import (
    default_of,
    each,
    flag_of,
    fraction,
    int_list,
    name_list,
    non_negative_int,
    non_negative_number,
    one_of,
    positive_int,
    positive_number,
    setting,
    show,
)


def _models() -> list[str]:
    from .models import model_names

    return model_names()


def _datasets() -> list[str]:
    from .data import dataset_names

    return dataset_names()


OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class ModelHparams:
    name: str = setting("lenet_300_100", flag="model", choices=_models, metavar="NAME", help="the network")
    dropout: float = setting(
        0.0, check=fraction, help="dropout rate on the hidden fully connected layers (conv2/4/6 only)"
    )


@dataclass(frozen=True)
class DatasetHparams:
    name: str = setting("mnist", flag="dataset", choices=_datasets, metavar="NAME", help="the data set")
    validation_size: int | None = setting(
        None,
        parse=int,
        check=lambda v: None if v is None else positive_int(v),
        metavar="N",
        help="training examples held out for validation (default: the data set's, 5,000 for MNIST/CIFAR-10)",
    )
    split_seed: int = setting(0, metavar="SEED", help="which training examples are held out for validation")
    augment: bool = setting(
        False, help="random flip + 4-pixel pad-and-crop of training images (on in the resnet18 presets)"
    )


@dataclass(frozen=True)
class TrainingHparams:
    optimizer: str = setting("adam", choices=lambda: list(OPTIMIZERS), check=one_of(OPTIMIZERS), help="the optimizer")
    lr: float = setting(1.2e-3, check=positive_number, help="learning rate")
    momentum: float = setting(0.9, check=non_negative_number, help="SGD momentum (sgd only)")
    weight_decay: float = setting(0.0, check=non_negative_number, help="L2 weight decay")
    batch_size: int = setting(60, check=positive_int, help="training examples per iteration")
    iterations: int = setting(50_000, check=positive_int, help="training iterations per level")
    eval_every: int = setting(100, check=positive_int, help="iterations between evaluations (paper: 100)")
    warmup: int = setting(
        0, check=non_negative_int, metavar="ITERATIONS", help="linear learning-rate warmup over this many iterations"
    )
    lr_drops: tuple[int, ...] = setting(
        (),
        parse=int_list,
        check=each(positive_int),
        metavar="I,J",
        help="iterations at which the learning rate is multiplied by --lr-drop-factor",
    )
    lr_drop_factor: float = setting(
        0.1, check=positive_number, metavar="FACTOR", help="what each --lr-drops multiplies the learning rate by"
    )
    precision: str = setting(
        "fp32",
        choices=lambda: list(PRECISIONS),
        check=one_of(PRECISIONS),
        help="training compute precision: autocast dtype of the forward and backward passes; "
        "weights and optimizer state stay float32 (fp16 needs CUDA)",
    )


def _strategies(default: str) -> list:
    """The registered pruning strategies, the default one first."""
    return sorted(STRATEGIES.values(), key=lambda s: (s.name != default, s.name))


def with_strategy_settings(cls: type) -> type:
    """Class decorator, applied before @dataclass: after the class's first field (the strategy), the
    settings every registered pruning strategy declares, the default strategy's first."""
    first, *rest = cls.__annotations__
    added: dict[str, dataclasses.Field] = {}
    for strategy in _strategies(getattr(cls, first).default):
        for name, f in strategy.settings.items():
            if name in added or name in cls.__annotations__:
                raise LotteryError(f"pruning setting {name!r} of strategy {strategy.name!r} is declared twice")
            added[name] = field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)
    kinds = {name: type(f.default_factory() if callable(f.default_factory) else f.default) for name, f in added.items()}
    old = dict(cls.__annotations__)
    cls.__annotations__ = {first: old[first], **kinds, **{name: old[name] for name in rest}}
    for name, f in added.items():
        setattr(cls, name, f)
    return cls


DEFAULT_STRATEGY = "layerwise"


@dataclass(frozen=True)
@with_strategy_settings
class PruningHparams:
    """The strategy and the settings every strategy reads. Each strategy's own settings are fields too:
    the strategy declares them (pruning/strategy.py) and they are added here when the class is made."""

    strategy: str = setting(
        DEFAULT_STRATEGY,
        flag="prune-strategy",
        choices=STRATEGIES.names,
        help="; ".join(f"{s.name}: {s.summary}" for s in _strategies(DEFAULT_STRATEGY)),
    )
    ignore: tuple[str, ...] = setting(
        (), parse=name_list, metavar="NAMES", help="comma-separated parameter names never pruned"
    )

    if TYPE_CHECKING:  # the strategies' fields are added when the class is made: mypy cannot see them

        def __init__(self, strategy: str = ..., ignore: tuple[str, ...] = ..., **settings: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...


@dataclass(frozen=True)
class ExperimentHparams:
    model: ModelHparams = field(default_factory=ModelHparams)
    dataset: DatasetHparams = field(default_factory=DatasetHparams)
    training: TrainingHparams = field(default_factory=TrainingHparams)
    pruning: PruningHparams = field(default_factory=PruningHparams)
    seed: int = setting(0, help="trial t uses seed + t (initialization, data order, dropout)")
    rewind_iteration: int = setting(
        0,
        flag="rewind",
        check=non_negative_int,
        metavar="K",
        help="reset survivors to their weights at iteration K instead of θ0",
    )

    def settings(self):
        """(section object, field) for every leaf field, sections first-level (model, dataset, ...) and self."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                yield from ((value, g) for g in dataclasses.fields(value))
            else:
                yield self, f

    def validate(self) -> None:
        """Every field's own check, then the rules that tie fields together; one-line UsageErrors."""
        for owner, f in self.settings():
            value = getattr(owner, f.name)
            check = f.metadata.get("check")
            problem = check(value) if check else None
            if problem:
                raise UsageError(f"{flag_of(type(owner), f.name)} {show(value)} {problem}")
        t = self.training
        if not self.rewind_iteration < t.iterations:
            raise UsageError(f"rewind iteration {self.rewind_iteration} must be in [0, iterations)")
        for owner, name, why in self.unused():
            value, default = getattr(owner, name), default_of(type(owner), name)
            if value != default:
                raise UsageError(
                    f"{flag_of(type(owner), name)} {show(value)} is unused {why}; leave it at "
                    f"{show(default)} (a setting the run does not use must not make a new experiment)"
                )

    def unused(self) -> list[tuple[object, str, str]]:
        """(section, field, why) for the fields this run does not read (they must hold their defaults)."""
        out: list[tuple[object, str, str]] = []
        if self.training.optimizer != "sgd":
            out.append((self.training, "momentum", f"with --optimizer {self.training.optimizer}"))
        strategy = STRATEGIES.get(self.pruning.strategy)
        own = set(strategy.settings)
        if own - {f.name for f in dataclasses.fields(PruningHparams)}:
            raise LotteryError(
                f"pruning strategy {strategy.name!r} declares settings PruningHparams lacks: a strategy with "
                "settings must be a module in src/lottery/pruning/strategies/ (found before PruningHparams is made)"
            )
        others = {name for strategy in STRATEGIES.values() for name in strategy.settings}
        out += [(self.pruning, name, f"by --prune-strategy {self.pruning.strategy}") for name in sorted(others - own)]
        return out

    def same_experiment(self, stored: dict) -> bool:
        """Whether ``stored`` (a to_dict() read back from a results folder) is this experiment: equal in
        every field this run reads. Fields it does not read may hold older defaults."""
        try:
            other = ExperimentHparams.from_dict(stored)
            return _used_dict(other) == _used_dict(self)
        except (ValueError, TypeError, AttributeError, UsageError):
            return False

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
        parts = {
            "model": ModelHparams,
            "dataset": DatasetHparams,
            "training": TrainingHparams,
            "pruning": PruningHparams,
        }
        for key, kind in parts.items():
            d[key] = build(kind, d.get(key, {}))
        return build(cls, d)

    def non_default(self) -> dict:
        """Fields that differ from the dataclass defaults, nested like to_dict()."""
        out: dict = {}
        default = ExperimentHparams()
        for f in dataclasses.fields(self):
            value, base = getattr(self, f.name), getattr(default, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
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


def _used_dict(hp: ExperimentHparams) -> dict:
    d = json.loads(json.dumps(hp.to_dict()))  # JSON stores tuples as lists
    sections = {id(getattr(hp, f.name)): f.name for f in dataclasses.fields(hp)}
    for owner, name, _ in hp.unused():
        d[sections[id(owner)]].pop(name)
    return d
