"""Hyperparameters as frozen dataclasses, and the experiment name derived from them.

An experiment is named by a hash of its *non-default* hyperparameters, so adding a new field
with a default later does not rename existing experiments. ``levels`` and ``trials`` are not
part of the name: asking for more of them extends an experiment instead of starting another.

Each field is declared with :func:`setting`: its help text, its command-line flag (by default the
field name with dashes), how a flag's text is parsed and the check its value must pass. The
command line (cli.py) generates the experiment flags from these, and :meth:`ExperimentHparams.validate`
runs the checks: each rule lives here once.
"""

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

Check = Callable[[Any], str | None]  # value -> what is wrong with it (None: nothing)


def setting(
    default=dataclasses.MISSING,
    *,
    help: str,
    flag: str | None = None,
    check: Check | None = None,
    parse: Callable[[str], Any] | None = None,
    choices: Callable[[], list[str]] | None = None,
    metavar: str | None = None,
):
    """A hyperparameter field. ``flag``: the command-line name without dashes when it is not the field's
    name; ``parse``: text -> value for the flag (default: the type of ``default``); ``choices``: a function
    listing the flag's allowed values (called late: registries fill up on import). Names a registry does
    not know are refused where they are looked up (the model by the model registry, and so on)."""
    metadata = {"help": help, "flag": flag, "check": check, "parse": parse, "choices": choices, "metavar": metavar}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


# -- checks (shared by fields that follow the same rule) ------------------------------------------
def positive_int(value) -> str | None:
    return None if isinstance(value, int) and value > 0 else "must be a positive integer"


def non_negative_int(value) -> str | None:
    return None if isinstance(value, int) and value >= 0 else "must be 0 or a positive integer"


def positive_number(value) -> str | None:
    return None if math.isfinite(value) and value > 0 else "must be a positive finite number"


def non_negative_number(value) -> str | None:
    return None if math.isfinite(value) and value >= 0 else "must be a finite number, 0 or more"


def pruning_rate(value) -> str | None:
    return None if 0 <= value < 1 else "is impossible: a pruning rate must be in [0, 1)"


def fraction(value) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def each(check: Check) -> Check:
    def check_all(values) -> str | None:
        return next((f"{problem} (at {v})" for v in values for problem in [check(v)] if problem), None)

    return check_all


def one_of(allowed: tuple[str, ...]) -> Check:
    return lambda value: None if value in allowed else f"is unknown; choose one of: {', '.join(allowed)}"


def layer_kinds(kinds) -> str | None:
    from .models.base import KINDS  # the kinds models tag their weights with

    if not kinds:
        return "must name at least one kind of layer"
    unknown = [k for k in kinds if k not in KINDS]
    return f"names unknown kinds of layer {unknown}; choose among {', '.join(KINDS)}" if unknown else None


def int_list(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def name_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _models() -> list[str]:
    from .models import model_names

    return model_names()


def _datasets() -> list[str]:
    from .data import dataset_names

    return dataset_names()


def _strategies() -> list[str]:
    from .pruning import strategy_names

    return strategy_names()


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


@dataclass(frozen=True)
class PruningHparams:
    strategy: str = setting(
        "layerwise",
        flag="prune-strategy",
        choices=_strategies,
        help="layerwise: each layer its kind's rate; global: the layers of --prune-global-kinds ranked together",
    )
    conv_rate: float = setting(
        0.0,
        flag="prune-conv",
        check=pruning_rate,
        metavar="RATE",
        help="layerwise: fraction of each conv layer's remaining weights pruned per round",
    )
    fc_rate: float = setting(
        0.2,
        flag="prune-fc",
        check=pruning_rate,
        metavar="RATE",
        help="layerwise: the same for hidden fully connected layers",
    )
    output_rate: float = setting(
        0.1, flag="prune-output", check=pruning_rate, metavar="RATE", help="layerwise: the same for the output layer"
    )
    shortcut_rate: float = setting(
        0.0,
        flag="prune-shortcut",
        check=pruning_rate,
        metavar="RATE",
        help="layerwise: the same for ResNet 1x1 shortcut convs",
    )
    global_rate: float = setting(
        0.2,
        flag="prune-global",
        check=pruning_rate,
        metavar="RATE",
        help="global: fraction of the remaining weights of the ranked layers pruned per round",
    )
    global_kinds: tuple[str, ...] = setting(
        ("conv", "fc"),
        flag="prune-global-kinds",
        parse=name_list,
        check=layer_kinds,
        metavar="KINDS",
        help="global: kinds of layer ranked together (default conv,fc: all but the output layer and shortcuts)",
    )
    ignore: tuple[str, ...] = setting(
        (), parse=name_list, metavar="NAMES", help="comma-separated parameter names never pruned"
    )


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
                raise UsageError(f"{flag_of(type(owner), f.name)} {_show(value)} {problem}")
        t = self.training
        if not self.rewind_iteration < t.iterations:
            raise UsageError(f"rewind iteration {self.rewind_iteration} must be in [0, iterations)")
        for owner, name, why in self.unused():
            value, default = getattr(owner, name), default_of(type(owner), name)
            if value != default:
                raise UsageError(
                    f"{flag_of(type(owner), name)} {_show(value)} is unused {why}; leave it at "
                    f"{_show(default)} (a setting the run does not use must not make a new experiment)"
                )

    def unused(self) -> list[tuple[object, str, str]]:
        """(section, field, why) for the fields this run does not read (they must hold their defaults)."""
        from .pruning import get_strategy, strategy_fields

        out: list[tuple[object, str, str]] = []
        if self.training.optimizer != "sgd":
            out.append((self.training, "momentum", f"with --optimizer {self.training.optimizer}"))
        own = set(get_strategy(self.pruning.strategy).fields)
        out += [
            (self.pruning, name, f"by --prune-strategy {self.pruning.strategy}")
            for name in sorted(strategy_fields() - own)
        ]
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


def _field(kind: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(kind) if f.name == name)


def default_of(kind: type, name: str):
    f = _field(kind, name)
    # Every field has a default or a default_factory; callable() tells mypy which one this is.
    return f.default_factory() if callable(f.default_factory) else f.default


def flag_of(kind: type, name: str) -> str:
    """The command-line flag of a field, e.g. ``--prune-conv`` for PruningHparams.conv_rate."""
    return "--" + (_field(kind, name).metadata.get("flag") or name.replace("_", "-"))


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
