"""Learning curves and what the paper reads off them (early-stop iteration = argmin validation loss)."""

from dataclasses import asdict, dataclass, field


@dataclass
class Curve:
    iterations: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    def add(self, iteration: int, val_loss: float, val_acc: float, test_acc: float) -> None:
        self.iterations.append(iteration)
        self.val_loss.append(val_loss)
        self.val_acc.append(val_acc)
        self.test_acc.append(test_acc)

    def best_index(self) -> int:
        """Index of the minimum validation loss (the first one on ties). Never uses the test set."""
        return min(range(len(self.val_loss)), key=self.val_loss.__getitem__)

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(curve: Curve, train_acc_at_early_stop: float, train_acc_final: float) -> dict:
    best = curve.best_index()
    return {
        "early_stop_iteration": curve.iterations[best],
        "val_loss_at_early_stop": curve.val_loss[best],
        "val_acc_at_early_stop": curve.val_acc[best],
        "test_acc_at_early_stop": curve.test_acc[best],
        "train_acc_at_early_stop": train_acc_at_early_stop,
        "test_acc_final": curve.test_acc[-1],
        "val_loss_final": curve.val_loss[-1],
        "train_acc_final": train_acc_final,
    }
