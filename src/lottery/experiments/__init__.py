from .experiment import Experiment
from .imp import run_ticket_level, ticket_mask
from .layout import TICKET, ExperimentPaths
from .runner import run_experiment, run_imp

__all__ = ["TICKET", "Experiment", "ExperimentPaths", "run_experiment", "run_imp", "run_ticket_level",
           "ticket_mask"]
