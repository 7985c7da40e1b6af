"""The executor registry: which backends a run can hand its stages to, by name.

Shaped like papermill's engine registry: the built-in ``local`` executor registers exactly as a
plug-in does, and any installed package adds one under the ``mlops_jupyter.executors`` entry
point group (a factory taking the executor's options). Entry points are loaded on first use of
their name, so a run on ``local`` never imports another backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..plugins import Registry
from .executor import Executor

ENTRY_POINT_GROUP = "mlops_jupyter.executors"

Factory = Callable[..., Executor]


def _local(**options: Any) -> Executor:
    from .local import LocalExecutor  # papermill, jupyter_client: only when a stage runs

    return LocalExecutor(**options)


executors: Registry[Factory] = Registry(ENTRY_POINT_GROUP, "executor")
executors.register("local", _local)


def load_executor(name: str, **options: Any) -> Executor:
    """A started executor by name (``local``, or one an installed package registered)."""
    return executors.get(name)(**options)
