"""The run loop: decide each stage (cached, run, or skipped), hand runs to an executor, record all.

All store writes happen on this (the calling) thread, through ``record.RunRecorder``; executors
only return outcomes. A stage starts as soon as its upstream stages are done, so independent
branches overlap.
"""

from __future__ import annotations

import os
import platform
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..home import find_home
from ..status import ACTIVE, DONE_OK, Listener, RunStatus, StageStatus
from ..store.db import Store
from ..store.environment import git_state, local_module_hashes, package_versions, python_version
from .cache import stage_key, with_data
from .executor import Executor, StageOutcome, StageTask
from .executors import executors, load_executor
from .failures import check_failure, describe_early_exit
from .params import coerce
from .plan import Plan, load_plan, select
from .record import RunRecorder

NO_RETRIES = "MLOPS_NO_RETRIES"  # set (to 1) by exported tasks: their orchestrator retries


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
    trigger: str = "manual"  # or "schedule": a fire of `schedule` due at `scheduled_for`
    schedule: str | None = None
    scheduled_for: float | None = None  # epoch seconds


@dataclass(frozen=True)
class Target:
    plan: Plan
    notebook: str | None  # the source notebook, when the run started from one
    home: Path
    notes: tuple[str, ...] = ()  # for the user: where the run is recorded, when that may surprise


def prepare(target: str | Path, home: str | Path | None = None) -> Target:
    """A notebook (compiled on the way, into the store) or a compiled folder, ready to run.

    ``home`` is the store to record into, when the caller has decided it (the server runs only
    into a store inside its root); else the store the notebook's own runs use.
    """
    path = Path(target)
    if path.is_dir():
        plan = load_plan(path)
        if home is not None:
            return Target(plan, None, Path(home))
        found, notes = compiled_home(path, plan)
        return Target(plan, None, found, notes)
    if not path.exists():
        raise MlopsError(f"{target}: no such notebook or compiled pipeline folder.")
    from ..compiler.output import compile_notebook

    compiled = compile_notebook(path)
    # Two notebooks with the same name and code share a compiled folder; each runs in its own.
    plan = replace(load_plan(compiled.output), workdir=path.resolve().parent)
    return Target(plan, str(path.resolve()), Path(home) if home is not None else find_home(path))


def compiled_home(folder: Path, plan: Plan) -> tuple[Path, tuple[str, ...]]:
    """The store a compiled folder's runs go to: the one its notebook's runs use, found from the
    notebook's folder (pipeline.json's ``workdir``) as for the notebook itself — wherever the
    folder is (``compile -o DIR``) and wherever it is run from, so `mlops runs` beside the
    notebook lists them. Found from the folder itself, a folder outside the project opened a
    store of its own that nothing else reads.

    When that folder is not there (the folder was copied elsewhere, or the project moved), the
    stages run in the working folder (``load_plan``) and the run is recorded in its store, with a
    note saying so.
    """
    import json

    home = find_home(plan.workdir)
    try:
        recorded = json.loads((folder / "pipeline.json").read_text()).get("workdir", ".")
    except (OSError, ValueError, AttributeError):
        recorded = "."
    named = (folder.resolve() / str(recorded)).resolve()
    if named == plan.workdir:
        return home, ()
    return home, (
        f"{named} (the notebook's folder in pipeline.json) is not there: this run is recorded in "
        f"{home}, the store of the folder it ran in ({plan.workdir}).",
    )


def environment(plan: Plan, home: Path) -> dict[str, Any]:
    imports = sorted({name.split(".")[0] for stage in plan.stages for name in stage.imports})
    local = local_module_hashes(imports, plan.workdir, home / "cache")
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
    """One run's loop: decide each stage (cached, run, or skipped) as its upstreams finish, hand
    runs to the executor, and pass every outcome to the recorder."""

    def __init__(
        self, target: Target, options: RunOptions, listeners: list[Listener], store: Store
    ) -> None:
        self.plan = target.plan
        self.target = target
        self.options = options
        self.store = store
        self.values = coerce(self.plan.parameters, options.parameters)
        selected = select(self.plan, options.stages, options.from_stage)
        self.selected = set(selected)
        self.needed = self._with_ancestors(self.selected)
        self.order = [s for s in self.plan.stages if s.name in self.needed]
        self.status: dict[str, StageStatus] = {s.name: StageStatus.PENDING for s in self.order}
        for name in options.force:
            if name not in self.status:
                raise MlopsError(
                    f"--force {name}: pipeline '{self.plan.name}' has no stage '{name}' in this run."
                )
        executors.get(options.executor)  # an unknown name is bad input, before anything runs
        self.results: dict[str, dict[str, Any]] = {}
        self.consumers = self.plan.consumers()
        self.executor: Executor | None = None
        self.futures: dict[Future[StageOutcome], tuple[str, str]] = {}
        self.record = RunRecorder(store, listeners)
        names = self.plan.notebook_order or tuple(s.name for s in self.plan.stages)
        self.position = {name: i for i, name in enumerate(names)}
        # found at run time: a stage that changed a value in place (values.save_outputs saw
        # its fingerprint move) is that value's producer for the stages after it in the notebook
        self.extra_after: dict[str, set[str]] = {}
        self.stale: set[str] = set()  # running on a value that changed since: result discarded
        # Files: a stage may read what a stage before it in the notebook writes, with no value
        # between them. Such pairs found in the last run are ordered from the start; a pair
        # found now (both finished, the later one started before the earlier one ended) makes
        # the later one run again after it; a stage that failed while a stage before it was
        # still running runs once more after it (it may have missed a file it makes).
        self.file_after: dict[str, set[str]] = {}
        self.opened: dict[str, tuple[set[str], set[str]]] = {}  # name -> (read, written)
        self.clock: dict[str, tuple[float, float]] = {}  # name -> (decided or submitted, ended)
        self.failed_early: set[str] = set()  # failed while an earlier stage ran: tried again
        self.retry_wait: dict[str, tuple[set[str], dict[str, Any]]] = {}  # waits, its failure
        self.keys: dict[str, str] = {}  # the cache key each stage that ran was stored under
        self.cancelling = False
        self.env: dict[str, Any] = {}  # captured when the run starts (package versions...)
        self.notes: dict[str, str] = {}  # why a stage ran, recorded with its success
        self.run_id = ""
        self.run_dir = Path()

    def _with_ancestors(self, names: set[str]) -> set[str]:
        found = set(names)
        for stage in reversed(self.plan.stages):
            if stage.name in found:
                found.update(stage.after)
        return found

    # -- deciding

    def _upstreams(self, name: str) -> list[str]:
        extra = self.extra_after.get(name, set()) | self.file_after.get(name, set())
        return [*self.plan.stage(name).after, *sorted(extra - set(self.plan.stage(name).after))]

    # -- files between stages

    def _learn_file_order(self) -> None:
        """Order the stages that met through a file in the last run, so this one need not
        run one of them twice."""
        last = self.store.last_stage_files(self.plan.name, self.target.notebook)
        sets = {name: _opened(files) for name, files in last.items() if name in self.status}
        for late, (read, written) in sets.items():
            for early, (was_read, wrote) in sets.items():
                if self.position[early] >= self.position[late] or self._waits_for(early, late):
                    continue
                if wrote & (read | written) or was_read & written:
                    self.file_after.setdefault(late, set()).add(early)

    def _opened_files(self, name: str, files: dict[str, Any], started: float) -> None:
        """``name`` finished (ran or cached) having opened ``files``: check it against every
        other finished stage; the later one of a pair that met through a file too early runs
        again after the earlier one."""
        self.opened[name] = _opened(files)
        self.clock[name] = (started, time.monotonic())
        for other in list(self.opened):
            if other == name or other not in self.opened or name not in self.opened:
                continue
            early, late = sorted((name, other), key=self.position.__getitem__)
            if self.clock[late][0] >= self.clock[early][1] or self._waits_for(early, late):
                continue  # it started after the earlier one had ended: it saw its files
            overwritten = sorted(self.opened[early][0] & self.opened[late][1])
            if overwritten:
                self._read_while_rewritten(early, late, overwritten[0])
                continue
            met = sorted(self.opened[early][1] & (self.opened[late][0] | self.opened[late][1]))
            if met:
                self.file_after.setdefault(late, set()).add(early)
                self.opened.pop(late, None)
                where = os.path.relpath(met[0], self.plan.workdir)
                self._invalidate(
                    late, f"stage '{early}', before it in the notebook, wrote {where} meanwhile"
                )

    def _waits_for(self, name: str, other: str) -> bool:
        """Whether ``name`` runs after ``other`` already (an ``after:`` may point down the
        notebook): then ordering ``other`` after ``name`` would be a cycle."""
        seen, todo = set(), [name]
        while todo:
            for up in self._upstreams(todo.pop()):
                if up == other:
                    return True
                if up not in seen and up in self.status:
                    seen.add(up)
                    todo.append(up)
        return False

    def _read_while_rewritten(self, early: str, late: str, path: str) -> None:
        """``early`` read a file that ``late``, after it in the notebook, wrote while it ran: what
        it read may not be what the notebook reads, and running it again would read ``late``'s
        file. Nothing can make this run right: it fails, saying so; the next run orders them."""
        if self.status[early] == StageStatus.SUCCEEDED and early in self.keys:
            self.store.cache_forget(self.keys[early])  # its key hashed the file after the fact
        self.opened.pop(early, None)
        where = os.path.relpath(path, self.plan.workdir)
        self._finish(
            early,
            StageStatus.FAILED,
            error=(
                f"stage '{early}' read {where} while stage '{late}', after it in the notebook, "
                f"wrote it: it may not have read what the notebook reads. Run again (the next run "
                f"runs '{late}' after '{early}'), or tag '{late}' with after:{early}."
            ),
        )
        for stage in self.order:
            if early in self._upstreams(stage.name):
                self._invalidate(stage.name, f"its upstream '{early}' failed")

    def _ran_too_early(self, name: str, started: float) -> list[str]:
        """Stages before ``name`` in the notebook that had not ended when it started."""
        here = self.position[name]
        return [
            other
            for other in self.status
            if self.position[other] < here
            and not self._waits_for(other, name)
            and (other not in self.clock or self.clock[other][1] > started)
            and self.status[other] not in (StageStatus.FAILED, StageStatus.SKIPPED)
        ]

    def _producer(self, name: str, value: str) -> str:
        """The stage whose ``value`` this stage gets: the compiler's producer, or a stage between
        it and this one in the notebook that changed the value in place when it ran."""
        found = self.plan.stage(name).inputs[value]
        for other in self.extra_after.get(name, ()):
            changed = value in self.results.get(other, {}).get("outputs", {})
            if changed and self.position[other] > self.position[found]:
                found = other
        return found

    def _inputs(self, stage_name: str) -> dict[str, Any]:
        stage = self.plan.stage(stage_name)
        return {v: self.results[self._producer(stage_name, v)]["outputs"][v] for v in stage.inputs}

    def _watch(self, name: str) -> list[str]:
        """Inputs of this stage that a stage after it in the notebook reads from a producer
        before it: if this stage changes one in place, that stage must see the change."""
        here = self.position[name]
        return sorted(
            value
            for value in self.plan.stage(name).inputs
            if any(
                self.position[s.name] > here
                and s.inputs.get(value) is not None
                and self.position[s.inputs[value]] < here
                for s in self.plan.stages
            )
        )

    def _changed_in_place(self, name: str, values: list[str]) -> None:
        """``name`` changed ``values`` it loaded: every stage after it in the notebook that
        reads them from an older producer now waits for it, and runs again if it already ran."""
        here = self.position[name]
        for stage in self.plan.stages:
            later = stage.name in self.status and self.position[stage.name] > here
            hit = [v for v in values if v in stage.inputs]
            if not later or not hit or any(self.position[stage.inputs[v]] > here for v in hit):
                continue
            self.extra_after.setdefault(stage.name, set()).add(name)
            self._invalidate(stage.name, f"stage '{name}' changed '{hit[0]}' in place")

    def _invalidate(self, name: str, reason: str) -> None:
        status = self.status[name]
        if status == StageStatus.PENDING:
            return  # it will wait for the stage that changed the value
        if status == StageStatus.RUNNING:
            self.stale.add(name)
        else:
            self.results.pop(name, None)
            self.opened.pop(name, None)
            self.status[name] = StageStatus.PENDING
            self.record.stage_reset(name, reason)
        for stage in self.plan.stages:
            if stage.name in self.status and name in self._upstreams(stage.name):
                self._invalidate(stage.name, f"its upstream '{name}' runs again")

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
            if self.status[name] != StageStatus.PENDING:
                continue
            if name in self.retry_wait:  # it failed while stages before it still ran
                waits, failure = self.retry_wait[name]
                if any(self.status[w] in ACTIVE for w in waits):
                    continue
                del self.retry_wait[name]
                if any(self.status[w] not in DONE_OK for w in waits):
                    self._finish(name, StageStatus.FAILED, **failure)
                    progressed = True
                    continue
            upstreams = self._upstreams(name)
            bad = next(
                (
                    u
                    for u in upstreams
                    if self.status[u] in (StageStatus.FAILED, StageStatus.SKIPPED)
                ),
                None,
            )
            if bad:
                self._finish(
                    name, StageStatus.SKIPPED, error=f"upstream stage '{bad}' did not succeed"
                )
                progressed = True
                continue
            if not all(self.status[u] in DONE_OK for u in upstreams):
                continue
            inputs = self._inputs(name)
            base = stage_key(stage, self.values, inputs, self.env)
            key = with_data(base, self._current_data(base, name))
            hit = self.store.cache_get(key) if self._uses_cache(name) else None
            if hit is not None and not self._restore_files(name, hit.get("files") or {}):
                hit = None  # a file it wrote is gone from the store too: it runs again
            if hit is None and name not in self.selected and stage.options.get("cache") is False:
                # an upstream of --stages/--from that never caches: what it handed on when it
                # ran with this very key (code, parameters, inputs, environment), else it runs
                hit = self.store.outputs_for_key(name, base, key)
                if hit is None:
                    self.notes[name] = (
                        "ran again: cache:off, and no earlier run of it had this run's code, "
                        "parameters, inputs and environment"
                    )
            if hit is not None:
                self.results[name] = hit
                entry = hit if "run_id" in hit else self.store.cache_entry(key)
                copied = self.record.copy_cached(entry, name)
                self._finish(
                    name,
                    StageStatus.CACHED,
                    key=key,
                    base_key=base,
                    outputs=hit["outputs"],
                    notebook=entry["notebook"] if entry else None,
                    files=hit.get("files") or None,
                    metrics=None if copied else hit["metrics"],
                )
                # values it changed in place when it ran travel in its entry beside its outputs
                extra = sorted(v for v in hit["outputs"] if v not in stage.outputs)
                if extra:
                    self._changed_in_place(name, extra)
                self._opened_files(name, hit.get("files") or {}, time.monotonic())
            else:
                self._submit(name, base, key, inputs)
            progressed = True
        return progressed

    def _current_data(self, base: str, name: str) -> dict[str, str]:
        """``{path: hash now}`` of the data this stage tracked when it last ran with this base
        key; an unchanged file costs a stat (the stat cache), a missing one reads "missing"."""
        from ..store.hashing import check

        found = {}
        for path in self.store.last_tracked(base, name):
            try:
                found[path] = check(path, self.store).hash
            except FileNotFoundError:
                found[path] = "missing"
            except OSError as exc:
                found[path] = f"unreadable: {exc.strerror}"
        return found

    def _restore_files(self, name: str, files: dict[str, Any]) -> bool:
        """Before a cache hit counts: each file the stage wrote when it ran is there with that
        content, or is put back from the object store (written whole or not at all). False when
        one cannot be restored: the stage must run again."""
        from ..files import write_atomic
        from ..store import objects
        from ..store.hashing import check

        for path, ref in (files.get("written") or {}).items():
            try:
                if check(path, self.store).hash == ref["hash"]:
                    continue
            except OSError:
                pass  # missing (deleted, or a folder now): restore it
            try:
                write_atomic(path, objects.open_objects(self.store.objects).get(ref["object"]))
                if "mode" in ref:
                    os.chmod(path, ref["mode"])
            except OSError:
                return False
            self.record.emit("restored", stage=name, path=path)
        return True

    def _submit(self, name: str, base: str, key: str, inputs: dict[str, Any]) -> None:
        stage = self.plan.stage(name)
        if self.executor is None:
            jobs = self.options.jobs or os.cpu_count() or 1
            options = dict(self.options.executor_options)
            if self.options.executor in ("local", "dask"):  # their kernels fork from a preloader
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
            "watch": self._watch(name),
            "notebook": self.plan.notebook,
            "origins": {v: stage.why[v] for v in stage.outputs if v in stage.why},
            "workdir": str(self.plan.workdir),  # files opened below it are recorded
        }
        known = None
        if getattr(self.executor, "journals", False):  # its kernels cannot read mlops.db
            from ..tracking.journal import known as journal_known

            known = journal_known(self.store, self.run_id, self.store.last_tracked(base, name))
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
            # an orchestrator that retries the task itself (an exported Airflow or KFP task)
            # says so, so a failing stage is not retried (retries + 1) squared times
            retries=0 if os.environ.get(NO_RETRIES) else int(stage.options.get("retries", 0)),
            resources=stage.options.get("resources"),
            journal=known,
        )
        self.status[name] = StageStatus.RUNNING
        self.clock[name] = (time.monotonic(), float("inf"))
        self.record.stage_running(name, key, base, task.executed)
        self.futures[self.executor.submit(task)] = (name, base)
        # stages still to decide may each need a kernel: have them booting meanwhile
        pending = sum(1 for s in self.status.values() if s == StageStatus.PENDING)
        self.executor.warm(pending)

    # -- outcomes

    def _finish(self, name: str, status: StageStatus, **fields: Any) -> None:
        self.status[name] = status
        self.record.stage_done(name, status, **fields)

    def _outcome(self, name: str, base: str, outcome: StageOutcome) -> None:
        stage = self.plan.stage(name)
        if outcome.journal:  # a remote stage's records, written here as its kernel would have
            problems = self.record.replay(name, outcome.journal)
            if problems and outcome.ok:
                outcome.ok, outcome.error = False, f"stage '{name}': " + " ".join(problems)
        # the key this execution is stored under: its base plus the data it tracked just now
        files = (outcome.manifest or {}).get("files") or {}
        key = with_data(base, {**files.get("read", {}), **self.record.tracked_now(name)})
        if name in self.stale:  # it ran on a value a stage before it has changed since
            self.stale.discard(name)
            self.status[name] = StageStatus.PENDING
            self.record.stage_reset(name, "a value it read was changed in place upstream")
            return
        manifest = outcome.manifest or {}
        if outcome.ok and "outputs" not in manifest:  # its save cell, the last one, never ran
            outcome.ok = False
            outcome.error = describe_early_exit(
                name, self.plan.notebook, self.run_dir / f"{name}.ipynb"
            )
        changed = dict(manifest.get("changed") or {})
        outputs = {**manifest.get("outputs", {}), **(changed if outcome.ok else {})}
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
        timing = {
            "started": outcome.started,
            "ended": outcome.ended,
            "attempts": outcome.attempts,
            # where it ran: a remote executor's outcome names its worker; else the executor
            "worker": getattr(outcome, "worker", None) or self.options.executor,
        }
        if not outcome.ok:
            if stage.options.get("check") and outcome.error and outcome.error != "interrupted":
                outcome.error = check_failure(name, outcome.error)
            failure = {
                "key": key,
                "base_key": base,
                "error": outcome.error,
                "notebook": executed,
                **timing,
            }
            early = [] if self.cancelling else self._ran_too_early(name, self.clock[name][0])
            if early and name not in self.failed_early:
                # runs again once they have all succeeded; if one fails, this failure stands
                self.failed_early.add(name)
                self.retry_wait[name] = (set(early), failure)
                self.status[name] = StageStatus.PENDING
                self.record.stage_reset(
                    name,
                    f"it failed while stage '{early[0]}', before it in the notebook, was still "
                    "running (it may make a file this one reads)",
                )
                return
            self._finish(name, StageStatus.FAILED, **failure)
            return
        metrics = manifest.get("metrics", {})
        self.results[name] = {"outputs": outputs, "metrics": metrics}
        self.keys[name] = key
        if stage.options.get("cache") is not False:
            self.store.cache_put(key, self.plan.name, name, outputs, metrics, self.run_id, files)
        self._finish(
            name,
            StageStatus.SUCCEEDED,
            key=key,
            base_key=base,
            outputs=outputs,
            metrics=metrics,
            notebook=executed,
            error=self.notes.pop(name, None),
            files=files or None,
            **timing,
        )
        if changed:
            self._changed_in_place(name, sorted(changed))
        if self.status[name] == StageStatus.SUCCEEDED:
            self._opened_files(name, files, self.clock[name][0])

    # -- the loop

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
                self._outcome(name, key, future.result())

    def _cancel(self, reason: str) -> None:
        """Stop every running stage; they are recorded as failed with ``reason``."""
        self.cancelling = True
        if self.executor is not None:
            self.executor.cancel()
        for future, (name, key) in list(self.futures.items()):
            result = future.result()
            result.ok, result.error = False, reason
            self._outcome(name, key, result)
        self.futures.clear()

    def execute(self) -> str:
        self.env = environment(self.plan, self.store.home)
        self.run_id, self.run_dir = self.record.start(
            self.plan,
            self.target.notebook,
            self.values,
            stages=[s.name for s in self.order],
            after={s.name: [u for u in s.after if u in self.status] for s in self.order},
            environment=self.env,
            origin=self.options.origin,
            trigger=(self.options.trigger, self.options.schedule, self.options.scheduled_for),
        )
        self._learn_file_order()
        outcome, error = RunStatus.SUCCEEDED, None
        try:
            with _terminate_as_interrupt():
                try:
                    self._loop()
                except KeyboardInterrupt:
                    outcome = RunStatus.INTERRUPTED
                    self.record.emit("interrupting")
                    self._cancel("interrupted")
                except MlopsError as exc:  # the executor could not start (no scheduler there)
                    outcome, error = RunStatus.FAILED, str(exc)
                    self._cancel(error)
                    raise
                except BaseException as exc:  # our own bug: stop cleanly, keep the record true
                    outcome, error = (
                        RunStatus.FAILED,
                        f"internal error: {type(exc).__name__}: {exc}",
                    )
                    self._cancel(error)
                    raise
        finally:
            if self.executor is not None:
                self.executor.close()
            if outcome == RunStatus.SUCCEEDED and StageStatus.FAILED in self.status.values():
                outcome = RunStatus.FAILED
            self.record.finish(outcome, error)
        return self.run_id


def _opened(files: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(read, written) paths of a stage's ``files`` record."""
    return set(files.get("read") or {}), set(files.get("written") or {})


def run_pipeline(
    target: str | Path | Target,
    options: RunOptions | None = None,
    listeners: list[Listener] | None = None,
    home: str | Path | None = None,
) -> dict[str, Any]:
    """Run a notebook or compiled folder; returns the run as the ``mlops run --json`` object
    (with ``notes`` when :func:`prepare` has something to tell). ``home``: see ``prepare``."""
    prepared = target if isinstance(target, Target) else prepare(target, home)
    with Store(prepared.home) as store:
        run = _Run(prepared, options or RunOptions(), list(listeners or []), store)
        run_id = run.execute()
        found = store.get_run(run_id)
    if prepared.notes:
        found["notes"] = list(prepared.notes)
    return found
