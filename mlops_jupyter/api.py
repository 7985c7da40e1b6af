"""The one core every face calls: the CLI, the ``%mlops`` magics, the widgets and the server.

Each function takes plain arguments, returns plain JSON-ready data (the same objects the CLI
prints with ``--json``), and raises :class:`~mlops_jupyter.errors.MlopsError` for bad input.
Faces only parse their own input and render these results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .paths import find_home

Listener = Callable[[dict[str, Any]], None]


def explain(notebook: str | Path) -> dict[str, Any]:
    """Stages, parameters and data flow of a notebook (``mlops explain --json``); writes nothing."""
    from .compiler import load_pipeline

    return load_pipeline(notebook).to_dict()


def compile(notebook: str | Path, output: str | Path | None = None) -> dict[str, Any]:
    """Compile into ``output`` (default: the store's pipelines folder); ``mlops compile --json``."""
    from .compiler import compile_notebook

    return compile_notebook(notebook, output).to_dict()


def run(
    target: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    jobs: int | None = None,
    no_cache: bool = False,
    force: list[str] | None = None,
    stages: list[str] | None = None,
    from_stage: str | None = None,
    origin: str = "api",
    listeners: list[Listener] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run a notebook or compiled folder and wait for it; returns the ``mlops run --json`` object.

    ``parameters`` values may be text (``"100"``, read as the declared type) or JSON values.
    ``listeners`` receive the run's events as they happen; setting ``cancel`` stops the run the
    way Ctrl-C does.
    """
    from .runner.run import RunOptions, run_pipeline

    options = RunOptions(
        parameters=dict(parameters or {}),
        jobs=jobs,
        no_cache=no_cache,
        force=list(force or []),
        stages=stages,
        from_stage=from_stage,
        origin=origin,
        cancel=cancel,
    )
    return run_pipeline(target, options, listeners)


def _store(where: str | Path | None) -> Any:
    from .store import Store

    return Store(find_home(Path(where) if where else Path.cwd()))


def runs(
    where: str | Path | None = None, *, limit: int = 20, notebook: str | Path | None = None
) -> list[dict[str, Any]]:
    """Runs newest first, from the store that serves ``where`` (a folder or notebook)."""
    with _store(where or notebook) as store:
        shown = str(Path(notebook).resolve()) if notebook else None
        return store.list_runs(limit=limit, notebook=shown)


def show(run_ref: str, where: str | Path | None = None) -> dict[str, Any]:
    """One run (``mlops show --json``); ``run_ref`` is an id, a unique prefix, or ``latest``."""
    with _store(where) as store:
        return store.get_run(store.resolve_run(run_ref))
