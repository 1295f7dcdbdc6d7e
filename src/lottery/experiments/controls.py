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

A control's one setting is its budget: ``--reinit-iterations N`` (``--random-iterations N``) trains
it to iteration N instead of the experiment's ``--iterations``, for controls whose validation loss
still falls at the end of a budget the tickets' early stops fit in; the data order and learning-rate
schedule are the same up to the shorter budget. Its folder then names it: ``reinit-iterations20000_0``.
"""

import argparse
from dataclasses import dataclass

from ..errors import UsageError
from ..pruning import Mask, random_mask_like
from ..seeds import derive_seed, generator
from ..settings import parse_positive_int
from .branch_settings import Draw, Draws, WithSettings
from .branches import Start, Style, register_branch, run_branch_level
from .experiment import Experiment
from .imp import reset_state, ticket_mask

REINIT, RANDOM = "reinit", "random"


def reinit_state(exp: Experiment, trial: int, draw: int) -> dict:
    """Draw ``draw`` of fresh weights for the reinit control of ``trial`` (never equal to θ0)."""
    return exp.fresh_init(trial, REINIT, draw)


def random_mask(exp: Experiment, trial: int, draw: int, level: int) -> Mask:
    """A random mask with exactly the ticket's per-layer counts at ``level``."""
    return random_mask_like(ticket_mask(exp, trial, level), generator(exp.trial_seed(trial), RANDOM, draw, level))


@dataclass(frozen=True)
class ControlSettings:
    """``iterations``: the iteration a control trains to (None: the experiment's ``--iterations``)."""

    iterations: int | None = None

    def __post_init__(self):
        value = self.iterations
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UsageError(f"a control's iterations must be a positive number, got {value!r}")


class Control(WithSettings):
    """A control of the paper: drawn, with a training budget of its own (``--<name>-iterations N``)."""

    settings_type = ControlSettings

    @property
    def iterations_flag(self) -> str:
        return f"--{self.name}-iterations"

    def add_argument(self, group) -> None:
        super().add_argument(group)
        group.add_argument(
            self.iterations_flag,
            dest=f"{self.name}_iterations",
            type=parse_positive_int,
            default=None,
            metavar="N",
            help=f"train the {self.name} control to iteration N (default: --iterations)",
        )

    def request(self, args: argparse.Namespace) -> Draws:
        iterations = getattr(args, f"{self.name}_iterations", None)  # missing from a parser of one's own
        if iterations is not None and not getattr(args, self.option):
            raise UsageError(f"{self.iterations_flag} {iterations} is unused: add {self.flag} N")
        return Draws(getattr(args, self.option), ControlSettings(iterations))

    def check_request(self, exp: Experiment, request) -> None:
        iterations = self.as_draws(request).settings.iterations
        if iterations is None:
            return
        budget, start = exp.hp.training.iterations, exp.hp.rewind_iteration
        if iterations == budget:
            raise UsageError(f"{self.iterations_flag} {iterations} is the experiment's --iterations: leave it out")
        if iterations <= start:
            raise UsageError(
                f"{self.iterations_flag} {iterations} ends before the control starts, at iteration {start} (rewinding)"
            )

    def record(self, draw: Draw, fields: dict) -> dict:
        """The level's ``control`` entry of metrics.json: its kind, draw, seeds and its own budget if it has one."""
        iterations = draw.settings.iterations
        return {"kind": self.name, "draw": draw.index, **fields, **({"iterations": iterations} if iterations else {})}


@register_branch
class Reinit(Control):
    name, order, flag = REINIT, 10, "--reinit-draws"
    help = "random reinitialization control: ticket masks, N fresh inits per trial (paper: 3)"
    style = Style("tab:orange", "s", "random reinit")
    figures = (3, 4)

    def start(self, exp: Experiment, trial: int, draw, level: int) -> Start:
        draw = self.as_draw(draw)
        mask = ticket_mask(exp, trial, level)
        _, start = reset_state(exp, trial)  # same schedule position as the ticket
        seed = derive_seed(exp.trial_seed(trial), "init", REINIT, draw.index)
        return Start(
            reinit_state(exp, trial, draw.index),
            mask,
            start,
            extra={"control": self.record(draw, {"init_seed": seed})},
            iterations=draw.settings.iterations,
        )


@register_branch
class RandomPruning(Control):
    name, order, flag = RANDOM, 20, "--random-draws"
    help = "random pruning control: N random masks with the ticket's per-layer counts"
    style = Style("tab:green", "^", "random pruning")
    figures = (1,)

    def start(self, exp: Experiment, trial: int, draw, level: int) -> Start:
        draw = self.as_draw(draw)
        mask = random_mask(exp, trial, draw.index, level)
        state, start = reset_state(exp, trial)
        seed = derive_seed(exp.trial_seed(trial), RANDOM, draw.index, level)
        return Start(
            state,
            mask,
            start,
            extra={"control": self.record(draw, {"mask_seed": seed})},
            iterations=draw.settings.iterations,
        )


def run_reinit_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    return run_branch_level(exp, Reinit(), trial, draw, level)


def run_random_level(exp: Experiment, trial: int, draw: int, level: int) -> dict:
    return run_branch_level(exp, RandomPruning(), trial, draw, level)
