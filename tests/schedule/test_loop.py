"""The scheduler's decisions and claims, on a real store; catch-up with an injected clock and
real runs (real kernels, the same runner as `mlops run`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.schedule.loop import GRACE_S, Scheduler, decide
from mlops_jupyter.schedule.model import add
from mlops_jupyter.store import schedules as table
from mlops_jupyter.store.db import Store

HOUR = 3600.0
T0 = 1_790_000_000.0 - 1_790_000_000.0 % HOUR  # a whole hour, long ago


def row(**fields: Any) -> dict[str, Any]:
    base = {
        "name": "s",
        "cron": "0 * * * *",
        "tz": "UTC",
        "catch_up": "latest",
        "max_catch_up": 10,
        "overlap": "skip",
        "next_fire": T0 + HOUR,
    }
    return {**base, **fields}


def test_on_time_a_due_time_fires_once_and_next_fire_moves_on() -> None:
    fires, next_fire = decide(row(), T0 + HOUR + 0.2, busy=False)
    assert fires == [(T0 + HOUR, "on-time", table.ACTIVE)]
    assert next_fire == T0 + 2 * HOUR


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", [(T0 + 6 * HOUR, "on-time")]),
        ("latest", [(T0 + 5 * HOUR, "catch-up"), (T0 + 6 * HOUR, "on-time")]),
        ("all", [(T0 + h * HOUR, "catch-up") for h in (3, 4, 5)] + [(T0 + 6 * HOUR, "on-time")]),
    ],
)
def test_after_a_gap_the_catch_up_policy_decides(policy: str, expected: list[Any]) -> None:
    # down from T0+1h to just after T0+6h: 1h..5h missed, 6h on time; `all` is capped at 3
    fires, _ = decide(row(catch_up=policy, max_catch_up=3), T0 + 6 * HOUR + 1, busy=False)
    assert [(f[0], f[1]) for f in fires] == expected
    assert [f[2] for f in fires] == [table.ACTIVE] + [table.QUEUED] * (len(fires) - 1)


def test_a_time_older_than_the_grace_is_a_catch_up_even_alone() -> None:
    fires, _ = decide(row(catch_up="skip"), T0 + HOUR + GRACE_S + 1, busy=False)
    assert fires == []


@pytest.mark.parametrize(("overlap", "status"), [("skip", table.SKIPPED), ("queue", table.QUEUED)])
def test_a_fire_due_while_the_last_run_goes(overlap: str, status: str) -> None:
    fires, _ = decide(row(overlap=overlap), T0 + HOUR, busy=True)
    reason = "overlap" if overlap == "skip" else "on-time"
    assert fires == [(T0 + HOUR, reason, status)]


def test_two_claimers_of_one_due_fire_one_gets_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store(home) as a, Store(home) as b:
        table.add_schedule(
            a,
            {
                **row(),
                "target": "x",
                "compiled": None,
                "parameters": {},
                "pin": False,
                "on_failure": None,
                "created_at": T0,
            },
        )
        now = T0 + HOUR + 0.1
        stale = table.get_schedule(b, "s")  # b read the schedule before a claimed
        first = table.decide_fires(a, "s", now, "a", 30, lambda r: decide(r, now, False))
        second = table.decide_fires(b, "s", now, "b", 30, lambda r: decide(stale, now, False))
        assert len(first) == 1 and second == []
        # even a claimer that decided on what it read before: the unique key refuses it
        with b.transaction() as db:
            db.execute("UPDATE schedules SET next_fire = ?", (T0 + HOUR,))
        third = table.decide_fires(b, "s", now, "b", 30, lambda r: decide(stale, now, False))
        assert third == []
        assert [f["claimer"] for f in table.history(a, "s")] == ["a"]


@pytest.fixture
def notebook(make_notebook: Callable[..., Path]) -> Path:
    return make_notebook(
        [(["parameters"], "n = 1\nscheduled_for = ''"), (["stage:work"], "total = n * 2")]
    )


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("latest", 1), ("all", 3)])
def test_restarted_after_a_gap_catch_up_fires_real_runs(
    home: Path, notebook: Path, policy: str, runs: int
) -> None:
    add(
        home,
        "hourly",
        notebook,
        cron_expr="0 * * * *",
        parameters={"n": 4},
        tz="UTC",
        catch_up=policy,
        max_catch_up=3,
        now=T0 + 1,
    )
    # no scheduler ran for 5.5 hours: 1h..5h were missed; none is on time
    Scheduler(home, clock=lambda: T0 + 5.5 * HOUR, log=lambda _: None).run(once=True)
    with Store(home) as store:
        fires = table.history(store, "hourly")
        assert [f["reason"] for f in fires] == ["catch-up"] * runs
        assert [f["scheduled_for"] for f in fires] == [T0 + h * HOUR for h in (5, 4, 3)][:runs]
        assert {f["status"] for f in fires} <= {"succeeded"}
        recorded = [store.get_run(f["run_id"]) for f in fires]
        assert table.get_schedule(store, "hourly")["next_fire"] == T0 + 6 * HOUR
    for run, fire in zip(recorded, fires, strict=True):
        assert run["trigger"] == "schedule" and run["schedule"] == "hourly"
        assert run["parameters"]["n"] == 4
        assert run["scheduled_for"] is not None
        assert abs(_epoch(run["scheduled_for"]) - fire["scheduled_for"]) < 1e-3
        # the notebook declares `scheduled_for`: it is given the time the fire was due
        assert _epoch(run["parameters"]["scheduled_for"]) == fire["scheduled_for"]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
