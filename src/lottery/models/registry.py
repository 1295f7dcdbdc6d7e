"""Models by name. A model module in this package registers a builder
``(input_shape, num_classes, dropout) -> LotteryModel``; MODELS imports every module here before its first lookup."""

from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Registry
from .base import LotteryModel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., LotteryModel]
    dataset: str  # the data set the paper trains it on


MODELS: Registry[ModelSpec] = Registry("model", "lottery.models")


def register_model(name: str, dataset: str):
    def decorator(build):
        MODELS.register(name, ModelSpec(name, build, dataset))
        return build

    return decorator


def model_names() -> list[str]:
    return MODELS.names()


def get_model_spec(name: str) -> ModelSpec:
    return MODELS.get(name)
