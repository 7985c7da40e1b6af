"""What a served model answered, written into the store in batches off the request path.

A request appends one tuple to a list under a lock and returns; a daemon thread writes the list
in one transaction every second (as the metrics tracker does). A request never waits on SQLite:
when the store is slow or locked the rows wait in memory, and past :data:`MAX_PENDING` the
oldest are dropped and counted (the count is logged and kept in :attr:`Recorder.dropped`), so a
stalled disk costs records, never latency or memory. Every request is recorded (latency, status,
rows) so counts and error rates are exact; ``sample`` decides which also keep their inputs and
predictions, the data drift is computed from.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

FLUSH_INTERVAL = 1.0
MAX_PENDING = 200_000

log = logging.getLogger("mlops_jupyter.serve")


def inputs_json(rows: Any) -> str | None:
    """A request's rows as ``{"columns", "data"}`` (a frame) or ``{"data"}`` (an array)."""
    try:
        if hasattr(rows, "columns") and hasattr(rows, "to_numpy"):
            # plain lists through json.dumps: ~30x quicker than pandas' to_json on a one-row
            # frame; a missing number is written NaN, which json.loads (the monitor) reads back
            columns = [str(c) for c in rows.columns]
            return json.dumps(
                {"columns": columns, "data": rows.to_numpy(dtype=object).tolist()}, default=str
            )
        data = rows.tolist() if hasattr(rows, "tolist") else rows
        return json.dumps({"data": data}, default=str)
    except (TypeError, ValueError):  # a value JSON cannot hold: the request still counts
        return None


class Recorder:
    """The buffered writer of one server process."""

    def __init__(self, home: Path, model: str, *, sample: float = 1.0) -> None:
        self.home, self.model, self.sample = home, model, sample
        self._pending: deque[tuple[Any, ...]] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="mlops-serve-recorder", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        return self.sample >= 1.0 or random.random() < self.sample

    def add(
        self,
        version: int,
        latency_ms: float,
        status: int,
        rows: int,
        inputs: str | None = None,
        predictions: str | None = None,
        error: str | None = None,
    ) -> None:
        row = (
            self.model,
            version,
            time.time(),
            latency_ms,
            status,
            rows,
            inputs,
            predictions,
            error,
        )
        with self._lock:
            if len(self._pending) == MAX_PENDING:
                self.dropped += 1  # the deque drops the oldest as this one goes in
            self._pending.append(row)

    def flush(self) -> None:
        """Write what is waiting now (the thread does it every second anyway)."""
        with self._lock:
            rows = list(self._pending)
            self._pending.clear()
        if not rows:
            return
        from ..store.db import Store

        try:
            with Store(self.home, shared=True) as store:
                store.add_serving_rows(rows)
        except Exception as exc:  # a locked or full store: keep the rows for the next try
            log.warning("mlops serve: recording %d requests failed (%s); retrying", len(rows), exc)
            with self._lock:
                room = MAX_PENDING - len(self._pending)
                kept = rows[-room:] if room > 0 else []
                self.dropped += len(rows) - len(kept)
                self._pending.extendleft(reversed(kept))
            return
        self.written += len(rows)

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
        if self.dropped:
            log.warning("mlops serve: %d request records were dropped", self.dropped)
