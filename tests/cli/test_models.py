"""``mlops models`` and ``mlops model show|alias|promote|history`` as a user runs them: exit 0
when done, 1 when a promotion is refused (with the table), 2 for bad input with one clear
paragraph and nothing in the store changed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from cli.test_main import assert_clean_error
from cli.test_records import mlops, session

pytest.importorskip("skops")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two interactive runs, each logging a version of 'iris': accuracy 0.9, then 0.8."""
    folder = tmp_path_factory.mktemp("models")
    for accuracy, C in ((0.9, 1.0), (0.8, 0.01)):
        session(
            f"""
            import mlops_jupyter as mlops
            from sklearn.datasets import load_iris
            from sklearn.linear_model import LogisticRegression
            X, y = load_iris(return_X_y=True, as_frame=True)
            model = LogisticRegression(C={C}, max_iter=300).fit(X, y)
            mlops.log_metric("accuracy", {accuracy})
            mlops.log_model(model, "iris", example=X[:3])
            """,
            folder,
        )
    return folder


def _snapshot(folder: Path) -> list[list[tuple]]:
    db = sqlite3.connect(folder / ".mlops" / "mlops.db")
    try:
        return [
            list(db.execute(f"SELECT * FROM {table} ORDER BY 1, 2"))
            for table in ("model_versions", "model_aliases", "alias_moves")
        ]
    finally:
        db.close()


def test_models_lists_versions_and_aliases(project: Path) -> None:
    result = mlops("models", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found[0]["name"] == "iris" and found[0]["versions"] == 2 and found[0]["latest"] == 2
    table = mlops("models", cwd=project).stdout
    assert table.splitlines()[0].split() == ["NAME", "VERSIONS", "LATEST", "ALIASES"]


def test_model_show_has_the_issue_fields(project: Path) -> None:
    result = mlops("model", "show", "iris@1", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    for key in (
        "name", "version", "hash", "flavor", "format", "run_id", "stage", "pipeline_version",
        "parameters", "metrics", "data", "aliases", "signature",
    ):  # fmt: skip
        assert key in record
    assert record["metrics"] == {"accuracy": 0.9}
    assert (record["flavor"], record["format"]) == ("sklearn", "skops")
    text = mlops("model", "show", "iris", cwd=project).stdout
    assert "iris@2" in text and "metric accuracy  0.8" in text


def test_promote_refused_then_met_then_history(project: Path) -> None:
    first = mlops("model", "promote", "iris@1", "--to", "champion", cwd=project)
    assert first.returncode == 0, first.stderr
    assert "moved from nowhere to version 1" in first.stdout

    before = _snapshot(project)
    refused = mlops(
        "model", "promote", "iris@2", "--to", "champion", "--require", "accuracy>=+0.01",
        cwd=project,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "accuracy>=+0.01" in refused.stdout and " NO" in refused.stdout
    assert "stays at version 1" in refused.stdout
    assert _snapshot(project) == before

    met = mlops(
        "model", "promote", "iris@2", "--to", "champion", "--require", "accuracy>=0.75",
        "--reason", "smaller C", cwd=project,
    )  # fmt: skip
    assert met.returncode == 0, met.stdout
    shown = json.loads(mlops("model", "show", "iris@champion", "--json", cwd=project).stdout)
    assert shown["version"] == 2
    moves = json.loads(mlops("model", "history", "iris", "--json", cwd=project).stdout)
    assert [(m["from"], m["to"], m["why"]) for m in moves][-2:] == [
        (None, 1, None),
        (1, 2, "smaller C"),
    ]
    back = mlops("model", "alias", "iris@1", "champion", "--reason", "rollback", cwd=project)
    assert back.returncode == 0 and "moved from version 2 to version 1" in back.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("model", "show", "nope"), ("there is no model 'nope'", "models: iris")),
        (("model", "show", "iris@9"), ("has no version 9",)),
        (("model", "show", "iris@staging"), ("has no alias 'staging'",)),
        (("model", "show", "iris@@x"), ("does not name a model version",)),
        (("model", "alias", "iris@1", "latest"), ("cannot be an alias",)),
        (
            ("model", "promote", "iris@2", "--to", "prod", "--require", "accuracy=0.9"),
            ("the requirement 'accuracy=0.9' is not one mlops reads",),
        ),
        (
            ("model", "promote", "iris@2", "--to", "prod", "--require", "accuracy>=5%"),
            ("percentage without a sign",),
        ),
        (("model", "promote", "ghost@1", "--to", "prod"), ("there is no model 'ghost'",)),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    project: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    before = _snapshot(project)
    assert_clean_error(mlops(*args, cwd=project), *needles)
    assert _snapshot(project) == before


def test_no_store_means_no_models(tmp_path: Path) -> None:
    result = mlops("models", "--json", cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == []
    assert not (tmp_path / ".mlops").exists()
    assert_clean_error(mlops("model", "show", "iris", cwd=tmp_path), "no model 'iris'")


def test_log_model_refusals_are_clear(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import mlops_jupyter as mlops
        for call in (lambda: mlops.log_model(object(), "x"),
                     lambda: mlops.log_model([1], "bad name"),
                     lambda: mlops.log_model([1], 3)):
            try:
                call()
            except (TypeError, ValueError) as exc:
                with open("out.txt", "a") as out:
                    out.write(f"{type(exc).__name__} {exc}\\n")
        """
    )
    session(code, tmp_path)
    out = (tmp_path / "out.txt").read_text()
    assert 'format="pickle"' in out and "not one mlops takes" in out and "is a str" in out
    assert mlops("models", "--json", cwd=tmp_path).stdout.strip() in ("[]", "")


def test_the_iris_example_promotes_once_and_refuses_a_worse_model(tmp_path: Path) -> None:
    """The README's registry walk-through on examples/iris, as a user types it."""
    import shutil
    import sys

    source = Path(__file__).resolve().parents[2] / "examples" / "iris" / "iris.ipynb"
    shutil.copyfile(source, tmp_path / "iris.ipynb")
    assert mlops("run", "iris.ipynb", cwd=tmp_path).returncode == 0
    met = mlops(
        "model", "promote", "iris@1", "--to", "champion", "--require", "accuracy>=0.9",
        cwd=tmp_path,
    )  # fmt: skip
    assert met.returncode == 0, met.stdout + met.stderr
    worse = mlops("run", "iris.ipynb", "-p", "C=0.01", "-p", "n_estimators=2", cwd=tmp_path)
    assert worse.returncode == 0, worse.stderr
    before = _snapshot(tmp_path)
    refused = mlops(
        "model", "promote", "iris@2", "--to", "champion", "--require", "accuracy>=+0",
        cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 1 and "stays at version 1" in refused.stdout
    assert _snapshot(tmp_path) == before
    two = json.loads(mlops("model", "show", "iris@2", "--json", cwd=tmp_path).stdout)
    assert two["parameters"]["C"] == 0.01 and two["parameters"]["n_estimators"] == 2
    assert two["stage"] == "evaluate" and two["data"][0]["path"] == "iris"
    assert two["metrics"]["accuracy"] < 0.9
    loaded = subprocess.run(
        [
            sys.executable, "-c",
            "import mlops_jupyter as m; model = m.load_model('iris@champion'); "
            "print(type(model).__name__, getattr(model, 'C', None) or model[-1].C)",
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["Pipeline", "1.0"]  # version 1's logistic regression
