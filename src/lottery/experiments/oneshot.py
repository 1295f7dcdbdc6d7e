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


def keep_largest(weights: dict[str, torch.Tensor], names: list[str], kept: int) -> Mask:
    """Masks for ``names`` keeping the ``kept`` largest magnitudes, ranked across all of them together.
    Ties go the same way as in magnitude pruning: a stable sort prunes the earliest of equal weights."""
    magnitudes = torch.cat([weights[n].detach().abs().cpu().flatten() for n in names])
    if not 0 <= kept <= magnitudes.numel():
        raise ValueError(f"cannot keep {kept} of {magnitudes.numel()} weights")
    keep = torch.ones(magnitudes.numel(), dtype=torch.bool)
    keep[torch.sort(magnitudes, stable=True).indices[:magnitudes.numel() - kept]] = False
    out, offset = {}, 0
    for n in names:
        size = weights[n].numel()
        out[n] = keep[offset:offset + size].view(weights[n].shape)
        offset += size
    return out


def oneshot_mask(exp: Experiment, trained: dict[str, torch.Tensor], target: Mask) -> Mask:
    """Prune ``trained`` (dense weights) in one step to the per-layer counts of ``target``."""
    p = exp.hp.pruning
    ranked_together = [n for n, kind in exp.prunable_kinds.items() if kind in p.global_kinds] \
        if p.strategy == "global" else []
    mask = keep_largest(trained, ranked_together, sum(int(target[n].sum()) for n in ranked_together)) \
        if ranked_together else {}
    for name in target:
        if name not in mask:
            mask[name] = keep_largest(trained, [name], int(target[name].sum()))[name]
    return {name: mask[name] for name in target}


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
