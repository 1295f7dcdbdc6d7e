"""A finished level's record: what its ``metrics.json`` holds, defined once for the code that writes it
(experiments/recording.py) and every reader (experiments/folder.py, reports, analyses, export).

The JSON form is a flat object: ``trial``, ``branch``, ``level``, ``density`` (Pm as a fraction),
``layer_density``, ``summary``, ``curve``, ``seeds``, ``numerics`` (absent in levels recorded before it
existed), and whatever the branch adds (``control``, ``oneshot``). ``curve`` is the learning curve as
training/metrics.py writes it; this module keeps it as it is.

``numerics`` holds the settings that change numbers without being part of the experiment's name. Settings in
:data:`MUST_MATCH` change them by more than float rounding, so a folder whose finished levels used other
values is not extended with this run's.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

MUST_MATCH = ("eval_precision",)  # bf16 evaluation changes accuracies by more than float rounding
RECORDED_BEFORE_NUMERICS = {"eval_precision": "fp32"}  # levels written before records held "numerics"


class NotALevelRecord(ValueError):
    """A parsed metrics.json that is not a level record; the message says what is wrong."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Summary:
    """What training read off a level's learning curve (training/metrics.summarize), and how it trained
    (``other``: evaluation precision, networks trained together, train-accuracy examples, ...)."""

    early_stop_iteration: int  # minimum validation loss
    val_loss_at_early_stop: float
    val_acc_at_early_stop: float
    test_acc_at_early_stop: float
    train_acc_at_early_stop: float
    test_acc_final: float
    val_loss_final: float
    train_acc_final: float
    other: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "other"}
        return {**numbers, **self.other}

    @classmethod
    def from_json(cls, value) -> "Summary":
        if not isinstance(value, dict):
            raise NotALevelRecord("its summary is not an object")
        numbers: dict[str, Any] = {f.name: value.get(f.name) for f in dataclasses.fields(cls) if f.name != "other"}
        wrong = [k for k, v in numbers.items() if not (_integer(v) if k == "early_stop_iteration" else _number(v))]
        if wrong:
            raise NotALevelRecord(f"its summary lacks the number(s) {', '.join(wrong)}")
        return cls(**numbers, other={k: v for k, v in value.items() if k not in numbers})


# The summary numbers that tables and figures aggregate, in their column order.
REPORTED_SUMMARY = (
    "early_stop_iteration",
    "val_loss_at_early_stop",
    "test_acc_at_early_stop",
    "train_acc_at_early_stop",
    "test_acc_final",
    "train_acc_final",
)


@dataclass(frozen=True)
class LevelRecord:
    """One trained network of an experiment: where it lives (trial, branch folder, level) and what it measured."""

    trial: int
    branch: str  # the branch's folder: "ticket", "reinit_0", ...
    level: int
    density: float  # Pm: the fraction of prunable weights kept
    layer_density: dict[str, float]
    summary: Summary
    curve: dict  # the learning curve, as training/metrics.py writes it
    seeds: dict  # the trial's named seeds
    numerics: dict | None = None  # settings that change numbers; None in levels recorded before it existed
    extra: dict = field(default_factory=dict)  # what the branch adds: "control", "oneshot"

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "trial": self.trial,
            "branch": self.branch,
            "level": self.level,
            "density": self.density,
            "layer_density": self.layer_density,
            "summary": self.summary.to_json(),
            "curve": self.curve,
            "seeds": self.seeds,
        }
        if self.numerics is not None:
            out["numerics"] = self.numerics
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, value) -> "LevelRecord":
        """The record a parsed metrics.json holds; :class:`NotALevelRecord` saying why when it holds none."""
        if not isinstance(value, dict):
            raise NotALevelRecord("it is not a JSON object")
        checks = {
            "trial": _integer,
            "branch": lambda v: isinstance(v, str),
            "level": _integer,
            "density": _number,
            "layer_density": lambda v: isinstance(v, dict) and all(_number(d) for d in v.values()),
            "summary": lambda v: True,  # Summary.from_json says what is wrong with it
            "curve": lambda v: isinstance(v, dict),
            "seeds": lambda v: isinstance(v, dict),
        }
        wrong = [key for key, check in checks.items() if key not in value or not check(value[key])]
        if wrong:
            raise NotALevelRecord(f"it lacks {', '.join(wrong)} (or holds the wrong type)")
        numerics = value.get("numerics")
        return cls(
            **{key: value[key] for key in checks if key != "summary"},
            summary=Summary.from_json(value["summary"]),
            numerics=numerics if isinstance(numerics, dict) else None,
            extra={k: v for k, v in value.items() if k not in checks and k != "numerics"},
        )

    def is_of(self, trial: int, branch: str, level: int) -> bool:
        """Whether this is the record of that place: a copied folder holds the record of another place."""
        return (self.trial, self.branch, self.level) == (trial, branch, level)

    def computed_with(self) -> dict:
        """The :data:`MUST_MATCH` settings this level was computed with."""
        recorded = self.numerics or {}
        return {key: recorded.get(key, RECORDED_BEFORE_NUMERICS[key]) for key in MUST_MATCH}


def numerics(speed, device: torch.device) -> dict:
    """The settings of this run that change numbers (``speed``: a training.batched.SpeedOptions).
    Sparse kernels are used on the CPU only; their results agree with dense ones to float rounding."""
    return {
        "eval_precision": speed.eval_precision,
        "sparse_below": speed.sparse_below if device.type == "cpu" else None,
    }
