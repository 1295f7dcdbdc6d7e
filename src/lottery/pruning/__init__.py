"""Masks and magnitude/random pruning."""

from .magnitude import (check_rate, global_magnitude_prune, layerwise_magnitude_prune, prune_count,
                        random_mask_like)
from .mask import Mask, apply_mask, density, full_mask, layer_density, pruned_weights_nonzero

__all__ = ["Mask", "apply_mask", "check_rate", "density", "full_mask", "global_magnitude_prune",
           "layer_density", "layerwise_magnitude_prune", "prune_count", "pruned_weights_nonzero",
           "random_mask_like"]
