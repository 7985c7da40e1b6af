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

FINAL = ("succeeded", "failed", "interrupted")
KEEP_FINISHED = 200  # finished runs remembered (for their store location); the store has the rest


@dataclass
class LiveRun:
    run_id: str
    target: Path  # the real path run: later store look-ups for this run start from it
    cancel: threading.Event
    thread: threading.Thread
    started: float = field(default_factory=time.time)
    status: str = "running"  # from the run's events; the store is authoritative
    stages: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    finished: bool = False

    @property
    def running(self) -> bool:
        return not self.finished and self.thread.is_alive()


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
        """Start ``api.run`` in a thread; the future gets the run id once the run is recorded,
        or the exception (a compile error, bad parameters...) raised before that."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        recorded: Future[str] = Future()
        cancel = threading.Event()
        holder: dict[str, LiveRun] = {}

        def listener(event: dict[str, Any]) -> None:
            # called on the run's thread, in order: the first event is "run", with the id
            kind = event.get("event")
            if kind == "run":
                new = LiveRun(event["run_id"], target, cancel, threading.current_thread())
                new.stages = dict.fromkeys(event.get("stages", []), "pending")
                holder["run"] = new
                self._add(new)
                recorded.set_result(new.run_id)
                return
            live = holder.get("run")
            if live is None:
                return
            with self._lock:
                if kind == "stage":
                    live.stages[event["stage"]] = event["status"]
                elif kind == "interrupting":
                    live.status = "interrupting"
                elif kind == "end":
                    live.status = event["status"]

        def work() -> None:
            try:
                api.run(
                    target,
                    parameters,
                    listeners=[listener],
                    cancel=cancel,
                    origin="jupyter",
                    **options,
                )
            except BaseException as exc:
                if not recorded.done():  # failed before the run existed: the request answers
                    recorded.set_exception(exc)
                    return
                # the run is recorded (failed) by the runner itself; keep the reason for the log
                self.log.exception("mlops run %s ended with an error", holder["run"].run_id)
                with self._lock:
                    holder["run"].error = f"{type(exc).__name__}: {exc}"
            finally:
                if not recorded.done():  # cannot happen with the runner as it is; never hang
                    recorded.set_exception(RuntimeError("the run ended before it was recorded"))
                live = holder.get("run")
                if live is not None:
                    with self._lock:
                        live.finished = True
                        if live.status not in FINAL:
                            live.status = "failed"

        # daemon: a run must not keep a stopping server alive; stop_extension cancels it first
        thread = threading.Thread(target=work, name="mlops-run", daemon=True)
        thread.start()
        return recorded

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
            live.thread.join(max(0.0, deadline - time.monotonic()))
