"""The local executor: stages run through papermill in fresh kernels from a warm pool, in threads.

papermill is imported in a background thread while the first kernels boot, with jsonschema's
optional ``rfc3987_syntax`` kept out of this process: it builds parser grammars on import and
accounts for ~4 s of papermill's ~6 s import in a JupyterLab environment. Notebook validation
does not use the formats it serves. pyarrow, which papermill imports only for hdfs:// paths, is
kept out of that import too.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .executor import StageOutcome, StageTask
from .failures import describe, describe_stop
from .kernels import KernelPool


def import_papermill() -> Any:
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    # papermill's I/O module imports pyarrow (and numpy with it: ~0.13 s of papermill's ~0.3 s)
    # only to offer hdfs:// notebook paths, which the runner never gives it (its paths are
    # local). Kept out while papermill is imported, then allowed again for anyone else.
    hdfs_blocked = "pyarrow" not in sys.modules and "pyarrow.fs" not in sys.modules
    if hdfs_blocked:
        sys.modules["pyarrow.fs"] = None  # type: ignore[assignment]
    try:
        import papermill
    finally:
        if hdfs_blocked and sys.modules.get("pyarrow.fs", 0) is None:
            del sys.modules["pyarrow.fs"]

    from .engine import register

    register()
    # the first notebook validated compiles nbformat's schema into code (fastjsonschema):
    # ~40 ms the first stage would otherwise wait for; here it overlaps the first kernel's boot
    import nbformat

    nbformat.validate(nbformat.v4.new_notebook())
    return papermill


def _literal_path(path: Any) -> str:
    """A path papermill will not read as a template: it formats the paths it is given with the
    parameters, so a folder named ``br {x}`` failed and one named ``a {{b}}`` became ``a {b}``."""
    return str(path).replace("{", "{{").replace("}", "}}")


class LocalExecutor:
    def __init__(
        self,
        jobs: int,
        kernel_name: str,
        cwd: str,
        env: dict[str, str] | None = None,
        preload: list[str] | None = None,
    ) -> None:
        self.jobs = max(1, jobs)
        # nbclient leaves pending tasks behind on a timeout or a dead kernel; asyncio would print
        # "Task was destroyed but it is pending!" into the user's terminal for each
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        self.pool = KernelPool(kernel_name, cwd, env, preload)
        self.threads = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="mlops-stage")
        self._papermill: Future[Any] = Future()
        self._cancelled = threading.Event()
        threading.Thread(target=self._load, name="mlops-import", daemon=True).start()

    def _load(self) -> None:
        try:
            self._papermill.set_result(import_papermill())
        except BaseException as exc:  # surfaced to each stage that needs papermill
            self._papermill.set_exception(exc)

    def warm(self, expected: int) -> None:
        self.pool.ensure(min(self.jobs, max(0, expected)))

    def submit(self, task: StageTask) -> Future[StageOutcome]:
        kernel = self.pool.reserve()
        return self.threads.submit(self._run, task, kernel)

    def _run(self, task: StageTask, kernel: Future[Any]) -> StageOutcome:
        started = time.time()
        error = "not run"
        attempts = 0
        for attempt in range(task.retries + 1):
            if self._cancelled.is_set():
                error = "interrupted"
                break
            attempts = attempt + 1
            if attempt:  # a retry gets a fresh kernel too
                kernel = self.pool.reserve()
            try:
                error_or_none = self._attempt(task, kernel)
            except BaseException as exc:  # a crash of ours must not leave the run hanging
                error_or_none = f"stage '{task.stage}' could not run: {type(exc).__name__}: {exc}"
            if error_or_none is None:
                manifest = json.loads(task.manifest.read_text()) if task.manifest.exists() else {}
                return StageOutcome(True, manifest, None, attempts, started, time.time())
            error = error_or_none
        if self._cancelled.is_set():
            error = "interrupted"
        return StageOutcome(False, None, error, attempts, started, time.time())

    def _attempt(self, task: StageTask, kernel: Future[Any]) -> str | None:
        papermill = self._papermill.result()
        from papermill.exceptions import PapermillExecutionError

        km = kernel.result()
        try:
            papermill.execute_notebook(
                _literal_path(task.notebook),
                _literal_path(task.executed),
                parameters=task.parameters,
                engine_name="mlops",
                kernel_name=task.kernel_name,
                km=km,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                keep_on_stop=str(task.executed),  # a timeout or a dead kernel keeps the notebook
                execution_timeout=task.timeout,
            )
            return None
        except PapermillExecutionError as exc:
            return describe(
                task.stage,
                task.source_notebook,
                task.executed,
                exc.exec_count,
                exc.ename,
                exc.evalue,
                exc.traceback,
            )
        except Exception as exc:
            if self._cancelled.is_set():
                return "interrupted"
            return describe_stop(task.stage, task.source_notebook, task.executed, exc)
        finally:
            self.pool.release(km)

    def cancel(self) -> None:
        self._cancelled.set()
        self.pool.shutdown()

    def close(self) -> None:
        self.threads.shutdown(wait=True)
        self.pool.shutdown()
