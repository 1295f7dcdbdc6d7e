from . import controls, oneshot  # noqa: F401  (register their branches; imp registers the ticket)
from .branches import Branch, Start, Style, register_branch, unregister_branch
from .experiment import Experiment
from .imp import run_ticket_level, ticket_mask
from .layout import TICKET, ExperimentPaths
from .runner import run_experiment, run_imp

__all__ = ["TICKET", "Branch", "Experiment", "ExperimentPaths", "Start", "Style", "register_branch", "run_experiment",
           "run_imp", "run_ticket_level", "ticket_mask", "unregister_branch"]
