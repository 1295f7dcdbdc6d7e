"""Models: each module of this package that defines one registers it (MODELS finds them on its first lookup)."""

from ..kinds import CONV, FC, KINDS, OUTPUT, SHORTCUT
from .base import LotteryModel, count_weights
from .registry import MODELS, get_model_spec, model_names, register_model

__all__ = [
    "CONV",
    "FC",
    "KINDS",
    "MODELS",
    "OUTPUT",
    "SHORTCUT",
    "LotteryModel",
    "count_weights",
    "get_model_spec",
    "model_names",
    "register_model",
]
