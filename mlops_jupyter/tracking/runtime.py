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

**Worker processes.** A ``multiprocessing`` child (``Process``, ``Pool``,
``ProcessPoolExecutor``; fork, spawn or forkserver) logs into its parent's run and stage through
a connection and buffer of its own. A forked child inherits the context in memory; a spawned one
finds it in ``MLOPS_TRACKING_CONTEXT``, which this process sets while a run or stage is active
(and in the ``multiprocessing`` config each ``Process`` carries, fresher than the environment of
a forkserver started earlier). Children leave through ``os._exit``, where atexit never runs, so a
child's buffer is written by a ``multiprocessing`` finalizer on the way out, and before SIGTERM's
default action (``Pool.terminate()``, which every ``with Pool(...)`` block ends with). A parent
that has logged nothing has no run to hand on: ``start_run()`` opens it before the workers start.

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
from typing import TYPE_CHECKING, Any, cast

from ..session import current_notebook, ipython_shell

if TYPE_CHECKING:
    from ..store.db import MetricRow, Store
    from .datasets import DataVersion
    from .models import ModelVersion

CONTEXT_ENV = "MLOPS_TRACKING_CONTEXT"  # the context (CONTEXT_KEYS) for spawned children
# what a process logs into: the run, its stage, the store; on a remote worker the journal the
# records go to instead of the store's database, and the object store artifacts go to
CONTEXT_KEYS = ("run_id", "stage", "home", "journal", "objects")
FLUSH_INTERVAL = 1.0  # seconds between background writes
FLUSH_AT = 100_000  # waiting values that wake the flush thread early
MAX_BUFFER = 1_000_000  # waiting values beyond which the caller writes them itself
MAX_KEY = 250

_now = time.time


class _Tracker:
    """One run context in this process: its buffer, its store connection, its flush thread."""

    def __init__(
        self,
        run_id: str,
        stage: str | None,
        home: str | Path,
        *,
        owns_run: bool = False,
        journal: str | None = None,
        objects: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.stage = stage
        self.home = Path(home)
        self.journal = journal
        self.objects = objects
        self.owns_run = owns_run  # an interactive run this process opened, and must finish
        self.buffer: list[MetricRow] = []
        self.lock = threading.Lock()  # guards the buffer only: held for an append
        self.write_lock = threading.RLock()  # one writer at a time on the shared connection
        self.wake = threading.Event()
        self.closed = False
        self.thread: threading.Thread | None = None
        self.warned = False
        self.finished = False
        self._store: Store | None = None
        self.mirror: Any = None

    def store(self) -> Store:
        if self._store is None:
            if self.journal:  # a stage on a remote worker: mlops.db is the run's process's
                from .journal import Journal

                objects = self.objects or str(self.home / "objects")
                # the Store methods tracking calls, answered from the journal (see journal.py)
                self._store = cast("Store", Journal(self.journal, objects))
            else:
                from ..store.db import Store

                self._store = Store(self.home, shared=True)
        return self._store

    def context(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "stage": self.stage,
            "home": str(self.home),
            "journal": self.journal,
            "objects": self.objects,
        }

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
        """Write what waits and let go of the store; finish the run if this process opened it.
        Safe to call twice (a spawned child runs both its finalizer and atexit)."""
        self.closed = True
        self.wake.set()
        try:
            self.flush()
        finally:
            with self.write_lock:
                if self.owns_run and not self.finished:
                    self.finished = True
                    self.store().finish_run(self.run_id, status, error)
                    if self.mirror is not None:  # a worker's close must not end the run
                        self.mirror.finish(status)
                if self._store is not None:
                    self._store.close()
                    self._store = None


_current: _Tracker | None = None
_context: dict[str, Any] | None = None  # the pipeline run context, when in a stage
_setup_lock = threading.RLock()
_hooked = False
_inherited: list[_Tracker] = []  # a forked parent's trackers: their connections are not ours
_child_hooks_pid = 0  # the process whose exit hooks are in place (a forked child has none)


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
        return {k: found.get(k) for k in CONTEXT_KEYS}
    return None


def _multiprocessing_child() -> Any:
    """``multiprocessing`` when this process is one of its children, else None. A child has
    imported it already (its bootstrap lives there), so asking costs nothing elsewhere."""
    mp = sys.modules.get("multiprocessing")
    return mp if mp is not None and mp.parent_process() is not None else None


def _inherited_context() -> dict[str, Any] | None:
    """The run and stage of the parent of a spawned (or forkserver) ``multiprocessing`` child:
    from the config its ``Process`` object carried, else from the environment. Only such
    children take it: a kernel or script started by ``subprocess`` keeps its own runs."""
    mp = _multiprocessing_child()
    if mp is None:
        return None
    config = getattr(mp.current_process(), "_config", None)
    text = config.get(CONTEXT_ENV) if isinstance(config, dict) else None
    if text is None:
        text = os.environ.get(CONTEXT_ENV, "")
    if not text:
        return None
    import json

    try:
        found = json.loads(text)
    except ValueError:
        return None
    if isinstance(found, dict) and found.get("run_id") and found.get("home"):
        return {k: found.get(k) for k in CONTEXT_KEYS}
    return None


def _publish(context: Mapping[str, Any] | None) -> None:
    """Tell processes started from now on which run and stage this one logs into ("" for none)."""
    import json

    text = ""
    if context:
        text = json.dumps({k: str(context[k]) if context.get(k) else None for k in CONTEXT_KEYS})
    if text:
        os.environ[CONTEXT_ENV] = text
    else:
        os.environ.pop(CONTEXT_ENV, None)
    mp = sys.modules.get("multiprocessing")
    config = getattr(mp.current_process(), "_config", None) if mp is not None else None
    if isinstance(config, dict):  # copied into every Process made from now on, pickled for spawn
        config[CONTEXT_ENV] = text


def _tracker() -> _Tracker:
    """The current tracker, made on first use: the stage's (or, in a worker process, its
    parent's), else a new interactive run."""
    global _current, _context
    with _setup_lock:
        if _current is None:
            if _context is None:
                _context = _stage_context() or _inherited_context()
            if _context is not None:
                _current = _Tracker(
                    _context["run_id"],
                    _context.get("stage"),
                    _context["home"],
                    journal=_context.get("journal"),
                    objects=_context.get("objects"),
                )
            else:
                _current = _open_interactive()
            _current.mirror = _mirror(_current)
            _hook_cells()
            _publish(_current.context())
            _hook_child_exit()
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
        _context = {k: context.get(k) for k in CONTEXT_KEYS}
        if not _context["run_id"] or not _context["home"]:
            _context = None  # a context from an older runner: track interactively instead
        _hook_cells()
        _publish(_context)


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
        from .journal import param_clash

        raise ValueError(param_clash(key, tracker.run_id, clash, plain))
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
            digest, size = objects.open_objects(store.objects).put_file(file)
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


def check_data(data: Any, schema: Any = None, *, name: str | None = None) -> DataVersion:
    """Check a table (a DataFrame, or a CSV/Parquet path) and record it as a data version.

    With no ``schema``, the data is held to the schema inferred from the newest version of the
    same path (or DataFrame ``name``) that passed: its columns, dtypes, nulls, ranges and
    categories. With one (a pandera ``DataFrameSchema``, its YAML text or a ``.yaml`` path),
    to that. Every failed column and rule is listed in one
    :class:`~mlops_jupyter.tracking.checks.DataCheckFailed` (an ``AssertionError``: a check
    failure in a ``check`` stage); the outcome is recorded on the data version either way.
    """
    from . import checks

    tracker = _tracker()
    with tracker.write_lock:
        return cast(
            "DataVersion",
            checks.check(
                tracker.store(),
                data,
                run_id=tracker.run_id,
                stage=tracker.stage,
                schema=schema,
                name=name,
            ),
        )


def log_model(
    model: Any, name: str, *, example: Any = None, format: str | None = None
) -> ModelVersion:
    """Store ``model`` as the next version of model ``name``, with the lineage of the current
    run and stage (see :mod:`~mlops_jupyter.tracking.models`): scikit-learn through skops,
    numpy as ``.npy``, DataFrames as parquet; anything else only with ``format="pickle"``.
    ``example`` (a few input rows) gives the signature."""
    from ..store import objects
    from . import models

    models.check_name(name)
    packed = models.pack(model, format=format, example=example)  # a refusal writes nothing
    tracker = _tracker()
    tracker.flush()  # the stage's metrics so far are part of the version's lineage
    with tracker.write_lock:
        store = tracker.store()
        digest = objects.open_objects(store.objects).put(packed.data)
        version = store.add_model_version(
            tracker.run_id,
            tracker.stage,
            name,
            digest,
            len(packed.data),
            packed.flavor,
            packed.format,
            packed.loader,
            packed.signature,
        )
    return models.ModelVersion(
        name,
        version,
        digest,
        packed.flavor,
        packed.format,
        len(packed.data),
        tracker.run_id,
        tracker.stage,
        packed.signature,
    )


def load_model(ref: str) -> Any:
    """The model ``"name@alias"``, ``"name@3"`` or ``"name"`` (the newest version), from the
    store this process logs into (a stage's), else the one serving the notebook or folder."""
    from ..errors import NotFoundError
    from ..store.db import Store
    from . import models

    context = _current.context() if _current is not None else None
    context = context or _context or _stage_context() or _inherited_context()
    if context:
        home = Path(context["home"])
    else:
        from ..home import find_home

        found = current_notebook(ipython_shell())
        home = find_home(Path(found).parent if found else Path.cwd())
    if not (home / "mlops.db").exists():
        raise NotFoundError(
            f"no model {ref!r}: there is no store at {home}.",
            hint="Log one with mlops.log_model(model, NAME), or set MLOPS_HOME.",
        )
    with Store(home) as store:
        return models.load(store, ref)


def flush() -> None:
    """Write every buffered value now (the background thread does it within a second anyway)."""
    tracker = _current
    if tracker is not None:
        tracker.flush()


def start_run() -> str:
    """Open the interactive run now, not at the first logged value, and return its id (in a
    pipeline stage: the stage's run). Worker processes started afterwards log into it; the
    workers of a process that has no run yet would each open their own."""
    return _tracker().run_id


def end_run(status: str = "succeeded") -> None:
    """Flush and finish the current interactive run; the next call opens a new one. In a
    pipeline stage it only flushes: the runner finishes the run."""
    global _current
    with _setup_lock:
        tracker, _current = _current, None
        if tracker is not None:
            tracker.close(status)
            _publish(_context)  # workers started from now on: the stage's, or no run


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


# -- worker processes


def _hook_child_exit() -> None:
    """In a ``multiprocessing`` child, write the buffer on the ways such children end: the
    finalizers ``multiprocessing`` runs before ``os._exit`` (a Process's return, a Pool or
    executor worker told to stop) and SIGTERM (``Pool.terminate()``)."""
    global _child_hooks_pid
    mp = _multiprocessing_child()
    if mp is None or _child_hooks_pid == os.getpid():
        return
    _child_hooks_pid = os.getpid()
    from multiprocessing import util

    util.Finalize(None, _at_exit, exitpriority=10)
    _guard_sigterm()


_sigterm: dict[str, Any] = {}  # this process's SIGTERM guard: its pipe, and whether it wrote
GRACE = 2.0  # seconds the main thread has to act on SIGTERM once the values are written


def _guard_sigterm() -> None:
    """Write the values, then die of SIGTERM as before — only where SIGTERM still has its
    default action, so a handler of the user's always wins.

    The writing happens in a thread of its own, never in the handler: a handler runs in the
    main thread between two bytecodes, maybe inside an append, a write or an ``Event.set()``,
    and would wait for a lock its own thread holds. It runs only between bytecodes, too, so a
    worker inside a long C call would outlive ``terminate()``: the C-level handler also writes
    the signal number to the wakeup fd at once, which wakes the thread without the main one."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may install a handler; the default action stays
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    _sigterm.update(pipe=(read, write), written=False)
    threading.Thread(target=_watch_sigterm, args=(read,), name="mlops-sigterm", daemon=True).start()
    signal.signal(signal.SIGTERM, _on_sigterm)
    old = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    if old != -1:  # someone's own (asyncio's): theirs to keep; the handler still wakes the thread
        signal.set_wakeup_fd(old)
    else:
        _sigterm["wakeup"] = write


def _on_sigterm(signum: int, frame: Any) -> None:
    import signal

    pipe = _sigterm.get("pipe")
    if pipe is not None:
        try:
            os.write(pipe[1], bytes([signal.SIGTERM]))
        except OSError:
            pass  # full: the thread has been woken already
        tracker = _current
        # mid-write (an exit flush, say), maybe holding SQLite's write lock: finish it first
        writing = tracker is not None and _owned(tracker.write_lock)
        deadline = time.monotonic() + (0 if writing else 1.0)
        while not _sigterm.get("written") and time.monotonic() < deadline:
            time.sleep(0.01)  # no locks here: the interrupted code may hold any of them
        if not _sigterm.get("written"):
            return  # this thread holds what the write needs: the thread ends the process later
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # the exit status says SIGTERM, as it would have


def _watch_sigterm(read: int) -> None:
    import signal

    while True:
        try:
            data = os.read(read, 512)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM not in data or signal.getsignal(signal.SIGTERM) is not _on_sigterm:
            continue  # another signal, or the user's own SIGTERM handler took over
        tracker = _current
        try:
            if tracker is not None:
                tracker.close("interrupted", "terminated (SIGTERM)")
        except Exception as exc:
            print(f"mlops: could not record the last metrics: {exc}", file=sys.stderr)
        _sigterm["written"] = True
        # The signal may have reached another thread, leaving the main thread asleep in a
        # queue's get(), or its handler may have let go: sent to it, its handler now ends the
        # process with SIGTERM's status.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        time.sleep(GRACE)
        os.kill(os.getpid(), signal.SIGKILL)  # the main thread is stuck in C code: end it anyway


def _unguard_sigterm() -> None:
    """In a forked child: the parent's guard is not this process's (its thread did not fork)."""
    pipe = _sigterm.get("pipe")
    wakeup = _sigterm.get("wakeup")
    _sigterm.clear()
    if pipe is None:
        return
    import signal

    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if wakeup is not None:
            old = signal.set_wakeup_fd(-1)
            if old != wakeup:
                signal.set_wakeup_fd(old)  # someone else's since: theirs to keep
    except ValueError:  # not the main thread after all: the handler stays, and finds no pipe
        pass
    for fd in pipe:
        os.close(fd)


_forking: _Tracker | None = None


def _owned(lock: Any) -> bool:
    """Whether this thread holds ``lock`` (an RLock knows its owner)."""
    return bool(getattr(lock, "_is_owned", lambda: False)())


def _before_fork() -> None:
    """Hold the flush while forking, and close the connection (the next write reopens it). A
    child forked in the middle of a SQLite call would inherit SQLite's own mutexes taken; one
    forked with a connection open inherits SQLite's record of this process's locks on the
    file, and its own connection would then skip taking locks it believes it holds."""
    global _forking
    tracker = _current
    if tracker is None:
        return
    writing = _owned(tracker.write_lock)  # this very thread forks mid-write: keep its connection
    if tracker.write_lock.acquire(timeout=5):
        _forking = tracker
        if tracker._store is not None and not writing:
            tracker._store.close()
            tracker._store = None


def _after_fork_in_parent() -> None:
    global _forking
    if _forking is not None:
        _forking.write_lock.release()
        _forking = None


def _after_fork() -> None:
    """A forked child (a DataLoader worker, multiprocessing) logs into the same run through
    its own connection and buffer; the parent's buffered rows stay the parent's to write."""
    global _current, _context, _setup_lock, _hooked, _forking, _child_hooks_pid
    _setup_lock = threading.RLock()
    _forking = None
    _child_hooks_pid = 0
    parent = _current
    if parent is not None:
        # kept, never closed or collected here: if its connection is open after all (the fork
        # could not wait for a write), closing it would drop locks the child takes on the file
        _inherited.append(parent)
        _context = parent.context()
        _current = None  # the first value makes this process's tracker, thread and exit hooks
    _hooked = False
    _unguard_sigterm()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork
    )
