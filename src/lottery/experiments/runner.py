"""A whole experiment as a list of units (trial, branch, level), run in order under one progress bar.

Per trial: the ticket chain (levels 0..L), then each reinit draw, each random-pruning draw and
one-shot (levels 1..L). A trial is complete before the next starts, so a partial run already
reports every branch. Finished units are counted as done up front and skipped, so the bar's ETA
only reflects the work still to do.

With an executor that runs elsewhere (worker processes, Ray), the same units run in two waves:
each trial's ticket chain as one job (its levels depend on each other), then every control and
one-shot unit as a job of its own (each only reads its trial's finished ticket chain).
"""

from dataclasses import dataclass

from tqdm.auto import tqdm

from ..executors import Executor
from .controls import RANDOM, REINIT, control_branch, run_random_level, run_reinit_level
from .experiment import Experiment
from .fanout import Call, map_jobs
from .imp import run_ticket_level
from .lockstep import run_in_lockstep
from .layout import TICKET
from .oneshot import ONESHOT, run_oneshot_level


@dataclass(frozen=True)
class Unit:
    trial: int
    branch: str
    level: int
    call: Call  # fn(exp, *args) with a module-level fn: picklable, so an executor can run it elsewhere

    @property
    def label(self) -> str:
        return f"trial {self.trial} {self.branch} level {self.level}"


def plan(exp: Experiment, trials: int, levels: int, *, reinit_draws: int = 0, random_draws: int = 0,
         oneshot: bool = False) -> list[Unit]:
    units = []
    for t in range(trials):
        units += [Unit(t, TICKET, k, Call(run_ticket_level, (t, k))) for k in range(levels + 1)]
        for d in range(reinit_draws):
            units += [Unit(t, control_branch(REINIT, d), k, Call(run_reinit_level, (t, d, k)))
                      for k in range(1, levels + 1)]
        for d in range(random_draws):
            units += [Unit(t, control_branch(RANDOM, d), k, Call(run_random_level, (t, d, k)))
                      for k in range(1, levels + 1)]
        if oneshot:
            units += [Unit(t, ONESHOT, k, Call(run_oneshot_level, (t, k))) for k in range(1, levels + 1)]
    return units


def is_done(exp: Experiment, unit: Unit) -> bool:
    return exp.finished(exp.paths.trial(unit.trial).level(unit.branch, unit.level)) is not None


def run_in_waves(exp: Experiment, todo: list[Unit], executor: Executor) -> None:
    chains: dict[int, list[Call]] = {}
    for unit in todo:
        if unit.branch == TICKET:
            chains.setdefault(unit.trial, []).append(unit.call)
    map_jobs(exp, list(chains.values()), executor)
    map_jobs(exp, [[unit.call] for unit in todo if unit.branch != TICKET], executor)


def run_experiment(exp: Experiment, trials: int, levels: int, *, reinit_draws: int = 0, random_draws: int = 0,
                   oneshot: bool = False, executor: Executor | None = None) -> list[Unit]:
    """Run every unit not finished yet; returns the units that were run. ``executor``: where they run
    (default: one after another in this process)."""
    units = plan(exp, trials, levels, reinit_draws=reinit_draws, random_draws=random_draws, oneshot=oneshot)
    todo = [u for u in units if not is_done(exp, u)]
    lockstep = exp.speed.together > 1  # train each level's networks together (experiments/lockstep.py)
    if executor is not None and not executor.in_process:
        if lockstep:  # one task per trial: its ticket, controls and one-shot, level by level
            trials = sorted({u.trial for u in todo})
            map_jobs(exp, [[Call(run_in_lockstep, (tuple((u.level, u.call) for u in todo if u.trial == t),))]
                           for t in trials], executor)
        else:
            run_in_waves(exp, todo, executor)
        return todo
    # smoothing=0: the ETA uses the average time per unit so far (units are all the same size).
    with tqdm(total=len(units), initial=len(units) - len(todo), desc="levels", unit="level", smoothing=0,
              disable=not exp.progress, dynamic_ncols=True) as bar:
        if lockstep:
            run_in_lockstep(exp, tuple((u.level, u.call) for u in todo), on_wave=bar.update)
            return todo
        for unit in todo:
            bar.set_postfix_str(unit.label)
            unit.call(exp)
            bar.update(1)
    return todo


def run_imp(exp: Experiment, trials: int, levels: int, executor: Executor | None = None) -> None:
    """The ticket chains alone (no controls): levels 0..levels of each trial."""
    run_experiment(exp, trials, levels, executor=executor)
