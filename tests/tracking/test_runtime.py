"""The runtime API (``mlops.log_metric`` ...): in a process of its own (an interactive run), in a
real pipeline stage (``mlops run`` with real kernels), with real SQLite throughout."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_notebook

import mlops_jupyter as mlops
from mlops_jupyter import api
from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import runtime as tracking


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh store and no tracking context; the interactive run is finished afterwards."""
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    tracking.end_run()
    tracking._context = None
    yield tmp_path / ".mlops"
    tracking.end_run()
    tracking._context = None


def python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full.pop("JPY_SESSION_NAME", None) if "JPY_SESSION_NAME" not in env else None
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        timeout=120,
    )


def only_run(home: Path) -> dict:
    runs = api.runs(home)
    assert len(runs) == 1, runs
    return runs[0]


# -- importing


def test_import_is_cheap_and_tracking_is_lazy() -> None:
    code = """
        import sys
        import mlops_jupyter as mlops
        heavy = ["sqlite3", "numpy", "pandas", "ipywidgets", "IPython", "nbformat", "papermill",
                 "mlops_jupyter.tracking.runtime", "mlops_jupyter.store.db", "blake3"]
        print([m for m in heavy if m in sys.modules])
        mlops.log_metric  # reaching a name imports its module, and still no store
        print([m for m in heavy if m in sys.modules])
    """
    result = python(code, Path.cwd())
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()
    assert before == "[]"
    assert after == "['mlops_jupyter.tracking.runtime']"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'log_metricz'"):
        mlops.log_metricz  # noqa: B018
    assert "log_metric" in dir(mlops)


# -- interactive runs


def test_first_call_opens_an_interactive_run(home: Path) -> None:
    assert tracking.current_run() is None
    mlops.log_metric("loss", 0.5, step=1)
    current = tracking.current_run()
    assert current is not None and current["interactive"] and current["stage"] is None
    mlops.flush()
    run = api.show(current["run_id"], home)
    assert run["origin"] == "interactive"
    assert run["status"] == "running"
    assert run["pipeline"] == "interactive" and run["notebook"] is None
    assert run["metrics"] == {"loss": 0.5}
    tracking.end_run()
    assert api.show(current["run_id"], home)["status"] == "succeeded"
    mlops.log_metric("loss", 0.4)  # the next call opens a new run
    assert tracking.current_run()["run_id"] != current["run_id"]


def test_everything_logged_is_stored_at_normal_exit(tmp_path: Path) -> None:
    result = python(
        """
        import mlops_jupyter as mlops
        for i in range(25_000):
            mlops.log_metric("loss", 1 / (i + 1), step=i)
        mlops.log_metrics({"acc": 0.9, "f1": 0.8}, step=7)
        mlops.log_param("lr", 0.01)
        """,
        tmp_path,
        MLOPS_HOME=str(tmp_path / ".mlops"),
    )
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path / ".mlops")
    assert run["status"] == "succeeded"
    assert run["parameters"] == {"lr": 0.01}
    series = api.metrics(run["run_id"], where=tmp_path / ".mlops")
    assert [p["step"] for p in series["loss"]] == list(range(25_000))
    assert series["loss"][-1]["value"] == pytest.approx(1 / 25_000)
    assert series["acc"] == [
        {"step": 7, "value": 0.9, "time": series["acc"][0]["time"], "stage": None}
    ]


def test_nothing_is_lost_when_user_code_raises(tmp_path: Path) -> None:
    result = python(
        """
        import mlops_jupyter as mlops
        for i in range(1000):
            mlops.log_metric("loss", float(i), step=i)
        raise RuntimeError("diverged")
        """,
        tmp_path,
        MLOPS_HOME=str(tmp_path / ".mlops"),
    )
    assert result.returncode == 1
    assert "diverged" in result.stderr
    run = only_run(tmp_path / ".mlops")
    assert run["status"] == "failed"
    assert "RuntimeError: diverged" in run["error"]
    assert len(api.metrics(run["run_id"], where=tmp_path / ".mlops")["loss"]) == 1000


def test_killed_process_keeps_what_was_flushed_and_reads_interrupted(tmp_path: Path) -> None:
    result = python(
        """
        import os, signal
        import mlops_jupyter as mlops
        mlops.log_metric("a", 1.0)
        mlops.flush()
        mlops.log_metric("b", 2.0)  # not flushed: a SIGKILL loses only this
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
        MLOPS_HOME=str(tmp_path / ".mlops"),
    )
    assert result.returncode == -9
    run = only_run(tmp_path / ".mlops")
    assert run["status"] == "interrupted"
    assert run["metrics"] == {"a": 1.0}


def test_background_thread_writes_without_flush(home: Path) -> None:
    mlops.log_metric("live", 1.0)
    run_id = tracking.current_run()["run_id"]
    deadline = time.time() + 10
    while time.time() < deadline:
        if api.metrics(run_id, where=home).get("live"):
            break
        time.sleep(0.1)
    assert api.metrics(run_id, where=home)["live"][0]["value"] == 1.0


def test_notebook_path_from_jupyter(tmp_path: Path) -> None:
    notebook = tmp_path / "sub" / "explore.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")
    result = python(
        "import mlops_jupyter as mlops; mlops.log_metric('x', 1)",
        tmp_path,
        JPY_SESSION_NAME=str(notebook),
        MLOPS_HOME=str(tmp_path / ".mlops"),
    )
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path / ".mlops")
    assert run["notebook"] == str(notebook.resolve())
    assert run["pipeline"] == "explore"
    assert api.runs(tmp_path / ".mlops", notebook=notebook)[0]["run_id"] == run["run_id"]


# -- values


def test_non_finite_values_are_stored_faithfully(home: Path) -> None:
    mlops.log_metric("nan", float("nan"))
    mlops.log_metric("inf", float("inf"), step=1)
    mlops.log_metrics({"ninf": -math.inf})
    mlops.flush()
    series = api.metrics(tracking.current_run()["run_id"], where=home)
    assert math.isnan(series["nan"][0]["value"])
    assert series["inf"][0]["value"] == math.inf
    assert series["ninf"][0]["value"] == -math.inf
    assert math.isnan(api.show("latest", home)["metrics"]["nan"])


def test_numbers_of_every_kind_are_accepted(home: Path) -> None:
    np = pytest.importorskip("numpy")
    mlops.log_metric("int", 3)
    mlops.log_metric("bool", True)
    mlops.log_metric("np_float", np.float32(0.5), step=np.int64(2))
    mlops.log_metric("np_array", np.array(1.5))
    mlops.flush()
    series = api.metrics(tracking.current_run()["run_id"], where=home)
    assert {k: v[0]["value"] for k, v in series.items()} == {
        "int": 3.0,
        "bool": 1.0,
        "np_float": 0.5,
        "np_array": 1.5,
    }
    assert series["np_float"][0]["step"] == 2


@pytest.mark.parametrize("value", ["0.5", None, 1j, [1.0], {"a": 1}, b"1"])
def test_non_numeric_values_raise_type_error_naming_the_key(home: Path, value: object) -> None:
    with pytest.raises(TypeError, match="metric 'accuracy' must be a real number"):
        mlops.log_metric("accuracy", value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metric 'f1'"):
        mlops.log_metrics({"ok": 1.0, "f1": value})  # type: ignore[dict-item]


def test_bad_keys_steps_and_batches(home: Path) -> None:
    with pytest.raises(TypeError, match="name is a str, not int"):
        mlops.log_metric(3, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be empty"):
        mlops.log_metric("", 1.0)
    with pytest.raises(TypeError, match="step of metric 'loss' must be an int, not float"):
        mlops.log_metric("loss", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="log_metrics takes a dict"):
        mlops.log_metrics([("a", 1.0)])  # type: ignore[arg-type]


def test_params_one_value_per_name(home: Path) -> None:
    mlops.log_param("model", "forest")
    mlops.log_param("model", "forest")  # the same value again is fine
    mlops.log_param("layers", (64, 32))
    mlops.log_param("path", Path("a/b"))
    with pytest.raises(ValueError, match=r"parameter 'model' .* is already 'forest'"):
        mlops.log_param("model", "logreg")
    with pytest.raises(TypeError, match=r"parameter 'obj' is a builtins\.object"):
        mlops.log_param("obj", object())
    assert api.params("latest", home) == {"model": "forest", "layers": [64, 32], "path": "a/b"}


def test_artifacts_are_kept_with_the_run(home: Path, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"weights" * 1000)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.png").write_bytes(b"png")
    mlops.log_artifact(tmp_path / "model.bin")
    mlops.log_artifact(tmp_path / "plots")
    with pytest.raises(FileNotFoundError, match=r"no file or folder 'missing\.txt'"):
        mlops.log_artifact("missing.txt")
    artifacts = api.show("latest", home)["artifacts"]
    assert [a["name"] for a in artifacts] == ["model.bin", "plots/a.png"]
    assert artifacts[0]["size"] == 7000
    with Store(home) as store:
        assert artifacts[0]["hash"] in store.referenced_objects()  # gc keeps them
        from mlops_jupyter.store import objects

        assert objects.get(store.objects, artifacts[0]["hash"]) == b"weights" * 1000


def test_mlflow_mirror_without_mlflow_is_silent(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    if importlib.util.find_spec("mlflow") is not None:
        pytest.skip("mlflow is installed here: the absent path cannot be checked")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///nonexistent")
    mlops.log_metric("x", 1.0)
    mlops.log_param("p", 1)
    tracking.end_run()
    assert api.show("latest", home)["metrics"] == {"x": 1.0}


def test_throughput_is_reported(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reported, not asserted: timings depend on the machine. Correctness is asserted."""
    n = 100_000
    started = time.perf_counter()
    for i in range(n):
        mlops.log_metric("loss", 0.5, step=i)
    single = n / (time.perf_counter() - started)
    batch = {f"m{j}": float(j) for j in range(100)}
    started = time.perf_counter()
    for i in range(1000):
        mlops.log_metrics(batch, step=i)
    batched = 100_000 / (time.perf_counter() - started)
    started = time.perf_counter()
    mlops.flush()
    flushed = time.perf_counter() - started
    series = api.metrics(tracking.current_run()["run_id"], where=home)
    assert len(series["loss"]) == n and len(series) == 101
    assert all(len(series[f"m{j}"]) == 1000 for j in range(100))
    with capsys.disabled():
        print(
            f"\n  log_metric {single:,.0f} calls/s; log_metrics {batched:,.0f} values/s;"
            f" final flush {flushed:.2f} s"
        )


# -- in a pipeline stage, through real kernels


CSV = "x,y\n1,2\n3,4\n5,6\n"


def tracked_notebook(folder: Path, train_fails: bool = False) -> Path:
    (folder / "data.csv").write_text(CSV)
    train = "for i in range(300):\n    mlops.log_metric('loss', 1.0 / (i + 1), step=i)\n"
    train += "mlops.log_param('epochs', 300)\n"
    train += "raise ValueError('boom')\n" if train_fails else "score = total * 2\n"
    return write_notebook(
        folder / "nb.ipynb",
        [
            (["setup"], "import mlops_jupyter as mlops"),
            (
                ["stage:load"],
                "import csv\nrows = list(csv.DictReader(open('data.csv')))\n"
                "version = mlops.track_data('data.csv')\n"
                "assert version.rows == 3, version\n"
                "total = sum(float(r['x']) for r in rows)",
            ),
            (["stage:train"], train),
        ],
    )


def mlops_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
        env={**os.environ, "MLOPS_HOME": str(cwd / ".mlops")},
    )


def test_stage_metrics_params_and_data_land_in_the_run(tmp_path: Path) -> None:
    notebook = tracked_notebook(tmp_path)
    result = mlops_cli("run", notebook, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["metrics"]["loss"] == pytest.approx(1 / 300)
    assert run["parameters"] == {"epochs": 300}
    assert run["data"] == {str(tmp_path / "data.csv"): run["data"][str(tmp_path / "data.csv")]}
    assert len(run["data"][str(tmp_path / "data.csv")]) == 64

    steps = mlops_cli("metrics", run["run_id"], "--json", cwd=tmp_path)
    assert steps.returncode == 0, steps.stderr
    loss = json.loads(steps.stdout)["loss"]
    assert [p["step"] for p in loss] == list(range(300))
    assert {p["stage"] for p in loss} == {"train"}
    assert set(loss[0]) == {"step", "value", "time", "stage"}

    versions = api.data(tmp_path / "data.csv", tmp_path / ".mlops")
    assert versions[0]["run_id"] == run["run_id"] and versions[0]["stage"] == "load"
    assert versions[0]["columns"] == ["x", "y"]

    # a cached rerun records the same metrics, parameters and data under the new run
    again = json.loads(mlops_cli("run", notebook, "--json", cwd=tmp_path).stdout)
    assert [s["status"] for s in again["stages"]] == ["cached", "cached"]
    assert again["metrics"] == run["metrics"]
    assert again["parameters"] == run["parameters"]
    assert again["data"] == run["data"]
    assert len(api.metrics(again["run_id"], where=tmp_path / ".mlops")["loss"]) == 300


def test_values_logged_before_a_stage_fails_are_kept(tmp_path: Path) -> None:
    notebook = tracked_notebook(tmp_path, train_fails=True)
    result = mlops_cli("run", notebook, "--json", cwd=tmp_path)
    assert result.returncode == 1
    run = json.loads(result.stdout)
    assert [s["status"] for s in run["stages"]] == ["succeeded", "failed"]
    assert "ValueError: boom" in run["stages"][1]["error"]
    assert len(api.metrics(run["run_id"], where=tmp_path / ".mlops")["loss"]) == 300
    assert run["parameters"] == {"epochs": 300}


# -- in a real IPython kernel (what a notebook is)


def test_in_a_kernel_each_cell_is_flushed_even_if_it_raises(tmp_path: Path) -> None:
    """A cell that logs and then raises: its values are in the store as soon as the cell ends,
    before any exit handler; the kernel is then killed outright and nothing is missing."""
    from jupyter_client.manager import start_new_kernel

    notebook = tmp_path / "explore.ipynb"
    notebook.write_text("{}")
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / ".mlops"), "JPY_SESSION_NAME": str(notebook)}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(
            "import mlops_jupyter as mlops\n"
            "for i in range(500):\n"
            "    mlops.log_metric('loss', 1 / (i + 1), step=i)\n"
            "raise RuntimeError('later line fails')",
            timeout=60,
        )
        assert reply["content"]["status"] == "error"
        run = only_run(tmp_path / ".mlops")
        assert run["notebook"] == str(notebook.resolve()) and run["status"] == "running"
        assert len(api.metrics(run["run_id"], where=tmp_path / ".mlops")["loss"]) == 500
    finally:
        km.shutdown_kernel(now=True)  # killed, no shutdown request: no atexit
        kc.stop_channels()
    assert only_run(tmp_path / ".mlops")["status"] == "interrupted"


def test_vs_code_notebook_path(tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    notebook = tmp_path / "vs.ipynb"
    notebook.write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    env["MLOPS_HOME"] = str(tmp_path / ".mlops")
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(
            f"__vsc_ipynb_file__ = {str(notebook)!r}\n"
            "import mlops_jupyter as mlops\nmlops.log_metric('x', 1)",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        kc.execute_interactive("quit()", timeout=30)  # a normal shutdown runs atexit
    finally:
        km.shutdown_kernel(now=False)
        kc.stop_channels()
    run = only_run(tmp_path / ".mlops")
    assert (run["pipeline"], run["notebook"]) == ("vs", str(notebook.resolve()))
    assert run["metrics"] == {"x": 1.0}
