"""Model registry. Importing this package registers every built-in model."""

from . import conv, lenet, resnet, vgg  # noqa: F401  (registers models)
from .base import CONV, FC, KINDS, OUTPUT, SHORTCUT, LotteryModel, count_weights
from .registry import get_model_spec, model_names, register_model

__all__ = [
    "CONV",
    "FC",
    "KINDS",
    "OUTPUT",
    "SHORTCUT",
    "LotteryModel",
    "count_weights",
    "get_model_spec",
    "model_names",
    "register_model",
]
