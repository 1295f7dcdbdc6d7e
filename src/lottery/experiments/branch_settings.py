"""A branch's own settings: hyperparameters that belong to one branch, not to the experiment (SNIP's
scoring batches, a control's training budget).

A branch with settings takes ``Draws(count, settings)`` where the others take a count of draws, and
hands each of its units a ``Draw(index, settings)``. Non-default settings name the branch's folder, as
non-default hyperparameters name the experiment, so two settings never write into the same folder:
``reinit_0``, ``reinit-iterations20000_0``, ``snip-batches4-layerwise_0``.
"""

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..errors import UsageError
from .branches import Branch


@dataclass(frozen=True)
class Draws:
    """What run_experiment takes for a branch with settings: ``count`` draws with ``settings`` (None:
    the branch's defaults). A plain int asks for that many draws with the defaults."""

    count: int
    settings: Any = None

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class Draw:
    """One draw of a branch with its settings: what the runner hands to ``folder`` and ``start``."""

    index: int
    settings: Any


def non_default(settings) -> dict:
    return {f.name: getattr(settings, f.name) for f in fields(settings) if getattr(settings, f.name) != f.default}


def settings_tag(settings) -> str:
    """The folder suffix of non-default settings, '' for the defaults: ``-batches4-batchsize256-layerwise``."""
    parts = [
        name.replace("_", "") + ("" if value is True else repr(value) if isinstance(value, float) else str(value))
        for name, value in non_default(settings).items()
    ]
    return "".join(f"-{p}" for p in parts)


class WithSettings(Branch):
    """A drawn branch whose draws carry settings of ``settings_type`` (a frozen dataclass whose every
    field has a default)."""

    settings_type: ClassVar[type]

    def as_draws(self, request) -> Draws:
        if isinstance(request, Draws):
            draws = request
        elif isinstance(request, int) and not isinstance(request, bool) and request >= 0:
            draws = Draws(request)
        else:
            raise UsageError(f"{self.option}={request!r}: give a number of draws, or Draws(count, settings)")
        settings = draws.settings if draws.settings is not None else self.settings_type()
        if not isinstance(settings, self.settings_type):
            raise UsageError(f"{self.name}: settings {settings!r} are not {self.settings_type.__name__}")
        return Draws(draws.count, settings)

    def as_draw(self, draw) -> Draw:
        return draw if isinstance(draw, Draw) else Draw(int(draw), self.settings_type())

    def units(self, request, levels: int) -> list[tuple[Draw, int]]:  # type: ignore[override]
        draws = self.as_draws(request)
        return [(Draw(d, draws.settings), k) for d in range(draws.count) for k in range(self.first_level, levels + 1)]

    def folder(self, draw) -> str:
        draw = self.as_draw(draw)
        return f"{self.name}{settings_tag(draw.settings)}_{draw.index}"
