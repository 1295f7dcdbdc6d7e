"""One-shot pruning: train the dense network once, prune it to each target Pm in a single step,
reset the survivors to θ0 (θk when rewinding) and retrain.

The targets are the IMP grid: one-shot level k keeps exactly as many weights per layer as the
ticket at level k (with global pruning: as many in the globally ranked layers together), so the
two are compared at identical Pm.
"""

import torch

from ..errors import LotteryError
from ..pruning import Mask
from .experiment import Experiment
from .imp import reset_state, run_ticket_level, ticket_mask
from .layout import TICKET
from ..storage import load_tensors

ONESHOT = "oneshot"


def oneshot_mask(exp: Experiment, trained: dict[str, torch.Tensor], target: Mask) -> Mask:
    """Prune ``trained`` (dense weights) in one step to the per-layer counts of ``target``, ranked
    as the experiment's pruning strategy ranks (per layer, or layers together)."""
    return exp.pruning_strategy.prune_to_counts(trained, target)


def run_oneshot_level(exp: Experiment, trial: int, level: int) -> dict:
    if level < 1:
        raise ValueError("one-shot pruning starts at level 1: level 0 is the shared dense network")
    run_ticket_level(exp, trial, 0)
    dense = exp.paths.trial(trial).level(TICKET, 0)
    trained = load_tensors(dense.final)
    if trained is None:
        raise LotteryError(f"{dense.final} (the trained dense network) is missing or damaged; delete "
                           f"{dense.folder} so level 0 is redone")
    mask = oneshot_mask(exp, trained, ticket_mask(exp, trial, level))
    state, start = reset_state(exp, trial)
    metrics, _ = exp.train_level(trial, ONESHOT, level, state, mask, start_iteration=start,
                                 extra={"oneshot": {"pruned_from": f"{TICKET}/level_0/final.pt",
                                                    "target_level": level}})
    return metrics
