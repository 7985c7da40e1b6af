"""Which schedules the server's own loop fires: those of the stores under its root (found when it
starts), and none when its setting turns the loop off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api as core
from mlops_jupyter.schedule.host import has_schedules, stores_under

from .conftest import PIPELINE

Api = Callable[..., Awaitable[tuple[int, Any]]]
ON = {"ServerApp": {"jpserver_extensions": {"mlops_jupyter.server": True}}}
OFF = {**ON, "MlopsExtension": {"scheduler": False}}


@pytest.fixture
def team(root: Path) -> Path:
    """A subfolder with a store of its own, holding a per-second schedule added from a terminal
    before the server starts (requested before ``api``, so before the server exists)."""
    (root / "team" / ".mlops").mkdir(parents=True)
    notebook = write_notebook(root / "team" / "nb.ipynb", PIPELINE)
    core.schedule_add("often", notebook, cron="* * * * * *")
    return root / "team"


async def fired(where: Path, within: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = [r for r in core.runs(where) if r["status"] == "succeeded"]
        if runs:
            break
        await asyncio.sleep(0.2)
    return runs


async def test_schedules_of_a_store_under_the_root_fire_from_the_start(
    team: Path, api: Api
) -> None:
    # well within RESCAN_S (60 s): found by the walk made when the server started
    runs = await fired(team, within=30)
    core.schedule_enable("often", False, team)
    assert runs, "the server fired the schedule it found under its root"
    assert (runs[0]["trigger"], runs[0]["origin"]) == ("schedule", "jupyter")
    status, listed = await api("GET", "schedules", path="team/nb.ipynb")
    assert status == 200 and [s["name"] for s in listed] == ["often"]
    assert listed[0]["path"] == "team/nb.ipynb"


@pytest.mark.parametrize("jp_server_config", [OFF])
async def test_the_setting_turns_the_servers_loop_off(team: Path, api: Api) -> None:
    status, _ = await api(
        "POST", "schedules", {"name": "also", "path": "sub/nb.ipynb", "cron": "* * * * * *"}
    )
    assert status == 201
    await asyncio.sleep(4)  # four due times; the loop would fire within one
    assert core.runs(team) == [] and core.runs(team.parent / "sub") == []
    # the schedules are kept for a `mlops scheduler` to fire
    assert core.schedule_history("also", team.parent) == []
    core.schedule_enable("often", False, team)
    core.schedule_enable("also", False, team.parent)


def test_the_walk_finds_stores_but_not_in_hidden_or_virtual_env_folders(tmp_path: Path) -> None:
    for folder in (
        "a/.mlops",
        "a/b/c/.mlops",
        ".hidden/.mlops",
        "venv/x/.mlops",
        "deep/1/2/3/4/5/.mlops",
    ):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in stores_under(tmp_path))
    assert found == ["a/.mlops", "a/b/c/.mlops"]
    assert not has_schedules(tmp_path / "a" / ".mlops"), "no database: no schedules"
    assert not (tmp_path / "a" / ".mlops" / "mlops.db").exists(), "looking wrote nothing"
