"""``mlops monitor``: traffic sent to a real ``mlops serve`` is recorded, and its drift against the
model's training data (the table its run checked, in the model's lineage) is found on exactly
the columns that were shifted; ``--on-drift`` runs then and only then."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from serve.test_app import COLUMNS, MLOPS, Server, project  # noqa: F401  (the module fixture)

pytest.importorskip("fastapi")
np = pytest.importorskip("numpy")


def _send(server: Server, rows: Any, batch: int = 25) -> None:
    for start in range(0, len(rows), batch):
        part = rows.iloc[start : start + batch]
        body = {"dataframe_split": {"columns": COLUMNS, "data": part.values.tolist()}}
        status, answer, _ = server.call("POST", "/invocations", body, token=None)
        assert status == 200, answer


def _traffic(n: int, seed: int, shift: dict[str, float] | None = None) -> Any:
    """Rows drawn from the iris data, some columns moved by ``shift`` (in cm)."""
    from sklearn.datasets import load_iris

    rows = load_iris(as_frame=True).data.sample(n, replace=True, random_state=seed)
    rows = rows.reset_index(drop=True)
    noise = np.random.default_rng(seed).normal(0, 0.05, rows.shape)
    rows = rows + noise  # not the training rows themselves: new flowers of the same kind
    for column, by in (shift or {}).items():
        rows[column] = rows[column] + by
    return rows.round(2)


def _monitor(project: Path, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: F811
    return subprocess.run(
        [MLOPS, "monitor", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "MLOPS_HOME": str(project / ".mlops")},
        timeout=120,
    )


def test_shifted_traffic_drifts_on_exactly_the_shifted_columns(project: Path) -> None:  # noqa: F811
    fired = project / "drift-fired"
    steady = Server(project, "iris@1")
    shifted = Server(project, "iris@2")
    try:
        _send(steady, _traffic(300, seed=1))
        moved = ["petal length (cm)", "petal width (cm)"]
        _send(shifted, _traffic(300, seed=2, shift={moved[0]: 2.0, moved[1]: 0.9}))
        status, _, _ = shifted.call("POST", "/invocations", {"instances": "x"}, token=None)
        assert status == 400  # an error, counted
    finally:
        steady.stop()  # a stopped server has written what it recorded
        shifted.stop()

    on_drift = f"touch {fired}"
    calm = _monitor(project, "iris@1", "--window", "1h", "--json", "--on-drift", on_drift)
    assert calm.returncode == 0, calm.stderr
    found = json.loads(calm.stdout)
    assert found["requests"] == 12 and found["errors"] == 0 and found["served_rows"] == 300
    assert found["reference"]["path"] == "iris" and found["reference"]["rows"] == 150
    assert set(found["columns"]) == set(COLUMNS), "the model's inputs, not the training target"
    assert not found["drift"] and not [c for c, v in found["columns"].items() if v["drift"]]
    assert {v["test"] for v in found["columns"].values()} == {"ks"}  # 150 reference rows
    assert (
        found["latency_ms"]["p50"] > 0 and found["latency_ms"]["p99"] >= found["latency_ms"]["p50"]
    )
    assert not fired.exists(), "--on-drift runs only on drift"

    alarmed = _monitor(project, "iris@2", "--json", "--on-drift", on_drift)
    assert alarmed.returncode == 1, alarmed.stderr  # drift: exit 1, for a cron job to act on
    found = json.loads(alarmed.stdout)
    assert found["requests"] == 13 and found["errors"] == 1
    assert {c for c, v in found["columns"].items() if v["drift"]} == set(moved)
    assert found["drift"] and found["share"] == 0.5
    assert found["on_drift"] == {"command": on_drift, "exit_code": 0}
    assert fired.exists()
    text = _monitor(project, "iris@2").stdout
    assert "DRIFT" in text and "requests 13  errors 1 (7.7 %)" in text


def test_too_little_traffic_is_said_not_guessed_and_bad_input_exits_2(project: Path) -> None:  # noqa: F811
    found = json.loads(_monitor(project, "iris@1", "--window", "1s", "--json").stdout)
    assert found["requests"] == 0 and found["drift"] is False
    assert "drift needs at least 30" in found["note"]
    for args, says in (
        (["iris@7"], "has no version 7"),
        (["iris", "--window", "soon"], "30d, 12h"),
        (["ghost@champion"], "there is no model 'ghost'"),
    ):
        done = _monitor(project, *args)
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
