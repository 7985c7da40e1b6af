"""``mlops schedule ...`` and ``mlops scheduler`` as a user runs them: real processes, one real
SQLite store, real kernels, the wall clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from .conftest import MLOPS, Mlops
from .test_run import assert_clean_error

MakeNotebook = Callable[..., Path]


@pytest.fixture
def notebook(make_notebook: MakeNotebook) -> Path:
    return make_notebook(
        [
            (["parameters"], "n = 1\nnap = 0.0\nlabel = 'a'"),
            (["stage:work"], "import time\ntime.sleep(nap)\ntotal = n * 2"),
        ]
    )


def out(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_scheduler_outlives_its_test() -> Iterator[None]:
    """A test that fails before it stops its schedulers still leaves none running: each is
    killed by its process group (its kernels with it)."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def start_scheduler(*args: str, cwd: Path) -> subprocess.Popen[str]:
    # its own session, so killing it takes its kernels too
    process = subprocess.Popen(
        [MLOPS, "scheduler", *args],
        cwd=cwd,
        text=True,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _started.append(process)
    return process


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_cli_contract(mlops: Mlops, notebook: Path, home: Path) -> None:
    added = out(
        mlops(
            "schedule",
            "add",
            "nightly",
            notebook,
            "--cron",
            "30 2 * * *",
            "-p",
            "n=5",
            "-p",
            "label",
            "b c",
            "--tz",
            "Europe/Berlin",
            "--catch-up",
            "all",
            "--json",
        )
    )
    assert {
        k: added[k]
        for k in ("name", "target", "cron", "tz", "parameters", "enabled", "catch_up", "overlap")
    } == {
        "name": "nightly",
        "target": str(notebook.resolve()),
        "cron": "30 2 * * *",
        "tz": "Europe/Berlin",
        "parameters": {"n": 5, "label": "b c"},
        "enabled": True,
        "catch_up": "all",
        "overlap": "skip",
    }
    next_fire = datetime.fromisoformat(added["next_fire"])
    assert (next_fire.hour, next_fire.minute) == (2, 30) and next_fire.utcoffset() is not None
    assert 0 < next_fire.timestamp() - time.time() <= 86400 + 3600
    assert out(mlops("schedule", "list", "--json")) == [added]
    assert out(mlops("schedule", "show", "nightly", "--json")) == added
    assert out(mlops("schedule", "pause", "nightly", "--json"))["enabled"] is False
    assert out(mlops("schedule", "resume", "nightly", "--json"))["next_fire"] == added["next_fire"]
    assert out(mlops("schedule", "history", "nightly", "--json")) == []
    listed = mlops("schedule", "list")
    assert "nightly" in listed.stdout and "30 2 * * *" in listed.stdout
    assert mlops("schedule", "rm", "nightly").returncode == 0
    assert out(mlops("schedule", "list", "--json")) == []
    # a run started by hand says so
    assert out(mlops("run", notebook, "--json"))["trigger"] == "manual"


BAD = [
    (["--cron", "* * *"], ["3 fields", "'30 2 * * *' for 02:30"]),
    (["--cron", "99 * * * *"], ["'99 * * * *' is not valid", "'30 2 * * *' for 02:30"]),
    (["--cron", "@sometimes"], ["unknown cron alias", "@daily"]),
    (
        ["--cron", "@daily", "--tz", "Mars/Olympus"],
        ["unknown time zone 'Mars/Olympus'", "e.g. Europe/Berlin"],
    ),
    (["--cron", "@daily", "-p", "m=1"], ["unknown parameter 'm'", "n (int)"]),
    (["--cron", "@daily", "-p", "n=many"], ["parameter 'n' expects an int", "-p n=1"]),
    (["--cron", "@daily", "--catch-up", "some"], ["--catch-up 'some'", "skip, latest, all"]),
    (["--cron", "@daily", "--overlap", "both"], ["--overlap 'both'", "--overlap queue"]),
    (["--cron", "@daily", "--max-catch-up", "0"], ["--max-catch-up 0", "at least 1"]),
]


@pytest.mark.parametrize(("args", "needles"), BAD)
def test_bad_input_exits_2_and_writes_nothing(
    mlops: Mlops, notebook: Path, home: Path, args: list[str], needles: list[str]
) -> None:
    result = mlops("schedule", "add", "s", notebook, *args)
    assert_clean_error(result, *needles)
    assert not home.exists(), "nothing written, not even a store"


def test_bad_names_and_unknown_schedules(mlops: Mlops, notebook: Path, home: Path) -> None:
    assert_clean_error(
        mlops("schedule", "add", "Nightly", notebook, "--cron", "@daily"),
        "'Nightly' is not a schedule name",
        "nightly-train",
    )
    assert_clean_error(
        mlops("schedule", "add", "s", notebook.with_name("no.ipynb"), "--cron", "@daily"),
        "no such notebook",
    )
    for verb in ("show", "pause", "resume", "rm", "history"):
        assert_clean_error(mlops("schedule", verb, "ghost"), "no schedule named 'ghost'")
    assert not home.exists()
    out(mlops("schedule", "add", "s", notebook, "--cron", "@daily", "--json"))
    assert_clean_error(
        mlops("schedule", "add", "s", notebook, "--cron", "@hourly"),
        "already exists",
        "mlops schedule rm s",
    )
    assert_clean_error(
        mlops("schedule", "show", "ghost"), "no schedule named 'ghost'", "Schedules here: s"
    )
    assert [s["cron"] for s in out(mlops("schedule", "list", "--json"))] == ["@daily"]


def test_two_schedulers_fire_every_second_once(
    mlops: Mlops, notebook: Path, tmp_path: Path
) -> None:
    out(mlops("run", notebook, "-p", "n=7", "--json"))  # warm: fires are cache hits, no kernel
    out(
        mlops(
            "schedule",
            "add",
            "tick",
            notebook,
            "--cron",
            "* * * * * *",
            "-p",
            "n=7",
            "--overlap",
            "queue",
            "--catch-up",
            "skip",
            "--json",
        )
    )
    schedulers = [start_scheduler("--poll", "1", cwd=tmp_path) for _ in range(2)]
    began = time.time()
    time.sleep(5.5)
    ended = time.time()
    for process in schedulers:
        process.send_signal(signal.SIGTERM)
    for process in schedulers:
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    fires = out(mlops("schedule", "history", "tick", "--json"))
    times = [epoch(f["scheduled_for"]) for f in fires]
    assert len(times) == len(set(times)), "no scheduled_for twice"
    assert times == sorted(times, reverse=True), "newest first"
    inside = [t for t in times if began + 1 <= t <= ended - 1]
    assert len(inside) >= int(ended - began) - 3  # every whole second both schedulers were up
    runs = out(mlops("runs", "--limit", "100", "--json"))
    fired = [r for r in runs if r["trigger"] == "schedule"]
    assert sorted(r["run_id"] for r in fired) == sorted(f["run_id"] for f in fires)
    assert {f["status"] for f in fires} == {"succeeded"}
    assert {r["schedule"] for r in fired} == {"tick"}
    assert sorted(epoch(r["scheduled_for"]) for r in fired) == sorted(times)


def _at_second(delay: float) -> tuple[str, float]:
    """A 6-field cron expression that fires once, ``delay`` seconds from now (UTC)."""
    when = (datetime.now(timezone.utc) + timedelta(seconds=delay)).replace(microsecond=0)
    return f"{when.second} {when.minute} {when.hour} {when.day} {when.month} *", when.timestamp()


def _wait_for(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_killed_scheduler_s_fire_is_interrupted_and_retried_once(
    mlops: Mlops, notebook: Path, tmp_path: Path
) -> None:
    expr, when = _at_second(2)
    out(
        mlops(
            "schedule",
            "add",
            "once",
            notebook,
            "--cron",
            expr,
            "--tz",
            "UTC",
            "-p",
            "nap=2.5",
            "--json",
        )
    )
    first = start_scheduler("--poll", "0.5", "--lease", "1.5", cwd=tmp_path)

    def running() -> str | None:
        fires = out(mlops("schedule", "history", "once", "--json"))
        return fires[0]["run_id"] if fires and fires[0]["run_id"] else None

    killed_run = _wait_for(running, 30)
    time.sleep(0.5)  # inside the stage's nap
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    second = start_scheduler("--poll", "0.5", "--lease", "1.5", cwd=tmp_path)
    try:
        done = _wait_for(
            lambda: [
                f
                for f in out(mlops("schedule", "history", "once", "--json"))
                if f["status"] == "succeeded"
            ],
            60,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    fires = out(mlops("schedule", "history", "once", "--json"))
    assert len(fires) == 1 == len(done), "no fire doubled, none lost"
    (fire,) = fires
    assert epoch(fire["scheduled_for"]) == when
    assert fire["attempts"] == 2 and fire["previous_run_id"] == killed_run
    assert out(mlops("show", killed_run, "--json"))["status"] == "interrupted"
    retried = out(mlops("show", fire["run_id"], "--json"))
    assert (retried["status"], retried["trigger"], retried["schedule"]) == (
        "succeeded",
        "schedule",
        "once",
    )
    scheduled = [r for r in out(mlops("runs", "--json")) if r["trigger"] == "schedule"]
    assert len(scheduled) == 2  # the killed one and its one retry


def test_an_idle_scheduler_sleeps_and_stops_on_sigterm(
    mlops: Mlops, notebook: Path, tmp_path: Path
) -> None:
    out(mlops("schedule", "add", "yearly", notebook, "--cron", "@yearly", "--json"))
    process = start_scheduler("--poll", "30", cwd=tmp_path)
    time.sleep(1.5)  # started and idle
    cpu = _cpu_seconds(process.pid)
    time.sleep(2)
    assert _cpu_seconds(process.pid) - cpu < 0.05, "no busy poll"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_once_fires_what_is_due_and_a_failed_run_calls_on_failure(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    broken = make_notebook([(["stage:boom"], "raise ValueError('no data today')")], "broken.ipynb")
    report = tmp_path / "failed.txt"
    expr, when = _at_second(1.5)
    out(
        mlops(
            "schedule",
            "add",
            "fragile",
            broken,
            "--cron",
            expr,
            "--tz",
            "UTC",
            "--on-failure",
            f'echo "$MLOPS_SCHEDULE $MLOPS_RUN_STATUS $MLOPS_RUN_ID" > {report}',
            "--json",
        )
    )
    assert mlops("scheduler", "--once").returncode == 0  # nothing due yet
    assert out(mlops("schedule", "history", "fragile", "--json")) == []
    time.sleep(max(0.0, when - time.time()) + 0.3)
    result = mlops("scheduler", "--once")
    assert result.returncode == 0, result.stderr
    (fire,) = out(mlops("schedule", "history", "fragile", "--json"))
    assert (fire["status"], fire["reason"]) == ("failed", "on-time")
    assert report.read_text().split() == ["fragile", "failed", fire["run_id"]]
    assert out(mlops("schedule", "show", "fragile", "--json"))["last_fire"] == fire["scheduled_for"]
    assert mlops("schedule").returncode == 2  # no verb: the verbs are listed
