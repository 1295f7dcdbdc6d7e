"""Run an experiment's units level by level, training all networks of a level together.

Every unit of level k (the ticket of each trial, its controls, one-shot) depends only on levels
below k: the ticket mask of level k comes from level k-1, θk and the dense network from level 0.
So the units of one level are trained in one batched computation (see training/batched.py), wave
after wave, levels 0, 1, 2, ...
"""

from itertools import groupby

from .branches import Unit, train_units
from .experiment import Experiment


def waves(units) -> list[list[Unit]]:
    """Units grouped by level, lowest level first (order within a level kept)."""
    ordered = sorted(units, key=lambda u: u.level)
    return [list(group) for _, group in groupby(ordered, key=lambda u: u.level)]


def run_in_lockstep(exp: Experiment, units: tuple[Unit, ...], on_wave=None) -> None:
    """Train ``units`` wave by wave, each wave's units together (:func:`train_units`).
    ``on_wave(n)`` is told how many units each finished wave held (for a progress bar)."""
    for wave in waves(units):
        train_units(exp, wave)
        if on_wave is not None:
            on_wave(len(wave))
