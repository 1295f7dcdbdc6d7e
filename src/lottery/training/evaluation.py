"""What a training run evaluates, and when: its evaluation plan.

The validation set is evaluated every ``eval_every`` iterations and at the end: the early stop is read
off it. The test set costs twice as much on the paper's splits (10,000 images against 5,000) and a
published number reads it at two points only: the early stop, which is always a new minimum of the
validation loss, and the end. So by default the test set is evaluated exactly there, which gives
the same early stop and the same accuracies as evaluating it every time. ``test_curve`` evaluates it at
every evaluation, for figures that draw test accuracy over training (Figure 3).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EvaluationPlan:
    every: int  # iterations between evaluations
    iterations: int  # the run's last iteration, always evaluated
    test_curve: bool = False

    def evaluates(self, iteration: int) -> bool:
        """Whether the networks are evaluated (on the validation set) at ``iteration``."""
        return iteration % self.every == 0 or iteration == self.iterations

    def tests(self, iteration: int, new_validation_minimum: bool) -> bool:
        """Whether a network evaluated at ``iteration`` is also evaluated on the test set."""
        return self.test_curve or new_validation_minimum or iteration == self.iterations
