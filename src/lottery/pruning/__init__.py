"""Masks, magnitude/random pruning, and the pruning strategies (each module of this package that defines
one registers it; STRATEGIES imports them all before its first lookup)."""

from .magnitude import (
    check_rate,
    global_magnitude_prune,
    keep_largest,
    layerwise_magnitude_prune,
    prune_count,
    random_mask_like,
)
from .mask import Mask, apply_mask, density, full_mask, layer_density, pruned_weights_nonzero
from .strategy import STRATEGIES, PruningStrategy, get_strategy, register_strategy, strategy_names
from .global_ranking import GlobalRanking
from .layerwise import LayerWise

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
