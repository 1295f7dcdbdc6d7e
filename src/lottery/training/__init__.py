from .loop import TrainResult, evaluate, train
from .metrics import Curve, summarize
from .optim import learning_rate, make_optimizer

__all__ = ["Curve", "TrainResult", "evaluate", "learning_rate", "make_optimizer", "summarize", "train"]
