"""The paper's two controls, run as branches of an IMP experiment (Frankle & Carbin, Section 2).

* random reinitialization (``reinit_<d>``): the ticket's mask at each level, weights freshly drawn
  from the init distribution (one draw per ``d``, shared by all levels of that draw, as θ0 is
  shared by all levels of the ticket);
* random pruning (``random_<d>``): a random mask with the ticket's per-layer counts at each level,
  trained from θ0 (or θk when rewinding) -- the paper's "random sparse subnetworks".

Both read the ticket's masks and θ0 (the runner trains the ticket chain first; a start never does)
and skip level 0: the dense network is the same for every branch. When rewinding to iteration k,
both train from iteration k like the ticket (same number of steps, same data order and learning
rate schedule); the reinit draw replaces θk, random pruning starts from θk.
"""

from ..pruning import Mask, random_mask_like
from ..seeds import derive_seed, generator
from .branches import Branch, Start, Style, register_branch, run_branch_level
from .experiment import Experiment
from .imp import reset_state, ticket_mask

REINIT, RANDOM = "reinit", "random"


def reinit_state(exp: Experiment, trial: int, draw: int) -> dict:
    """Draw ``draw`` of fresh weights for the reinit control of ``trial`` (never equal to θ0)."""
    return exp.fresh_init(trial, REINIT, draw)


def random_mask(exp: Experiment, trial: int, draw: int, level: int) -> Mask:
    """A random mask with exactly the ticket's per-layer counts at ``level``."""
    return random_mask_like(ticket_mask(exp, trial, level), generator(exp.trial_seed(trial), RANDOM, draw, level))


@register_branch
class Reinit(Branch):
    name, order, flag = REINIT, 10, "--reinit-draws"
    help = "random reinitialization control: ticket masks, N fresh inits per trial (paper: 3)"
    style = Style("tab:orange", "s", "random reinit")
    figures = (3, 4)

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        mask = ticket_mask(exp, trial, level)
        _, start = reset_state(exp, trial)  # same iteration budget and schedule position as the ticket
        seed = derive_seed(exp.trial_seed(trial), "init", REINIT, draw)
        return Start(
            reinit_state(exp, trial, draw),
            mask,
            start,
            extra={"control": {"kind": REINIT, "draw": draw, "init_seed": seed}},
        )


@register_branch
class RandomPruning(Branch):
    name, order, flag = RANDOM, 20, "--random-draws"
    help = "random pruning control: N random masks with the ticket's per-layer counts"
    style = Style("tab:green", "^", "random pruning")
    figures = (1,)

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        mask = random_mask(exp, trial, draw, level)
        state, start = reset_state(exp, trial)
        seed = derive_seed(exp.trial_seed(trial), RANDOM, draw, level)
        return Start(state, mask, start, extra={"control": {"kind": RANDOM, "draw": draw, "mask_seed": seed}})


def run_reinit_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    return run_branch_level(exp, Reinit(), trial, draw, level)


def run_random_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    return run_branch_level(exp, RandomPruning(), trial, draw, level)
