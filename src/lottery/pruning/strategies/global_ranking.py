"""Global pruning (Frankle & Carbin, Section 4): every round, the smallest weights of the chosen
kinds of layer, ranked all together, lose ``global_rate`` of what remains; other layers stay dense."""

from dataclasses import Field
from typing import ClassVar

from ...errors import UsageError
from ...kinds import KINDS
from ...settings import name_list, pruning_rate, setting
from ..strategy import PruningStrategy, register_strategy


def layer_kinds(kinds) -> str | None:
    if not kinds:
        return "must name at least one kind of layer"
    unknown = [k for k in kinds if k not in KINDS]
    return f"names unknown kinds of layer {unknown}; choose among {', '.join(KINDS)}" if unknown else None


@register_strategy("global")
class GlobalRanking(PruningStrategy):
    summary = "the layers of --prune-global-kinds ranked together"
    settings: ClassVar[dict[str, Field]] = {
        "global_rate": setting(
            0.2,
            flag="prune-global",
            check=pruning_rate,
            metavar="RATE",
            help="global: fraction of the remaining weights of the ranked layers pruned per round",
        ),
        "global_kinds": setting(
            ("conv", "fc"),
            flag="prune-global-kinds",
            parse=name_list,
            check=layer_kinds,
            metavar="KINDS",
            help="global: kinds of layer ranked together (default conv,fc: all but the output layer and shortcuts)",
        ),
    }

    def __init__(self, rate: float, names: list[str]):
        """Prune ``rate`` of the remaining weights of the layers ``names``, ranked together."""
        from ..magnitude import check_rate  # magnitude.py imports torch: not at module level (package docstring)

        check_rate(rate, "global pruning rate")
        self.rate, self.names = rate, list(names)

    @classmethod
    def from_hparams(cls, p, kinds: dict[str, str]) -> "GlobalRanking":
        names = [name for name, kind in kinds.items() if kind in p.global_kinds]
        if not names:
            raise UsageError(
                f"global pruning would prune nothing: {cls.flag('global_kinds')} "
                f"{','.join(p.global_kinds)} matches no prunable layer; the model's layers are of kinds "
                f"{', '.join(sorted(set(kinds.values()))) or '(none left)'}"
            )
        if p.global_rate == 0:
            raise UsageError(f"global pruning would prune nothing: {cls.flag('global_rate')} is 0")
        return cls(p.global_rate, names)

    def prune(self, weights, mask):
        from ..magnitude import global_magnitude_prune

        return global_magnitude_prune(weights, mask, self.rate, self.names)

    def prune_to_counts(self, trained, target):
        from ..magnitude import keep_largest

        ranked = [name for name in self.names if name in target]
        mask = keep_largest(trained, ranked, sum(int(target[n].sum()) for n in ranked)) if ranked else {}
        for name, keep in target.items():
            if name not in mask:  # not ranked: keeps its own count
                mask[name] = keep_largest(trained, [name], int(keep.sum()))[name]
        return {name: mask[name] for name in target}
