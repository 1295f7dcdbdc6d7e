from .results import LevelStats, Stat, aggregate, branch_kind, load_experiment
from .table import markdown_table, text_table

__all__ = ["LevelStats", "Stat", "aggregate", "branch_kind", "load_experiment", "markdown_table", "text_table"]
