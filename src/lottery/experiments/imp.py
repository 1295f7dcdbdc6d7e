"""Iterative magnitude pruning: train -> prune -> reset survivors to θ0 (or θk) -> retrain.

A level's start only reads what earlier levels of the ticket chain wrote (level k: level k-1's final
weights and mask; θ0, and θk which level 0 saves when rewinding); it never trains them. The runner
(experiments/runner.py) trains the chain level by level before the branches that read it."""

from pathlib import Path

from ..errors import LotteryError
from ..storage import load_tensors
from .branches import Branch, Start, Style, register_branch, run_branch_level
from .experiment import Experiment
from .layout import TICKET


def written_by(exp: Experiment, trial: int, level: int, path: Path, what: str) -> dict:
    """The tensors in ``path``, which training ticket ``level`` of ``trial`` wrote; a LotteryError naming
    the file and what to run when that level has not been trained (or the file is damaged)."""
    tensors = load_tensors(path)
    if tensors is not None:
        return tensors
    folder = exp.paths.trial(trial).level(TICKET, level)
    if not folder.metrics.exists():
        raise LotteryError(
            f"{path} ({what}) is missing: trial {trial} ticket level {level} has not been trained, and a "
            "branch's start only reads what earlier levels wrote. Train the ticket chain first: lottery run "
            "with the same settings (or run_experiment) trains it level by level before the controls"
        )
    raise LotteryError(f"{path} ({what}) is missing or damaged; delete {folder.folder} so it is redone")


def ticket_weights(exp: Experiment, trial: int, level: int) -> dict:
    """The trained weights of the ticket at ``level`` (its final.pt)."""
    return written_by(exp, trial, level, exp.paths.trial(trial).level(TICKET, level).final, "trained weights")


def ticket_mask(exp: Experiment, trial: int, level: int):
    """The mask of the ticket at ``level`` (level 0: dense): the stored one, or the trained weights of
    level - 1 pruned under its mask."""
    mask = load_tensors(exp.paths.trial(trial).level(TICKET, level).mask)
    if mask is not None:
        return mask
    if level == 0:
        return exp.full_mask()
    weights = ticket_weights(exp, trial, level - 1)
    previous = written_by(exp, trial, level - 1, exp.paths.trial(trial).level(TICKET, level - 1).mask, "mask")
    return exp.prune(weights, previous)


def reset_state(exp: Experiment, trial: int) -> tuple[dict, int]:
    """Where pruned networks restart: (θ0, 0), or (θk, k) when rewinding to iteration k; both are
    written by the ticket's level 0 (θ0 when it starts, θk before it is marked finished)."""
    paths, k = exp.paths.trial(trial), exp.hp.rewind_iteration
    if k == 0:
        return written_by(exp, trial, 0, paths.init, "θ0"), 0
    return written_by(exp, trial, 0, paths.rewind, f"θ{k}"), k


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
        if level == 0:  # where the chain begins: θ0 is drawn (and saved) here
            return Start(exp.initial_state(trial), mask, snapshot=(k, exp.paths.trial(trial).rewind) if k else None)
        state, start = reset_state(exp, trial)
        return Start(state, mask, start)


def run_ticket_level(exp: Experiment, trial: int, level: int) -> dict:
    """Train (or read back) level ``level`` of the ticket chain; levels below it must be finished."""
    return run_branch_level(exp, TicketChain(), trial, 0, level)


def run_ticket_chain(exp: Experiment, trial: int, levels: int) -> list[dict]:
    """Train (or read back) levels 0..``levels`` of the ticket chain of ``trial``, in order."""
    return [run_ticket_level(exp, trial, k) for k in range(levels + 1)]
