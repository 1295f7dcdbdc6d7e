"""Layer-wise pruning (Frankle & Carbin, Sections 2-3): every round, each layer loses the same
fraction of its remaining weights, one rate per kind of layer (conv, fc, output, shortcut)."""

from dataclasses import Field
from typing import ClassVar

from ...errors import UsageError
from ...settings import pruning_rate, setting
from ..strategy import PruningStrategy, register_strategy

RATE_OF_KIND = {"conv": "conv_rate", "fc": "fc_rate", "output": "output_rate", "shortcut": "shortcut_rate"}


def _rate(default: float, kind: str, help: str):
    return setting(default, flag=f"prune-{kind}", check=pruning_rate, metavar="RATE", help=help)


@register_strategy("layerwise")
class LayerWise(PruningStrategy):
    summary = "each layer its kind's rate"
    settings: ClassVar[dict[str, Field]] = {
        "conv_rate": _rate(0.0, "conv", "layerwise: fraction of each conv layer's remaining weights pruned per round"),
        "fc_rate": _rate(0.2, "fc", "layerwise: the same for hidden fully connected layers"),
        "output_rate": _rate(0.1, "output", "layerwise: the same for the output layer"),
        "shortcut_rate": _rate(0.0, "shortcut", "layerwise: the same for ResNet 1x1 shortcut convs"),
    }

    def __init__(self, rates: dict[str, float]):
        """``rates``: prunable weight name -> fraction of its remaining weights pruned per round."""
        from ..magnitude import check_rate  # magnitude.py imports torch: not at module level (package docstring)

        for name, rate in rates.items():
            check_rate(rate, f"pruning rate of {name}")
        self.rates = dict(rates)

    @classmethod
    def from_hparams(cls, p, kinds: dict[str, str]) -> "LayerWise":
        present = set(kinds.values())
        for kind, field in RATE_OF_KIND.items():
            value, default = getattr(p, field), cls.default(field)
            if kind not in present and value != default:
                raise UsageError(
                    f"{cls.flag(field)} {value} is unused: the model has no {kind} layers "
                    f"to prune (leave it at {default})"
                )
        rates = {name: getattr(p, RATE_OF_KIND[kind]) for name, kind in kinds.items()}
        if not any(rates.values()):
            used = sorted(f"{cls.flag(RATE_OF_KIND[k])} {getattr(p, RATE_OF_KIND[k])}" for k in present)
            raise UsageError(
                f"layer-wise pruning would prune nothing: the model's layers all have rate 0 "
                f"({', '.join(used) or 'no prunable layers left'})"
            )
        return cls(rates)

    def prune(self, weights, mask):
        from ..magnitude import layerwise_magnitude_prune

        return layerwise_magnitude_prune(weights, mask, self.rates)

    def prune_to_counts(self, trained, target):
        from ..magnitude import keep_largest

        return {name: keep_largest(trained, [name], int(keep.sum()))[name] for name, keep in target.items()}
