"""The Dask executor on real processes: a `dask scheduler` and two `dask worker --nthreads 1` on
127.0.0.1 started and killed here, a LocalCluster, real kernels on the workers, a real store.

Each stage appends a line ``stage worker-name event time kernel-pid`` to a log file named by
``MLOPS_TEST_LOG`` (a path outside the notebook's folder, so the runner's file tracking does not
see it), which says from the workers' side what ran where, when, and how many times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from mlops_jupyter import api
from mlops_jupyter.store.db import Store
from mlops_jupyter.store.schema import MIGRATIONS

pytestmark = [pytest.mark.usefixtures("home"), pytest.mark.timeout(120)]

MakeNotebook = Callable[..., Path]

MARK = """import os, time
def mark(stage, what):
    path = os.environ.get("MLOPS_TEST_LOG")
    if path:
        with open(path, "a") as f:
            worker = os.environ.get("MLOPS_TEST_WORKER", "-")
            f.write(f"{stage} {worker} {what} {time.time()} {os.getpid()}\\n")
"""


@pytest.fixture
def diamond(make_notebook: MakeNotebook) -> Path:
    """a -> b, a -> c, (b, c) -> d; b and c sleep 1.5 s each."""
    return make_notebook(
        [
            (["setup"], MARK),
            (["stage:a"], "mark('a', 'start')\nbase = list(range(10))\nmark('a', 'end')"),
            (
                ["stage:b"],
                "mark('b', 'start')\ntime.sleep(1.5)\nleft = [v * 2 for v in base]\n"
                "mark('b', 'end')",
            ),
            (
                ["stage:c"],
                "mark('c', 'start')\ntime.sleep(1.5)\nright = [v + 1 for v in base]\n"
                "mark('c', 'end')",
            ),
            (["stage:d"], "mark('d', 'start')\ntotal = sum(left) + sum(right)\nmark('d', 'end')"),
        ],
        name="diamond.ipynb",
    )


@pytest.fixture
def log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("marks") / "stages.log"
    path.touch()
    monkeypatch.setenv("MLOPS_TEST_LOG", str(path))  # LocalCluster workers inherit it
    return path


def marks(log: Path) -> list[tuple[str, str, str, float, int]]:
    found = []
    for line in log.read_text().splitlines():
        stage, worker, what, when, pid = line.split()
        found.append((stage, worker, what, float(when), int(pid)))
    return found


def by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["stages"]}


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# Loaded by every Python process the workers start (their kernels too, through PYTHONPATH): it
# writes down each SQLite database the process opens, so a test can see that none opens mlops.db.
AUDIT = """import os, sys
def _hook(event, args):
    if event == "sqlite3.connect":
        with open(os.environ["MLOPS_TEST_AUDIT"], "a") as f:
            f.write(f"{os.getpid()} {args[0]}\\n")
sys.addaudithook(_hook)
"""


class Cluster:
    """A scheduler and two workers (no nanny: a killed worker stays dead), each a process group;
    w2 has a resource GPU=1. ``audit`` lists the SQLite files the workers' processes opened."""

    def __init__(self, folder: Path, log: Path) -> None:
        self.file = folder / "scheduler.json"
        (folder / "audit").mkdir()
        (folder / "audit" / "sitecustomize.py").write_text(AUDIT)
        self.audit = folder / "sqlite-opened.log"
        self.audit.touch()
        env = {
            **os.environ,
            # the scheduler tuned as runner/dask.py tunes its LocalCluster
            "DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING_INTERVAL": "10ms",
            "DASK_DISTRIBUTED__SCHEDULER__UNKNOWN_TASK_DURATION": "10ms",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.processes["scheduler"] = self._start(
            "dask_scheduler",
            ["--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            env,
            folder,
        )
        deadline = time.monotonic() + 30
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for name in ("w1", "w2"):
            offers = ["--resources", "GPU=1"] if name == "w2" else []
            self.processes[name] = self._start(
                "dask_worker",
                ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", *offers],
                {
                    **env,
                    "MLOPS_TEST_WORKER": name,
                    "MLOPS_TEST_LOG": str(log),
                    "MLOPS_TEST_AUDIT": str(self.audit),
                    "PYTHONPATH": os.pathsep.join(
                        [str(folder / "audit"), *filter(None, [os.environ.get("PYTHONPATH")])]
                    ),
                },
                folder,
                name=name,
            )
        from distributed import Client

        self.client = Client(scheduler_file=str(self.file), timeout="30s", set_as_default=False)
        self.client.wait_for_workers(2, timeout=60)
        self.address = self.client.scheduler.address
        self.workers = {  # name -> address
            info["name"]: address
            for address, info in self.client.scheduler_info()["workers"].items()
        }

    def _start(
        self, module: str, args: list[str], env: dict[str, str], folder: Path, name: str = ""
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", f"distributed.cli.{module}", *args]
        if module == "dask_worker":
            command += ["--name", name, "--scheduler-file", str(self.file)]
        else:
            command += ["--scheduler-file", str(self.file)]
        err = open(folder / f"{module}-{name or 'scheduler'}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(
            command, env=env, cwd=folder, stdout=err, stderr=err, start_new_session=True
        )

    def kill(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop(self) -> None:
        try:
            self.client.close()
        finally:
            for process in self.processes.values():
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory, log: Path) -> Iterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("dask"), log)
    try:
        yield found
    finally:
        found.stop()


def test_the_diamond_runs_on_two_workers_at_once_with_the_local_run_s_values(
    diamond: Path, cluster: Cluster, log: Path, tmp_path: Path
) -> None:
    run = api.run(diamond, executor="dask", address=cluster.address)
    assert run["status"] == "succeeded", run
    stages = by_name(run)
    assert set(cluster.workers.values()) == {stages["b"]["worker"], stages["c"]["worker"]}
    b, c = stages["b"], stages["c"]
    assert seconds(b["started_at"]) < seconds(c["ended_at"])
    assert seconds(c["started_at"]) < seconds(b["ended_at"])
    # the workers' own clocks: each branch slept 1.5 s, and they overlapped by most of it
    times = {(s, what): when for s, _, what, when, _ in marks(log)}
    overlap = min(times["b", "end"], times["c", "end"]) - max(
        times["b", "start"], times["c", "start"]
    )
    assert overlap > 0.5, times
    assert all(s["worker"] in cluster.workers.values() for s in run["stages"])

    local = api.run(diamond, home=tmp_path / "local-store")
    assert local["status"] == "succeeded"
    assert {s["worker"] for s in local["stages"]} == {"local"}
    outputs = {s["name"]: s["outputs"] for s in run["stages"]}
    assert outputs == {s["name"]: s["outputs"] for s in local["stages"]}
    assert set(outputs["a"]) == {"base"} and set(outputs["d"]) == set()
    assert all(len(h) == 40 for o in outputs.values() for h in o.values())


TRACKED = [
    (["setup"], "import mlops_jupyter as mlops\nimport multiprocessing, pathlib"),
    (
        ["stage:prepare"],
        "pathlib.Path('data.csv').write_text('x,y\\n1,2\\n3,4\\n')\n"
        "mlops.track_data('data.csv')\n"
        "mlops.log_param('alpha', 0.5)\n"
        "for step in range(3):\n"
        "    mlops.log_metric('loss', 1 / (step + 1), step=step)\n"
        "rows = pathlib.Path('data.csv').read_text().splitlines()",
    ),
    (
        ["stage:left"],
        "mlops.log_metrics({'acc': 0.9, 'diverged': float('nan')})\n"
        "pathlib.Path('report.txt').write_text(str(len(rows)))\n"
        "mlops.log_artifact('report.txt')",
    ),
    (
        ["stage:right"],
        # a worker process of the kernel logs into the same stage
        "child = multiprocessing.get_context('fork').Process(\n"
        "    target=mlops.log_metric, args=('from_child', 7.0))\n"
        "child.start(); child.join()\n"
        "mlops.log_param('right_rows', len(rows))",
    ),
]


def _records(home: Path, run_id: str) -> dict[str, Any]:
    """What a run recorded, as the faces read it: metrics, params, artifacts, data versions."""
    import math
    import sqlite3

    db = sqlite3.connect(home / "mlops.db")
    try:
        rows = db.execute(
            "SELECT stage, key, step, value FROM metrics WHERE run_id = ?", (run_id,)
        ).fetchall()
        return {
            "metrics": sorted(
                (s, k, st, "nan" if v is None or math.isnan(v) else v) for s, k, st, v in rows
            ),
            "params": sorted(
                db.execute("SELECT stage, name, value FROM params WHERE run_id = ?", (run_id,))
            ),
            "artifacts": sorted(
                db.execute(
                    "SELECT stage, name, hash, size FROM artifacts WHERE run_id = ?", (run_id,)
                )
            ),
            "data": sorted(
                db.execute(
                    "SELECT stage, path, hash, size FROM data_versions WHERE run_id = ?", (run_id,)
                )
            ),
        }
    finally:
        db.close()


def test_what_stages_record_on_workers_reaches_the_store_through_the_run_alone(
    make_notebook: MakeNotebook, cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    nb = make_notebook(TRACKED, name="tracked.ipynb")
    run = api.run(nb, executor="dask", address=cluster.address)
    assert run["status"] == "succeeded", run
    assert {s["worker"] for s in run["stages"]} <= set(cluster.workers.values())
    # no process the workers started opened the run's database: the run's process wrote it all
    opened = cluster.audit.read_text().splitlines()
    assert not [line for line in opened if "mlops.db" in line], opened

    on_dask = _records(home, run["run_id"])
    local_home = tmp_path / "local-store"
    local = api.run(nb, home=local_home)
    assert local["status"] == "succeeded", local
    assert on_dask == _records(local_home, local["run_id"])
    assert ("right", "from_child", None, 7.0) in on_dask["metrics"]
    assert ("left", "diverged", None, "nan") in on_dask["metrics"]
    assert [a[:2] for a in on_dask["artifacts"]] == [("left", "report.txt")]
    assert [d[:2] for d in on_dask["data"]] == [("prepare", str(nb.parent / "data.csv"))]
    # and the record reads as a local run's does: the data version new, the key knowing the file
    with Store(home) as store:
        (version,) = store.data_versions(run_id=run["run_id"])
        assert version["new"] is True and version["changed"] is False
    again = api.run(nb, executor="dask", address=cluster.address)
    assert {s["status"] for s in again["stages"]} == {"cached"}, again["stages"]


def test_a_stage_on_a_worker_sees_a_tracked_file_changed_as_a_local_stage_does(
    make_notebook: MakeNotebook, cluster: Cluster, home: Path, tmp_path: Path
) -> None:
    nb = make_notebook(
        [
            (["setup"], "import mlops_jupyter as mlops"),
            (
                ["stage:load"],
                "seen = mlops.track_data('input.csv')\n"
                "mlops.log_metrics({'new': seen.new, 'changed': seen.changed})\n"
                "size = seen.size",
            ),
        ],
        name="inputs.ipynb",
    )
    data = nb.parent / "input.csv"
    data.write_text("x\n1\n")

    def seen(run: dict[str, Any], store: Path) -> dict[str, float]:
        assert run["status"] == "succeeded", run
        return {k: v for _, k, _, v in _records(store, run["run_id"])["metrics"]}

    first = api.run(nb, executor="dask", address=cluster.address)
    assert seen(first, home) == {"new": 1.0, "changed": 0.0}
    data.write_text("x\n1\n2\n")  # the user changes the file: the stage runs again
    second = api.run(nb, executor="dask", address=cluster.address)
    assert by_name(second)["load"]["status"] == "succeeded"
    assert seen(second, home) == {"new": 0.0, "changed": 1.0}
    with Store(home) as store:
        newest = store.data_versions(run_id=second["run_id"])[0]
        assert newest["previous"] == store.data_versions(run_id=first["run_id"])[0]["hash"]


def test_a_parameter_two_stages_on_workers_set_differently_fails_one_of_them(
    make_notebook: MakeNotebook, cluster: Cluster
) -> None:
    nb = make_notebook(
        [
            (["setup"], "import mlops_jupyter as mlops"),
            (["stage:a"], "x = 1"),
            (["stage:b"], "mlops.log_param('who', 'b')\nb = x"),
            (["stage:c"], "mlops.log_param('who', 'c')\nc = x"),
        ],
        name="clash.ipynb",
    )
    run = api.run(nb, executor="dask", address=cluster.address)
    stages = by_name(run)
    failed = [n for n in ("b", "c") if stages[n]["status"] == "failed"]
    assert len(failed) == 1, stages
    # said as the kernel says it, whether the clash shows there (the other stage's record
    # reached the store before this one started) or only when the run writes its journal
    other = "c" if failed == ["b"] else "b"
    assert (
        f"parameter 'who' of run {run['run_id']} is already '{other}' (from stage '{other}'); a "
        f"run keeps one value per parameter: log '{failed[0]}' under another name."
    ) in stages[failed[0]]["error"]
    assert run["status"] == "failed"


def test_a_stage_tagged_resources_runs_on_a_worker_that_has_them(
    make_notebook: MakeNotebook, cluster: Cluster
) -> None:
    nb = make_notebook(
        [
            (["stage:a"], "x = 1"),
            # three at once: unrestricted, the idle w1 would take some of them
            *[([f"stage:gpu{i}", "resources:GPU=1"], f"y{i} = x + {i}") for i in range(3)],
            (["stage:tpu", "resources:TPU=1"], "z = x + 2"),
        ],
        name="resources.ipynb",
    )
    run = api.run(nb, executor="dask", address=cluster.address)
    stages = by_name(run)
    for i in range(3):
        assert stages[f"gpu{i}"]["status"] == "succeeded", stages[f"gpu{i}"]
        assert stages[f"gpu{i}"]["worker"] == cluster.workers["w2"]
    # no worker has a TPU: the stage fails at once, saying so, rather than waiting forever
    assert stages["tpu"]["status"] == "failed"
    assert (
        "needs resources TPU=1, and no worker of the Dask cluster has them"
        in (stages["tpu"]["error"])
    )
    assert run["status"] == "failed"


def test_a_killed_worker_s_stage_runs_again_on_the_other_and_nothing_else_does(
    diamond: Path, cluster: Cluster, log: Path
) -> None:
    handle = api.start_run(diamond, executor="dask", address=cluster.address)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline and not handle.done.is_set():
        victim = next((w for s, w, what, _, _ in marks(log) if (s, what) == ("b", "start")), None)
        time.sleep(0.05)
    assert victim is not None, marks(log)
    cluster.kill(victim)  # while b sleeps in its kernel
    assert handle.done.wait(60)
    assert handle.error is None, handle.error
    run = handle.result
    assert run is not None and run["status"] == "succeeded", run
    survivor = next(name for name in cluster.workers if name != victim)
    stages = by_name(run)
    assert stages["b"]["worker"] == cluster.workers[survivor]
    starts = [(s, w) for s, w, what, _, _ in marks(log) if what == "start"]
    assert starts.count(("b", victim)) == 1 and starts.count(("b", survivor)) == 1
    for name in ("a", "c", "d"):  # finished before or after the kill: each ran exactly once
        assert [s for s, _ in starts].count(name) == 1, starts
    assert [s for s, _, what, _, _ in marks(log) if what == "end"].count("b") == 1


def _children() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()}


def _alive(pids: set[int]) -> dict[int, str]:
    import psutil

    found = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                found[pid] = " ".join(process.cmdline())
        except psutil.NoSuchProcess:
            pass
    return found


def _gone_soon(pids: set[int], timeout: float = 10) -> dict[int, str]:
    """Those of ``pids`` still running after ``timeout`` seconds, with their command lines."""
    deadline = time.monotonic() + timeout
    while (alive := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def test_without_an_address_a_local_cluster_runs_it_and_is_gone_after(
    diamond: Path, log: Path
) -> None:
    before = _children()
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:  # the cluster's processes, seen while the run goes
        while not stop.is_set():
            seen.update(_children() - before)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run = api.run(diamond, executor="dask", jobs=2)
    finally:
        stop.set()
        watcher.join()
    assert run["status"] == "succeeded", run
    workers = {s["worker"] for s in run["stages"]}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
    assert len({s["worker"] for s in run["stages"] if s["name"] in ("b", "c")}) == 2
    assert seen, "a LocalCluster of worker processes ran the stages"
    # multiprocessing's resource tracker is this process's, kept until it exits, not the cluster's
    seen -= {pid for pid, line in _alive(seen).items() if "resource_tracker" in line}
    assert not _gone_soon(seen)
    kernels = {pid for *_, pid in marks(log)}
    assert not _gone_soon(kernels)


def test_cancel_stops_the_kernels_on_the_workers_and_records_interrupted(
    diamond: Path, cluster: Cluster, log: Path
) -> None:
    handle = api.start_run(diamond, executor="dask", address=cluster.address)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        (s, what) == ("b", "start") for s, _, what, _, _ in marks(log)
    ):
        time.sleep(0.05)
    handle.cancel.set()
    started = time.monotonic()
    assert handle.done.wait(30)
    assert time.monotonic() - started < 10
    run = handle.result
    assert run is not None and run["status"] == "interrupted", run
    stages = by_name(run)
    assert stages["b"]["status"] == "failed" and stages["b"]["error"] == "interrupted"
    assert stages["d"]["status"] in ("pending", "skipped")
    assert not any((s, what) == ("b", "end") for s, _, what, _, _ in marks(log))
    kernels = {pid for s, _, what, _, pid in marks(log) if (s, what) == ("b", "start")}
    assert kernels and not _gone_soon(kernels), "b's kernel was stopped on its worker"
    # the workers are fine: the next run on them succeeds
    again = api.run(diamond, executor="dask", address=cluster.address)
    assert again["status"] == "succeeded", again


def test_ctrl_c_stops_a_local_cluster_run_at_once_and_leaves_nothing(
    diamond: Path, log: Path
) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "mlops_jupyter", "run", str(diamond), "--executor", "dask"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground group: Ctrl-C reaches every process
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            (s, what) == ("b", "start") for s, _, what, _, _ in marks(log)
        ):
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGINT)
        sent = time.monotonic()
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert time.monotonic() - sent < 8, "its workers did not die first, leaving tasks to time out"
    assert run.returncode == 1, (out, err)
    assert "interrupted" in out and "Traceback" not in err, err
    import psutil

    def left() -> list[dict[str, Any]]:  # running, not zombies an init may reap late
        return [
            p.info
            for p in psutil.process_iter(["pid", "ppid", "status", "cmdline"])
            if _pgid(p.pid) == run.pid and p.info["status"] != psutil.STATUS_ZOMBIE
        ]

    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left(), "the run's process group is gone"
    assert not _gone_soon({pid for *_, pid in marks(log)})


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_an_unknown_executor_is_bad_input_naming_the_installed_ones(diamond: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", "run", str(diamond), "--executor", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert "no executor named 'nope'" in result.stderr
    assert "dask" in result.stderr and "local" in result.stderr
    assert "Traceback" not in result.stderr


def test_where_the_scheduler_is_travels_in_the_run_request() -> None:
    import argparse

    from mlops_jupyter.errors import MlopsError
    from mlops_jupyter.request import add_run_options, from_args, from_json

    parser = argparse.ArgumentParser()
    add_run_options(parser)
    argv = from_args(parser.parse_args(["--executor", "dask", "--address", "tcp://h:8786"]))
    body = from_json({"executor": "dask", "address": "tcp://h:8786"})
    assert argv == body
    assert argv.options()["executor"] == "dask"
    assert argv.options()["executor_options"] == {"address": "tcp://h:8786"}
    implied = from_json({"scheduler_file": "/s/scheduler.json"}).options()
    assert implied["executor"] == "dask"
    assert implied["executor_options"] == {"scheduler_file": "/s/scheduler.json"}
    assert from_json({}).options()["executor"] == "local"
    with pytest.raises(MlopsError, match="--address and --scheduler-file both"):
        from_args(parser.parse_args(["--address", "tcp://h:1", "--scheduler-file", "f"]))
    with pytest.raises(MlopsError, match="'address' is for 'executor' dask"):
        from_json({"executor": "local", "address": "tcp://h:1"})
    with pytest.raises(MlopsError, match="'executor' must be text"):
        from_json({"executor": 3})


def test_a_store_from_before_workers_were_recorded_reads_with_worker_none(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "mlops.db")  # schema 4: no stage_runs.worker
    for migration in MIGRATIONS[:4]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 4")
    old.execute(
        "INSERT INTO runs (id, pipeline, version, status, started_at, ended_at, host, pid)"
        " VALUES ('r1', 'demo', 'v1', 'succeeded', 1, 2, 'h', 1)"
    )
    old.execute(
        "INSERT INTO stage_runs (run_id, stage, position, status, outputs)"
        """ VALUES ('r1', 'a', 0, 'succeeded', '{"x": {"hash": "abc", "format": "pickle"}}')"""
    )
    old.commit()
    old.close()
    with Store(tmp_path) as store:
        (stage,) = store.get_run("r1")["stages"]
    assert stage["worker"] is None
    assert stage["outputs"] == {"x": "abc"}


def test_a_local_run_never_imports_dask(diamond: Path) -> None:
    code = (
        "import sys\n"
        "from mlops_jupyter import api\n"
        f"run = api.run({str(diamond)!r})\n"
        "assert run['status'] == 'succeeded', run\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
