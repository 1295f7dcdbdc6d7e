"""Things of one kind by name: models, data sets, pruning strategies, presets and branches.

Every registry follows the same three rules (docs/extending.md):

* **clash**: registering a name that is already taken is refused, in one line (and so is a value of
  another attribute the registry keeps unique, such as a branch's flag);
* **lookup**: an unknown name is a UsageError that lists the known names;
* **discovery**: before its first lookup a registry imports every module of its home package, so a
  built-in entry is a module placed there that registers itself on import. An entry defined elsewhere
  (your own script) is there once its module is imported.
"""

import importlib
import pkgutil
from typing import Generic, TypeVar

from .errors import LotteryError, UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, home: str, unique: str | None = None):
        """``kind``: what an entry is called in messages ("model"); ``home``: the package whose modules
        register the built-in entries (a plain module: the one that registers them all); ``unique``: an
        attribute of the entries that must differ between them, where set (not None)."""
        self.kind, self.home, self.unique = kind, home, unique
        self._entries: dict[str, T] = {}
        self._discovered = False

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise LotteryError(f"{self.kind} {name!r} is registered twice: rename one of them")
        value = getattr(entry, self.unique) if self.unique else None
        taken = next((n for n, e in self._entries.items() if value and getattr(e, self.unique or "") == value), None)
        if taken:
            raise LotteryError(f"{self.kind} {name!r} takes the {self.unique} {value} of {taken!r}: rename one of them")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def values(self) -> list[T]:
        """The entries, ordered by name."""
        return [self._entries[name] for name in self.names()]

    def discover(self) -> None:
        """Import the home package's modules once (a lookup made while they import sees those so far)."""
        if self._discovered:
            return
        self._discovered = True
        try:
            home = importlib.import_module(self.home)
            for module in pkgutil.iter_modules(getattr(home, "__path__", [])):
                importlib.import_module(f"{self.home}.{module.name}")
        except BaseException:
            self._discovered = False
            raise
