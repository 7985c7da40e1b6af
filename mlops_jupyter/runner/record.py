"""What a run writes down: its rows in the store, ``runs/<id>/events.log``, ``run.json``, and the
events its listeners receive. The run loop decides; this records, on the loop's own thread.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from ..files import write_atomic
from ..status import Listener, RunStatus, StageStatus
from ..store.db import Store
from .plan import Plan


class RunRecorder:
    def __init__(self, store: Store, listeners: list[Listener]) -> None:
        self.store = store
        self.listeners = listeners
        self.run_id: str | None = None  # set by start(): events before it carry None
        self.run_dir: Path | None = None
        self._log: TextIO | None = None

    def start(
        self,
        plan: Plan,
        notebook: str | None,
        values: dict[str, Any],
        stages: list[str],
        after: dict[str, list[str]],
        environment: dict[str, Any],
        origin: str,
        trigger: tuple[str, str | None, float | None] = ("manual", None, None),
    ) -> tuple[str, Path]:
        """Record the run as started (its parameters with their declared types, every stage
        pending) and tell the listeners."""
        self.store.add_pipeline(plan.name, plan.version, notebook, str(plan.folder))
        types = {n: s["type"] for n, s in plan.parameters.items()}
        self.run_id, self.run_dir = self.store.start_run(
            pipeline=plan.name,
            version=plan.version,
            notebook=notebook,
            compiled=str(plan.folder),
            parameters={n: (v, types[n]) for n, v in values.items()},
            stages=stages,
            environment=environment,
            origin=origin,
            trigger=trigger[0],
            schedule=trigger[1],
            scheduled_for=trigger[2],
        )
        self._log = open(self.run_dir / "events.log", "a", encoding="utf-8")  # noqa: SIM115
        self.emit(
            "run",
            pipeline=plan.name,
            version=plan.version,
            stages=stages,
            after=after,
            run_dir=str(self.run_dir),
        )
        return self.run_id, self.run_dir

    def emit(self, event: str, **fields: Any) -> None:
        message = {"event": event, "run_id": self.run_id, **fields}
        if self._log is not None:  # runs/<id>/events.log: the run's story, one JSON object a line
            self._log.write(json.dumps({"time": time.time(), **message}, default=str) + "\n")
            self._log.flush()
        for listener in self.listeners:
            try:
                listener(message)
            except Exception:  # a broken display must not break the run
                pass

    # -- stages

    def stage_running(self, name: str, key: str, base_key: str, notebook: Path) -> None:
        self.store.update_stage(
            self._id,
            name,
            status=StageStatus.RUNNING,
            started_at=time.time(),
            cache_key=key,
            base_key=base_key,
            notebook=str(notebook),
        )
        self.emit("stage", stage=name, status=StageStatus.RUNNING, duration_s=None, error=None)

    def stage_done(
        self,
        name: str,
        status: StageStatus,
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
        files: dict[str, Any] | None = None,
        worker: str | None = None,
    ) -> None:
        """A stage reached its end state; ``metrics`` are the ones its metrics cell named,
        ``files`` what it opened (``{"read": {path: hash}, "written": {path: {...}}}``),
        ``worker`` where it ran (``local``, or a Dask worker's address)."""
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
        if files:
            fields["files"] = files
        if worker:
            fields["worker"] = worker
        self.store.update_stage(self._id, name, **fields)
        if metrics:
            self.store.add_metrics(self._id, name, [(k, None, v) for k, v in metrics.items()])
        self.emit(
            "stage",
            stage=name,
            status=status,
            duration_s=None if status == StageStatus.CACHED else ended - started,
            error=error,
        )

    def stage_reset(self, name: str, reason: str) -> None:
        """A stage decided on a value that has changed since: pending again, to run anew."""
        self.store.update_stage(self._id, name, status=StageStatus.PENDING, error=None)
        self.store.forget_stage_records(self._id, name)
        self.emit(
            "stage",
            stage=name,
            status=StageStatus.PENDING,
            duration_s=None,
            error=f"again: {reason}",
        )

    def copy_cached(self, entry: dict[str, Any] | None, name: str) -> bool:
        """Record the metrics, parameters, artifacts and data versions a cached stage logged
        when it ran, under this run too; False if there was nothing to copy from."""
        if entry is None or not entry["run_id"]:
            return False
        from ..tracking.datasets import copy_versions

        copied = self.store.copy_stage_records(entry["run_id"], self._id, name)
        copy_versions(self.store, entry["run_id"], self._id, name)
        return copied

    def replay(self, name: str, records: list[dict[str, Any]]) -> list[str]:
        """A remote stage's journal written as its kernel would have written it locally; the
        problems its kernel would have raised (tracking/journal.py)."""
        from ..tracking.journal import replay

        return replay(self.store, self._id, name, records)

    def tracked_now(self, name: str) -> dict[str, str]:
        """``{path: hash}``: the newest version of each file or folder the stage tracked in this
        run (DataFrames have no path to re-check, so they are not part of the key)."""
        found: dict[str, str] = {}
        for version in self.store.data_versions(run_id=self._id, stage=name, limit=None):
            if version.get("kind") in ("file", "directory"):
                found.setdefault(version["path"], version["hash"])
        return found

    # -- the end

    def finish(self, status: RunStatus, error: str | None) -> None:
        """The run's final status, ``run.json`` beside its notebooks, the last event."""
        if self.run_id is None or self.run_dir is None:
            return
        self.store.finish_run(self.run_id, status, error)
        record = self.store.get_run(self.run_id)
        write_atomic(
            self.run_dir / "run.json", json.dumps(record, indent=2, default=str), fsync=False
        )
        self.emit("end", status=status)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def _id(self) -> str:
        if self.run_id is None:
            raise RuntimeError("the run is not recorded yet: call start() first")
        return self.run_id
