"""Hyperparameter fields: :func:`setting` declares one, with its help, flag, parser and check; the
shared checks and parsers; and what reads a field's metadata back (its flag, its default).

A leaf module: hparams.py declares its sections with it and each pruning strategy its own fields, so
neither needs the other to word its errors.
"""

import argparse
import dataclasses
import math
from collections.abc import Callable
from dataclasses import field
from typing import Any

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


# -- parsers of a flag's text ----------------------------------------------------------------------
def parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def parse_non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def name_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


# -- reading a field back ---------------------------------------------------------------------------
def field_default(f: dataclasses.Field):
    # Every setting has a default or a default_factory; callable() tells mypy which one this is.
    return f.default_factory() if callable(f.default_factory) else f.default


def field_flag(name: str, f: dataclasses.Field) -> str:
    """The command-line flag of field ``name``: its ``flag`` or its name with dashes, e.g. ``--prune-conv``."""
    return "--" + (f.metadata.get("flag") or name.replace("_", "-"))


def _field(kind: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(kind) if f.name == name)


def default_of(kind: type, name: str):
    return field_default(_field(kind, name))


def flag_of(kind: type, name: str) -> str:
    """The command-line flag of a dataclass's field, e.g. ``--prune-conv`` for PruningHparams.conv_rate."""
    return field_flag(name, _field(kind, name))


def show(value) -> str:
    """A value as its flag takes it: tuples comma-separated."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
