"""One-shot pruning: train the dense network once, prune it to each target Pm in a single step,
reset the survivors to θ0 (θk when rewinding) and retrain.

The targets are the IMP grid: one-shot level k keeps exactly as many weights per layer as the
ticket at level k (with global pruning: as many in the globally ranked layers together), so the
two are compared at identical Pm.
"""

import torch

from ..errors import UsageError
from ..pruning import Mask
from .branches import Branch, Start, Style, level_list, register_branch, run_branch_level
from .experiment import Experiment
from .imp import reset_state, ticket_mask, ticket_weights
from .layout import TICKET

ONESHOT = "oneshot"


def oneshot_mask(exp: Experiment, trained: dict[str, torch.Tensor], target: Mask) -> Mask:
    """Prune ``trained`` (dense weights) in one step to the per-layer counts of ``target``, ranked
    as the experiment's pruning strategy ranks (per layer, or layers together)."""
    return exp.pruning_strategy.prune_to_counts(trained, target)


def oneshot_levels(oneshot: bool | tuple[int, ...], levels: int) -> list[int]:
    """The one-shot levels to run: all of 1..levels (True), none (False), or those listed."""
    if oneshot is True:
        return list(range(1, levels + 1))
    if not oneshot:
        return []
    bad = [k for k in oneshot if not 1 <= k <= levels]
    if bad:
        raise UsageError(f"one-shot levels {bad} are outside 1..{levels} (the ticket chain's pruned levels)")
    return sorted(set(oneshot))


@register_branch
class OneShot(Branch):
    name, order, flag, drawn = ONESHOT, 30, "--oneshot", False
    help = (
        "also prune the trained dense network in one step to each level's Pm and retrain; "
        "with K,L,...: only at those levels"
    )
    style = Style("tab:red", "D", "one-shot pruning")
    figures = (4,)

    def add_argument(self, group) -> None:
        group.add_argument(
            self.flag,
            dest=self.option,
            nargs="?",
            const=True,
            default=False,
            type=level_list,
            metavar="K,L,...",
            help=self.help,
        )

    def units(self, request, levels: int) -> list[tuple[int, int]]:
        """``request``: True for every level, or the levels to run one-shot pruning at."""
        return [(0, k) for k in oneshot_levels(request, levels)]

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        trained = ticket_weights(exp, trial, 0)  # the trained dense network
        mask = oneshot_mask(exp, trained, ticket_mask(exp, trial, level))
        state, start = reset_state(exp, trial)
        return Start(
            state, mask, start, extra={"oneshot": {"pruned_from": f"{TICKET}/level_0/final.pt", "target_level": level}}
        )


def run_oneshot_level(exp: Experiment, trial: int, level: int) -> dict:
    return run_branch_level(exp, OneShot(), trial, 0, level)
