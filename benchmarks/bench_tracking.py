"""Benchmark: ``mlops.log_metric`` single and batched, against ``mlflow.log_metric`` when mlflow
is importable. Writes ``benchmarks/results/tracking.json``.

    .venv/bin/python benchmarks/bench_tracking.py [--mlflow-only-if-installed]

Every measurement runs in a fresh child process with its own temporary store, so runs do not
warm each other up. Two rates are reported for mlops:

* **calls**: what the training loop pays — N calls, values validated and buffered (the background
  thread writes meanwhile, competing for the GIL, as it would in real use);
* **durable**: the same N calls *plus* ``flush()`` returning, i.e. every value committed to SQLite.

mlflow is measured the way its docs show (``mlflow.log_metric`` in an active run; ``log_batch``
through ``MlflowClient``), with a SQLite backend and with its file store, in the same kind of
child process.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import write_results  # noqa: E402

REPEATS = 5

MLOPS_SINGLE = """
import time, mlops_jupyter as mlops
mlops.log_metric("warm", 0.0); mlops.flush()
n = {n}
t = time.perf_counter()
for i in range(n):
    mlops.log_metric("loss", i * 0.001, step=i)
calls = time.perf_counter() - t
mlops.flush()
durable = time.perf_counter() - t
print(calls, durable)
"""

MLOPS_BATCH = """
import time, mlops_jupyter as mlops
mlops.log_metric("warm", 0.0); mlops.flush()
n, width = {n}, {width}
keys = [f"m{{j}}" for j in range(width)]
t = time.perf_counter()
for i in range(n // width):
    mlops.log_metrics({{k: i * 0.001 for k in keys}}, step=i)
calls = time.perf_counter() - t
mlops.flush()
durable = time.perf_counter() - t
print(calls, durable)
"""

MLFLOW_SINGLE = """
import time, mlflow
mlflow.set_tracking_uri({uri!r})
with mlflow.start_run():
    mlflow.log_metric("warm", 0.0)
    n = {n}
    t = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", i * 0.001, step=i)
    took = time.perf_counter() - t
print(took, took)
"""

MLFLOW_BATCH = """
import time, mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri({uri!r})
client = MlflowClient()
with mlflow.start_run() as run:
    n, width = {n}, {width}
    now = int(time.time() * 1000)
    t = time.perf_counter()
    for i in range(n // width):
        client.log_batch(run.info.run_id, metrics=[Metric(f"m{{j}}", i * 0.001, now, i) for j in range(width)])
    took = time.perf_counter() - t
print(took, took)
"""


def child(python: str, code: str, **env: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        result = subprocess.run(
            [python, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            cwd=tmp,
            env={
                **os.environ,
                "MLOPS_HOME": os.path.join(tmp, ".mlops"),
                # MLflow 3 refuses its file store unless asked: it is what MLflow users run
                "MLFLOW_ALLOW_FILE_STORE": "true",
                **env,
            },
            timeout=1200,
        )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    calls, durable = map(float, result.stdout.split()[-2:])
    return calls, durable


def measure(python: str, code: str, n: int, repeats: int = REPEATS) -> dict[str, float]:
    samples = [child(python, code) for _ in range(repeats)]
    calls = statistics.median(s[0] for s in samples)
    durable = statistics.median(s[1] for s in samples)
    return {
        "n": n,
        "repeats": repeats,
        "calls_per_s": round(n / calls),
        "durable_per_s": round(n / durable),
        "median_calls_s": round(calls, 4),
        "median_durable_s": round(durable, 4),
    }


def mlflow_python() -> str | None:
    """The Python that has mlflow: this one, or the one in $MLFLOW_PYTHON (a separate venv, so
    mlflow's pins never touch the project's environment)."""
    for python in (sys.executable, os.environ.get("MLFLOW_PYTHON")):
        if (
            python
            and subprocess.run([python, "-c", "import mlflow"], capture_output=True).returncode == 0
        ):
            return python
    return None


def main() -> None:
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_at_start": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    n = 200_000
    print(f"mlops.log_metric x {n:,} ...", flush=True)
    results["mlops_log_metric"] = single = measure(sys.executable, MLOPS_SINGLE.format(n=n), n)
    print(f"  {single}")
    n_batch, width = 1_000_000, 100
    print(f"mlops.log_metrics x {n_batch // width:,} dicts of {width} ...", flush=True)
    results["mlops_log_metrics"] = batch = measure(
        sys.executable, MLOPS_BATCH.format(n=n_batch, width=width), n_batch
    )
    print(f"  {batch}")

    python = mlflow_python()
    if python is None:
        results["mlflow"] = (
            "not installed: pip install mlflow, or set MLFLOW_PYTHON to a venv that has it"
        )
        print(results["mlflow"])
    else:
        version = subprocess.run(
            [python, "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        mlflow: dict[str, object] = {"version": version, "python": python}
        with tempfile.TemporaryDirectory(prefix="mlflow-bench-") as tmp:
            for store, uri in (
                ("sqlite", f"sqlite:///{tmp}/mlflow.db"),
                ("file", f"file://{tmp}/mlruns"),
            ):
                n_ml = 2_000
                print(f"mlflow.log_metric ({store}) x {n_ml:,} ...", flush=True)
                mlflow[f"log_metric_{store}"] = measure(
                    python, MLFLOW_SINGLE.format(uri=uri, n=n_ml), n_ml, repeats=3
                )
                print(f"  {mlflow[f'log_metric_{store}']}")
                n_mlb = 20_000
                print(
                    f"mlflow log_batch ({store}) x {n_mlb // 100:,} batches of 100 ...", flush=True
                )
                mlflow[f"log_batch_{store}"] = measure(
                    python, MLFLOW_BATCH.format(uri=uri, n=n_mlb, width=100), n_mlb, repeats=3
                )
                print(f"  {mlflow[f'log_batch_{store}']}")
        results["mlflow"] = mlflow
        best_single = max(
            mlflow[f"log_metric_{s}"]["calls_per_s"]
            for s in ("sqlite", "file")  # type: ignore[index]
        )
        best_batch = max(
            mlflow[f"log_batch_{s}"]["calls_per_s"]
            for s in ("sqlite", "file")  # type: ignore[index]
        )
        results["ratios"] = {
            "single_calls_vs_best_mlflow": round(single["calls_per_s"] / best_single, 1),
            "single_durable_vs_best_mlflow": round(single["durable_per_s"] / best_single, 1),
            "batched_calls_vs_best_mlflow_batch": round(batch["calls_per_s"] / best_batch, 1),
            "batched_durable_vs_best_mlflow_batch": round(batch["durable_per_s"] / best_batch, 1),
        }
    results["targets"] = {
        "single >= 50,000 calls/s": single["calls_per_s"] >= 50_000,
        "batched >= 500,000 values/s": batch["calls_per_s"] >= 500_000,
    }
    results["machine"]["load_avg_at_end"] = os.getloadavg()  # type: ignore[index]
    print(json.dumps(results, indent=2))
    write_results(HERE / "results" / "tracking.json", results)


if __name__ == "__main__":
    main()
