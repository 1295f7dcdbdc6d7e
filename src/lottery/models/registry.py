"""Models by name. A model module registers a builder ``(input_shape, num_classes, dropout) -> LotteryModel``."""

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UsageError
from .base import LotteryModel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., LotteryModel]
    dataset: str  # the data set the paper trains it on


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, dataset: str):
    def decorator(build):
        _MODELS[name] = ModelSpec(name, build, dataset)
        return build

    return decorator


def model_names() -> list[str]:
    return sorted(_MODELS)


def get_model_spec(name: str) -> ModelSpec:
    try:
        return _MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; choose one of: {', '.join(model_names())}") from None
