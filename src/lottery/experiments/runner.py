"""A whole experiment as a list of units (trial, branch, level), run in order under one progress bar.

Per trial: the ticket chain (levels 0..L), then each requested branch in report order
(experiments/branches.py): each reinit draw, each random-pruning draw, one-shot (levels 1..L).
A branch's start only reads what earlier levels of the ticket chain wrote (level k-1's weights and
mask, θ0, θk); the runner is what trains those levels first, by running units in this order.
A trial is complete before the next starts, so a partial run already reports every branch.
Finished units are counted as done up front and skipped, so the bar's ETA only reflects the work
still to do.

With an executor that runs elsewhere (worker processes, Ray), the same units run in two waves:
each trial's ticket chain as one job (its levels depend on each other), then every control and
one-shot unit as a job of its own (each only reads its trial's finished ticket chain). When
networks train together (``speed.together > 1``), they run level by level instead, each level
split evenly over the workers (:func:`run_levels_split`).
"""

from collections.abc import Sequence
from itertools import pairwise

from tqdm.auto import tqdm

from ..executors import Executor
from ..errors import UsageError
from .branches import Unit, all_branches, check_requests, requestable_branches, run_branch_level, train_units
from .experiment import Experiment
from .fanout import Call, map_jobs
from .lockstep import run_in_lockstep, waves
from .layout import TICKET


def plan(
    exp: Experiment, trials: int, levels: int, *, control_levels: Sequence[int] | None = None, **requests
) -> list[Unit]:
    """Every unit of the experiment, a trial after the other, each trial's branches in report order.
    ``requests``: each branch's flag value by its keyword (``reinit_draws=3``, ``oneshot=True``, see
    experiments/branches.py); a branch not named is not run, the ticket chain always is.
    ``control_levels``: run the branches other than the ticket chain only at these levels (default:
    at every level); the ticket chain still runs every level, since each level is pruned from the one before."""
    check_requests(requests)
    if control_levels is not None:
        if not control_levels:
            raise UsageError("--control-levels names no level; leave it out to run the controls at every level")
        if not any(requests.get(b.option) for b in requestable_branches()):
            raise UsageError(
                f"--control-levels {','.join(map(str, control_levels))} limits the controls, but none is requested: "
                f"add {', '.join(b.usage for b in requestable_branches())}"
            )
        outside = sorted(k for k in control_levels if not 1 <= k <= levels)
        if outside:
            raise UsageError(
                f"control levels {', '.join(map(str, outside))} are outside 1..{levels} (--levels {levels})"
            )
    for branch in requestable_branches():
        if requests.get(branch.option):
            branch.check_request(exp, requests[branch.option])
    units = []
    for t in range(trials):
        for branch in all_branches():
            request = requests.get(branch.option) if branch.flag else True
            if request:
                units += [
                    Unit(branch, t, d, k)
                    for d, k in branch.units(request, levels)
                    if not branch.flag or control_levels is None or k in control_levels
                ]
    return units


def is_done(exp: Experiment, unit: Unit) -> bool:
    return exp.finished(exp.paths.trial(unit.trial).level(unit.branch, unit.level)) is not None


def call(unit: Unit) -> Call:
    """``unit`` as a call an executor can run elsewhere (a module-level function and picklable args)."""
    return Call(run_branch_level, (unit.kind, unit.trial, unit.draw, unit.level))


def run_in_waves(exp: Experiment, todo: list[Unit], executor: Executor, on_done) -> None:
    chains: dict[int, list[Call]] = {}
    for unit in todo:  # each chain's levels in order: level k starts from level k-1
        if unit.branch == TICKET:
            chains.setdefault(unit.trial, []).append(call(unit))
    map_jobs(exp, list(chains.values()), executor)
    on_done(sum(map(len, chains.values())))
    controls = [[call(unit)] for unit in todo if unit.branch != TICKET]
    map_jobs(exp, controls, executor)
    on_done(len(controls))


def run_levels_split(exp: Experiment, todo: list[Unit], executor: Executor, on_done) -> None:
    """Lockstep over an executor: level by level, each level's units split evenly into one task per
    worker (more where a share would exceed ``speed.together`` networks: :func:`task_count`), each task
    training its share together. Balancing every level keeps all workers busy (the paper's LeNet sweep, 5 trials
    x 3 networks per level on 2 workers: 8 + 7 networks, where one task per trial would leave a
    worker idle for a third of the time). ``on_done(n)``: n more units finished (a progress bar)."""
    for wave in waves(todo):
        parts = task_count(len(wave), exp.speed.together, executor.parallelism)
        map_jobs(
            exp,
            [[Call(run_in_lockstep, (tuple(share),))] for share in split_evenly(wave, parts)],
            executor,
        )
        on_done(len(wave))


def task_count(networks: int, together: int, workers: int | None) -> int:
    """How many tasks a level of ``networks`` is split into: enough that none trains more than
    ``together``, rounded up to a multiple of ``workers`` so that each worker gets as many tasks
    (33 networks at 8 together on 2 workers: 6 tasks of 5-6, not 5 of 6-7, whose last would leave a
    worker idle for a third of the level), and never more tasks than networks. ``workers=None``: a
    cluster of unknown size."""
    tasks = -(-networks // together)
    if workers:
        tasks = -(-tasks // workers) * workers
    return max(1, min(networks, tasks))


def split_evenly(items: list, parts: int) -> list[list]:
    """``items`` in ``parts`` consecutive slices whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [items[lo:hi] for lo, hi in pairwise(bounds)]


def run_experiment(
    exp: Experiment,
    trials: int,
    levels: int,
    *,
    executor: Executor | None = None,
    control_levels: Sequence[int] | None = None,
    **requests,
) -> list[Unit]:
    """Run every unit not finished yet; returns the units that were run. ``requests``: the branches to
    run next to the ticket chain, by their keyword (``reinit_draws=3, random_draws=3, oneshot=True``;
    see :func:`plan`), ``control_levels`` the levels they run at (default: all).
    ``executor``: where they run (default: one after another in this process)."""
    units = plan(exp, trials, levels, control_levels=control_levels, **requests)
    todo = [u for u in units if not is_done(exp, u)]
    lockstep = exp.speed.together > 1  # train each level's networks together (experiments/lockstep.py)
    # smoothing=0: the ETA uses the average time per unit so far (units are all the same size).
    with tqdm(
        total=len(units),
        initial=len(units) - len(todo),
        desc="levels",
        unit="level",
        smoothing=0,
        disable=not exp.progress,
        dynamic_ncols=True,
    ) as bar:
        if executor is not None and not executor.in_process:
            (run_levels_split if lockstep else run_in_waves)(exp, todo, executor, on_done=bar.update)
        elif lockstep:
            run_in_lockstep(exp, tuple(todo), on_wave=bar.update)
        else:
            for unit in todo:
                bar.set_postfix_str(unit.label)
                train_units(exp, [unit])
                bar.update(1)
    return todo


def run_imp(exp: Experiment, trials: int, levels: int, executor: Executor | None = None) -> None:
    """The ticket chains alone (no controls): levels 0..levels of each trial."""
    run_experiment(exp, trials, levels, executor=executor)
