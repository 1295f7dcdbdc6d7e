"""Masks, magnitude/random pruning, and the pruning strategies (each module of ``strategies/`` defines
one and registers it; STRATEGIES imports them all before its first lookup).

The names below are imported on first use (PEP 562), so that importing a module of this package, such
as ``strategy`` for the strategies' settings in ``lottery --help``, imports no torch."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .magnitude import (
        check_rate,
        global_magnitude_prune,
        keep_largest,
        layerwise_magnitude_prune,
        prune_count,
        random_mask_like,
    )
    from .mask import Mask, apply_mask, density, full_mask, layer_density, pruned_weights_nonzero
    from .strategies.global_ranking import GlobalRanking
    from .strategies.layerwise import LayerWise
    from .strategy import STRATEGIES, PruningStrategy, get_strategy, register_strategy, strategy_names

_EXPORTS = {  # module of this package -> the names it exports here
    "magnitude": (
        "check_rate",
        "global_magnitude_prune",
        "keep_largest",
        "layerwise_magnitude_prune",
        "prune_count",
        "random_mask_like",
    ),
    "mask": ("Mask", "apply_mask", "density", "full_mask", "layer_density", "pruned_weights_nonzero"),
    "strategy": ("STRATEGIES", "PruningStrategy", "get_strategy", "register_strategy", "strategy_names"),
    "strategies.global_ranking": ("GlobalRanking",),
    "strategies.layerwise": ("LayerWise",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "STRATEGIES",
    "GlobalRanking",
    "LayerWise",
    "Mask",
    "PruningStrategy",
    "apply_mask",
    "check_rate",
    "density",
    "full_mask",
    "get_strategy",
    "global_magnitude_prune",
    "keep_largest",
    "layer_density",
    "layerwise_magnitude_prune",
    "prune_count",
    "pruned_weights_nonzero",
    "random_mask_like",
    "register_strategy",
    "strategy_names",
]


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
