"""``mlops run / runs / show / gc`` as a user runs them: subprocesses, exit codes, signals.

Exit codes: 0 succeeded, 1 a stage failed or the run was interrupted, 2 bad input (one paragraph
on stderr, no traceback). Kernels start in the notebook's folder, so a process whose working
folder is the test's notebook folder after ``mlops`` ended is a kernel (or helper) left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from .conftest import MLOPS, Mlops

MakeNotebook = Callable[..., Path]


def start(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    """Start ``mlops ARGS`` in the background, with Ctrl-C delivered the way a terminal does."""
    return subprocess.Popen(
        [MLOPS, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        # a shell without job control starts background commands with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def run_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(data, dict)
    return data


def statuses(run: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["stages"]}


def assert_clean_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message
    assert "Traceback" not in message
    assert "\n\n" not in message, "one paragraph"
    for needle in needles:
        assert needle in message


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# -- processes


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            parents[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (stat := _stat(pid)) and stat[0] != "Z"}


def working_in(folder: Path) -> set[int]:
    """Live processes (other than this one) whose working folder is ``folder``."""
    found = set()
    target = str(folder.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") == target:
                found.add(int(entry.name))
        except OSError:
            continue
    return alive(found)


def wait_gone(pids: set[int], timeout: float = 10) -> set[int]:
    """The processes still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def kill_all(pids: set[int]) -> None:
    """Clean up processes this test started (kernels of a runner we killed)."""
    for pid in alive(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"mlops ended before the stage started ({process.returncode}):\n{err}{out}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail("the stage never started")
        time.sleep(0.05)


# -- the JSON contract


CONTRACT_CELLS = [
    (["parameters"], "n = 3\nlr = 0.5\nname = 'x'"),
    (["stage:prep"], "data = list(range(n))"),
    (["stage:train"], "acc = sum(data) * lr"),
    (["metrics"], "acc"),
    (["stage:report"], "print(name, acc)"),
]
RUN_KEYS = {"run_id", "status", "pipeline", "version", "parameters", "metrics", "stages"}
STAGE_KEYS = {"name", "status", "started_at", "ended_at", "duration_s", "notebook", "error"}


def test_run_json_is_one_object_that_show_returns_again(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CONTRACT_CELLS)
    result = mlops("run", nb, "-p", "n=4", "-p", "lr=0.25", "--json")
    assert result.returncode == 0, result.stderr
    run = run_json(result)
    assert set(run) >= RUN_KEYS
    assert run["status"] == "succeeded"
    assert run["pipeline"] == "nb"
    assert len(run["version"]) == 12
    assert run["parameters"] == {"n": 4, "lr": 0.25, "name": "x"}
    assert run["metrics"] == {"acc": 1.5}
    assert [s["name"] for s in run["stages"]] == ["prep", "train", "report"]
    for entry in run["stages"]:
        assert set(entry) >= STAGE_KEYS
        assert entry["status"] == "succeeded"
        assert entry["error"] is None
        start, end = when(entry["started_at"]), when(entry["ended_at"])
        assert start <= end
        assert entry["duration_s"] == pytest.approx(end - start, abs=0.01)
        assert Path(entry["notebook"]).is_file()
        assert Path(entry["notebook"]).parent == home / "runs" / run["run_id"]

    shown = mlops("show", run["run_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert run_json(shown) == run
    assert run_json(mlops("show", "latest", "--json")) == run

    text = mlops("show", run["run_id"][:-2])  # a unique prefix will do
    assert text.returncode == 0
    assert run["run_id"] in text.stdout and "acc=1.5" in text.stdout


def test_what_started_a_run_is_recorded_as_its_origin(
    make_notebook: MakeNotebook, home: Path, tmp_path: Path
) -> None:
    """An exported Airflow/KFP task says so (MLOPS_ORIGIN); anything not a short lowercase word
    is not taken, and the run is a terminal's."""
    nb = make_notebook([(["stage:one"], "x = 1")])
    origins = []
    for given in ("airflow", "Robert'); DROP TABLE runs;--", None):
        env = {k: v for k, v in os.environ.items() if k != "MLOPS_ORIGIN"}
        if given is not None:
            env["MLOPS_ORIGIN"] = given
        done = subprocess.run(
            [MLOPS, "run", nb, "--no-cache", "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        origins.append(run_json(done)["origin"])
    assert origins == ["airflow", "cli", "cli"]


def test_runs_are_listed_newest_first_and_gc_keeps_what_they_use(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CONTRACT_CELLS)
    first = run_json(mlops("run", nb, "--json"))
    second = run_json(mlops("run", nb, "--json"))
    assert set(statuses(second).values()) == {"cached"}
    assert second["metrics"] == first["metrics"]

    listed = mlops("runs", "--json")
    assert listed.returncode == 0
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [second["run_id"], first["run_id"]]
    table = mlops("runs").stdout
    assert table.index(second["run_id"]) < table.index(first["run_id"])

    objects_before = sorted(p.name for p in (home / "objects").glob("*/*"))
    assert objects_before
    collected = mlops("gc")
    assert collected.returncode == 0, collected.stderr
    assert "removed 0" in collected.stdout
    assert sorted(p.name for p in (home / "objects").glob("*/*")) == objects_before
    assert set(statuses(run_json(mlops("run", nb, "--json"))).values()) == {"cached"}


def test_stages_from_and_force_choose_what_reruns(
    mlops: Mlops, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook(CONTRACT_CELLS)
    assert mlops("run", nb).returncode == 0

    def rerun(*options: str) -> dict[str, str]:
        result = mlops("run", nb, *options, "--json")
        assert result.returncode == 0, result.stderr
        return statuses(run_json(result))

    assert rerun("--stages", "train,report", "--no-cache") == {
        "prep": "cached",
        "train": "succeeded",
        "report": "succeeded",
    }
    assert rerun("--from", "report", "--no-cache") == {
        "prep": "cached",
        "train": "cached",
        "report": "succeeded",
    }
    # prep reruns and hands on equal data, so train stays cached
    assert rerun("--force", "prep,report") == {
        "prep": "succeeded",
        "train": "cached",
        "report": "succeeded",
    }


def test_parallel_branches_overlap_in_time_with_two_jobs(
    mlops: Mlops, make_notebook: MakeNotebook
) -> None:
    branch = "import time\n{0}_start = time.time()\ntime.sleep(1)\n{0}_end = time.time()"
    nb = make_notebook(
        [
            (["stage:left"], branch.format("left")),
            (["stage:right"], branch.format("right")),
            (["metrics"], "left_start, left_end, right_start, right_end"),
        ]
    )

    def intervals(run: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], ...]:
        recorded = {s["name"]: (when(s["started_at"]), when(s["ended_at"])) for s in run["stages"]}
        m = run["metrics"]  # measured inside the kernels
        inside = {
            "left": (m["left_start"], m["left_end"]),
            "right": (m["right_start"], m["right_end"]),
        }
        return recorded, inside

    def overlap(spans: dict[str, tuple[float, float]]) -> bool:
        (a0, a1), (b0, b1) = spans["left"], spans["right"]
        return a0 < b1 and b0 < a1

    serial = run_json(mlops("run", nb, "--jobs", "1", "--json"))
    assert serial["status"] == "succeeded"
    assert not any(overlap(spans) for spans in intervals(serial))

    parallel = run_json(mlops("run", nb, "--jobs", "2", "--no-cache", "--json"))
    assert statuses(parallel) == {"left": "succeeded", "right": "succeeded"}
    assert all(overlap(spans) for spans in intervals(parallel))


# -- failures and bad input


def test_a_failing_stage_exits_1_pointing_at_the_source_cell_and_line(
    mlops: Mlops, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook(
        [
            {"cell_type": "markdown", "source": "# Title"},
            (["stage:load"], "x = 2"),
            "%%mlops stage crunch\ny = x * 3\nz = y / 0",
            (["stage:report"], "print(z)"),
        ]
    )
    result = mlops("run", nb)
    assert result.returncode == 1
    # the %%mlops line is line 1 of the source cell: the error is on its line 3
    message = "stage 'crunch' failed at nb.ipynb cell 3 (id c3), line 3: ZeroDivisionError"
    assert message in result.stdout
    executed = next(
        line.split(": ", 1)[1]
        for line in result.stdout.splitlines()
        if "executed notebook:" in line
    )
    assert "ZeroDivisionError" in Path(executed).read_text()

    as_json = mlops("run", nb, "--json")
    assert as_json.returncode == 1
    run = run_json(as_json)
    assert run["status"] == "failed"
    assert statuses(run) == {"load": "cached", "crunch": "failed", "report": "skipped"}
    assert message in run["stages"][1]["error"]


BAD_INPUT = {
    "int parameter": (["-p", "n=three"], ["parameter 'n'", "int"]),
    "float parameter": (["-p", "lr=fast"], ["parameter 'lr'", "float"]),
    "infinite float": (["-p", "lr=inf"], ["parameter 'lr'", "float", "finite"]),
    "bool parameter": (["-p", "flag=maybe"], ["parameter 'flag'", "bool"]),
    "list parameter": (["-p", "sizes=[1,"], ["parameter 'sizes'", "list"]),
    "a tuple in a list parameter": (
        ["-p", "sizes=[1, (2,3)]"],
        ["parameter 'sizes'", "a tuple", "-p sizes=[1, [2, 3]]"],
    ),
    "unknown parameter": (["-p", "epochs=3"], ["unknown parameter 'epochs'", "n (int)"]),
    "not NAME=VALUE": (["-p", "n"], ["NAME=VALUE"]),
    "no jobs": (["--jobs", "0"], ["--jobs"]),
    "unknown --stages": (["--stages", "nope"], ["no stage 'nope'", "train"]),
    "unknown --from": (["--from", "nope"], ["no stage 'nope'"]),
    "unknown --force": (["--force", "nope"], ["nope"]),
}


@pytest.mark.parametrize(("args", "needles"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_paragraph_and_records_no_run(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path, args: list[str], needles: list[str]
) -> None:
    nb = make_notebook(
        [
            (["parameters"], "n = 3\nlr = 0.5\nflag = False\nsizes = [1, 2]"),
            (["stage:train"], "x = n * lr if flag else sizes"),
        ]
    )
    assert_clean_error(mlops("run", nb, *args), *needles)
    assert not (home / "runs").exists() or list((home / "runs").iterdir()) == []


def test_a_missing_target_or_run_exits_2(mlops: Mlops, tmp_path: Path) -> None:
    assert_clean_error(mlops("run", tmp_path / "missing.ipynb"), "missing.ipynb")
    assert_clean_error(mlops("run", tmp_path), "not a compiled pipeline")
    assert_clean_error(mlops("show", "no-such-run"), "no run 'no-such-run'")


# -- interrupts, kills and company


SLOW_CELLS = [
    (["stage:first"], "x = 1"),
    (["stage:slow"], "import time\nopen('started', 'w').close()\ntime.sleep(120)\ny = x"),
    (["stage:after"], "z = y"),
]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_interrupts_the_run_records_it_and_leaves_no_kernel(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path, signum: signal.Signals
) -> None:
    nb = make_notebook(SLOW_CELLS)
    process = start("run", nb, "--json", cwd=tmp_path)
    try:
        wait_for_file(tmp_path / "started", process)
        helpers = descendants(process.pid)
        assert helpers, "the stage runs in a kernel process of its own"
        process.send_signal(signum)
        sent = time.monotonic()
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - sent

        assert process.returncode == 1, err
        run = json.loads(out)
        assert run["status"] == "interrupted"
        assert statuses(run) == {"first": "succeeded", "slow": "failed", "after": "skipped"}
        assert "interrupted" in run["stages"][1]["error"]
        assert took < 15, f"stopping took {took:.1f}s"
        assert "Traceback" not in err
        assert wait_gone(helpers, timeout=5) == set(), "kernels left running"
        assert working_in(tmp_path) == set()

        shown = run_json(mlops("show", run["run_id"], "--json"))
        assert shown["status"] == "interrupted"
        assert shown == run
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        kill_all(descendants(process.pid) | working_in(tmp_path))


def test_a_run_killed_with_sigkill_shows_up_as_interrupted_later(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    nb = make_notebook(SLOW_CELLS)
    process = start("run", nb, "--json", cwd=tmp_path)
    helpers: set[int] = set()
    try:
        wait_for_file(tmp_path / "started", process)
        helpers = descendants(process.pid)
        process.kill()
        process.communicate(timeout=30)

        listed = json.loads(mlops("runs", "--json").stdout)
        assert len(listed) == 1
        assert listed[0]["status"] == "interrupted"
        shown = run_json(mlops("show", listed[0]["run_id"], "--json"))
        assert shown["status"] == "interrupted"
        assert statuses(shown)["first"] == "succeeded"
        assert statuses(shown)["after"] == "skipped"
        # the kernels notice their runner is gone and end too
        assert wait_gone(helpers, timeout=10) == set(), "orphaned kernels"
    finally:
        kill_all(helpers | working_in(tmp_path))


def test_two_runs_at_once_are_both_recorded_whole(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    nb = make_notebook(
        [
            (["parameters"], "n = 1"),
            (["stage:a"], "import time\ntime.sleep(0.5)\nx = n * 2"),
            (["stage:b"], "y = x + 1"),
            (["stage:c"], "z = x + 2"),
            (["metrics"], "y, z"),
        ]
    )
    # the store exists already: see test_store's xfail on opening a new store from two processes
    assert mlops("runs").returncode == 0
    runs = [start("run", nb, "-p", f"n={n}", "--json", cwd=tmp_path) for n in (1, 2)]
    results = [process.communicate(timeout=120) for process in runs]
    for process, (_, err) in zip(runs, results, strict=True):
        assert process.returncode == 0, err

    listed = json.loads(mlops("runs", "--json").stdout)
    assert len(listed) == 2
    by_n = {r["parameters"]["n"]: r for r in listed}
    assert set(by_n) == {1, 2}
    for n, run in by_n.items():
        assert run["status"] == "succeeded"
        assert statuses(run) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
        assert run["metrics"] == {"y": 2 * n + 1, "z": 2 * n + 2}
        assert {Path(s["notebook"]).parent.name for s in run["stages"]} == {run["run_id"]}
        assert all(Path(s["notebook"]).is_file() for s in run["stages"])
    assert {json.loads(out)["run_id"] for out, _ in results} == {r["run_id"] for r in listed}


def test_the_compiled_pipeline_py_runs_and_records_into_the_same_store(
    make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    (tmp_path / ".mlops").mkdir()  # the project's store, found from the notebook's folder
    (tmp_path / "data.txt").write_text("10")
    nb = make_notebook(
        [
            (["parameters"], "n = 1"),
            (["stage:load"], "base = float(open('data.txt').read())"),
            (["stage:scale"], "value = base * n"),
            (["metrics"], "value"),
        ]
    )
    first = subprocess.run(
        [MLOPS, "run", nb, "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert first.returncode == 0, first.stderr
    compiled = Path(run_json(first)["compiled"])
    assert compiled.parent.parent.parent == tmp_path / ".mlops"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = [sys.executable, str(compiled / "pipeline.py")]
    second = subprocess.run(
        [*script, "-p", "n=5", "--json"], capture_output=True, text=True, cwd=elsewhere, timeout=120
    )
    assert second.returncode == 0, second.stderr
    run = run_json(second)
    assert run["parameters"] == {"n": 5}
    assert run["metrics"] == {"value": 50.0}  # the stages still read the notebook folder's data
    assert statuses(run) == {"load": "cached", "scale": "succeeded"}
    assert Path(run["run_dir"]).parent == tmp_path / ".mlops" / "runs"

    listed = subprocess.run(
        [MLOPS, "runs", "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [
        run["run_id"],
        run_json(first)["run_id"],
    ]

    bad = subprocess.run(
        [*script, "-p", "n=five"], capture_output=True, text=True, cwd=elsewhere, timeout=60
    )
    assert_clean_error(bad, "parameter 'n'", "int")
