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


@dataclass
class StageOutcome:
    ok: bool
    manifest: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 1
    started: float = field(default_factory=time.time)
    ended: float = field(default_factory=time.time)


class Executor(Protocol):
    def warm(self, expected: int) -> None:
        """Get ready for about ``expected`` more tasks (start kernels, connect...)."""

    def submit(self, task: StageTask) -> Future[StageOutcome]: ...

    def cancel(self) -> None:
        """Stop everything now: running stages end as failed, no process left behind."""

    def close(self) -> None: ...
