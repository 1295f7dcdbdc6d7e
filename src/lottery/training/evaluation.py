"""What a training run evaluates, and when: its evaluation plan.

The validation set is evaluated every ``eval_every`` iterations and at the end: the early stop is read
off it. The test set costs twice as much on the paper's splits (10,000 images against 5,000) and a
published number reads it at two points only: the early stop and the end. Which evaluation is the early
stop is known only at the end, but the run keeps the weights of every new validation minimum (for the
train accuracy at the early stop), so by default the test set is evaluated twice, at the end: on the final
weights and on the early-stop ones, recorded at the early-stop iteration. That gives the same early stop
and the same accuracies as evaluating it every time. ``test_curve`` evaluates it at every evaluation, for
figures that draw test accuracy over training (Figure 3).
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

    def tests(self, iteration: int) -> bool:
        """Whether the networks evaluated at ``iteration`` are also evaluated on the test set (the early-stop
        weights are tested at the end where this plan did not test them when they were reached)."""
        return self.test_curve or iteration == self.iterations
