"""The runtime API: ``import mlops_jupyter as mlops; mlops.log_metric("loss", 0.3, step=1)``.

**Where values go.** Inside a pipeline stage, ``values.start``/``load_inputs`` hand this module
the run context the runner injected (``_mlops``: run id, stage, store), so everything lands in
that run and stage. Anywhere else, the first call opens an *interactive run* (origin
``interactive``) for the notebook (``JPY_SESSION_NAME``, VS Code's ``__vsc_ipynb_file__``), or
``interactive`` when no notebook is known; it is finished when the process exits.

**Batched writes.** ``log_metric`` validates and appends to an in-memory buffer; a background
thread writes the buffer in one SQLite transaction every ``FLUSH_INTERVAL`` seconds (sooner once
``FLUSH_AT`` values wait). The buffer is also written by ``flush()``, at process exit (atexit),
after every notebook cell (an IPython ``post_run_cell`` hook, which runs even when the cell
raised), and before a stage hands on its outputs. Stage kernels are killed, not shut down, so
the last two are what make a stage's values durable; a failed flush keeps the values buffered
for the next attempt. Past ``MAX_BUFFER`` waiting values the caller writes them itself, which
bounds memory when a loop logs faster than SQLite stores.

**Values.** A metric is a real number: ``int``, ``float``, ``bool``, or anything with
``__float__`` (numpy scalars and 0-d arrays, one-element tensors). Strings, ``None``, complex numbers
and other objects raise ``TypeError`` naming the key. NaN and ±inf are stored as they are, never
dropped or refused: a diverging loss is a result worth keeping. SQLite keeps ±inf; it turns NaN
into NULL, which the store reads back as NaN (``Store.metric_series``); JSON faces print both as
``null``.

Importing this module costs only the standard library's threading; sqlite3 (through the store)
is imported by the first write, pandas only by ``track_data`` of a table.
"""

from __future__ import annotations

import atexit
import operator
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..session import current_notebook, ipython_shell

if TYPE_CHECKING:
    from ..store.db import MetricRow, Store
    from .datasets import DataVersion

FLUSH_INTERVAL = 1.0  # seconds between background writes
FLUSH_AT = 100_000  # waiting values that wake the flush thread early
MAX_BUFFER = 1_000_000  # waiting values beyond which the caller writes them itself
MAX_KEY = 250

_now = time.time


class _Tracker:
    """One run context in this process: its buffer, its store connection, its flush thread."""

    def __init__(
        self, run_id: str, stage: str | None, home: str | Path, *, owns_run: bool = False
    ) -> None:
        self.run_id = run_id
        self.stage = stage
        self.home = Path(home)
        self.owns_run = owns_run  # an interactive run this process opened, and must finish
        self.buffer: list[MetricRow] = []
        self.lock = threading.Lock()  # guards the buffer only: held for an append
        self.write_lock = threading.RLock()  # one writer at a time on the shared connection
        self.wake = threading.Event()
        self.closed = False
        self.thread: threading.Thread | None = None
        self.warned = False
        self._store: Store | None = None
        self.mirror: Any = None

    def store(self) -> Store:
        if self._store is None:
            from ..store.db import Store

            self._store = Store(self.home, shared=True)
        return self._store

    def start(self) -> None:
        """Start the flush thread (on the first logged value, so a stage that logs nothing
        starts none)."""
        with self.lock:
            if self.thread is not None or self.closed:
                return
            self.thread = threading.Thread(target=self._loop, name="mlops-flush", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.closed:
            self.wake.wait(FLUSH_INTERVAL)
            self.wake.clear()
            try:
                self.flush()
            except Exception as exc:  # kept buffered; say so once, try again next round
                if not self.warned:
                    self.warned = True
                    print(
                        f"mlops: could not write metrics yet ({exc}); will retry", file=sys.stderr
                    )

    def pressure(self, waiting: int) -> None:
        if waiting >= MAX_BUFFER:
            self.flush()
        else:
            self.wake.set()

    def flush(self) -> None:
        with self.write_lock:
            with self.lock:
                rows, self.buffer = self.buffer, []
            if not rows:
                return
            try:
                self.store().add_metric_rows(rows)
            except BaseException:
                with self.lock:
                    self.buffer[:0] = rows  # nothing is lost: the next flush writes them
                raise
            if self.mirror is not None:
                self.mirror.metrics(rows)

    def close(self, status: str = "succeeded", error: str | None = None) -> None:
        self.closed = True
        self.wake.set()
        try:
            self.flush()
        finally:
            with self.write_lock:
                if self.owns_run:
                    self.store().finish_run(self.run_id, status, error)
                if self.mirror is not None:
                    self.mirror.finish(status)
                if self._store is not None:
                    self._store.close()
                    self._store = None


_current: _Tracker | None = None
_context: dict[str, Any] | None = None  # the pipeline run context, when in a stage
_setup_lock = threading.RLock()
_hooked = False


# -- the context


def _after_cell(*_: Any) -> None:
    tracker = _current
    if tracker is not None:
        try:
            tracker.flush()
        except Exception:
            pass  # kept buffered; the flush thread retries and warns


def _hook_cells() -> None:
    """Flush after every cell, so a value logged before an exception is stored even when the
    kernel is then killed (a failed pipeline stage) — and widgets see values cell by cell."""
    global _hooked
    shell = ipython_shell()
    if shell is not None and not _hooked:
        shell.events.register("post_run_cell", _after_cell)
        _hooked = True


def _open_interactive() -> _Tracker:
    from ..home import find_home
    from ..store.db import Store
    from ..store.environment import git_state, python_version

    found = current_notebook(ipython_shell())
    notebook = str(found) if found else None
    folder = Path(notebook).parent if notebook else Path.cwd()
    home = find_home(folder)
    import platform

    environment = {"python": python_version(), "platform": platform.platform(), **git_state(folder)}
    store = Store(home, shared=True)
    run_id, _ = store.start_run(
        pipeline=Path(notebook).stem if notebook else "interactive",
        version="interactive",
        notebook=notebook,
        compiled="",
        parameters={},
        stages=[],
        environment=environment,
        origin="interactive",
    )
    tracker = _Tracker(run_id, None, home, owns_run=True)
    tracker._store = store
    return tracker


def _stage_context() -> dict[str, Any] | None:
    """The run context of a stage notebook whose inputs cell has not run yet (a setup cell that
    logs): papermill injected it as the global ``_mlops``."""
    shell = ipython_shell()
    found = shell.user_ns.get("_mlops") if shell is not None else None
    if isinstance(found, Mapping) and found.get("run_id") and found.get("home"):
        return {k: found.get(k) for k in ("run_id", "stage", "home")}
    return None


def _tracker() -> _Tracker:
    """The current tracker, made on first use: the stage's, else a new interactive run."""
    global _current, _context
    with _setup_lock:
        if _current is None:
            if _context is None:
                _context = _stage_context()
            if _context is not None:
                _current = _Tracker(_context["run_id"], _context.get("stage"), _context["home"])
            else:
                _current = _open_interactive()
            _current.mirror = _mirror(_current)
            _hook_cells()
        _current.start()
        return _current


def _mirror(tracker: _Tracker) -> Any:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    from . import mlflow_mirror

    return mlflow_mirror.open_mirror(tracker.run_id, tracker.stage)


def enter_stage(context: Mapping[str, Any]) -> None:
    """Called by ``values.start``/``load_inputs``: what follows belongs to this run and stage."""
    global _context, _current
    with _setup_lock:
        if _current is not None and (
            _current.run_id != context.get("run_id") or _current.stage != context.get("stage")
        ):
            _current.close()
            _current = None
        _context = {k: context.get(k) for k in ("run_id", "stage", "home")}
        if not _context["run_id"] or not _context["home"]:
            _context = None  # a context from an older runner: track interactively instead
        _hook_cells()


def current_run() -> dict[str, Any] | None:
    """``{"run_id", "stage", "home", "interactive"}`` of the active context, or None before the
    first call outside a pipeline (nothing is opened by asking)."""
    tracker = _current
    if tracker is not None:
        return {
            "run_id": tracker.run_id,
            "stage": tracker.stage,
            "home": str(tracker.home),
            "interactive": tracker.owns_run,
        }
    if _context is not None:
        return {**_context, "interactive": False}
    return None


# -- checking values


def _bad_key(key: Any) -> None:
    if not isinstance(key, str):
        raise TypeError(f"a metric or parameter name is a str, not {type(key).__name__} ({key!r}).")
    if not key:
        raise ValueError("a metric or parameter name cannot be empty.")
    raise ValueError(f"the name {key[:40]!r}... is longer than {MAX_KEY} characters.")


def real_number(key: str, value: Any) -> float:
    """``value`` as a float if it is a real number (NaN and ±inf too); else TypeError naming ``key``."""
    if isinstance(value, (str, bytes, complex)) or value is None or not hasattr(value, "__float__"):
        raise TypeError(
            f"metric '{key}' must be a real number, not {type(value).__name__} ({value!r:.60}). "
            "Log text with log_param."
        )
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(
            f"metric '{key}' must be a real number; {type(value).__name__} {value!r:.60} is not ({exc})."
        ) from None


def _step(key: str, step: Any) -> int:
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(
            f"step of metric '{key}' must be an int, not {type(step).__name__} ({step!r:.60})."
        ) from None


# -- the API


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Record one value of metric ``key`` (optionally at ``step``) for the current run."""
    tracker = _current if _current is not None else _tracker()
    if type(key) is not str or not key or len(key) > MAX_KEY:
        _bad_key(key)
    if type(value) is not float:
        value = real_number(key, value)
    if step is not None and type(step) is not int:
        step = _step(key, step)
    with tracker.lock:
        buffer = tracker.buffer
        buffer.append((tracker.run_id, tracker.stage, key, step, value, _now()))
        waiting = len(buffer)
    if waiting >= FLUSH_AT:
        tracker.pressure(waiting)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Record several metrics at once (one buffer append for all of them)."""
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"log_metrics takes a dict of name -> number, not {type(metrics).__name__}."
        )
    tracker = _current if _current is not None else _tracker()
    if step is not None and type(step) is not int:
        step = _step(next(iter(metrics), "?"), step)
    run_id, stage, now = tracker.run_id, tracker.stage, _now()
    rows = []
    for key, value in metrics.items():
        if type(key) is not str or not key or len(key) > MAX_KEY:
            _bad_key(key)
        if type(value) is not float:
            value = real_number(key, value)
        rows.append((run_id, stage, key, step, value, now))
    with tracker.lock:
        buffer = tracker.buffer
        buffer.extend(rows)
        waiting = len(buffer)
    if waiting >= FLUSH_AT:
        tracker.pressure(waiting)


def _param_value(key: str, value: Any) -> tuple[Any, str]:
    import json

    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"parameter '{key}' is a {type(value).__module__}.{type(value).__qualname__}, which "
            "is not a plain value; log str(value), a number, or a list/dict of those."
        ) from None
    return value, type(value).__name__


def log_param(key: str, value: Any) -> None:
    """Record a parameter of the current run. A run keeps one value per name: logging another
    value for a name it has (a pipeline parameter, or one logged earlier) is a ``ValueError``."""
    if type(key) is not str or not key or len(key) > MAX_KEY:
        _bad_key(key)
    plain, kind = _param_value(key, value)
    tracker = _tracker()
    with tracker.write_lock:
        clash = tracker.store().add_param(tracker.run_id, tracker.stage, key, plain, kind)
    if clash is not None:
        owner = f"stage '{clash[1]}'" if clash[1] else "the run's parameters"
        raise ValueError(
            f"parameter '{key}' of run {tracker.run_id} is already {clash[0]!r} (from {owner}); "
            f"a run keeps one value per parameter: log {plain!r} under another name."
        )
    if tracker.mirror is not None:
        tracker.mirror.param(key, plain)


def log_artifact(path: str | os.PathLike[str]) -> None:
    """Keep a copy of a file (or of every file in a folder) with the current run."""
    from ..store import objects

    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"log_artifact: no file or folder {str(path)!r}.")
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    tracker = _tracker()
    with tracker.write_lock:
        store = tracker.store()
        for file in files:
            digest, size = objects.put_file(store.objects, file)
            name = (
                source.name
                if file == source
                else f"{source.name}/{file.relative_to(source).as_posix()}"
            )
            store.add_artifact(
                tracker.run_id, tracker.stage, name, "file", digest, str(file.resolve()), size
            )


def track_data(
    source: str | os.PathLike[str] | Any, *, name: str | None = None, verify: bool = False
) -> DataVersion:
    """Version a data file, folder or pandas DataFrame for the current run.

    Returns its :class:`~mlops_jupyter.tracking.datasets.DataVersion` (hash, size, ``changed`` since the
    last version of that path; rows, columns, dtypes, profile and schema diff for tables). An
    unchanged file costs a ``stat``; ``verify=True`` re-reads it regardless. In a pipeline stage
    the files tracked are part of the stage's cache key from the next run on. A DataFrame is
    recorded under ``name`` (default ``"dataframe"``).
    """
    from . import datasets

    tracker = _tracker()
    with tracker.write_lock:
        return datasets.track(
            tracker.store(),
            source,
            run_id=tracker.run_id,
            stage=tracker.stage,
            name=name,
            verify=verify,
        )


def flush() -> None:
    """Write every buffered value now (the background thread does it within a second anyway)."""
    tracker = _current
    if tracker is not None:
        tracker.flush()


def end_run(status: str = "succeeded") -> None:
    """Flush and finish the current interactive run; the next call opens a new one. In a
    pipeline stage it only flushes: the runner finishes the run."""
    global _current
    with _setup_lock:
        tracker, _current = _current, None
        if tracker is not None:
            tracker.close(status)


# -- process life


def _at_exit() -> None:
    tracker = _current
    if tracker is None:
        return
    status, error = "succeeded", None
    last = getattr(sys, "last_value", None)
    if last is not None and ipython_shell() is None:  # a script ended by an uncaught exception
        status, error = "failed", f"{type(last).__name__}: {last}"
    try:
        tracker.close(status, error)
    except Exception as exc:
        print(f"mlops: could not record the last metrics: {exc}", file=sys.stderr)


def _after_fork() -> None:
    """A forked child (a DataLoader worker, multiprocessing) logs into the same run through
    its own connection and buffer; the parent's buffered rows stay the parent's to write."""
    global _current, _setup_lock, _hooked
    _setup_lock = threading.RLock()
    parent = _current
    if parent is not None:
        _current = _Tracker(parent.run_id, parent.stage, parent.home)
    _hooked = False


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
