import importlib
import pkgutil

from .branches import Branch, Start, Style, register_branch, unregister_branch
from .experiment import Experiment
from .imp import run_ticket_chain, run_ticket_level, ticket_mask
from .layout import TICKET, ExperimentPaths
from .runner import run_experiment, run_imp

# Import every module of this package, so that a branch module registers itself by being here.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "TICKET",
    "Branch",
    "Experiment",
    "ExperimentPaths",
    "Start",
    "Style",
    "register_branch",
    "run_experiment",
    "run_imp",
    "run_ticket_chain",
    "run_ticket_level",
    "ticket_mask",
    "unregister_branch",
]
