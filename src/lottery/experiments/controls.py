"""The paper's two controls, run as branches of an IMP experiment (Frankle & Carbin, Section 2).

* random reinitialization (``reinit_<d>``): the ticket's mask at each level, weights freshly drawn
  from the init distribution (one draw per ``d``, shared by all levels of that draw, as θ0 is
  shared by all levels of the ticket);
* random pruning (``random_<d>``): a random mask with the ticket's per-layer counts at each level,
  trained from θ0 (or θk when rewinding) -- the paper's "random sparse subnetworks".

Both reuse the ticket's stored masks and θ0 (the ticket is only trained if a level is missing) and
skip level 0: the dense network is the same for every branch. When rewinding to iteration k,
both train from iteration k like the ticket (same number of steps, same data order and learning
rate schedule); the reinit draw replaces θk, random pruning starts from θk.
"""

from ..pruning import Mask, random_mask_like
from ..seeds import derive_seed, generator
from .experiment import Experiment
from .imp import reset_state, ticket_mask

REINIT, RANDOM = "reinit", "random"


def control_branch(kind: str, draw: int) -> str:
    return f"{kind}_{draw}"


def reinit_state(exp: Experiment, trial: int, draw: int) -> dict:
    """Draw ``draw`` of fresh weights for the reinit control of ``trial`` (never equal to θ0)."""
    return exp.fresh_init(trial, REINIT, draw)


def random_mask(exp: Experiment, trial: int, draw: int, level: int) -> Mask:
    """A random mask with exactly the ticket's per-layer counts at ``level``."""
    return random_mask_like(ticket_mask(exp, trial, level), generator(exp.trial_seed(trial), RANDOM, draw, level))


def run_reinit_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    if level < 1:
        raise ValueError("controls start at level 1: level 0 is the shared dense network")
    mask = ticket_mask(exp, trial, level)
    _, start = reset_state(exp, trial)  # same iteration budget and schedule position as the ticket
    seed = derive_seed(exp.trial_seed(trial), "init", REINIT, draw)
    metrics, _ = exp.train_level(trial, control_branch(REINIT, draw), level, reinit_state(exp, trial, draw), mask,
                                 start_iteration=start,
                                 extra={"control": {"kind": REINIT, "draw": draw, "init_seed": seed}})
    return metrics


def run_random_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    if level < 1:
        raise ValueError("controls start at level 1: level 0 is the shared dense network")
    mask = random_mask(exp, trial, draw, level)
    state, start = reset_state(exp, trial)
    seed = derive_seed(exp.trial_seed(trial), RANDOM, draw, level)
    metrics, _ = exp.train_level(trial, control_branch(RANDOM, draw), level, state, mask, start_iteration=start,
                                 extra={"control": {"kind": RANDOM, "draw": draw, "mask_seed": seed}})
    return metrics
