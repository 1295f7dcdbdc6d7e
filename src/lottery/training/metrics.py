"""Learning curves and what the paper reads off them (early stop = iteration of minimum validation loss).

A :class:`Curve` holds one sparse series per metric, (iteration, value) pairs: the validation metrics
exist at every evaluation, the test accuracy only where the run's evaluation plan measured it
(:mod:`evaluation`). Its JSON form is ``{"val_loss": {"iterations": [...], "values": [...]}, ...}``;
records written before the series were sparse (``{"iterations": [...], "val_loss": [...], ...}``,
every metric at every evaluation) read as well.
"""

import bisect
from dataclasses import dataclass, field

VALIDATION = ("val_loss", "val_acc")
TEST = ("test_acc",)
METRICS = VALIDATION + TEST


@dataclass
class Series:
    """One metric's values at the iterations it was measured at, in increasing order."""

    iterations: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def at(self, iteration: int) -> float | None:
        """The value measured at ``iteration`` (None: not measured there)."""
        for it, value in zip(reversed(self.iterations), reversed(self.values)):
            if it == iteration:
                return value
            if it < iteration:
                return None
        return None


def _empty_series() -> dict[str, Series]:
    return {name: Series() for name in METRICS}


@dataclass
class Curve:
    series: dict[str, Series] = field(default_factory=_empty_series)

    def __post_init__(self):
        self.series = {**_empty_series(), **self.series}

    def add(self, iteration: int, **values: float) -> None:
        """Record the metrics measured at ``iteration`` (any subset of :data:`METRICS`), in iteration order
        (the early-stop weights' test accuracy is measured at the end, recorded where they were reached)."""
        for name, value in values.items():
            if name not in self.series:
                raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
            series = self.series[name]
            where = bisect.bisect_right(series.iterations, iteration)
            series.iterations.insert(where, iteration)
            series.values.insert(where, value)

    def values(self, name: str) -> list[float]:
        """The values of metric ``name``, at the iterations of its series."""
        return self.series[name].values

    @property
    def iterations(self) -> list[int]:
        """The evaluated iterations (those with a validation loss)."""
        return self.series["val_loss"].iterations

    def best_index(self) -> int:
        """Index into :attr:`iterations` of the minimum validation loss (the first one on ties).
        Never uses the test set."""
        losses = self.series["val_loss"].values
        return min(range(len(losses)), key=losses.__getitem__)

    @property
    def early_stop_iteration(self) -> int:
        return self.iterations[self.best_index()]

    def is_new_minimum(self) -> bool:
        """Whether the last validation loss recorded is below every earlier one (a possible early stop)."""
        return self.best_index() == len(self.iterations) - 1

    def has_full(self, name: str) -> bool:
        """Whether ``name`` was measured at every evaluation (e.g. a whole test curve for Figure 3)."""
        return self.series[name].iterations == self.iterations

    def to_dict(self) -> dict:
        return {name: {"iterations": list(s.iterations), "values": list(s.values)} for name, s in self.series.items()}

    @classmethod
    def from_dict(cls, stored: dict) -> "Curve":
        """A curve from its JSON form, or from the dense form of older records."""
        if isinstance(stored.get("iterations"), list):  # dense: every metric at every evaluation
            its = stored["iterations"]
            return cls({name: Series(list(its), list(stored[name])) for name in METRICS if name in stored})
        return cls({name: Series(list(s["iterations"]), list(s["values"])) for name, s in stored.items()})


def summarize(curve: Curve, train_acc_at_early_stop: float, train_acc_final: float) -> dict:
    best = curve.best_index()
    early, last = curve.iterations[best], curve.iterations[-1]
    val, test = curve.series["val_loss"], curve.series["test_acc"]
    test_early, test_final = test.at(early), test.at(last)
    if test_early is None or test_final is None:  # the evaluation plan measures both, by construction
        raise ValueError(f"internal error: no test accuracy recorded at iteration {early} or {last}")
    return {
        "early_stop_iteration": early,
        "val_loss_at_early_stop": val.values[best],
        "val_acc_at_early_stop": curve.series["val_acc"].values[best],
        "test_acc_at_early_stop": test_early,
        "train_acc_at_early_stop": train_acc_at_early_stop,
        "test_acc_final": test_final,
        "val_loss_final": val.values[-1],
        "train_acc_final": train_acc_final,
    }
