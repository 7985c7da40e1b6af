"""Values logged in worker processes: ``multiprocessing`` ``Process`` and ``Pool`` and
``concurrent.futures.ProcessPoolExecutor``, with the fork, spawn and forkserver start methods,
in a real pipeline stage (``mlops run``) and in an interactive run — every value recorded, in the
parent's run and stage, with no ``flush()`` anywhere. Real processes and real SQLite throughout:
50 children write into one store at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.store.db import Store

CHILDREN, EACH = 50, 2_000

# Imported by the children (spawn and forkserver import it anew; fork inherits it). Each way of
# starting workers logs under its own key; the steps say which child logged which value.
WORK = f"""
import concurrent.futures
import multiprocessing

import mlops_jupyter as mlops

CHILDREN, EACH = {CHILDREN}, {EACH}


def log(key, child):
    for i in range(EACH):
        mlops.log_metric(key, float(i), step=child * EACH + i)
    return child


def processes(method, children=CHILDREN):
    context = multiprocessing.get_context(method)
    started = [
        context.Process(target=log, args=(f"Process-{{method}}", n)) for n in range(children)
    ]
    for process in started:
        process.start()
    for process in started:
        process.join()
    assert [p.exitcode for p in started] == [0] * children, [p.exitcode for p in started]


def pool(method, children=CHILDREN):
    # leaving the with-block calls Pool.terminate(): the workers get SIGTERM, not a sentinel
    with multiprocessing.get_context(method).Pool(children) as workers:
        workers.starmap(log, [(f"Pool-{{method}}", n) for n in range(children)])


def executor(method, children=CHILDREN):
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(8, mp_context=context) as workers:
        list(workers.map(log, [f"Executor-{{method}}"] * children, range(children)))
"""

# Process and Pool with fork and spawn at full size; forkserver and the executor too.
PLAN = """
import work
for method in ("fork", "spawn"):
    work.processes(method)
    work.pool(method)
work.processes("forkserver", 10)
work.pool("forkserver", 10)
work.executor("fork", 10)
work.executor("forkserver", 10)
"""
EXPECTED = {
    **{
        f"{kind}-{method}": CHILDREN * EACH
        for kind in ("Process", "Pool")
        for method in ("fork", "spawn")
    },
    **{
        key: 10 * EACH
        for key in ("Process-forkserver", "Pool-forkserver", "Executor-fork", "Executor-forkserver")
    },
}


def counts(home: Path, run_id: str) -> dict[str, tuple[int, int, set[str | None]]]:
    """key -> (values, distinct steps, stages) as the store holds them."""
    with Store(home) as store:
        rows = store.db.execute(
            "SELECT key, count(*), count(DISTINCT step), group_concat(DISTINCT stage)"
            " FROM metrics WHERE run_id = ? GROUP BY key",
            (run_id,),
        ).fetchall()
    return {
        row[0]: (row[1], row[2], set((row[3] or "").split(",")) - {""} or {None}) for row in rows
    }


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "JPY_", "MLFLOW_"))}
    return {**env, "MLOPS_HOME": str(home)}


def test_every_value_from_worker_processes_lands_in_the_interactive_run(tmp_path: Path) -> None:
    (tmp_path / "work.py").write_text(WORK)
    # the parent's first value opens the interactive run its workers then log into
    code = "import mlops_jupyter as mlops\nmlops.log_metric('parent', 1.0, step=0)\n" + PLAN
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env_for(tmp_path / ".mlops"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    runs = api.runs(tmp_path / ".mlops")
    assert len(runs) == 1, [(r["run_id"], r["origin"]) for r in runs]  # no run per child
    assert runs[0]["status"] == "succeeded"
    found = counts(tmp_path / ".mlops", runs[0]["run_id"])
    assert found.pop("parent") == (1, 1, {None})
    assert found == {key: (n, n, {None}) for key, n in EXPECTED.items()}


def test_every_value_from_worker_processes_lands_in_the_stage(tmp_path: Path) -> None:
    (tmp_path / "work.py").write_text(WORK)
    notebook = write_notebook(
        tmp_path / "nb.ipynb",
        [(["stage:prepare"], "x = 1"), (["stage:train"], "y = x + 1\n" + PLAN)],
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", "run", str(notebook), "--json"],
        cwd=tmp_path,
        env=env_for(tmp_path / ".mlops"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads(result.stdout)
    runs = api.runs(tmp_path / ".mlops")
    assert [r["run_id"] for r in runs] == [run["run_id"]]  # no interactive run from a child
    assert counts(tmp_path / ".mlops", run["run_id"]) == {
        key: (n, n, {"train"}) for key, n in EXPECTED.items()
    }


def script(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script file (spawned children import their functions from it)."""
    (tmp_path / "main.py").write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=tmp_path,
        env=env_for(tmp_path / ".mlops"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_run_opens_the_run_its_workers_share(tmp_path: Path) -> None:
    result = script(
        tmp_path,
        """
        import multiprocessing
        import mlops_jupyter as mlops
        from mlops_jupyter.tracking.runtime import current_run

        def child(n):
            mlops.log_metric("x", float(n), step=n)

        if __name__ == "__main__":
            run_id = mlops.start_run()  # nothing logged here: the workers still share one run
            assert current_run()["run_id"] == run_id and mlops.start_run() == run_id
            for method in ("fork", "spawn"):
                with multiprocessing.get_context(method).Pool(3) as pool:
                    pool.map(child, range(6))
            print(run_id)
        """,
    )
    assert result.returncode == 0, result.stderr
    runs = api.runs(tmp_path / ".mlops")
    assert [r["run_id"] for r in runs] == [result.stdout.strip()]
    assert counts(tmp_path / ".mlops", runs[0]["run_id"]) == {"x": (12, 6, {None})}


def test_terminated_workers_keep_their_values_and_their_exit_status(tmp_path: Path) -> None:
    """SIGTERM to a worker that is waiting (the usual Pool.terminate()), to one deep in C code
    that never looks at signals, and to one whose own SIGTERM handler replaced ours."""
    result = script(
        tmp_path,
        """
        import hashlib, json, multiprocessing, signal, sys, time
        import mlops_jupyter as mlops

        def waiting(ready):
            for i in range(1000):
                mlops.log_metric("waiting", float(i), step=i)
            ready.set()
            time.sleep(60)

        def in_c(ready):
            for i in range(1000):
                mlops.log_metric("in_c", float(i), step=i)
            ready.set()
            hashlib.pbkdf2_hmac("sha256", b"x", b"y", 10**9)  # minutes in C, no signal checks

        def own_handler(ready):
            for i in range(1000):
                mlops.log_metric("own", float(i), step=i)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
            ready.set()
            time.sleep(60)

        if __name__ == "__main__":
            mlops.start_run()
            codes = {}
            for target in (waiting, in_c, own_handler):
                ready = multiprocessing.Event()
                child = multiprocessing.get_context("fork").Process(target=target, args=(ready,))
                child.start()
                assert ready.wait(30)
                time.sleep(0.3)  # past the ready line: asleep, or inside the C call
                started = time.monotonic()
                child.terminate()
                child.join(20)
                codes[target.__name__] = [child.exitcode, time.monotonic() - started < 10]
            print(json.dumps(codes))
        """,
    )
    assert result.returncode == 0, result.stderr
    exits = json.loads(result.stdout)
    assert exits["waiting"] == [-15, True]
    assert exits["in_c"][1] and exits["in_c"][0] in (-15, -9)  # ended soon, not minutes later
    assert exits["own_handler"] == [3, True]  # the user's handler ran, ours stood aside
    run = api.runs(tmp_path / ".mlops")[0]
    found = counts(tmp_path / ".mlops", run["run_id"])
    assert found == {key: (1000, 1000, {None}) for key in ("waiting", "in_c", "own")}


def test_a_subprocess_is_not_a_worker_and_keeps_its_own_run(tmp_path: Path) -> None:
    """Only multiprocessing children join the parent's run: a script the notebook starts (or a
    kernel the runner starts) inherits the environment but not the run."""
    result = script(
        tmp_path,
        """
        import subprocess, sys
        import mlops_jupyter as mlops
        mlops.log_metric("parent", 1.0)
        subprocess.run([sys.executable, "-c",
                        "import mlops_jupyter as m; m.log_metric('script', 2.0)"], check=True)
        """,
    )
    assert result.returncode == 0, result.stderr
    runs = api.runs(tmp_path / ".mlops")
    assert sorted(
        api.show(r["run_id"], tmp_path / ".mlops")["metrics"].popitem()[0] for r in runs
    ) == [
        "parent",
        "script",
    ]
