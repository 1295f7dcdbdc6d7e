"""A whole experiment as a list of units (trial, branch, level), run in order under one progress bar.

Per trial: the ticket chain (levels 0..L), then each reinit draw, each random-pruning draw and
one-shot (levels 1..L). A trial is complete before the next starts, so a partial run already
reports every branch. Finished units are counted as done up front and skipped, so the bar's ETA
only reflects the work still to do.
"""

from dataclasses import dataclass
from functools import partial
from typing import Callable

from tqdm.auto import tqdm

from .controls import RANDOM, REINIT, control_branch, run_random_level, run_reinit_level
from .experiment import Experiment
from .imp import run_ticket_level
from .layout import TICKET
from .oneshot import ONESHOT, run_oneshot_level


@dataclass(frozen=True)
class Unit:
    trial: int
    branch: str
    level: int
    run: Callable[[], dict]

    @property
    def label(self) -> str:
        return f"trial {self.trial} {self.branch} level {self.level}"


def plan(exp: Experiment, trials: int, levels: int, *, reinit_draws: int = 0, random_draws: int = 0,
         oneshot: bool = False) -> list[Unit]:
    units = []
    for t in range(trials):
        units += [Unit(t, TICKET, k, partial(run_ticket_level, exp, t, k)) for k in range(levels + 1)]
        for d in range(reinit_draws):
            units += [Unit(t, control_branch(REINIT, d), k, partial(run_reinit_level, exp, t, d, k))
                      for k in range(1, levels + 1)]
        for d in range(random_draws):
            units += [Unit(t, control_branch(RANDOM, d), k, partial(run_random_level, exp, t, d, k))
                      for k in range(1, levels + 1)]
        if oneshot:
            units += [Unit(t, ONESHOT, k, partial(run_oneshot_level, exp, t, k)) for k in range(1, levels + 1)]
    return units


def is_done(exp: Experiment, unit: Unit) -> bool:
    return exp.finished(exp.paths.trial(unit.trial).level(unit.branch, unit.level)) is not None


def run_experiment(exp: Experiment, trials: int, levels: int, *, reinit_draws: int = 0, random_draws: int = 0,
                   oneshot: bool = False) -> list[Unit]:
    """Run every unit not finished yet; returns the units that were run."""
    units = plan(exp, trials, levels, reinit_draws=reinit_draws, random_draws=random_draws, oneshot=oneshot)
    todo = [u for u in units if not is_done(exp, u)]
    # smoothing=0: the ETA uses the average time per unit so far (units are all the same size).
    with tqdm(total=len(units), initial=len(units) - len(todo), desc="levels", unit="level", smoothing=0,
              disable=not exp.progress, dynamic_ncols=True) as bar:
        for unit in todo:
            bar.set_postfix_str(unit.label)
            unit.run()
            bar.update(1)
    return todo
