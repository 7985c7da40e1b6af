"""Schedules over REST, and the scheduler loop the server hosts: a real Jupyter Server, the real
store, real kernels for the fires (docs/rest-api.md "Schedules")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter import api as core

Api = Callable[..., Awaitable[tuple[int, Any]]]
ERROR_KEYS = {"error", "notebook", "cell", "cell_id", "line", "hint", "text"}
FAR = "0 3 1 1 *"  # 03:00 on 1 January: never fires while a test runs


async def test_the_schedule_routes_follow_the_cli_contract(api: Api, root: Path) -> None:
    status, made = await api(
        "POST",
        "schedules",
        {"name": "nightly", "path": "sub/nb.ipynb", "cron": FAR, "parameters": {"n": "7"},
         "tz": "Europe/Berlin", "catch_up": "all", "max_catch_up": 3},
    )  # fmt: skip
    assert status == 201, made
    cli = core.schedule_show("nightly", root)  # what `mlops schedule show --json` prints
    assert made == {**cli, "path": "sub/nb.ipynb"}
    assert made["parameters"] == {"n": 7}, "typed as the notebook declares n"
    assert (made["tz"], made["catch_up"], made["max_catch_up"]) == ("Europe/Berlin", "all", 3)
    assert made["next_fire"].endswith("+01:00") and "-01-01T03:00:00" in made["next_fire"]

    status, listed = await api("GET", "schedules", path="sub/nb.ipynb")
    assert (status, listed) == (200, [made])
    status, shown = await api("GET", "schedules/nightly")
    assert (status, shown) == (200, made)

    status, paused = await api("POST", "schedules/nightly/pause")
    assert status == 200 and paused["enabled"] is False and paused["next_fire"] is None
    assert core.schedule_show("nightly", root)["enabled"] is False
    status, resumed = await api("POST", "schedules/nightly/resume")
    assert status == 200 and resumed["enabled"] is True and resumed["next_fire"]

    status, fires = await api("GET", "schedules/nightly/history")
    assert (status, fires) == (200, [])

    status, removed = await api("DELETE", "schedules/nightly")
    assert (status, removed) == (200, {"removed": "nightly"})
    assert core.schedules(root) == []
    status, error = await api("GET", "schedules/nightly")
    assert status == 404 and "no schedule named 'nightly'" in error["error"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"cron": "* * *"}, 400, "needs 5 or 6"),
        ({"cron": "61 * * * *"}, 400, "not valid"),
        ({"tz": "Mars/Olympus"}, 400, "unknown time zone 'Mars/Olympus'"),
        ({"parameters": {"nope": 1}}, 400, "nope"),
        ({"parameters": {"n": "many"}}, 400, "'many'"),
        ({"name": "Nightly"}, 400, "not a schedule name"),
        ({"catch_up": "sometimes"}, 400, "'sometimes'"),
        ({"max_catch_up": "10"}, 400, "'max_catch_up'"),
        ({"pin": "yes"}, 400, "'pin'"),
        ({"when": "now"}, 400, "unknown keys: when"),
        ({"path": "../elsewhere.ipynb"}, 403, "../elsewhere.ipynb"),
        ({"path": "sub/missing.ipynb"}, 404, "missing.ipynb"),
    ],
)
async def test_bad_schedules_are_refused_and_nothing_is_written(
    api: Api, root: Path, body: dict[str, Any], status: int, says: str
) -> None:
    request = {"name": "nightly", "path": "sub/nb.ipynb", "cron": FAR, **body}
    got, error = await api("POST", "schedules", request)
    assert got == status, error
    assert set(error) == ERROR_KEYS
    assert says in error["error"], error
    assert core.schedules(root) == []


async def test_a_taken_name_is_a_conflict(api: Api, root: Path) -> None:
    request = {"name": "nightly", "path": "sub/nb.ipynb", "cron": FAR}
    assert (await api("POST", "schedules", request))[0] == 201
    status, error = await api("POST", "schedules", {**request, "cron": "0 4 * * *"})
    assert status == 409 and "already exists" in error["error"]
    assert core.schedule_show("nightly", root)["cron"] == FAR, "the first one is kept"


async def test_unknown_schedules_are_404_for_every_verb(api: Api, root: Path) -> None:
    for method, route in [
        ("GET", "schedules/ghost"),
        ("DELETE", "schedules/ghost"),
        ("POST", "schedules/ghost/pause"),
        ("POST", "schedules/ghost/resume"),
        ("GET", "schedules/ghost/history"),
    ]:
        status, error = await api(method, route)
        assert status == 404, (route, error)
        assert "ghost" in error["error"]


async def test_cron_gives_the_next_fire_times_as_they_are_typed(api: Api) -> None:
    status, times = await api("GET", "cron", expr="30 2 * * *", tz="UTC", count="3")
    assert status == 200, times
    assert times["cron"] == "30 2 * * *" and times["tz"] == "UTC"
    assert len(times["next"]) == 3
    assert all(t.endswith("T02:30:00+00:00") for t in times["next"])
    assert times["next"] == sorted(times["next"])
    status, error = await api("GET", "cron", expr="30 2 * *")
    assert status == 400 and "needs 5 or 6" in error["error"] and error["hint"]
    status, error = await api("GET", "cron", expr="@daily", count="500")
    assert status == 400 and "'count'" in error["error"]


async def test_the_server_fires_schedules_while_it_runs(api: Api, root: Path) -> None:
    """On by default: a per-second schedule added through the API is fired by the server's own
    loop, each time once, as ordinary runs of the notebook."""
    status, made = await api(
        "POST", "schedules", {"name": "often", "path": "sub/nb.ipynb", "cron": "* * * * * *"}
    )
    assert status == 201, made
    deadline = time.monotonic() + 90
    fires: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        _, fires = await api("GET", "schedules/often/history")
        if sum(f["status"] == "succeeded" for f in fires) >= 2:
            break
        await asyncio.sleep(0.2)
    assert (await api("POST", "schedules/often/pause"))[0] == 200
    done = [f for f in fires if f["status"] == "succeeded"]
    assert len(done) >= 2, fires
    assert len({f["scheduled_for"] for f in fires}) == len(fires), "no time fired twice"
    run = core.show(done[0]["run_id"], root)
    assert run["status"] == "succeeded"
    assert (run["trigger"], run["schedule"]) == ("schedule", "often")
    assert run["origin"] == "jupyter", "fired by the server, not a terminal's scheduler"
    assert run["notebook"] == str(root / "sub" / "nb.ipynb")
