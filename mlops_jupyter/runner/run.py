"""The run loop: decide each stage (cached, run, or skipped), hand runs to an executor, record all.

All store writes happen on this (the calling) thread; executors only return outcomes. A stage
starts as soon as its upstream stages are done, so independent branches overlap.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..environment import git_state, local_module_hashes, package_versions, python_version
from ..errors import MlopsError
from ..files import write_atomic
from ..paths import find_home
from ..store import Store
from .cache import stage_key, with_data
from .executor import Executor, StageOutcome, StageTask, load_executor
from .params import coerce
from .plan import Plan, load_plan, select


@dataclass
class RunOptions:
    parameters: dict[str, Any] = field(default_factory=dict)
    jobs: int | None = None
    no_cache: bool = False
    force: list[str] = field(default_factory=list)
    stages: list[str] | None = None
    from_stage: str | None = None
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    origin: str = "cli"
    cancel: threading.Event | None = None  # set it to stop the run as Ctrl-C would


# A run reports what happens as plain dicts, to any number of listeners (the terminal progress,
# a widget, the server's run registry): {"event": "run" | "stage" | "end", "run_id", ...}.
Listener = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Target:
    plan: Plan
    notebook: str | None  # the source notebook, when the run started from one
    home: Path


def prepare(target: str | Path) -> Target:
    """A notebook (compiled on the way, into the store) or a compiled folder, ready to run."""
    path = Path(target)
    if path.is_dir():
        plan = load_plan(path)
        return Target(plan, None, find_home(path))
    if not path.exists():
        raise MlopsError(f"{target}: no such notebook or compiled pipeline folder.")
    from ..compiler import compile_notebook

    compiled = compile_notebook(path)
    # Two notebooks with the same name and code share a compiled folder; each runs in its own.
    plan = replace(load_plan(compiled.output), workdir=path.resolve().parent)
    return Target(plan, str(path.resolve()), find_home(path))


def environment(plan: Plan, home: Path) -> dict[str, Any]:
    imports = sorted({name.split(".")[0] for stage in plan.stages for name in stage.imports})
    local = local_module_hashes(imports, plan.workdir)
    packages = package_versions([n for n in imports if n not in local], home / "cache")
    return {
        "python": python_version(),
        "platform": platform.platform(),
        "kernel": plan.kernel_name,
        "workdir": str(plan.workdir),
        "packages": packages,
        "local_modules": local,
        **git_state(plan.workdir),
    }


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a run the way Ctrl-C does: kernels shut down, the run recorded as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Run:
    def __init__(
        self, target: Target, options: RunOptions, listeners: list[Listener], store: Store
    ) -> None:
        self.plan = target.plan
        self.target = target
        self.options = options
        self.listeners = listeners
        self.store = store
        self.values = coerce(self.plan.parameters, options.parameters)
        selected = select(self.plan, options.stages, options.from_stage)
        self.selected = set(selected)
        self.needed = self._with_ancestors(self.selected)
        self.order = [s for s in self.plan.stages if s.name in self.needed]
        self.status = {s.name: "pending" for s in self.order}
        self.results: dict[str, dict[str, Any]] = {}
        self.consumers = self.plan.consumers()
        self.executor: Executor | None = None
        self.futures: dict[Future[StageOutcome], tuple[str, str]] = {}
        for name in options.force:
            if name not in self.status:
                raise MlopsError(
                    f"--force {name}: pipeline '{self.plan.name}' has no stage '{name}' in this run."
                )

    def _with_ancestors(self, names: set[str]) -> set[str]:
        found = set(names)
        for stage in reversed(self.plan.stages):
            if stage.name in found:
                found.update(stage.after)
        return found

    # -- deciding

    def _inputs(self, stage_name: str) -> dict[str, Any]:
        stage = self.plan.stage(stage_name)
        return {v: self.results[producer]["outputs"][v] for v, producer in stage.inputs.items()}

    def _uses_cache(self, name: str) -> bool:
        stage = self.plan.stage(name)
        if stage.options.get("cache") is False:
            return False
        if name not in self.selected:  # an upstream of --stages/--from: reuse whenever possible
            return True
        return not self.options.no_cache and name not in self.options.force

    def _schedule(self) -> bool:
        progressed = False
        for stage in self.order:
            name = stage.name
            if self.status[name] != "pending":
                continue
            states = [self.status[u] for u in stage.after]
            bad = next((u for u in stage.after if self.status[u] in ("failed", "skipped")), None)
            if bad:
                self._finish(name, "skipped", error=f"upstream stage '{bad}' did not succeed")
                progressed = True
                continue
            if not all(s in ("succeeded", "cached") for s in states):
                continue
            inputs = self._inputs(name)
            base = stage_key(stage, self.values, inputs, self.env)
            key = with_data(base, self._current_data(base, name))
            hit = self.store.cache_get(key) if self._uses_cache(name) else None
            if hit is None and name not in self.selected and stage.options.get("cache") is False:
                # an upstream of --stages/--from that never caches: reuse its latest outputs
                last = self.store.last_outputs(self.plan.name, name)
                hit = {"outputs": last, "metrics": {}} if last is not None else None
            if hit is not None:
                self.results[name] = hit
                notebook = self._cached_notebook(key)
                copied = self._copy_records(key, name)
                self._finish(
                    name,
                    "cached",
                    key=key,
                    base_key=base,
                    outputs=hit["outputs"],
                    notebook=notebook,
                    metrics=None if copied else hit["metrics"],
                )
            else:
                self._submit(name, base, key, inputs)
            progressed = True
        return progressed

    def _current_data(self, base: str, name: str) -> dict[str, str]:
        """``{path: hash now}`` of the data this stage tracked when it last ran with this base
        key; an unchanged file costs a stat (the stat cache), a missing one reads "missing"."""
        from ..hashing import check

        found = {}
        for path in self.store.last_tracked(base, name):
            try:
                found[path] = check(path, self.store).hash
            except FileNotFoundError:
                found[path] = "missing"
            except OSError as exc:
                found[path] = f"unreadable: {exc.strerror}"
        return found

    def _copy_records(self, key: str, name: str) -> bool:
        """Record the metrics, parameters, artifacts and data versions a cached stage logged
        when it ran, under this run too; False if there was nothing to copy from."""
        row = self.store.db.execute("SELECT run_id FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None or not row["run_id"]:
            return False
        from ..datasets import copy_versions

        copied = self.store.copy_stage_records(row["run_id"], self.run_id, name)
        copy_versions(self.store, row["run_id"], self.run_id, name)
        return copied

    def _cached_notebook(self, key: str) -> str | None:
        row = self.store.db.execute(
            "SELECT r.run_dir, c.stage FROM cache c JOIN runs r ON r.id = c.run_id WHERE c.key = ?",
            (key,),
        ).fetchone()
        return str(Path(row["run_dir"]) / f"{row['stage']}.ipynb") if row else None

    def _submit(self, name: str, base: str, key: str, inputs: dict[str, Any]) -> None:
        stage = self.plan.stage(name)
        if self.executor is None:
            jobs = self.options.jobs or os.cpu_count() or 1
            options = dict(self.options.executor_options)
            if self.options.executor == "local":
                imports = {m for s in self.plan.stages for m in s.imports}
                options.setdefault("preload", sorted(imports))
            self.executor = load_executor(
                self.options.executor,
                jobs=jobs,
                kernel_name=self.plan.kernel_name,
                cwd=str(self.plan.workdir),
                **options,
            )
        context = {
            "run_id": self.run_id,
            "pipeline": self.plan.name,
            "stage": name,
            "objects": str(self.store.objects),
            "home": str(self.store.home),
            "inputs": inputs,
            "manifest": str(self.run_dir / f"{name}.outputs.json"),
            "consumers": self.consumers.get(name, {}),
            "notebook": self.plan.notebook,
            "origins": {v: stage.why[v] for v in stage.outputs if v in stage.why},
        }
        task = StageTask(
            stage=name,
            notebook=stage.notebook,
            executed=self.run_dir / f"{name}.ipynb",
            manifest=self.run_dir / f"{name}.outputs.json",
            parameters={**{p: self.values[p] for p in stage.parameters}, "_mlops": context},
            kernel_name=self.plan.kernel_name,
            cwd=self.plan.workdir,
            source_notebook=self.plan.notebook,
            timeout=stage.options.get("timeout"),
            retries=int(stage.options.get("retries", 0)),
        )
        self.status[name] = "running"
        now = time.time()
        self.store.update_stage(
            self.run_id,
            name,
            status="running",
            started_at=now,
            cache_key=key,
            base_key=base,
            notebook=str(task.executed),
        )
        self._emit("stage", stage=name, status="running", duration_s=None, error=None)
        self.futures[self.executor.submit(task)] = (name, base)
        # stages still to decide may each need a kernel: have them booting meanwhile
        self.executor.warm(sum(1 for s in self.status.values() if s == "pending"))

    # -- recording

    def _finish(
        self,
        name: str,
        status: str,
        *,
        key: str | None = None,
        base_key: str | None = None,
        outputs: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        error: str | None = None,
        notebook: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        attempts: int = 0,
    ) -> None:
        self.status[name] = status
        ended = ended or time.time()
        started = started or ended
        fields: dict[str, Any] = {
            "status": status,
            "started_at": started,
            "ended_at": ended,
            "duration_s": ended - started,
            "error": error,
            "attempts": attempts,
        }
        if key:
            fields["cache_key"] = key
        if base_key:
            fields["base_key"] = base_key
        if outputs is not None:
            fields["outputs"] = outputs
        if notebook:
            fields["notebook"] = notebook
        self.store.update_stage(self.run_id, name, **fields)
        if metrics:
            self.store.add_metrics(self.run_id, name, [(k, None, v) for k, v in metrics.items()])
        self._emit(
            "stage",
            stage=name,
            status=status,
            duration_s=None if status == "cached" else ended - started,
            error=error,
        )

    def _record(self, name: str, base: str, outcome: StageOutcome) -> None:
        stage = self.plan.stage(name)
        # the key this execution is stored under: its base plus the data it tracked just now
        key = with_data(base, self._tracked_now(name))
        manifest = outcome.manifest or {}
        outputs = manifest.get("outputs", {})
        missing = [v for v in stage.outputs if v not in outputs]
        if outcome.ok and missing:
            outcome.ok, outcome.error = (
                False,
                (
                    f"stage '{name}' ended without handing on {', '.join(missing)} "
                    "(did it stop early, e.g. with sys.exit?)"
                ),
            )
        executed = str(self.run_dir / f"{name}.ipynb")
        if not outcome.ok:
            self._finish(
                name,
                "failed",
                key=key,
                base_key=base,
                error=outcome.error,
                notebook=executed,
                started=outcome.started,
                ended=outcome.ended,
                attempts=outcome.attempts,
            )
            return
        metrics = manifest.get("metrics", {})
        self.results[name] = {"outputs": outputs, "metrics": metrics}
        if stage.options.get("cache") is not False:
            self.store.cache_put(key, self.plan.name, name, outputs, metrics, self.run_id)
        self._finish(
            name,
            "succeeded",
            key=key,
            base_key=base,
            outputs=outputs,
            metrics=metrics,
            notebook=executed,
            started=outcome.started,
            ended=outcome.ended,
            attempts=outcome.attempts,
        )

    def _tracked_now(self, name: str) -> dict[str, str]:
        """``{path: hash}``: the newest version of each file or folder the stage tracked in this
        run (DataFrames have no path to re-check, so they are not part of the key)."""
        found: dict[str, str] = {}
        for version in self.store.data_versions(run_id=self.run_id, stage=name, limit=None):
            if version.get("kind") in ("file", "directory"):
                found.setdefault(version["path"], version["hash"])
        return found

    # -- the loop

    def _emit(self, event: str, **fields: Any) -> None:
        message = {"event": event, "run_id": getattr(self, "run_id", None), **fields}
        log = getattr(self, "log", None)
        if log is not None:  # runs/<id>/events.log: the run's story, one JSON object a line
            log.write(json.dumps({"time": time.time(), **message}, default=str) + "\n")
            log.flush()
        for listener in self.listeners:
            try:
                listener(message)
            except Exception:  # a broken display must not break the run
                pass

    def _loop(self) -> None:
        cancel = self.options.cancel
        while True:
            while self._schedule():
                pass
            if not self.futures:
                return
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            done, _ = wait(
                list(self.futures),
                timeout=None if cancel is None else 0.2,
                return_when=FIRST_COMPLETED,
            )
            for future in done:
                name, key = self.futures.pop(future)
                self._record(name, key, future.result())

    def _cancel(self, reason: str) -> None:
        """Stop every running stage; they are recorded as failed with ``reason``."""
        if self.executor is not None:
            self.executor.cancel()
        for future, (name, key) in list(self.futures.items()):
            result = future.result()
            result.ok, result.error = False, reason
            self._record(name, key, result)
        self.futures.clear()

    def execute(self) -> str:
        plan = self.plan
        self.env = environment(plan, self.store.home)
        self.store.add_pipeline(plan.name, plan.version, self.target.notebook, str(plan.folder))
        types = {n: s["type"] for n, s in plan.parameters.items()}
        self.run_id, self.run_dir = self.store.start_run(
            pipeline=plan.name,
            version=plan.version,
            notebook=self.target.notebook,
            compiled=str(plan.folder),
            parameters={n: (v, types[n]) for n, v in self.values.items()},
            stages=[s.name for s in self.order],
            environment=self.env,
            origin=self.options.origin,
        )
        self.log = open(self.run_dir / "events.log", "a", encoding="utf-8")  # noqa: SIM115
        self._emit(
            "run",
            pipeline=plan.name,
            version=plan.version,
            stages=[s.name for s in self.order],
            after={s.name: [u for u in s.after if u in self.status] for s in self.order},
            run_dir=str(self.run_dir),
        )
        outcome, error = "succeeded", None
        try:
            with _terminate_as_interrupt():
                try:
                    self._loop()
                except KeyboardInterrupt:
                    outcome = "interrupted"
                    self._emit("interrupting")
                    self._cancel("interrupted")
                except BaseException as exc:  # our own bug: stop cleanly, keep the record true
                    outcome, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
                    self._cancel(error)
                    raise
        finally:
            if self.executor is not None:
                self.executor.close()
            if outcome == "succeeded" and any(s == "failed" for s in self.status.values()):
                outcome = "failed"
            self.store.finish_run(self.run_id, outcome, error)
            record = self.store.get_run(self.run_id)
            write_atomic(
                self.run_dir / "run.json", json.dumps(record, indent=2, default=str), fsync=False
            )
            self._emit("end", status=outcome)
            self.log.close()
        return self.run_id


def run_pipeline(
    target: str | Path | Target,
    options: RunOptions | None = None,
    listeners: list[Listener] | None = None,
) -> dict[str, Any]:
    """Run a notebook or compiled folder; returns the run as the ``mlops run --json`` object."""
    prepared = target if isinstance(target, Target) else prepare(target)
    with Store(prepared.home) as store:
        run = _Run(prepared, options or RunOptions(), list(listeners or []), store)
        run_id = run.execute()
        return store.get_run(run_id)
