"""Experiments: the ticket chain and its branches, planned and run. Each module of this package that
defines a branch registers it (BRANCHES finds them on its first lookup)."""

from .branches import BRANCHES, Branch, Start, Style, register_branch, unregister_branch
from .experiment import Experiment
from .folder import ExperimentFolder
from .imp import run_ticket_level, ticket_mask
from .layout import TICKET, ExperimentPaths
from .level_record import LevelRecord
from .runner import run_experiment, run_imp

__all__ = [
    "BRANCHES",
    "TICKET",
    "Branch",
    "Experiment",
    "ExperimentFolder",
    "ExperimentPaths",
    "LevelRecord",
    "Start",
    "Style",
    "register_branch",
    "run_experiment",
    "run_imp",
    "run_ticket_level",
    "ticket_mask",
    "unregister_branch",
]
