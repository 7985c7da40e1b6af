"""Live progress on stderr: one line per stage state change, elapsed time since the run began."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

_MARKS = {
    "running": "..",
    "succeeded": "ok",
    "cached": "==",
    "failed": "!!",
    "skipped": "--",
}


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.start = time.monotonic()
        self.width = 12

    def __call__(self, event: dict[str, Any]) -> None:
        """A run listener: one line per stage state change."""
        kind = event["event"]
        if kind == "run":
            self.header(
                f"run {event['run_id']}: pipeline '{event['pipeline']}' version {event['version']}"
            )
        elif kind == "stage":
            self.stage(event["stage"], event["status"], event["duration_s"], event["error"] or "")
        elif kind == "interrupting":
            self.header("interrupted: stopping kernels")

    def header(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def stage(self, name: str, status: str, duration: float | None = None, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        took = f" ({duration:.2f}s)" if duration is not None else ""
        line = f"[{elapsed:6.1f}s] {_MARKS.get(status, '  ')} {name:<{self.width}} {status}{took}"
        if note:
            line += f"  {note}"
        print(line, file=self.stream, flush=True)
