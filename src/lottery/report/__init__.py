from .results import LevelStats, Stat, aggregate, branch_kind, load_experiment
from .table import text_table

__all__ = ["LevelStats", "Stat", "aggregate", "branch_kind", "load_experiment", "text_table"]
