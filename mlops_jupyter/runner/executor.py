"""The executor interface: how a stage task reaches a kernel. ``executors.py`` names the backends."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class StageTask:
    stage: str
    notebook: Path  # the compiled stage notebook
    executed: Path  # where the executed copy goes (outputs and tracebacks kept)
    manifest: Path  # where the stage writes the hashes of its outputs
    parameters: dict[str, Any]  # papermill parameters: the stage's values and the run context
    kernel_name: str
    cwd: Path
    source_notebook: str
    timeout: float | None = None
    retries: int = 0
    # the stage's `resources:NAME=N` tags: what a worker must have (Dask); local runs ignore it
    resources: dict[str, float] | None = None
    # set for an executor whose stages must not open mlops.db (``journals = True``): what the
    # stage's journal answers reads from (tracking/journal.py ``known``)
    journal: dict[str, Any] | None = None


@dataclass
class StageOutcome:
    ok: bool
    manifest: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 1
    started: float = field(default_factory=time.time)
    ended: float = field(default_factory=time.time)
    # what the stage recorded, for the run's process to write (executors with ``journals``)
    journal: list[dict[str, Any]] | None = None


class Executor(Protocol):
    # An executor whose stages run where mlops.db must not be opened (another host) sets
    # ``journals = True``: its tasks carry ``journal`` and its outcomes bring the records back.
    def warm(self, expected: int) -> None:
        """Get ready for about ``expected`` more tasks (start kernels, connect...)."""

    def submit(self, task: StageTask) -> Future[StageOutcome]: ...

    def cancel(self) -> None:
        """Stop everything now: running stages end as failed, no process left behind."""

    def close(self) -> None: ...
