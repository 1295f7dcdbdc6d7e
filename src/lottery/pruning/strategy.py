"""Pruning strategies by name. A strategy is one class in a module of ``strategies/``, registered by
decorator; it declares the PruningHparams fields it reads, and hparams.py adds them to PruningHparams:

    @register_strategy("layerwise")
    class LayerWise(PruningStrategy):
        summary = "each layer its kind's rate"   # its part of --prune-strategy's help
        settings = {"conv_rate": setting(0.0, flag="prune-conv", check=pruning_rate, help=...), ...}

        @classmethod
        def from_hparams(cls, p, kinds): ... # p: PruningHparams; kinds: prunable weight name -> kind
        def prune(self, weights, mask): ...            # one round of pruning
        def prune_to_counts(self, trained, target): ...  # one-shot: prune to target's per-layer counts

``from_hparams`` refuses (UsageError) a configuration that would prune nothing or that sets a
field the model cannot use; everything else about the experiment is checked by
``ExperimentHparams.validate``, which runs each setting's check and refuses a non-default value in a
field that belongs to another strategy.
"""

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from ..registry import Registry
from ..settings import field_default, field_flag

if TYPE_CHECKING:  # for annotations only: hparams.py imports this module in commands that need no torch
    import torch

    from .mask import Mask


class PruningStrategy:
    """One way of choosing which weights a round of pruning removes, set up for one model."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    settings: ClassVar[dict[str, dataclasses.Field]] = {}  # its PruningHparams fields, made with setting()

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line flag of one of this strategy's settings."""
        return field_flag(name, cls.settings[name])

    @classmethod
    def default(cls, name: str) -> Any:
        return field_default(cls.settings[name])

    @classmethod
    def from_hparams(cls, p, kinds: dict[str, str]) -> "PruningStrategy":
        raise NotImplementedError

    def prune(self, weights: "dict[str, torch.Tensor]", mask: "Mask") -> "Mask":
        """One round: a new mask with some of ``mask``'s survivors removed, chosen from ``weights``."""
        raise NotImplementedError

    def prune_to_counts(self, trained: "dict[str, torch.Tensor]", target: "Mask") -> "Mask":
        """One step from dense ``trained`` weights to a mask keeping as many weights as ``target``,
        where this strategy decides them (per layer, or per group of layers ranked together)."""
        raise NotImplementedError


STRATEGIES: Registry[type[PruningStrategy]] = Registry("pruning strategy", "lottery.pruning.strategies")


def register_strategy(name: str):
    def decorator(cls):
        cls.name = name
        STRATEGIES.register(name, cls)
        return cls

    return decorator


def strategy_names() -> list[str]:
    return STRATEGIES.names()


def get_strategy(name: str) -> type[PruningStrategy]:
    return STRATEGIES.get(name)
