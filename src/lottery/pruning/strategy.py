"""Pruning strategies by name. A strategy module registers a class by decorator:

    @register_strategy("layerwise")
    class LayerWise(PruningStrategy):
        fields = ("conv_rate", ...)          # the PruningHparams fields it reads

        @classmethod
        def from_hparams(cls, p, kinds): ... # p: PruningHparams; kinds: prunable weight name -> kind
        def prune(self, weights, mask): ...            # one round of pruning
        def prune_to_counts(self, trained, target): ...  # one-shot: prune to target's per-layer counts

``from_hparams`` refuses (UsageError) a configuration that would prune nothing or that sets a
field the model cannot use; everything else about the experiment is checked by
``ExperimentHparams.validate``, which also refuses a non-default value in a field that belongs
to another strategy.
"""

from typing import ClassVar

import torch

from ..errors import UsageError
from .mask import Mask

_STRATEGIES: dict[str, type["PruningStrategy"]] = {}


class PruningStrategy:
    """One way of choosing which weights a round of pruning removes, set up for one model."""

    name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_hparams(cls, p, kinds: dict[str, str]) -> "PruningStrategy":
        raise NotImplementedError

    def prune(self, weights: dict[str, torch.Tensor], mask: Mask) -> Mask:
        """One round: a new mask with some of ``mask``'s survivors removed, chosen from ``weights``."""
        raise NotImplementedError

    def prune_to_counts(self, trained: dict[str, torch.Tensor], target: Mask) -> Mask:
        """One step from dense ``trained`` weights to a mask keeping as many weights as ``target``,
        where this strategy decides them (per layer, or per group of layers ranked together)."""
        raise NotImplementedError


def register_strategy(name: str):
    def decorator(cls):
        cls.name = name
        _STRATEGIES[name] = cls
        return cls

    return decorator


def strategy_names() -> list[str]:
    return sorted(_STRATEGIES)


def get_strategy(name: str) -> type[PruningStrategy]:
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise UsageError(f"unknown pruning strategy {name!r}; choose one of: {', '.join(strategy_names())}") from None


def strategy_fields() -> set[str]:
    """PruningHparams fields that belong to some strategy (the others apply to every strategy)."""
    return {name for cls in _STRATEGIES.values() for name in cls.fields}
