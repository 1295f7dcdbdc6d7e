"""Beyond the paper: ticket anatomy (densities, mask overlaps, start values, input connectivity), and instability
analysis. Every function takes plain masks and state dicts."""

from .anatomy import border_share, first_image_layer, input_connectivity, magnitude_change, start_values
from .overlap import expected_random_jaccard, expected_random_jaccard_counts, jaccard

__all__ = [
    "border_share",
    "expected_random_jaccard",
    "expected_random_jaccard_counts",
    "first_image_layer",
    "input_connectivity",
    "jaccard",
    "magnitude_change",
    "start_values",
]
