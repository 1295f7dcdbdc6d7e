"""Iterative magnitude pruning: train -> prune -> reset survivors to θ0 (or θk) -> retrain."""

from ..errors import LotteryError
from .branches import Branch, Start, Style, register_branch, run_branch_level
from .experiment import Experiment
from .layout import TICKET
from ..storage import load_tensors


def ticket_mask(exp: Experiment, trial: int, level: int):
    """The mask of the ticket at ``level`` (level 0: dense), computing earlier levels if needed."""
    paths = exp.paths.trial(trial).level(TICKET, level)
    mask = load_tensors(paths.mask)
    if mask is not None:
        return mask
    if level == 0:
        return exp.full_mask()
    run_ticket_level(exp, trial, level - 1)
    previous = exp.paths.trial(trial).level(TICKET, level - 1)
    weights = load_tensors(previous.final)
    if weights is None:  # damaged, or only queued (Experiment.deferring): the caller's order is wrong
        raise LotteryError(
            f"{previous.final} (trial {trial} ticket level {level - 1}) is missing; "
            f"delete {previous.folder} so it is redone"
        )
    return exp.prune(weights, load_tensors(previous.mask))


def reset_state(exp: Experiment, trial: int) -> tuple[dict, int]:
    """Where pruned networks restart: (θ0, 0), or (θk, k) when rewinding to iteration k."""
    k = exp.hp.rewind_iteration
    if k == 0:
        return exp.initial_state(trial), 0
    run_ticket_level(exp, trial, 0)  # saves θk before it is marked finished
    rewind = load_tensors(exp.paths.trial(trial).rewind)
    if rewind is None:
        raise LotteryError(
            f"{exp.paths.trial(trial).rewind} (θ{k}) is missing or damaged; delete "
            f"{exp.paths.trial(trial).level(TICKET, 0).folder} so level 0 is redone"
        )
    return rewind, k


@register_branch
class TicketChain(Branch):
    """The ticket chain: level 0 trains the dense network from θ0, level k prunes level k-1 and
    retrains the survivors from θ0 (θk)."""

    name, order, drawn, first_level = TICKET, 0, False, 0
    style = Style("tab:blue", "o", "winning ticket (IMP)")
    figures = (1, 3, 4)

    def units(self, request, levels: int) -> list[tuple[int, int]]:
        return [(0, k) for k in range(levels + 1)]

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        mask = ticket_mask(exp, trial, level)
        k = exp.hp.rewind_iteration
        if level == 0:
            return Start(exp.initial_state(trial), mask, snapshot=(k, exp.paths.trial(trial).rewind) if k else None)
        state, start = reset_state(exp, trial)
        return Start(state, mask, start)


def run_ticket_level(exp: Experiment, trial: int, level: int) -> dict:
    return run_branch_level(exp, TicketChain(), trial, 0, level)
