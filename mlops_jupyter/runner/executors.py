"""The executor registry: which backends a run can hand its stages to, by name.

Shaped like papermill's engine registry: the built-in ``local`` executor registers exactly as a
plug-in does, and any installed package adds one under the ``mlops_jupyter.executors`` entry
point group (a factory taking the executor's options). Entry points are loaded on first use of
their name, so a run on ``local`` never imports another backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import MlopsError
from .executor import Executor

ENTRY_POINT_GROUP = "mlops_jupyter.executors"

Factory = Callable[..., Executor]


class ExecutorRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        self._factories[name] = factory

    def _entry_points(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}

    def names(self) -> list[str]:
        return sorted({*self._factories, *self._entry_points()})

    def get(self, name: str) -> Factory:
        factory = self._factories.get(name)
        if factory is None:
            entry = self._entry_points().get(name)
            if entry is None:
                raise MlopsError(
                    f"no executor named '{name}'.", hint=f"Installed: {', '.join(self.names())}."
                )
            factory = self._factories[name] = entry.load()
        return factory


def _local(**options: Any) -> Executor:
    from .local import LocalExecutor  # papermill, jupyter_client: only when a stage runs

    return LocalExecutor(**options)


executors = ExecutorRegistry()
executors.register("local", _local)


def load_executor(name: str, **options: Any) -> Executor:
    """A started executor by name (``local``, or one an installed package registered)."""
    return executors.get(name)(**options)
