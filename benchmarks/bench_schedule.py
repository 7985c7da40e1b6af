#!/usr/bin/env python3
"""Schedule benchmark: how late a fire starts, what an idle scheduler costs, and the anchor.

Everything is a real process on one real SQLite store, as a user runs it:

  (a) fire delay: two ``mlops scheduler`` processes (default ``--poll 5``: between due times a
      scheduler sleeps until the next one, the poll only caps that) share one store with a per-second
      schedule (``--cron '* * * * * *'``, seconds first) of a one-stage tagged notebook. The
      notebook declares a ``scheduled_for`` parameter and its stage reads it, so every fire is a
      new cache key and its stage really runs in a fresh kernel (a cached fire starts none). It
      runs until ``--fires`` fired runs have ended (each scheduler logs one line a finished
      fire), then both get SIGTERM and are waited for. Per fired run, from ``scheduled_for``:
      the fire's claim (``fired_at`` in ``mlops schedule history``), the run recorded as started,
      **the stage's ``started_at``** (``mlops show RUN --json``: the moment the stage's worker
      thread took it, the kernel reserved but possibly still booting), the stage's first cell
      starting in its kernel (papermill's ``start_time`` in the executed stage notebook: the
      kernel up and running code) and the run's end. Checks: no ``scheduled_for`` twice (in the
      history or among the runs), every claimed fire has its run, every second of the window
      has a fire row (a second without one is a *lost* fire); seconds skipped because the
      previous run still went (``--overlap skip``, the default) are counted apart.
  (b) idle CPU: one ``mlops scheduler`` (default ``--poll 5``) on its own store whose only
      schedule fires next on 1 January at 03:00 (``0 3 1 1 *``); CPU seconds from
      ``/proc/PID/stat`` (utime + stime, its children's too) over ``--idle-s`` seconds of wall
      time after a 5 s warm-up.
  (c) the anchor, with ``--anchor``: jupyter-scheduler (PyPI ``jupyter_scheduler``) in its own
      venv (``--anchor-venv``, created when missing), ``jupyter server`` on 127.0.0.1 with a
      token, a job definition with a per-minute schedule made through its REST API
      (``POST /scheduler/job_definitions``), and per job (``GET /scheduler/jobs``) the delay from
      its scheduled minute to its ``create_time`` and ``start_time``, for ``--anchor-fires``
      fires. (b) runs meanwhile: the anchor mostly waits for minutes to pass. Without
      ``--anchor`` the anchor is skipped (noted in the JSON) and its documented 10 s poll is
      cited.

    .venv/bin/python benchmarks/bench_schedule.py            # ~3 min; writes results/schedule.json
    .venv/bin/python benchmarks/bench_schedule.py --anchor   # + jupyter-scheduler, ~4-5 min

Exit 1 when a check fails (a doubled or lost fire, a fire without its run, a scheduler that did
not stop cleanly).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _notebooks  # noqa: E402
from _common import code_version, machine, now, tool, write_results  # noqa: E402

PER_SECOND = "* * * * * *"
FAR_AWAY = "0 3 1 1 *"
ANCHOR_CRON = "* * * * *"
ANCHOR_POLL_CITATION = {
    "repository": "jupyter-server/jupyter-scheduler",
    "commit": "9d5e2ea50f5a9b1746c214fd7e4bb5f87fb768c8",
    "file": "jupyter_scheduler/task_runner.py",
    "lines": "154-155 (BaseTaskRunner.poll_interval = traitlets.Integer(default_value=10, ...)); "
    "337 (TaskRunner.start: await asyncio.sleep(self.poll_interval))",
    "poll_interval_s": 10,
}


def _package_fingerprint() -> str:
    """sha256 over the package's source files: the code measured, whatever git says of it."""
    import hashlib

    import mlops_jupyter

    root = Path(mlops_jupyter.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class Failure(Exception):
    """A command failed or a check did not hold: the benchmark's figures are not valid."""


def _stamp(iso: str) -> float:
    """An ISO time from mlops or papermill (``...Z`` or ``...+00:00``) as a POSIX timestamp."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _quantiles(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    # nearest-rank: p99 of 60 samples is the 60th (the max), never an interpolation past it
    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "n": len(ordered),
        "p50_s": round(statistics.median(ordered), 6),
        "p90_s": round(rank(90), 6),
        "p99_s": round(rank(99), 6),
        "max_s": round(ordered[-1], 6),
        "min_s": round(ordered[0], 6),
        "mean_s": round(statistics.fmean(ordered), 6),
    }


def _ms(q: dict[str, Any], key: str) -> str:
    return f"{q[key] * 1000:8.1f} ms" if key in q else "       -   "


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def _run_ns(pid: int) -> int:
    """CPU time of the process's living threads in ns (schedstat: finer than the 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Mlops:
    """``mlops`` as a user runs it, on one store (``MLOPS_HOME``), from one folder."""

    def __init__(self, exe: str, home: Path, cwd: Path) -> None:
        self.exe, self.cwd = exe, cwd
        self.env = {**os.environ, "MLOPS_HOME": str(home)}

    def __call__(self, *args: str) -> Any:
        proc = subprocess.run(
            [self.exe, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise Failure(f"mlops {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return json.loads(proc.stdout) if "--json" in args else proc.stdout

    def scheduler(self, *args: str) -> subprocess.Popen[str]:
        # its own session: if the benchmark dies, the process group (kernels included) can go
        return subprocess.Popen(
            [self.exe, "scheduler", *args],
            cwd=self.cwd,
            env=self.env,
            text=True,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def _stop(process: subprocess.Popen[Any], timeout: float = 60) -> tuple[int | None, float]:
    """SIGTERM, then wait; (exit code or None when it had to be killed, seconds to exit)."""
    t0 = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        code = None
    return code, time.monotonic() - t0


class FireCount:
    """Finished fires across both schedulers' logs; ``done`` is set at ``target``."""

    def __init__(self, target: int) -> None:
        self.target, self.count = target, 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1
            if self.count >= self.target:
                self.done.set()


class LineReader:
    """Collects a scheduler's stderr lines in a thread, so the pipe never fills; counts fires."""

    def __init__(self, process: subprocess.Popen[str], name: str, fires: FireCount | None) -> None:
        self.lines: list[tuple[float, str]] = []
        self.name = name
        self._fires = fires
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.lines.append((time.time(), line.rstrip("\n")))
            if ": run " in line and self._fires:  # "mlops scheduler: NAME WHEN: run ID STATUS"
                self._fires.add()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def runs(self) -> list[str]:
        return [line.split(": run ", 1)[1].split()[0] for _, line in self.lines if ": run " in line]


# -- (a) fire delay ----------------------------------------------------------------------------


def fire_delay(
    work: Path, exe: str, fires: int, cap_s: float, poll: float | None
) -> dict[str, Any]:
    folder = work / "fire"
    nb = _notebooks.write(
        folder / "tick.ipynb",
        [
            ("scheduled_for = ''", ["parameters"]),
            ("fired = scheduled_for\nprint(fired)", ["stage:stamp"]),
        ],
    )
    mlops = Mlops(exe, folder / "home", folder)
    added = mlops(
        "schedule",
        "add",
        "tick",
        str(nb),
        "--cron",
        PER_SECOND,
        "--tz",
        "UTC",
        "--overlap",
        "skip",
        "--json",
    )
    count = FireCount(fires)
    spawned = time.time()
    flags = ["--poll", str(poll)] if poll else []
    schedulers = [mlops.scheduler(*flags) for _ in range(2)]
    readers = [LineReader(p, f"scheduler-{i + 1}", count) for i, p in enumerate(schedulers)]
    print(
        f"(a) 2 schedulers (pids {', '.join(str(p.pid) for p in schedulers)}) on one store; "
        f"waiting for {fires} fired runs (at most {cap_s:.0f} s)",
        flush=True,
    )
    try:
        finished = count.done.wait(timeout=cap_s)
        stop_at = time.time()
    finally:  # also on Ctrl-C: no scheduler outlives the benchmark
        stops = [_stop(p) for p in schedulers]
    for r in readers:
        r.join()
    print(
        f"    {count.count} fired runs ended in {stop_at - spawned:.1f} s "
        f"({'target reached' if finished else 'CAP reached'}); schedulers stopped: "
        + ", ".join(f"exit {c} in {s:.2f} s" for c, s in stops),
        flush=True,
    )

    history = mlops("schedule", "history", "tick", "--json")
    runs = [r for r in mlops("runs", "--limit", "100000", "--json") if r["trigger"] == "schedule"]
    by_scheduler = {run_id: r.name for r in readers for run_id in r.runs()}
    rows: list[dict[str, Any]] = []
    for run in runs:
        shown = mlops("show", run["run_id"], "--json")
        when = _stamp(shown["scheduled_for"])
        stage = shown["stages"][0]
        row: dict[str, Any] = {
            "run_id": shown["run_id"],
            "scheduled_for": shown["scheduled_for"],
            "scheduler": by_scheduler.get(shown["run_id"]),
            "status": shown["status"],
            "stage_status": stage["status"],
            "run_started_s": _stamp(shown["started_at"]) - when,
            "stage_started_s": _stamp(stage["started_at"]) - when if stage["started_at"] else None,
            "run_ended_s": _stamp(shown["ended_at"]) - when if shown["ended_at"] else None,
        }
        try:
            cells = json.loads(Path(stage["notebook"]).read_text())["cells"]
            first = next(
                c["metadata"]["papermill"]["start_time"]
                for c in cells
                if c.get("metadata", {}).get("papermill", {}).get("start_time")
            )
            row["first_cell_s"] = _stamp(first) - when
        except (OSError, KeyError, StopIteration, TypeError, ValueError):
            row["first_cell_s"] = None
        rows.append(row)
    rows.sort(key=lambda r: r["scheduled_for"])
    fire_of = {f["run_id"]: f for f in history if f["run_id"]}
    for row in rows:
        fire = fire_of.get(row["run_id"])
        row["claimed_s"] = (
            _stamp(fire["fired_at"]) - _stamp(fire["scheduled_for"])
            if fire and fire["fired_at"]
            else None
        )
    # the first fire each scheduler ran paid its process's one-off imports (papermill, ...)
    firsts: dict[str | None, str] = {}
    for row in rows:
        firsts.setdefault(row["scheduler"], row["run_id"])
    for row in rows:
        row["first_of_its_scheduler"] = firsts.get(row["scheduler"]) == row["run_id"]

    seconds = [_stamp(f["scheduled_for"]) for f in history]
    window = (min(seconds), max(seconds)) if seconds else (0.0, -1.0)
    expected = {window[0] + i for i in range(int(window[1] - window[0]) + 1)}
    lost = sorted(expected - set(seconds))
    statuses: dict[str, int] = {}
    for f in history:
        key = f"{f['status']} ({f['reason']})"
        statuses[key] = statuses.get(key, 0) + 1
    run_times = [r["scheduled_for"] for r in runs]
    claimed = [f for f in history if f["status"] not in ("skipped", "queued")]
    checks = {
        "no_scheduled_for_twice_in_history": len(seconds) == len(set(seconds)),
        "no_scheduled_for_twice_in_runs": len(run_times) == len(set(run_times)),
        "every_claimed_fire_has_its_run": sorted(f["run_id"] or "" for f in claimed)
        == sorted(r["run_id"] for r in runs),
        "no_lost_second": not lost,
        "every_fired_run_succeeded": {r["status"] for r in rows} <= {"succeeded"},
        "schedulers_exited_0": all(c == 0 for c, _ in stops),
        "both_schedulers_fired": len({r["scheduler"] for r in rows} - {None}) == 2,
    }
    delays = {
        key: _quantiles([r[key] for r in rows if r.get(key) is not None])
        for key in ("claimed_s", "run_started_s", "stage_started_s", "first_cell_s", "run_ended_s")
    }
    warm = [r for r in rows if not r["first_of_its_scheduler"]]
    delays_warm = {
        key: _quantiles([r[key] for r in warm if r.get(key) is not None])
        for key in ("stage_started_s", "first_cell_s")
    }
    return {
        "schedule": {k: added[k] for k in ("cron", "tz", "overlap", "catch_up")},
        "schedulers": 2,
        "scheduler_command": " ".join(["mlops scheduler", *flags])
        + ("" if flags else "  (default --poll 5)"),
        "notebook": "parameters `scheduled_for = ''`; one stage `stamp` reading it "
        "(so no fire is a cache hit)",
        "target_fired_runs": fires,
        "target_reached": finished,
        "seconds_until_stopped": stop_at - spawned,
        "first_fire_after_spawn_s": window[0] - spawned if seconds else None,
        "stopped": [{"exit": c, "seconds": s} for c, s in stops],
        "fires_seen": len(history),
        "fires_by_status": statuses,
        "runs_recorded": len(runs),
        "runs_by_scheduler": {
            name: sum(1 for r in rows if r["scheduler"] == name)
            for name in sorted({r["scheduler"] or "?" for r in rows})
        },
        "window": [
            dt.datetime.fromtimestamp(window[0], dt.timezone.utc).isoformat(),
            dt.datetime.fromtimestamp(window[1], dt.timezone.utc).isoformat(),
        ]
        if seconds
        else None,
        "seconds_in_window": len(expected),
        "lost_seconds": [dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat() for t in lost],
        "skipped_overlap": statuses.get("skipped (overlap)", 0),
        "scheduled_for_twice": len(seconds) - len(set(seconds)),
        "delay_from_scheduled_for": delays,
        "delay_from_scheduled_for_without_each_schedulers_first_fire": delays_warm,
        "fields": {
            "claimed_s": "fires.fired_at (the claim, `mlops schedule history`) - scheduled_for",
            "run_started_s": "run started_at (`mlops show --json`) - scheduled_for",
            "stage_started_s": "the stage's started_at (`mlops show --json`, stage_runs.started_at"
            " = StageOutcome.started: time.time() when the stage's worker thread took it, its"
            " kernel reserved, maybe still booting) - scheduled_for",
            "first_cell_s": "papermill's start_time of the first cell in the executed stage"
            " notebook (the stage's kernel up and running code) - scheduled_for",
            "run_ended_s": "run ended_at - scheduled_for",
        },
        "checks": checks,
        "runs": rows,
        "scheduler_logs": {r.name: [line for _, line in r.lines] for r in readers},
    }


# -- (b) idle CPU ------------------------------------------------------------------------------


class Idle:
    """One scheduler with nothing due for months, measured in the background."""

    def __init__(self, work: Path, exe: str, seconds: float, warmup: float = 5.0) -> None:
        folder = work / "idle"
        nb = _notebooks.write(folder / "yearly.ipynb", [("x = 1", ["stage:only"])])
        self.mlops = Mlops(exe, folder / "home", folder)
        self.added = self.mlops(
            "schedule", "add", "yearly", str(nb), "--cron", FAR_AWAY, "--tz", "UTC", "--json"
        )
        self.seconds, self.warmup = seconds, warmup
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._measure, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> dict[str, Any]:
        self._thread.join()
        return self.result

    def _measure(self) -> None:
        process = self.mlops.scheduler()  # the default --poll 5, as a user starts it
        try:
            time.sleep(self.warmup)
            cpu0, ns0, wall0 = _cpu_seconds(process.pid), _run_ns(process.pid), time.monotonic()
            threads, rss = _threads(process.pid), _rss_mib(process.pid)
            time.sleep(self.seconds)
            cpu1, ns1, wall1 = _cpu_seconds(process.pid), _run_ns(process.pid), time.monotonic()
            threads_end = _threads(process.pid)
            alive = process.poll() is None
        finally:
            code, stop_s = _stop(process)
        assert process.stderr is not None
        cpu, wall = cpu1 - cpu0, wall1 - wall0
        self.result = {
            "scheduler_command": "mlops scheduler  (default --poll 5)",
            "schedule": {k: self.added[k] for k in ("cron", "tz", "next_fire")},
            "warmup_s": self.warmup,
            "wall_s": wall,
            "cpu_s": cpu,
            "cpu_percent": 100 * cpu / wall,
            "cpu_s_at_warmup_end": cpu0,
            "schedstat_cpu_s": (ns1 - ns0) / 1e9,
            "schedstat_cpu_percent": 100 * (ns1 - ns0) / 1e9 / wall,
            "threads_at_end": threads_end,
            "clock_tick_s": 1 / os.sysconf("SC_CLK_TCK"),
            "threads": threads,
            "rss_mib": round(rss, 1),
            "alive_throughout": alive,
            "stopped": {"exit": code, "seconds": stop_s},
            "stderr": process.stderr.read()[-2000:],
        }


# -- (c) the anchor: jupyter-scheduler ----------------------------------------------------------


def _anchor_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "jupyter-server").exists():
        print(f"(c) creating {venv} with jupyter_scheduler and ipykernel (pip) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "jupyter_scheduler", "ipykernel"],
            check=True,
        )
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    def __init__(self, port: int, token: str) -> None:
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def anchor(work: Path, venv: Path, fires: int) -> dict[str, Any]:
    info: dict[str, Any] = {"tool": "jupyter-scheduler", "cron": ANCHOR_CRON, "fires": fires}
    python = _anchor_venv(venv)
    version = subprocess.run(
        [
            str(python),
            "-c",
            "import jupyter_scheduler, jupyter_server; "
            "print(jupyter_scheduler.__version__, jupyter_server.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    info["versions"] = {"jupyter_scheduler": version[0], "jupyter_server": version[1]}
    source = subprocess.run(
        [str(python), "-c", "import jupyter_scheduler.task_runner as t; print(t.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = Path(source).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if "poll_interval = traitlets.Integer" in line]
    info["installed_poll_interval_source"] = {
        "file": source,
        "line": found[0] if found else None,
        "text": " ".join(" ".join(lines[found[0] - 1 : found[0] + 1]).split()) if found else None,
    }
    root, data = work / "anchor" / "root", work / "anchor" / "jupyter"
    root.mkdir(parents=True)
    for sub in ("data", "config", "runtime"):  # its SQLite file cannot be opened in a missing one
        (data / sub).mkdir(parents=True)
    _notebooks.write(root / "tick.ipynb", [("x = 1 + 1\nprint(x)", None)])
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        # its database (scheduler.sqlite), config and runtime files in the temp folder only
        "JUPYTER_DATA_DIR": str(data / "data"),
        "JUPYTER_CONFIG_DIR": str(data / "config"),
        "JUPYTER_RUNTIME_DIR": str(data / "runtime"),
    }
    args = [
        str(venv / "bin" / "jupyter-server"),
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = (work / "anchor" / "server.log").open("w")
    spawned = time.time()
    server = subprocess.Popen(
        args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    api = Api(port, token)
    try:
        deadline = time.time() + 60
        while True:
            try:
                api("GET", "/api/status")  # jupyter_server's own route: the server is up
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None or time.time() > deadline:
                    raise Failure("jupyter server did not answer; see server.log") from None
                time.sleep(0.2)
        try:
            environments = api("GET", "/scheduler/runtime_environments")
        except urllib.error.HTTPError as exc:
            log.flush()
            failed = [
                line.strip()
                for line in (work / "anchor" / "server.log").read_text().splitlines()
                if "jupyter_scheduler" in line and "fail" in line
            ]
            raise Failure(
                f"GET /scheduler/runtime_environments: {exc}; {' '.join(failed)[:500]}"
            ) from None
        info["server_ready_after_spawn_s"] = time.time() - spawned
        info["server_spawned"] = dt.datetime.fromtimestamp(spawned, dt.timezone.utc).isoformat()
        created_at = time.time()
        definition = api(
            "POST",
            "/scheduler/job_definitions",
            {
                "input_uri": "tick.ipynb",
                "runtime_environment_name": environments[0]["name"],
                "name": "tick",
                "output_formats": ["ipynb"],
                "schedule": ANCHOR_CRON,
                "timezone": "UTC",
            },
        )
        definition_id = definition["job_definition_id"]
        info["job_definition_id"] = definition_id
        first_minute = math.floor(created_at / 60) * 60 + 60
        info["definition_created"] = dt.datetime.fromtimestamp(
            created_at, dt.timezone.utc
        ).isoformat()
        wait_until = first_minute + 60 * (fires - 1) + 60  # the last fire's minute + its poll
        print(
            f"(c) jupyter server pid {server.pid} on 127.0.0.1:{port}; job definition "
            f"{definition_id}; waiting for {fires} per-minute fires (until "
            f"{dt.datetime.fromtimestamp(wait_until, dt.timezone.utc):%H:%M:%S} UTC at most)",
            flush=True,
        )
        jobs: list[dict[str, Any]] = []
        while time.time() < wait_until:
            jobs = api("GET", f"/scheduler/jobs?job_definition_id={definition_id}&max_items=100")[
                "jobs"
            ]
            # a new job row reads STOPPED until its process starts it: wait for its end_time
            ended = [j for j in jobs if j.get("end_time") or j["status"] in ("COMPLETED", "FAILED")]
            if len(ended) >= fires:  # its job processes ended: stopping the server kills none
                break
            time.sleep(1)
        cpu = _cpu_seconds(server.pid)
    finally:
        code, stop_s = _stop(server, timeout=30)
        try:
            os.killpg(server.pid, signal.SIGKILL)  # job processes it spawned, if any lingered
        except ProcessLookupError:
            pass
        log.close()
    rows = []
    for i, job in enumerate(sorted(jobs, key=lambda j: j["create_time"])[:fires]):
        create = job["create_time"] / 1000
        scheduled = first_minute + 60 * i
        rows.append(
            {
                "job_id": job["job_id"],
                "scheduled_minute": dt.datetime.fromtimestamp(
                    scheduled, dt.timezone.utc
                ).isoformat(),
                "create_time_s": create - scheduled,
                "start_time_s": job["start_time"] / 1000 - scheduled
                if job.get("start_time")
                else None,
                "end_time_s": job["end_time"] / 1000 - scheduled if job.get("end_time") else None,
                "status": job["status"],
                "status_message": job.get("status_message"),
            }
        )
    info.update(
        jobs=rows,
        delay_from_scheduled_minute={
            "create_time_s": _quantiles([r["create_time_s"] for r in rows]),
            "start_time_s": _quantiles(
                [r["start_time_s"] for r in rows if r["start_time_s"] is not None]
            ),
        },
        poll_phase_note="its poll loop starts at server start and sleeps 10 s between passes, "
        "so every fire of one server is late by about the same amount, its phase against the "
        "minute: uniform in [0, 10) s over server starts (mean ~5 s)",
        server_cpu_s_whole_time=cpu,
        server_seconds_alive=time.time() - spawned,
        stopped={"exit": code, "seconds": stop_s},
        checks={
            "fires_seen": len(rows) >= fires,
            "each_job_within_its_minute": all(0 <= r["create_time_s"] < 60 for r in rows),
        },
        poll_interval_citation=ANCHOR_POLL_CITATION,
    )
    return info


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="mlops scheduler benchmark")
    parser.add_argument("--fires", type=int, default=60, help="fired runs to measure in (a)")
    parser.add_argument("--cap", type=float, default=180, help="(a) stops after this long anyway")
    parser.add_argument(
        "--poll", type=float, default=None, help="(a) schedulers' --poll (default: theirs, 5)"
    )
    parser.add_argument("--idle-s", type=float, default=60, help="(b) wall seconds measured")
    parser.add_argument("--anchor", action="store_true", help="also measure jupyter-scheduler")
    parser.add_argument("--anchor-venv", default="/tmp/js-venv", help="its venv (made if missing)")
    parser.add_argument("--anchor-fires", type=int, default=3)
    parser.add_argument("--json", default=str(HERE / "results" / "schedule.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    exe = tool("mlops")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-schedule-"))
    started = time.perf_counter()
    load_start = os.getloadavg()
    code_start = {**code_version(), "package_fingerprint": _package_fingerprint()}
    report: dict[str, Any] = {"benchmark": "schedule", "date": now()}
    failed: list[str] = []
    try:
        report["fire_delay"] = fire = fire_delay(work, exe, args.fires, args.cap, args.poll)
        load_after_fire = os.getloadavg()
        idle = Idle(work, exe, args.idle_s)
        print(
            f"(b) one idle scheduler, {idle.warmup:.0f} s warm-up + {args.idle_s:.0f} s", flush=True
        )
        idle.start()
        if args.anchor:
            try:
                report["anchor"] = anchor(work, Path(args.anchor_venv), args.anchor_fires)
            except (Failure, OSError, subprocess.CalledProcessError, KeyError) as exc:
                report["anchor"] = {
                    "measured": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "poll_interval_citation": ANCHOR_POLL_CITATION,
                }
        else:
            report["anchor"] = {
                "measured": False,
                "note": "skipped (run with --anchor to measure jupyter-scheduler in its own venv); "
                "its documented poll interval is cited instead",
                "poll_interval_citation": ANCHOR_POLL_CITATION,
            }
        report["idle"] = idle.join()
    except Failure as exc:
        print(f"\nFAILED: {exc}\n(temp folder kept: {work})", file=sys.stderr)
        return 1
    code_end = {**code_version(), "package_fingerprint": _package_fingerprint()}
    failed += [k for k, ok in fire["checks"].items() if not ok]
    if report["idle"]["stopped"]["exit"] != 0:
        failed.append("idle_scheduler_exited_0")

    d = fire["delay_from_scheduled_for"]
    print()
    print(
        f"(a) {fire['fires_seen']} fires in {fire['seconds_in_window']} s: {fire['runs_recorded']} "
        f"runs recorded {fire['runs_by_scheduler']}, {fire['skipped_overlap']} skipped (overlap), "
        f"{len(fire['lost_seconds'])} lost, {fire['scheduled_for_twice']} scheduled_for twice"
    )
    print(f"    {'delay from scheduled_for':<44} {'p50':>11} {'p99':>11} {'max':>11}   n")
    labels = {
        "claimed_s": "fire claimed (history fired_at)",
        "run_started_s": "run started",
        "stage_started_s": "stage started_at  (mlops show --json)",
        "first_cell_s": "stage's first cell running in its kernel",
        "run_ended_s": "run ended",
    }
    for key, label in labels.items():
        q = d[key]
        print(f"    {label:<44} {_ms(q, 'p50_s')} {_ms(q, 'p99_s')} {_ms(q, 'max_s')}   {q['n']}")
    w = fire["delay_from_scheduled_for_without_each_schedulers_first_fire"]
    warm_label = "  same, without each scheduler's first fire"
    for key in ("stage_started_s", "first_cell_s"):
        q = w[key]
        print(
            f"    {warm_label:<44} {_ms(q, 'p50_s')} {_ms(q, 'p99_s')} {_ms(q, 'max_s')}   {q['n']}"
        )
    i = report["idle"]
    print(
        f"(b) idle scheduler: {i['cpu_s']:.3f} CPU s in {i['wall_s']:.1f} s = "
        f"{i['cpu_percent']:.4f} % CPU (schedstat: {i['schedstat_cpu_s'] * 1000:.2f} ms = "
        f"{i['schedstat_cpu_percent']:.5f} %; {i['threads']} threads, {i['rss_mib']} MiB RSS); "
        f"SIGTERM -> exit {i['stopped']['exit']} in {i['stopped']['seconds']:.2f} s"
    )
    a = report["anchor"]
    if a.get("jobs") is not None:
        for job in a["jobs"]:
            start = f"{job['start_time_s']:.3f}" if job["start_time_s"] is not None else "-"
            print(
                f"(c) jupyter-scheduler {a['versions']['jupyter_scheduler']}: minute "
                f"{job['scheduled_minute'][11:19]} -> create_time +{job['create_time_s']:.3f} s, "
                f"start_time +{start} s ({job['status']})"
            )
        failed += [f"anchor_{k}" for k, ok in a["checks"].items() if not ok]
    else:
        print(f"(c) anchor not measured: {a.get('error') or a.get('note')}")
    for name in failed:
        print(f"CHECK FAILED: {name}")
    changed = code_start["package_fingerprint"] != code_end["package_fingerprint"]
    if changed:  # other work landing in the package meanwhile: the figures may mix two versions
        print(
            f"WARNING: the package's source changed during the benchmark "
            f"({code_start['package_fingerprint']} -> {code_end['package_fingerprint']})"
        )

    report.update(
        machine=machine(
            loadavg_at_start=load_start,
            loadavg_after_fire_delay=load_after_fire,
            loadavg_at_end=os.getloadavg(),
        ),
        code={
            **code_end,
            # with PYTHONPATH=<a git archive> the commit and dirty files are the work tree's, not
            # the measured package's
            "package_is_this_repo": Path(str(code_end["package"])).is_relative_to(HERE.parent),
            "changed_during_run": changed,
            "at_start": code_start,
        },
        seconds_in_all=time.perf_counter() - started,
        checks_failed=failed,
    )
    write_results(Path(args.json), report)
    print(f"{report['seconds_in_all']:.0f} s in all")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
