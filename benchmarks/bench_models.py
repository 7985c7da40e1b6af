"""Benchmark: ``mlops.log_model`` / ``load_model`` of a ~100 MB scikit-learn model beside MLflow's
``mlflow.sklearn.log_model`` / ``load_model`` of the same model, in the same run.

    MLFLOW_PYTHON=.venv-mlflow/bin/python .venv/bin/python benchmarks/bench_models.py

(``.venv-mlflow``: ``python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow
scikit-learn skops pandas``; MLflow pins would move this project's packages, so it lives apart,
as in bench_tracking.py. Both venvs must have the same scikit-learn: the model is made once here
and handed to both sides as a pickle file, loaded untimed.)

Each measurement is a fresh child process with a fresh store (mlops: ``.mlops/`` with SQLite and
objects; MLflow: a SQLite tracking store and a local artifact folder), so no side is warm from
another. Both save scikit-learn models with skops (MLflow 3's default outside Databricks).
MLflow is measured twice: as its docs show (``log_model(model, name=...)``, which also infers
the pip requirements by loading the model in a subprocess), and with ``pip_requirements`` given,
which leaves that out. Writes ``benchmarks/results/models.json``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import code_version, machine, module_version, now, run_rounds, write_results  # noqa: E402
from _common import mlflow_python as mlflow_python_path  # noqa: E402

MLOPS_LOG = """
import pickle, sys, time
import mlops_jupyter as mlops
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
import skops.io  # the library's import is not the log's cost (MLflow's side imports it untimed too)
mlops.log_metric("warm", 0.0); mlops.flush()
t = time.perf_counter()
version = mlops.log_model(model, "big")
print(time.perf_counter() - t, version.size)
"""

MLOPS_LOAD = """
import sys, time
import mlops_jupyter as mlops
import skops.io, sklearn.ensemble
t = time.perf_counter()
model = mlops.load_model("big")
print(time.perf_counter() - t, len(model.estimators_))
"""

MLFLOW_LOG = """
import pickle, sys, time
import mlflow, mlflow.sklearn, skops.io
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
folder = sys.argv[2]
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
experiment = mlflow.create_experiment("bench", artifact_location=f"file://{folder}/artifacts")
# MLflow refuses to save a forest with skops unless its Tree type is named as trusted (mlops
# keeps the types skops reported at save time, checked by the bytes' content key at load)
extra = {"skops_trusted_types": ["sklearn.tree._tree.Tree"]}
if sys.argv[3] == "given":
    extra["pip_requirements"] = ["scikit-learn", "skops"]
with mlflow.start_run(experiment_id=experiment):
    mlflow.log_metric("warm", 0.0)
    t = time.perf_counter()
    info = mlflow.sklearn.log_model(model, name="big", **extra)
    took = time.perf_counter() - t
print(took, info.model_uri)
"""

MLFLOW_LOAD = """
import sys, time
import mlflow, mlflow.sklearn, skops.io, sklearn.ensemble
mlflow.set_tracking_uri(f"sqlite:///{sys.argv[1]}/mlflow.db")
t = time.perf_counter()
model = mlflow.sklearn.load_model(sys.argv[2])
print(time.perf_counter() - t, len(model.estimators_))
"""


def make_model(path: Path, target_mb: float) -> dict[str, object]:
    """A random forest grown until its skops bytes reach ``target_mb`` (deep trees on noisy
    labels: ~3 MB each)."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    from mlops_jupyter.tracking import models

    X, y = make_classification(
        n_samples=30_000, n_features=20, n_informative=8, flip_y=0.3, random_state=0
    )
    trees = 8
    while True:
        model = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=-1).fit(X, y)
        size = len(models.pack(model).data) / 1e6
        if size >= target_mb * 0.95:
            break
        trees = max(trees + 1, int(trees * target_mb / size) + 1)
    path.write_bytes(pickle.dumps(model, protocol=5))
    return {"trees": trees, "skops_mb": round(size, 1), "rows": len(X), "features": X.shape[1]}


def child(python: str, code: str, *args: str, cwd: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [python, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1].split()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=float, default=100.0)
    args = parser.parse_args()
    mlflow_python = mlflow_python_path()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-models-"))
    model_file = work / "model.pkl"
    made = make_model(model_file, args.size_mb)
    print(f"model: {made}", flush=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    samples: dict[str, list[float]] = {
        k: [] for k in ("mlops_log", "mlops_load", "mlflow_log", "mlflow_log_given", "mlflow_load")
    }
    counter = iter(range(10**6))

    def fresh(name: str) -> Path:
        folder = work / f"{name}-{next(counter)}"
        folder.mkdir()
        return folder

    def mlops_pair() -> None:
        folder = fresh("mlops")
        env = {**base_env, "MLOPS_HOME": str(folder / ".mlops")}
        took, _ = child(sys.executable, MLOPS_LOG, str(model_file), cwd=folder, env=env)
        samples["mlops_log"].append(float(took))
        took, _ = child(sys.executable, MLOPS_LOAD, cwd=folder, env=env)
        samples["mlops_load"].append(float(took))

    def mlflow_log(folder: Path, requirements: str) -> str:
        took, uri = child(
            mlflow_python, MLFLOW_LOG, str(model_file), str(folder), requirements,
            cwd=folder, env=base_env,
        )  # fmt: skip
        samples["mlflow_log" if requirements == "inferred" else "mlflow_log_given"].append(
            float(took)
        )
        return uri

    def mlflow_pair() -> None:
        folder = fresh("mlflow")
        uri = mlflow_log(folder, "inferred")
        took, _ = child(mlflow_python, MLFLOW_LOAD, str(folder), uri, cwd=folder, env=base_env)
        samples["mlflow_load"].append(float(took))

    def mlflow_given() -> None:
        mlflow_log(fresh("mlflow-given"), "given")

    def reset() -> None:
        for values in samples.values():
            values.clear()

    loads = run_rounds([mlops_pair, mlflow_pair, mlflow_given], args.rounds, started, reset)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    mlflow_version = module_version(mlflow_python, "mlflow")
    results = {
        "when": now(),
        "machine": machine(load_averages=loads),
        "code": code_version(),
        "mlflow": mlflow_version,
        "model": made,
        "rounds": args.rounds,
        "samples_s": samples,
        "median_s": medians,
        "ratios": {
            "log_vs_mlflow": medians["mlflow_log"] / medians["mlops_log"],
            "log_vs_mlflow_given_requirements": medians["mlflow_log_given"] / medians["mlops_log"],
            "load_vs_mlflow": medians["mlflow_load"] / medians["mlops_load"],
        },
    }
    for key, value in medians.items():
        print(f"{key:18s} {value:8.2f} s")
    for key, value in results["ratios"].items():  # type: ignore[union-attr]
        print(f"{key:34s} MLflow takes {value:5.2f}x as long")
    write_results(HERE / "results" / "models.json", results)


if __name__ == "__main__":
    main()
