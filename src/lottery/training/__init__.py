from .evaluation import EvaluationPlan
from .loop import TrainResult, evaluate, train
from .metrics import Curve, summarize
from .optim import learning_rate, make_optimizer
from .schedule import Schedule

__all__ = [
    "Curve",
    "EvaluationPlan",
    "Schedule",
    "TrainResult",
    "evaluate",
    "learning_rate",
    "make_optimizer",
    "summarize",
    "train",
]
