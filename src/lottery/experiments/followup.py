"""Controls from the follow-up work, run as branches next to the paper's reinit and random pruning.

* sign-preserving reinit (``sign_reinit_<d>``; Zhou et al. 2019, "Deconstructing Lottery Tickets"):
  the ticket's mask, magnitudes from a fresh draw of the init distribution, the signs of θ0 (θk
  when rewinding);
* layer-wise weight shuffle (``weight_shuffle_<d>``; Frankle et al. 2021, "Pruning Neural Networks
  at Initialization: Why are We Missing the Mark?"): the ticket's mask, θ0's kept values permuted
  among the kept positions of each layer (a fresh permutation per level).

The same paper's mask shuffle (the mask permuted within each layer, θ0 at the new positions) is the
random-pruning control (``--random-draws``): both draw a uniform mask with the ticket's per-layer
counts, so it is not a branch of its own. The draws themselves are pure functions in pruning/draws.py.
"""

from ..pruning.draws import sign_preserving_reinit, weight_shuffle
from ..seeds import derive_seed, generator
from .branches import Branch, Start, Style, register_branch
from .experiment import Experiment
from .imp import reset_state, ticket_mask

SIGN_REINIT, WEIGHT_SHUFFLE = "sign_reinit", "weight_shuffle"


@register_branch
class SignPreservingReinit(Branch):
    name, order, flag = SIGN_REINIT, 30, "--sign-reinit-draws"
    help = (
        "sign-preserving reinit control (Zhou et al. 2019): ticket masks and θ0's signs, fresh magnitudes; "
        "N draws per trial"
    )
    style = Style("tab:purple", "v", "sign-preserving reinit")
    figures, from_paper = (3, 4), False

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        state, iteration = reset_state(exp, trial)
        fresh = exp.fresh_init(trial, SIGN_REINIT, draw)
        start, mask = sign_preserving_reinit(state, ticket_mask(exp, trial, level), fresh)
        seed = derive_seed(exp.trial_seed(trial), "init", SIGN_REINIT, draw)
        return Start(start, mask, iteration, extra={"control": {"kind": SIGN_REINIT, "draw": draw, "init_seed": seed}})


@register_branch
class WeightShuffle(Branch):
    name, order, flag = WEIGHT_SHUFFLE, 40, "--weight-shuffle-draws"
    help = (
        "layer-wise weight shuffle control (Frankle et al. 2021): ticket masks, θ0's kept values permuted "
        "within each layer; N draws per trial"
    )
    style = Style("tab:brown", "P", "weight shuffle")
    figures, from_paper = (3, 4), False

    def start(self, exp: Experiment, trial: int, draw: int, level: int) -> Start:
        state, iteration = reset_state(exp, trial)
        start, mask = weight_shuffle(
            state, ticket_mask(exp, trial, level), generator(exp.trial_seed(trial), WEIGHT_SHUFFLE, draw, level)
        )
        seed = derive_seed(exp.trial_seed(trial), WEIGHT_SHUFFLE, draw, level)
        return Start(
            start, mask, iteration, extra={"control": {"kind": WEIGHT_SHUFFLE, "draw": draw, "permutation_seed": seed}}
        )
