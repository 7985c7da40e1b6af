"""Runs started by this server: each in its own thread, cancellable, outliving the request.

The store stays the record of truth (the runner writes every state change to it, and the CLI
reads the same store); this registry only holds what the store cannot: the cancel flag of a run
in this process, the thread running it, and where its store is, so later requests for the run
need no ``path``. One registry per server, reached through the tornado settings.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import api
from ..status import FINAL, RunStatus, StageStatus

KEEP_FINISHED = 200  # finished runs remembered (for their store location); the store has the rest


@dataclass
class LiveRun:
    run_id: str
    target: Path  # the real path run: later store look-ups for this run start from it
    handle: api.RunHandle
    started: float = field(default_factory=time.time)
    status: str = RunStatus.RUNNING  # from the run's events; the store is authoritative
    stages: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def cancel(self) -> threading.Event:
        return self.handle.cancel

    @property
    def finished(self) -> bool:
        return not self.handle.running

    @property
    def running(self) -> bool:
        return self.handle.running


class RunRegistry:
    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._runs: dict[str, LiveRun] = {}
        self._closed = False

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def active(self) -> list[LiveRun]:
        with self._lock:
            return [r for r in self._runs.values() if r.running]

    def start(
        self,
        target: Path,
        parameters: dict[str, Any],
        options: dict[str, Any],
    ) -> Future[str]:
        """Start the run (``api.start_run``); the future gets the run id once the run is
        recorded, or the exception (a compile error, bad parameters...) raised before that."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        holder: dict[str, LiveRun] = {}
        handle = api.RunHandle(cancel=threading.Event())

        def listener(event: dict[str, Any]) -> None:
            # called on the run's thread, in order: the first event is "run", with the id
            kind = event.get("event")
            if kind == "run":
                new = LiveRun(event["run_id"], target, handle)
                new.stages = dict.fromkeys(event.get("stages", []), StageStatus.PENDING)
                holder["run"] = new
                self._add(new)
                return
            live = holder.get("run")
            if live is None:
                return
            with self._lock:
                if kind == "stage":
                    live.stages[event["stage"]] = event["status"]
                elif kind == "interrupting":
                    live.status = RunStatus.INTERRUPTING
                elif kind == "end":
                    live.status = event["status"]

        def ended(done: api.RunHandle) -> None:
            live = holder.get("run")
            if live is None:
                return  # failed before the run existed: the request answers with the error
            if done.error is not None:
                # the run is recorded (failed) by the runner itself; keep the reason for the log
                self.log.error("mlops run %s ended with an error: %r", live.run_id, done.error)
            with self._lock:
                if done.error is not None:
                    live.error = f"{type(done.error).__name__}: {done.error}"
                if live.status not in FINAL:
                    live.status = RunStatus.FAILED

        api.start_run(
            target,
            parameters,
            listeners=[listener],
            on_done=ended,
            handle=handle,
            origin="jupyter",
            **options,
        )
        return handle.recorded

    def _add(self, live: LiveRun) -> None:
        with self._lock:
            self._runs[live.run_id] = live
            finished = sorted(
                (r for r in self._runs.values() if r.finished), key=lambda r: r.started
            )
            for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                del self._runs[old.run_id]

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every running run and wait (up to ``timeout``) for them to be recorded."""
        self._closed = True
        running = self.active()
        for live in running:
            live.cancel.set()
        deadline = time.monotonic() + timeout
        for live in running:
            live.handle.done.wait(max(0.0, deadline - time.monotonic()))
