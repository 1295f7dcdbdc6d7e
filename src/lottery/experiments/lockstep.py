"""Run an experiment's units level by level, training all networks of a level together.

Every unit of level k (the ticket of each trial, its controls, one-shot) depends only on levels
below k: the ticket mask of level k comes from level k-1, θk and the dense network from level 0.
So the units of one level can be queued with :meth:`Experiment.deferring` and trained in one
batched computation (see training/batched.py), wave after wave, levels 0, 1, 2, ...
"""

from itertools import groupby

from .experiment import Experiment
from .fanout import Call


def waves(levels_and_calls) -> list[list[Call]]:
    """Calls grouped by level, lowest level first (order within a level kept)."""
    ordered = sorted(levels_and_calls, key=lambda lc: lc[0])
    return [[call for _, call in group] for _, group in groupby(ordered, key=lambda lc: lc[0])]


def run_in_lockstep(exp: Experiment, levels_and_calls: tuple[tuple[int, Call], ...], on_wave=None) -> None:
    """Run ``(level, call)`` pairs wave by wave; each wave's training happens at the end of its block.
    ``on_wave(n)`` is told how many calls each finished wave held (for a progress bar)."""
    for wave in waves(levels_and_calls):
        with exp.level_queue.deferring():
            for call in wave:
                call(exp)
        if on_wave is not None:
            on_wave(len(wave))
