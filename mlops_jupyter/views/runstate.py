"""A run's state for display, folded from run events (live) or read from the store (finished)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..status import FINAL as FINISHED
from ..status import StageStatus

STAGE_STATUSES = tuple(StageStatus)  # the legend's order


@dataclass
class StageView:
    name: str
    after: list[str] = field(default_factory=list)
    status: str = "pending"
    duration_s: float | None = None
    error: str | None = None
    started: float | None = None  # wall clock when it began running: the live elapsed time


@dataclass
class RunState:
    """What the run widget draws. ``status``: starting, running, interrupting, or a FINISHED one."""

    run_id: str | None = None
    pipeline: str | None = None
    version: str | None = None
    status: str = "starting"
    started: float | None = None
    ended: float | None = None
    stages: dict[str, StageView] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # why the run failed or could not start (shown in red)
    note: str | None = None  # context for the reader, e.g. which saved notebook ran

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def apply(self, event: dict[str, Any], now: float | None = None) -> None:
        """Fold one runner event (``runner/run.py``) into the state."""
        now = time.time() if now is None else now
        kind = event.get("event")
        if kind == "run":
            self.run_id = event.get("run_id")
            self.pipeline = event.get("pipeline")
            self.version = event.get("version")
            self.status, self.started = "running", now
            after = event.get("after") or {}
            self.stages = {
                name: StageView(name, list(after.get(name, []))) for name in event["stages"]
            }
        elif kind == "stage":
            stage = self.stages.setdefault(event["stage"], StageView(event["stage"]))
            stage.status = event["status"]
            stage.error = event.get("error")
            if stage.status == "running":
                stage.started = now
            else:
                stage.duration_s = event.get("duration_s")
        elif kind == "interrupting":
            self.status = "interrupting"
        elif kind == "end":
            self.status, self.ended = event.get("status", "failed"), now
            if self.status != "succeeded":  # what the store records for stages never reached
                for stage in self.stages.values():
                    if stage.status == "pending":
                        stage.status = "skipped"

    @classmethod
    def from_record(cls, run: dict[str, Any], after: dict[str, list[str]]) -> RunState:
        """A stored run (``api.show``) plus its stage edges (``api.run_graph``)."""
        state = cls(
            run_id=run["run_id"],
            pipeline=run["pipeline"],
            version=run["version"],
            status=run["status"],
            parameters=dict(run.get("parameters") or {}),
            metrics=dict(run.get("metrics") or {}),
            message=run.get("error"),
        )
        state.started = _epoch(run.get("started_at"))
        state.ended = _epoch(run.get("ended_at"))
        for stage in run["stages"]:
            state.stages[stage["name"]] = StageView(
                stage["name"],
                list(after.get(stage["name"], [])),
                stage["status"],
                stage.get("duration_s"),
                stage.get("error"),
                _epoch(stage.get("started_at")) if stage["status"] == "running" else None,
            )
        return state

    def elapsed(self, now: float | None = None) -> float | None:
        if self.started is None:
            return None
        return (self.ended or (time.time() if now is None else now)) - self.started

    def stage_time(self, stage: StageView, now: float | None = None) -> float | None:
        """Finished: its duration; running: seconds so far; cached or not started: None."""
        if stage.status == "running" and stage.started is not None:
            return max(0.0, (time.time() if now is None else now) - stage.started)
        return stage.duration_s if stage.status != "cached" else None

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for stage in self.stages.values():
            found[stage.status] = found.get(stage.status, 0) + 1
        return {s: found[s] for s in STAGE_STATUSES if s in found}


def _epoch(stamp: str | None) -> float | None:
    """The store's ``2026-11-27T00:05:15.123Z`` (UTC) back to seconds since the epoch."""
    if not stamp:
        return None
    import calendar

    whole, _, rest = stamp.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + rest) if rest else 0.0)
