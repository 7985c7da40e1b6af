"""Benchmark: ``mlops serve`` beside ``mlflow models serve`` of the same model, in the same run.

    apt-get install wrk                                   # the load generator (C, keep-alive)
    MLFLOW_PYTHON=.venv-mlflow/bin/python .venv/bin/python benchmarks/bench_serve.py

The model: the iris example's (``examples/iris``, run once into a temporary project; the version
``iris@champion`` names). MLflow serves the very same fitted object: it is handed over as a
pickle (same scikit-learn on both sides) and saved with ``mlflow.sklearn.save_model`` in skops
format with a signature inferred from the same rows, so MLflow enforces its schema as mlops
checks its signature. Both servers: one uvicorn worker on 127.0.0.1; mlops records every request
(``--sample 1``, the default), MLflow records nothing.

The load: ``wrk`` with 2 threads and 16 connections for ``--seconds`` (default 20) after a
3-second warm-up, POSTing one ``dataframe_split`` row to ``/invocations`` (online inference,
where a server's own cost shows). Rounds alternate the two servers. Reported: requests/s, p50
and p99 latency (wrk's, from the client), non-2xx answers, and for mlops the requests its store
recorded (all of them, once the server stopped). Writes ``benchmarks/results/serve.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import code_version, machine, module_version, now, tool, write_results  # noqa: E402
from _common import mlflow_python as mlflow_python_path  # noqa: E402

ROOT = HERE.parent
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
BODY = {"dataframe_split": {"columns": COLUMNS, "data": [[6.1, 2.8, 4.7, 1.2]]}}

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad))
end
"""

MLFLOW_SAVE = """
import pickle, sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
rows = pd.read_json(sys.argv[3], orient="split")
mlflow.sklearn.save_model(
    model, sys.argv[2], serialization_format="skops",
    skops_trusted_types=sys.argv[4].split(",") if sys.argv[4] else None,
    signature=infer_signature(rows, model.predict(rows)),
)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server at {url} exited ({process.returncode})")
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer /ping within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load(url: str, script: Path, seconds: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    subprocess.run(
        [wrk, "-t2", "-c16", "-d3s", "-s", str(script), f"{url}/invocations"],
        capture_output=True,
        check=True,
    )  # fmt: skip  (the warm-up)
    done = subprocess.run(
        [wrk, "-t2", "-c16", f"-d{seconds}s", "-s", str(script), f"{url}/invocations"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    found["rps"] = found["requests"] / found["seconds"]
    return found


def prepare(work: Path, mlflow_python: str) -> tuple[Path, Path]:
    """(the mlops project, the MLflow model folder) holding the same fitted iris model."""
    from mlops_jupyter import api

    project = work / "project"
    project.mkdir()
    shutil.copyfile(ROOT / "examples" / "iris" / "iris.ipynb", project / "iris.ipynb")
    os.environ["MLOPS_HOME"] = str(project / ".mlops")
    run = api.run(project / "iris.ipynb")
    assert run["status"] == "succeeded", run
    api.model_alias("iris@1", "champion")
    from mlops_jupyter.tracking.runtime import load_model

    model = load_model("iris@champion")
    trusted = api.model_show("iris@champion")["loader"].get("trusted", [])
    (work / "model.pkl").write_bytes(pickle.dumps(model, protocol=5))
    import pandas as pd

    rows = pd.DataFrame(BODY["dataframe_split"]["data"] * 5, columns=COLUMNS)
    rows_file = work / "rows.json"
    rows_file.write_text(rows.to_json(orient="split", index=False))
    folder = work / "mlflow-model"
    subprocess.run(
        [mlflow_python, "-c", textwrap.dedent(MLFLOW_SAVE), str(work / "model.pkl"), str(folder),
         str(rows_file), ",".join(trusted)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return project, folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    mlflow_python = mlflow_python_path()
    mlflow_cli = str(Path(mlflow_python).parent / "mlflow")
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    project, mlflow_model = prepare(work, mlflow_python)
    script = work / "post.lua"
    script.write_text(LUA % json.dumps(BODY))
    mlops = tool("mlops")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLOPS_HOME"] = str(project / ".mlops")
    samples: dict[str, list[dict[str, Any]]] = {"mlops": [], "mlflow": []}
    recorded: list[int] = []
    loads: list[float] = []
    for round_number in range(args.rounds):
        for side in ("mlops", "mlflow") if round_number % 2 == 0 else ("mlflow", "mlops"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            if side == "mlops":
                command = [mlops, "serve", "iris@champion", "--port", str(port)]
            else:
                command = [mlflow_cli, "models", "serve", "-m", str(mlflow_model), "-p",
                           str(port), "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"]  # fmt: skip
            db = project / ".mlops" / "mlops.db"
            before = _serving_rows(db)
            # `mlflow models serve` runs `uvicorn` from PATH: its own venv's
            side_env = (
                env
                if side == "mlops"
                else {**env, "PATH": f"{Path(mlflow_cli).parent}:{env['PATH']}"}
            )
            process = subprocess.Popen(
                command, cwd=work, env=side_env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_ready(url, process)
                found = load(url, script, args.seconds)
            finally:
                stop(process)
            if side == "mlops":  # the warm-up's requests are recorded too: 3 s more
                found["recorded"] = _serving_rows(db) - before
                recorded.append(found["recorded"])
            samples[side].append(found)
            loads.append(os.getloadavg()[0])
            print(
                f"  {side:6s} {found['rps']:8.0f} req/s  p50 {found['p50_ms']:6.2f} ms  "
                f"p99 {found['p99_ms']:6.2f} ms  errors {found['errors']}"
                + (f"  recorded {found['recorded']}" if side == "mlops" else ""),
                flush=True,
            )

    def median(side: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[side])

    summary = {side: {k: median(side, k) for k in ("rps", "p50_ms", "p99_ms")} for side in samples}
    mlflow_version = module_version(mlflow_python, "mlflow")
    results = {
        "when": now(),
        "machine": machine(load_averages=loads),
        "code": code_version(),
        "mlflow": mlflow_version,
        "load": {"tool": "wrk", "threads": 2, "connections": 16, "seconds": args.seconds},
        "body": BODY,
        "samples": samples,
        "median": summary,
        "throughput_ratio": summary["mlops"]["rps"] / summary["mlflow"]["rps"],
    }
    print(f"mlops serve / mlflow models serve throughput: {results['throughput_ratio']:.2f}x")
    write_results(HERE / "results" / "serve.json", results)


def _serving_rows(db: Path) -> int:
    if not db.exists():
        return 0
    connection = sqlite3.connect(db)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM serving").fetchone()[0])
    except sqlite3.OperationalError:  # before the first server made the table
        return 0
    finally:
        connection.close()


if __name__ == "__main__":
    main()
