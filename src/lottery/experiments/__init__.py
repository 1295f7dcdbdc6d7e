from .experiment import Experiment
from .imp import run_imp, run_ticket_level, ticket_mask
from .layout import TICKET, ExperimentPaths

__all__ = ["TICKET", "Experiment", "ExperimentPaths", "run_imp", "run_ticket_level", "ticket_mask"]
