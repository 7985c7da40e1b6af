"""The status vocabulary of runs and stages, and the run events every listener receives.

One copy for every part: the runner writes these values, the store keeps them, the views colour
them, the server sends them. ``tests/cases/statuses.json`` holds the same lists and is checked
against both this module and the JupyterLab extension's ``src/status.ts``.

The members are ``str`` subclasses, so they compare equal to, print as, JSON-encode as and are
stored in SQLite as their plain values (``RunStatus.FAILED == "failed"``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any


class _Status(str, Enum):
    # Python 3.11 changed how format() shows mixed-in enums; a status must always read as its value
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RunStatus(_Status):
    RUNNING = "running"
    INTERRUPTING = "interrupting"  # cancel asked for; never stored, only sent to listeners
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        return self in FINAL


class StageStatus(_Status):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"


# a run in one of these never changes again
FINAL: frozenset[str] = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.INTERRUPTED})
# still moving: a run or stage in one of these may change
ACTIVE: frozenset[str] = frozenset({StageStatus.PENDING, RunStatus.RUNNING, RunStatus.INTERRUPTING})
# a stage in one of these handed on its outputs: what a downstream stage waits for
DONE_OK: frozenset[str] = frozenset({StageStatus.SUCCEEDED, StageStatus.CACHED})

# A run reports what happens as plain dicts, to any number of listeners (the terminal progress,
# a widget, the server's run registry), in order, on the run's thread:
#   {"event": "run", "run_id", "pipeline", "version", "stages", "after", "run_dir"}
#   {"event": "stage", "run_id", "stage", "status": StageStatus, "duration_s", "error"}
#   {"event": "interrupting", "run_id"}
#   {"event": "end", "run_id", "status": RunStatus}
Event = dict[str, Any]
Listener = Callable[[Event], None]
