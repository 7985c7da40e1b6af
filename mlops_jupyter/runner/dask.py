"""The Dask executor: each stage is one Dask task, run on a worker as the local executor runs it.

``mlops run NB --executor dask [--address tcp://HOST:PORT | --scheduler-file F]``: with neither,
a LocalCluster (one single-threaded worker process per job) is started for the run and stopped
after it. The run loop, the cache, the records, retries, timeouts and failure semantics stay the
local executor's: a worker process keeps one :class:`~.local.LocalExecutor` per run (its kernel
pool warm between that run's tasks) and each task is one ``LocalExecutor`` stage, retries and
timeouts included. Dask re-runs a task only when its worker died (``allowed-failures``).

Workers share two things with the run's process: the object store (values and artifacts) and
the user's working folder (the files the notebook reads). Nothing else: the stage notebook travels
with the task; the executed notebook, the output manifest and a journal of what the stage recorded
(metrics, parameters, artifacts, data versions: tracking/journal.py) travel back with its result,
and the run's process, the only writer of ``mlops.db``, replays the journal into it.

Registered through the ``mlops_jupyter.executors`` entry point, so a local run never imports this
module; ``distributed`` itself is imported only when the executor is made.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import Future, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..files import write_atomic
from .executor import StageOutcome, StageTask

# Issue 12 measured a ready branch starting 0.45-1.36 s late with Dask's defaults (stealing
# every 1 s, an unknown task taken to last 500 ms) and ~30 ms tuned. With distributed 2026.8 and
# our tasks (no dependencies: the run loop submits a stage once it is ready, and the scheduler's
# queue hands it to an idle worker) both came out at 20-50 ms; tuned still, for workers with more
# threads than one, where a task can land on a busy worker. Set for the LocalCluster; a scheduler
# of one's own takes them from its environment or dask config
# (DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING_INTERVAL=10ms, ...UNKNOWN_TASK_DURATION=10ms).
SCHEDULER_CONFIG = {
    "distributed.scheduler.work-stealing-interval": "10ms",
    "distributed.scheduler.unknown-task-duration": "10ms",
}
CONNECT_TIMEOUT = "10s"
CANCEL_WAIT = 10.0  # seconds a cancelled run waits for its running tasks to report


@dataclass
class DaskOutcome(StageOutcome):
    worker: str = ""  # the address of the worker the stage ran on
    executed: str | None = None  # the executed notebook's text, for the run's folder


def factory(**options: Any) -> DaskExecutor:
    return DaskExecutor(**options)


class DaskExecutor:
    journals = True  # a worker's kernels never open mlops.db: their records come back

    def __init__(
        self,
        jobs: int,
        kernel_name: str,
        cwd: str,
        address: str | None = None,
        scheduler_file: str | None = None,
        preload: list[str] | None = None,
    ) -> None:
        try:
            import dask
            import distributed
        except ImportError as exc:
            raise MlopsError(
                f"the dask executor needs the 'distributed' package ({exc}).",
                hint='Install it with `pip install "mlops-jupyter[dask]"`.',
            ) from None
        if address and scheduler_file:
            raise MlopsError(
                "give the Dask scheduler's --address or its --scheduler-file, not both."
            )
        self.cluster: Any = None
        where = address or scheduler_file
        try:
            if where:
                self.client = distributed.Client(
                    address,
                    scheduler_file=scheduler_file,
                    timeout=CONNECT_TIMEOUT,
                    set_as_default=False,
                )
            else:
                with dask.config.set(SCHEDULER_CONFIG):
                    self.cluster = distributed.LocalCluster(
                        n_workers=max(1, jobs),
                        host="127.0.0.1",  # distributed's default too: said, not assumed
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,  # its workers share the user's terminal
                        # and its process group, so Ctrl-C reaches them too: they leave it to
                        # the run, which stops its kernels and then the cluster (dask_setup)
                        preload=[__name__],
                    )
                self.client = distributed.Client(self.cluster, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            self._close_cluster()
            raise MlopsError(
                f"could not reach the Dask scheduler at {where or 'a new LocalCluster'}: {exc}",
                hint="Start one with `dask scheduler` (and `dask worker ADDRESS`), or leave out "
                "--address to run on a LocalCluster.",
            ) from None
        # one token per run: the workers keep this run's kernel pool under it
        self.token = uuid.uuid4().hex
        self.spec = {"kernel_name": kernel_name, "cwd": cwd, "preload": list(preload or [])}
        self._lock = threading.Lock()
        self._submitted: dict[str, int] = {}  # stage -> times submitted in this run (the key)
        # Dask future -> the run loop's, and where the executed notebook goes
        self._pending: dict[Any, tuple[Future[StageOutcome], Path]] = {}
        self._cancelled = False
        try:
            # every worker starts importing papermill and booting a kernel for this run now,
            # while the first stages' upstreams are still being decided
            self.client.run(_warm, self.token, self.spec)
        except Exception as exc:
            self.close()
            raise MlopsError(
                f"the Dask workers could not get ready for stages: {type(exc).__name__}: {exc}",
                hint="Every worker needs mlops-jupyter installed and a Jupyter kernel.",
            ) from None

    def warm(self, expected: int) -> None:
        pass  # the workers keep a spare kernel each from _warm on

    def submit(self, task: StageTask) -> Future[StageOutcome]:
        result: Future[StageOutcome] = Future()
        with self._lock:
            attempt = self._submitted.get(task.stage, 0) + 1
            self._submitted[task.stage] = attempt
            if self._cancelled:
                result.set_result(DaskOutcome(False, error="interrupted"))
                return result
            resources = self._resources(task)
            missing = self._missing(resources) if resources else None
            if missing:
                result.set_result(DaskOutcome(False, error=f"stage '{task.stage}' {missing}"))
                return result
            run_id = task.parameters.get("_mlops", {}).get("run_id", self.token)
            # the stage notebook travels with the task: a worker needs no view of this folder
            request = {
                "token": self.token,
                "spec": self.spec,
                "task": _plain(task),
                "notebook": task.notebook.read_text(encoding="utf-8"),
            }
            # plain data only: Dask substitutes argument strings that match keys (dask#9969)
            future = self.client.submit(
                run_stage,
                request,
                key=f"mlops-{run_id}-{task.stage}-{attempt}",
                pure=False,
                # only workers started with them take it (`dask worker --resources "GPU=1"`)
                resources=resources,
            )
            self._pending[future] = (result, task.executed)
        future.add_done_callback(self._done)
        return result

    def _resources(self, task: StageTask) -> dict[str, float] | None:
        # a LocalCluster is this machine, as for the local executor: the tags do not apply
        return None if self.cluster is not None else (task.resources or None)

    def _missing(self, resources: dict[str, float]) -> str | None:
        """Why no worker of the cluster could take a task needing ``resources``, or None: a
        task no worker can take would wait for one forever, with nothing said."""
        try:  # every worker: some releases list the first five unless asked
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # one from before that parameter
            info = self.client.scheduler_info()
        workers = info.get("workers", {}).values()
        offered = [w.get("resources") or {} for w in workers]
        if any(all(have.get(k, 0) >= n for k, n in resources.items()) for have in offered):
            return None
        wanted = ",".join(f"{k}={n:g}" for k, n in sorted(resources.items()))
        return (
            f"needs resources {wanted}, and no worker of the Dask cluster has them: start one "
            f'with `dask worker ADDRESS --resources "{wanted}"`, or remove its resources: tags.'
        )

    def _done(self, future: Any) -> None:
        """On Dask's callback thread: hand the outcome to the run loop and let the scheduler
        forget the task, so a worker dying later does not make Dask compute it again."""
        with self._lock:
            found = self._pending.pop(future, None)
        if found is None:  # cancel() answered for it already
            return
        result, executed = found
        try:
            outcome = DaskOutcome(**future.result())
            if outcome.executed is not None:
                write_atomic(executed, outcome.executed, fsync=False)
                outcome.executed = None
        except BaseException as exc:
            outcome = DaskOutcome(False, error=_failure(exc, self._cancelled))
        finally:
            future.release()
        result.set_result(outcome)

    def cancel(self) -> None:
        """Kill this run's kernels on every worker; its tasks still queued start as interrupted.

        The running ones end within moments (their kernels are gone) and report from their
        worker; one that has not after ``CANCEL_WAIT`` (a worker gone silent) is dropped."""
        with self._lock:
            self._cancelled = True
            waiting = [result for result, _ in self._pending.values()]
        try:
            self.client.run(_cancel, self.token)
        except Exception:
            pass  # a worker that cannot be reached has nothing of ours running either
        wait(waiting, timeout=CANCEL_WAIT)
        with self._lock:
            left, self._pending = self._pending, {}
        for result, _ in left.values():
            result.set_result(DaskOutcome(False, error="interrupted"))
        if left:
            try:
                self.client.cancel(list(left), force=True)
            except Exception:
                pass
            for future in left:
                future.release()

    def close(self) -> None:
        try:
            self.client.run(_forget, self.token)  # spare kernels of this run, on every worker
        except Exception:
            pass
        try:
            self.client.close()
        except Exception:
            pass
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self.cluster is not None:
            try:
                self.cluster.close()
            finally:
                self.cluster = None


def _failure(exc: BaseException, cancelled: bool) -> str:
    from concurrent.futures import CancelledError

    if cancelled or isinstance(exc, CancelledError):
        return "interrupted"
    if type(exc).__name__ == "KilledWorker":
        return (
            "stage could not run: every Dask worker that ran it died "
            f"(distributed.scheduler.allowed-failures): {exc}"
        )
    return f"stage could not run on Dask: {type(exc).__name__}: {exc}"


def _plain(task: StageTask) -> dict[str, Any]:
    found = asdict(task)
    for name in ("notebook", "executed", "manifest", "cwd"):
        found[name] = str(found[name])
    return found


# -- the worker side (each function runs in a worker process)


def dask_setup(worker: Any) -> None:
    """Preloaded into the LocalCluster's worker processes (Dask calls it by this name): they
    ignore SIGINT, which the terminal sends the whole process group on Ctrl-C. Killed by it,
    they would print tracebacks and leave their tasks to time out instead of ending as
    interrupted within moments. (Its nannies live in the run's own process.)"""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


_runs: dict[str, Any] = {}  # token -> the run's LocalExecutor in this worker process
_stopped: set[str] = set()  # tokens of runs cancelled: their later tasks do not start
_runs_lock = threading.Lock()


def _executor(token: str, spec: dict[str, Any], threads: int) -> Any:
    """The run's LocalExecutor in this worker process (made on first use), or None once the
    run was cancelled."""
    with _runs_lock:
        if token in _stopped:
            return None
        found = _runs.get(token)
        if found is None:
            from .local import LocalExecutor

            found = _runs[token] = LocalExecutor(
                jobs=threads,
                kernel_name=spec["kernel_name"],
                cwd=spec["cwd"],
                preload=spec["preload"],
            )
            found.warm(threads)
        return found


def _warm(token: str, spec: dict[str, Any], dask_worker: Any = None) -> None:
    # client.run passes the worker as `dask_worker` (get_worker() is for tasks only)
    _executor(token, spec, dask_worker.state.nthreads)


def run_stage(request: dict[str, Any]) -> dict[str, Any]:
    """One stage, in a worker's task thread: the LocalExecutor's attempts (retries, timeouts,
    failure descriptions) in this worker's kernel pool for the run."""
    from distributed import get_worker

    worker = get_worker()
    executor = _executor(request["token"], request["spec"], worker.state.nthreads)
    if executor is None:
        return {**asdict(StageOutcome(False, error="interrupted")), "worker": worker.address}
    plain = dict(request["task"])
    for name in ("notebook", "executed", "manifest", "cwd"):
        plain[name] = Path(plain[name])
    known = plain.pop("journal", None)
    import shutil
    import tempfile

    from ..tracking import journal

    # The stage's files live on this worker's own disk (a worker that dies takes its attempt's
    # records with it) and travel back with the result: the stage notebook came with the task;
    # the executed one, the output manifest and the journal of its records go back. Only the
    # object store (values, artifacts) and the user's working folder are shared.
    folder = Path(tempfile.mkdtemp(prefix="mlops-stage-"))
    try:
        path = folder / "journal.jsonl"
        Path(f"{path}{journal.KNOWN_SUFFIX}").write_text(json.dumps(known or {}), encoding="utf-8")
        plain["notebook"] = folder / "stage.ipynb"
        plain["notebook"].write_text(request["notebook"], encoding="utf-8")
        plain["executed"], plain["manifest"] = folder / "executed.ipynb", folder / "outputs.json"
        context = {
            **plain["parameters"].get("_mlops", {}),
            "journal": str(path),
            "manifest": str(plain["manifest"]),
        }
        plain["parameters"] = {**plain["parameters"], "_mlops": context}
        outcome = executor.submit(StageTask(**plain))
        executor.warm(executor.jobs)  # a kernel boots for the next task while this one runs
        found = outcome.result()
        found.journal = journal.read(path)
        try:
            executed = plain["executed"].read_text(encoding="utf-8")
        except FileNotFoundError:  # the kernel never started
            executed = None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**asdict(found), "worker": worker.address, "executed": executed}


def _stop_later(executor: Any, how: str) -> None:
    # client.run calls us on the worker's event loop: shutting kernels down must not block it
    threading.Thread(target=getattr(executor, how), name="mlops-stop", daemon=True).start()


def _cancel(token: str) -> None:
    with _runs_lock:
        _stopped.add(token)
        executor = _runs.pop(token, None)
    if executor is not None:
        _stop_later(executor, "cancel")


def _forget(token: str) -> None:
    with _runs_lock:
        _stopped.discard(token)
        executor = _runs.pop(token, None)
    if executor is not None:
        _stop_later(executor, "close")
