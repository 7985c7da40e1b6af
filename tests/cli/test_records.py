"""``mlops metrics``, ``data``, ``params`` and ``diff`` as a user runs them: subprocesses, exit
codes, strict JSON. The store is filled by interactive runs (plain Python processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.test_main import assert_clean_error


def sh(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, "MLOPS_HOME": str(cwd / ".mlops")},
    )


def mlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return sh([sys.executable, "-m", "mlops_jupyter", *args], cwd)


def session(code: str, cwd: Path) -> None:
    result = sh([sys.executable, "-c", textwrap.dedent(code)], cwd)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    folder = tmp_path_factory.mktemp("project")
    (folder / "d.csv").write_text("a,b\n1,2\n3,4\n")
    session(
        """
        import mlops_jupyter as mlops
        for i in range(5):
            mlops.log_metric("loss", 1 / (i + 1), step=i)
        mlops.log_metric("acc", float("nan"))
        mlops.log_param("lr", 0.1)
        mlops.log_param("model", "forest")
        mlops.track_data("d.csv")
        """,
        folder,
    )
    (folder / "d.csv").write_text("a,b,c\n1,2,x\n3,4,y\n5,6,z\n")
    session(
        """
        import mlops_jupyter as mlops
        mlops.log_metric("loss", 0.05)
        mlops.log_param("lr", 0.2)
        mlops.log_param("model", "forest")
        mlops.track_data("d.csv")
        """,
        folder,
    )
    runs = json.loads(mlops("runs", "--json", cwd=folder).stdout)
    return folder, runs[1]["run_id"], runs[0]["run_id"]


def test_help_lists_the_commands() -> None:
    result = mlops("--help", cwd=Path.cwd())
    for verb in ("metrics", "data", "params", "diff"):
        assert verb in result.stdout


def test_metrics_json_is_every_point_and_strict(project: tuple[Path, str, str]) -> None:
    folder, first, _ = project
    result = mlops("metrics", first, "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "NaN" not in result.stdout
    series = json.loads(result.stdout)
    assert [p["step"] for p in series["loss"]] == [0, 1, 2, 3, 4]
    assert [p["value"] for p in series["loss"]][-1] == pytest.approx(0.2)
    assert set(series["loss"][0]) == {"step", "value", "time", "stage"}
    assert series["acc"][0]["value"] is None  # NaN prints as null

    only = json.loads(mlops("metrics", first, "-k", "acc", "--json", cwd=folder).stdout)
    assert list(only) == ["acc"]


def test_metrics_table(project: tuple[Path, str, str]) -> None:
    folder, first, _ = project
    result = mlops("metrics", first[:-1], cwd=folder)  # a unique prefix is enough
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {first}"
    loss = next(line for line in lines if line.startswith("loss"))
    assert loss.split()[:6] == ["loss", "5", "0.2", "0.2", "1", "0..4"]
    latest = mlops("metrics", cwd=folder)  # RUN defaults to the latest
    assert "0.05" in latest.stdout


def test_data_lists_versions_with_changes(project: tuple[Path, str, str]) -> None:
    folder, first, second = project
    versions = json.loads(mlops("data", "--json", cwd=folder).stdout)
    assert [v["run_id"] for v in versions] == [second, first]
    assert [v["changed"] for v in versions] == [True, False]
    assert versions[0]["schema_diff"] == {
        "added": ["c"],
        "removed": [],
        "dtypes": {},
        "rows": [2, 3],
    }
    table = mlops("data", "d.csv", cwd=folder)  # relative to the current folder
    assert table.returncode == 0, table.stderr
    assert "changed" in table.stdout and "3x3" in table.stdout and "2x2" in table.stdout
    assert "+c; rows 2 -> 3" in table.stdout


def test_run_json_is_strict_with_non_finite_metrics(project: tuple[Path, str, str]) -> None:
    folder, first, _ = project

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    shown = json.loads(mlops("show", first, "--json", cwd=folder).stdout, parse_constant=refuse)
    assert shown["metrics"]["acc"] is None
    listed = json.loads(mlops("runs", "--json", cwd=folder).stdout, parse_constant=refuse)
    assert listed[1]["metrics"]["acc"] is None
    text = mlops("show", first, cwd=folder).stdout
    assert "acc=nan" in text and "(interactive)" in text


def test_params(project: tuple[Path, str, str]) -> None:
    folder, first, _ = project
    result = mlops("params", first, cwd=folder)
    assert result.stdout.splitlines() == ["lr = 0.1", 'model = "forest"']
    assert json.loads(mlops("params", first, "--json", cwd=folder).stdout) == {
        "lr": 0.1,
        "model": "forest",
    }


def test_diff_side_by_side(project: tuple[Path, str, str]) -> None:
    folder, first, second = project
    found = json.loads(mlops("diff", first, second, "--json", cwd=folder).stdout)
    assert found["a"] == first and found["b"] == second
    assert found["parameters"] == {"lr": [0.1, 0.2]}
    assert found["metrics"]["loss"] == [pytest.approx(0.2), 0.05]
    assert found["metrics"]["acc"] == [None, None]  # NaN vs absent: JSON shows both as null
    ((path, (a, b)),) = found["data"].items()
    assert path == str(folder / "d.csv") and a != b and len(a) == 64
    table = mlops("diff", first, second, cwd=folder).stdout
    assert first in table and second in table
    assert "lr" in table and a[:12] in table and b[:12] in table
    assert "(same)" in table  # code and stages did not change


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["metrics", "nope"], "no run 'nope'"),
        (["params", "nope"], "no run 'nope'"),
        (["diff", "nope", "latest"], "no run 'nope'"),
        (["data", "missing.csv"], "no data versions recorded for 'missing.csv'"),
        (["data", "--limit", "0"], "limit must be at least 1"),
    ],
)
def test_bad_input_is_a_clean_error(
    project: tuple[Path, str, str], args: list[str], needle: str
) -> None:
    folder, _, _ = project
    assert_clean_error(mlops(*args, cwd=folder), needle)


def test_empty_store(tmp_path: Path) -> None:
    assert mlops("data", cwd=tmp_path).stdout.startswith("no data tracked yet")
    assert json.loads(mlops("data", "--json", cwd=tmp_path).stdout) == []
    assert_clean_error(mlops("metrics", cwd=tmp_path), "there are no runs yet")
