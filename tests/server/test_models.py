"""The model registry over REST (docs/rest-api.md "Models"): a real Jupyter Server, the real
store, versions logged by real runs of a notebook under the root. The answers are the CLI's
``--json`` objects; a refused promotion is an answer (200, ``moved`` false, the table), bad
input a 400 that changes nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api as core

pytest.importorskip("skops")

Api = Callable[..., Awaitable[tuple[int, Any]]]
ERROR_KEYS = {"error", "notebook", "cell", "cell_id", "line", "hint", "text"}

TRAIN = [
    (["parameters"], "C = 1.0"),
    (
        ["setup"],
        "import mlops_jupyter as mlops\nfrom sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression",
    ),
    (["stage:load"], "X, y = load_iris(return_X_y=True, as_frame=True)"),
    (
        ["stage:train"],
        "model = LogisticRegression(C=C, max_iter=300).fit(X, y)\n"
        "accuracy = float(model.score(X, y))\nmlops.log_metric('accuracy', accuracy)\n"
        "mlops.log_model(model, 'iris', example=X[:3])",
    ),
]


@pytest.fixture
def trained(root: Path) -> Path:
    """Two versions of 'iris' from two runs of models/train.ipynb: C=1 (better), C=0.01."""
    notebook = write_notebook(root / "models" / "train.ipynb", TRAIN)
    for C in (1.0, 0.01):
        assert core.run(notebook, parameters={"C": C})["status"] == "succeeded"
    return notebook


def _rows(root: Path) -> list[list[tuple]]:
    db = sqlite3.connect(root / ".mlops" / "mlops.db")
    try:
        return [
            list(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2"))
            for t in ("model_versions", "model_aliases", "alias_moves")
        ]
    finally:
        db.close()


async def test_models_of_a_notebook_and_one_model_whole(
    api: Api, root: Path, trained: Path
) -> None:
    status, listed = await api("GET", "models", path="models/train.ipynb")
    assert (status, listed) == (200, core.models(root))
    assert listed[0]["name"] == "iris" and listed[0]["versions"] == 2
    status, other = await api("GET", "models", path="sub/nb.ipynb")
    assert (status, other) == (200, []), "sub/nb.ipynb logs no models"

    status, model = await api("GET", "models/iris")
    assert status == 200
    assert [v["version"] for v in model["versions"]] == [2, 1]
    assert model["versions"][1]["parameters"] == {"C": 1.0}
    assert model["versions"][0]["metrics"]["accuracy"] < model["versions"][1]["metrics"]["accuracy"]
    assert model["aliases"] == {} and model["moves"] == []
    assert all(not d["path"].startswith("/") for v in model["versions"] for d in v["data"])


async def test_promote_refused_then_met_and_alias(api: Api, root: Path, trained: Path) -> None:
    status, first = await api(
        "POST", "models/iris/aliases", {"version": 1, "alias": "champion", "promote": True}
    )
    assert status == 200 and first["moved"] and first["to"] == 1

    before = _rows(root)
    status, refused = await api(
        "POST",
        "models/iris/aliases",
        {"version": 2, "alias": "champion", "require": ["accuracy>=+0.01"]},
    )
    assert status == 200 and refused["moved"] is False and refused["to"] == 1
    failed = [r for r in refused["requirements"] if not r["ok"]]
    assert [r["requirement"] for r in failed] == ["accuracy>=+0.01"]
    assert _rows(root) == before

    status, moved = await api(
        "POST",
        "models/iris/aliases",
        {"version": 2, "alias": "champion", "reason": "rollforward for the demo"},
    )
    assert status == 200 and moved["moved"] and (moved["from"], moved["to"]) == (1, 2)
    status, model = await api("GET", "models/iris")
    assert model["aliases"] == {"champion": 2}
    assert [(m["how"], m["why"]) for m in model["moves"]] == [
        ("promote", None),
        ("alias", "rollforward for the demo"),
    ]


@pytest.mark.parametrize(
    ("route", "body", "status", "says"),
    [
        ("models/iris/aliases", {"version": 9, "alias": "champion"}, 404, "has no version 9"),
        ("models/ghost/aliases", {"version": 1, "alias": "x"}, 404, "there is no model 'ghost'"),
        ("models/iris/aliases", {"version": "1", "alias": "x"}, 400, "'version' must be"),
        ("models/iris/aliases", {"version": 1, "alias": "latest"}, 400, "cannot be an alias"),
        ("models/iris/aliases", {"version": 1}, 400, "'alias' must be"),
        ("models/iris/aliases", {"version": 1, "alias": "a", "to": 2}, 400, "unknown keys: to"),
        (
            "models/iris/aliases",
            {"version": 2, "alias": "a", "require": ["accuracy=0.9"]},
            400,
            "is not one mlops reads",
        ),
        (
            "models/iris/aliases",
            {"version": 2, "alias": "a", "require": ["x>1"], "promote": False},
            400,
            "checked only by a promotion",
        ),
    ],
)
async def test_bad_alias_requests_change_nothing(
    api: Api, root: Path, trained: Path, route: str, body: dict, status: int, says: str
) -> None:
    before = _rows(root)
    got, error = await api("POST", route, body)
    assert got == status, error
    assert set(error) == ERROR_KEYS and says in error["error"]
    assert _rows(root) == before


async def test_no_store_means_no_models_and_unknown_ones_are_404(api: Api, root: Path) -> None:
    status, listed = await api("GET", "models")
    assert (status, listed) == (200, [])
    status, error = await api("GET", "models/iris")
    assert status == 404 and "no model 'iris'" in error["error"]
    status, error = await api("GET", "models", path="../outside.ipynb")
    assert status in (400, 403, 404)


async def test_monitor_of_a_model_over_rest(api: Api, root: Path, trained: Path) -> None:
    from mlops_jupyter.serve.traffic import Recorder

    recorder = Recorder(root / ".mlops", "iris")
    for latency in (2.0, 4.0, 30.0):
        recorder.add(1, latency, 200, 1)
    recorder.add(1, 1.0, 400, 0, error="missing column 'x'")
    recorder.close()
    await api("POST", "models/iris/aliases", {"version": 1, "alias": "champion"})
    status, found = await api("GET", "models/iris/monitor", alias="champion", window="1h")
    assert status == 200, found
    assert (found["model"], found["version"], found["requests"], found["errors"]) == (
        "iris",
        1,
        4,
        1,
    )
    assert found["latency_ms"] == {"p50": 2.0, "p99": 30.0}
    assert found == {**core.monitor("iris@champion", where=root), "window": found["window"]}
    status, error = await api("GET", "models/iris/monitor", window="soon")
    assert status == 400 and "30d, 12h" in error["hint"]
    status, error = await api("GET", "models/ghost/monitor")
    assert status == 404
