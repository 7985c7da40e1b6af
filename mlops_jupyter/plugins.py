"""A registry of named implementations, shaped like papermill's engine registry.

The built-ins register exactly as a plug-in does; an installed package adds one under the
registry's entry point group. Entry points are loaded on first use of their name, so using one
implementation never imports another. Executors (``runner/executors.py``) and exporters
(``export/``) are such registries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import MlopsError

F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[F]):
    def __init__(self, group: str, kind: str) -> None:
        self.group = group  # the entry point group plug-ins register under
        self.kind = kind  # what one is called in messages ("executor", "export")
        self._factories: dict[str, F] = {}

    def register(self, name: str, factory: F) -> None:
        self._factories[name] = factory

    def _entry_points(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {entry.name: entry for entry in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted({*self._factories, *self._entry_points()})

    def get(self, name: str) -> F:
        factory = self._factories.get(name)
        if factory is None:
            entry = self._entry_points().get(name)
            if entry is None:
                raise MlopsError(
                    f"no {self.kind} named '{name}'.",
                    hint=f"Installed: {', '.join(self.names())}.",
                )
            factory = self._factories[name] = entry.load()
        return factory
