"""`mlops schedule export NAME --crontab|--systemd`: the machine's scheduler fires at exactly the
times the schedule would, and what it runs is `mlops scheduler --once` on the right store.

The systemd calendar is checked by systemd's own parser (`systemd-analyze calendar`, `verify`)
against cronsim's times; the crontab line is run the way cron runs it (``sh -c``, ``\\%`` read
as ``%``) and must fire a due schedule."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.schedule import cron
from mlops_jupyter.schedule.export import export

SYSTEMD = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD is None, reason="systemd-analyze is not installed")


def row(expr: str, tz: str = "UTC", name: str = "nightly") -> dict[str, str]:
    return {"name": name, "cron": expr, "tz": tz}


def calendars(text: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("OnCalendar=")]


def systemd_times(calendar: str, count: int) -> list[float]:
    """The next ``count`` elapses systemd computes for one OnCalendar value."""
    out = subprocess.run(
        [str(SYSTEMD), "calendar", f"--iterations={count}", calendar],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"},
    ).stdout
    stamps = re.findall(
        r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out
    )
    return [dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp() for s in stamps]


def cron_times(expr: str, tz: str, count: int) -> list[float]:
    times, after = [], time.time()
    for _ in range(count):
        after = cron.next_after(expr, tz, after)
        times.append(after)
    return times


@needs_systemd
@pytest.mark.parametrize(
    ("expr", "tz"),
    [
        ("30 2 * * *", "Europe/Berlin"),
        ("30 2 * * 1-5", "America/New_York"),
        ("0 */6 * * *", "UTC"),
        ("15,45 9-17 * * mon-fri", "Asia/Tokyo"),
        ("0 0 1,15 * 0", "UTC"),  # both day fields: cron fires when either matches
        ("0 12 */2 * *", "UTC"),  # a day field starting with *: both must match
        ("0 0 29 2 *", "UTC"),
        ("@weekly", "Australia/Sydney"),
        ("@monthly", "UTC"),
        ("0 30 4 * * *", "UTC"),  # 6 fields, seconds first
        ("7 0 0 * * sun", "Europe/London"),
        ("0 9 * jul wed", "UTC"),  # names holding the letters of L, W and # specials
    ],
)
def test_the_systemd_calendar_fires_when_the_schedule_does(expr: str, tz: str) -> None:
    text = export(row(expr, tz), "systemd", Path("/srv/p/.mlops"))
    for _ in range(2):  # a second try if a fire time passed between the two computations
        merged = sorted({t for c in calendars(text) for t in systemd_times(c, 8)})[:8]
        if merged == cron_times(expr, tz, 8):
            break
    assert merged == cron_times(expr, tz, 8), calendars(text)


@needs_systemd
def test_the_systemd_units_pass_systemds_own_check(tmp_path: Path) -> None:
    home = tmp_path / "my project 100%" / ".mlops"  # a space and a specifier in the path
    home.parent.mkdir()
    text = export(row("*/10 * * * * *", name="often"), "systemd", home)
    service, timer = text.split("# --- mlops-often.service\n")[1].split("# --- mlops-often.timer\n")
    (tmp_path / "mlops-often.service").write_text(service)
    (tmp_path / "mlops-often.timer").write_text(timer)
    checked = subprocess.run(
        [str(SYSTEMD), "verify", "--man=no", "mlops-often.timer", "mlops-often.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "AccuracySec=1s" in timer and "Persistent=true" in timer
    assert f'Environment="MLOPS_HOME={str(home).replace("%", "%%")}"' in service


@pytest.mark.parametrize(
    ("expr", "kind", "says"),
    [
        ("*/10 * * * * *", "crontab", "fires by the second"),
        ("0 0 L * *", "crontab", "'L'"),
        ("0 0 * * 5#2", "systemd", "'5#2'"),
        ("0 0 15W * *", "systemd", "'15W'"),
    ],
)
def test_what_cannot_be_written_exactly_is_refused(expr: str, kind: str, says: str) -> None:
    with pytest.raises(MlopsError) as refused:
        export(row(expr), kind, Path("/srv/p/.mlops"))
    assert says in str(refused.value) and refused.value.hint


def test_the_crontab_line_fires_the_store_s_due_schedules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as cron runs it, from anywhere: the line finds its store by itself (cd, MLOPS_HOME),
    and `--once` fires what is due there (here a per-second schedule beside the exported one)."""
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    project = tmp_path / "my project 100%"
    (project / ".mlops").mkdir(parents=True)
    notebook = write_notebook(project / "nb.ipynb", [(["stage:one"], "x = 1")])
    if time.time() % 60 > 40:  # a minute turning during the test would make "minutely" due too
        time.sleep(61 - time.time() % 60)
    api.schedule_add("often", notebook, cron="* * * * * *")
    api.schedule_add("minutely", notebook, cron="* * * * *", tz=cron.machine_zone())
    text = api.schedule_export("minutely", "crontab", project)
    [line] = [x for x in text.splitlines() if x and not x.startswith(("#", "CRON_TZ="))]
    fields = line.split(" ", 5)
    assert fields[:5] == ["*", "*", "*", "*", "*"]
    command = fields[5].replace("\\%", "%")  # what cron hands to the shell
    time.sleep(1.1)  # the per-second schedule's first time has come
    done = subprocess.run(
        ["sh", "-c", command], cwd="/", env={"PATH": os.environ["PATH"]}, timeout=180
    )
    assert done.returncode == 0
    runs = api.runs(project)
    assert runs and {r["schedule"] for r in runs} == {"often"}
    assert all(r["status"] == "succeeded" for r in runs)
    log = (project / ".mlops" / "scheduler.log").read_text()
    assert any(f"run {r['run_id']} succeeded" in log for r in runs), log


def test_the_cli_prints_the_export_and_refuses_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    (tmp_path / ".mlops").mkdir()
    notebook = write_notebook(tmp_path / "nb.ipynb", [(["stage:one"], "x = 1")])
    api.schedule_add("nightly", notebook, cron="30 2 * * *", tz="Europe/Berlin")
    api.schedule_add("often", notebook, cron="* * * * * *")

    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlops_jupyter", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    shown = mlops("schedule", "export", "nightly", "--systemd")
    assert shown.returncode == 0, shown.stderr
    assert calendars(shown.stdout) == ["*-*-* 02:30:00 Europe/Berlin"]
    for args, says in [
        (("often", "--crontab"), "fires by the second"),
        (("ghost", "--crontab"), "no schedule named 'ghost'"),
        (("nightly",), "--crontab"),
    ]:
        refused = mlops("schedule", "export", *args)
        assert refused.returncode == 2, refused
        assert says in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(mlops("schedule", "list", "--json").stdout)[0]["name"] == "nightly"
