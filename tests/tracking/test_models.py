"""Model versions and the registry: what ``mlops.log_model`` stores, how it loads back (never
by unpickling unless asked), the lineage a version keeps, and the rules of aliases and
promotion. Real stores; the pipeline cases are real runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.errors import ConflictError, MlopsError, NotFoundError
from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import models

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pytest.importorskip("skops")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture
def store(home: Path) -> Store:
    with Store(home) as opened:
        yield opened


def _log(store: Store, model: Any, name: str, *, metrics: dict[str, float], **kw: Any) -> int:
    """A version logged from a finished run of its own with these metrics (the registry's view
    of what a stage's log_model leaves behind)."""
    run_id = _start(store)
    for key, value in metrics.items():
        store.add_metric_rows([(run_id, None, key, None, value, 1.0)])
    packed = models.pack(model, **kw)
    digest = _put(store, packed.data)
    version = store.add_model_version(
        run_id,
        None,
        name,
        digest,
        len(packed.data),
        packed.flavor,
        packed.format,
        packed.loader,
        packed.signature,
    )
    store.finish_run(run_id, "succeeded")
    return version


def _start(store: Store) -> str:
    run_id, _ = store.start_run(
        pipeline="train",
        version="v1",
        notebook="/nb.ipynb",
        compiled="/compiled",
        parameters={},
        stages=[],
        environment={},
    )
    return run_id


def _put(store: Store, data: bytes) -> str:
    from mlops_jupyter.store import objects

    return objects.open_objects(store.objects).put(data)


# -- serialization


def test_a_fitted_pipeline_loads_back_through_skops_and_predicts_the_same(
    store: Store, iris: tuple[Any, Any]
) -> None:
    X, y = iris
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    version = _log(store, model, "iris", metrics={"accuracy": 0.97}, example=X[:5])
    record = store.model_version("iris", version)
    assert record is not None
    assert (record["flavor"], record["format"]) == ("sklearn", "skops")
    loaded = models.load(store, "iris")
    assert loaded is not model
    assert (loaded.predict(X) == model.predict(X)).all()
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_equal_models_are_equal_bytes_one_object(iris: tuple[Any, Any]) -> None:
    X, y = iris
    first = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    second = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert models.pack(first).data == models.pack(second).data
    other = RandomForestClassifier(n_estimators=5, random_state=1).fit(X, y)
    assert models.pack(other).data != models.pack(first).data


def test_arrays_and_frames_round_trip_without_pickle(store: Store) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    a = _log(store, array, "weights", metrics={})
    f = _log(store, frame, "table", metrics={})
    assert store.model_version("weights", a)["format"] == "npy"  # type: ignore[index]
    assert store.model_version("table", f)["format"] == "parquet"  # type: ignore[index]
    loaded = models.load(store, "weights@1")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, array)
    pd.testing.assert_frame_equal(models.load(store, "table"), frame)


class Opaque:
    def __init__(self) -> None:
        self.weights = [1, 2, 3]

    def predict(self, rows: Any) -> list[int]:
        return [sum(self.weights)] * len(rows)


def test_other_objects_need_format_pickle_and_loading_one_warns(store: Store) -> None:
    with pytest.raises(TypeError, match='format="pickle"'):
        models.pack(Opaque())
    version = _log(store, Opaque(), "opaque", metrics={}, format="pickle")
    with pytest.warns(UserWarning, match="runs code"):
        loaded = models.load(store, f"opaque@{version}")
    assert loaded.predict([0, 0]) == [6, 6]


def test_a_format_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        models.pack(np.zeros(3), format="skops")
    with pytest.raises(ValueError, match="not one log_model writes"):
        models.pack(np.zeros(3), format="joblib")


def test_an_object_array_is_refused_as_npy() -> None:
    with pytest.raises(TypeError, match='format="pickle"'):
        models.pack(np.array([{"a": 1}], dtype=object))


def test_the_signature_comes_from_the_example(iris: tuple[Any, Any]) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    packed = models.pack(model, example=X[:5])
    assert packed.signature == {
        "inputs": {
            "type": "dataframe",
            "columns": [{"name": str(c), "dtype": "float64"} for c in X.columns],
        },
        "outputs": {"type": "ndarray", "dtype": str(model.predict(X[:5]).dtype), "shape": [None]},
    }
    assert models.pack(model).signature is None


def test_a_failing_predict_on_the_example_leaves_outputs_out_with_a_warning(
    iris: tuple[Any, Any],
) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.warns(UserWarning, match="predict on the example failed"):
        packed = models.pack(model, example=X.iloc[:5, :2])  # two of four columns
    assert packed.signature is not None and packed.signature["outputs"] is None


# -- references


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iris", ("iris", None)),
        ("iris@3", ("iris", "3")),
        ("a.b-c_d@champion", ("a.b-c_d", "champion")),
    ],
)
def test_references(text: str, expected: tuple[str, str | None]) -> None:
    assert models.parse_ref(text) == expected


@pytest.mark.parametrize("text", ["", "@3", "iris@", "iris@3x", "iris@-x", "../x", "iris@a b"])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(MlopsError, match="does not name a model version"):
        models.parse_ref(text)


def test_unknown_names_versions_and_aliases_say_what_is_there(store: Store) -> None:
    with pytest.raises(NotFoundError, match="none is logged yet"):
        models.resolve(store, "iris")
    _log(store, np.zeros(2), "iris", metrics={})
    _log(store, np.ones(2), "iris", metrics={})
    with pytest.raises(NotFoundError, match=r"models: iris"):
        models.resolve(store, "irsi")
    with pytest.raises(NotFoundError, match=r"has no version 7 \(it has versions 1, 2\)"):
        models.resolve(store, "iris@7")
    with pytest.raises(NotFoundError, match=r"has no alias 'champion' \(it has none yet"):
        models.resolve(store, "iris@champion")
    assert models.resolve(store, "iris") == ("iris", 2)
    assert models.resolve(store, "iris@latest") == ("iris", 2)


@pytest.mark.parametrize("alias", ["latest", "1x", "", "a b", "x" * 64])
def test_bad_aliases_are_refused(alias: str) -> None:
    with pytest.raises(MlopsError, match="cannot be an alias"):
        models.check_alias(alias)


# -- requirements


@pytest.mark.parametrize(
    ("text", "metric", "op", "value", "kind"),
    [
        ("rmse<=0.5", "rmse", "<=", 0.5, "absolute"),
        ("accuracy >= +0.01", "accuracy", ">=", 0.01, "change"),
        ("loss<-0.1", "loss", "<", -0.1, "change"),
        ("accuracy>=+2%", "accuracy", ">=", 0.02, "relative"),
        ("loss<=-5%", "loss", "<=", -0.05, "relative"),
        ("score>=(-3)", "score", ">=", -3.0, "absolute"),
        ("f1>1e-3", "f1", ">", 0.001, "absolute"),
    ],
)
def test_requirements_read(text: str, metric: str, op: str, value: float, kind: str) -> None:
    found = models.parse_requirement(text)
    assert (found.metric, found.op, found.kind) == (metric, op, kind)
    assert math.isclose(found.value, value)


@pytest.mark.parametrize("text", ["accuracy", "accuracy=0.9", ">=0.9", "acc>=x", "acc>=2%", "a>=+"])
def test_malformed_requirements_are_refused(text: str) -> None:
    with pytest.raises(MlopsError):
        models.parse_requirement(text)


@pytest.mark.parametrize(
    ("requirement", "candidate", "baseline", "ok"),
    [
        ("accuracy>=0.9", 0.9, None, True),  # a bound met exactly passes
        ("accuracy>=0.9", 0.89, None, False),
        ("accuracy>=+0.01", 0.91, 0.9, True),  # 0.91 - 0.9 is 0.010000000000000009
        ("accuracy>=+0.01", 0.905, 0.9, False),
        ("accuracy>=+2%", 0.918, 0.9, True),  # 0.9 * 1.02 rounds to 0.9180000000000001
        ("accuracy>=+2%", 0.917, 0.9, False),
        ("rmse<=-5%", 0.95, 1.0, True),
        ("rmse<=-5%", 0.96, 1.0, False),
        ("loss<=+0", 1.0, 1.0, True),  # no worse than the baseline
        ("accuracy>=+0.01", 0.5, None, True),  # no baseline yet: a change passes, said so
    ],
)
def test_requirement_rows(
    requirement: str, candidate: float, baseline: float | None, ok: bool
) -> None:
    row = models.check_requirement(
        models.parse_requirement(requirement),
        {"accuracy": candidate, "rmse": candidate, "loss": candidate},
        None if baseline is None else {"accuracy": baseline, "rmse": baseline, "loss": baseline},
    )
    assert row["ok"] is ok
    if baseline is None and "+" in requirement:
        assert "no baseline" in row["note"]


def test_a_missing_or_nan_metric_fails_its_requirement_and_says_why() -> None:
    requirement = models.parse_requirement("accuracy>=+0.01")
    missing = models.check_requirement(requirement, {}, {"accuracy": 0.9})
    assert not missing["ok"] and "candidate has no metric 'accuracy'" in missing["note"]
    nan = models.check_requirement(requirement, {"accuracy": math.nan}, {"accuracy": 0.9})
    assert not nan["ok"] and "not a number" in nan["note"]
    no_base = models.check_requirement(requirement, {"accuracy": 0.95}, {}, "iris@1")
    assert not no_base["ok"] and "baseline iris@1 has no metric" in no_base["note"]


# -- aliases and promotion


def _dump(store: Store) -> list[Any]:
    return [
        list(map(tuple, store.db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")))
        for table in ("model_versions", "model_aliases", "alias_moves")
    ]


def test_promotion_moves_the_alias_only_when_every_requirement_holds(store: Store) -> None:
    first = _log(store, np.zeros(2), "m", metrics={"accuracy": 0.90, "rmse": 0.40})
    worse = _log(store, np.ones(2), "m", metrics={"accuracy": 0.85, "rmse": 0.45})
    better = _log(store, np.full(2, 2.0), "m", metrics={"accuracy": 0.93, "rmse": 0.30})

    result = models.promote(store, f"m@{first}", "champion", ["rmse<=0.5"])
    assert (result["moved"], result["from"], result["to"]) == (True, None, first)

    before = _dump(store)
    refused = models.promote(store, f"m@{worse}", "champion", ["accuracy>=+0.01", "rmse<=0.5"])
    assert not refused["moved"] and refused["to"] == first
    rows = {r["requirement"]: r for r in refused["requirements"]}
    assert rows["run succeeded"]["ok"] and rows["rmse<=0.5"]["ok"]
    assert not rows["accuracy>=+0.01"]["ok"]
    assert rows["accuracy>=+0.01"]["baseline"] == 0.90
    assert _dump(store) == before, "a refused promotion writes nothing"
    assert store.model_alias("m", "champion") == first

    moved = models.promote(
        store, f"m@{better}", "champion", ["accuracy>=+2%"], reason="weekly retrain"
    )
    assert moved["moved"] and store.model_alias("m", "champion") == better
    history = models.history(store, "m")
    assert [(h["alias"], h["from"], h["to"], h["how"]) for h in history] == [
        ("champion", None, first, "promote"),
        ("champion", first, better, "promote"),
    ]
    assert history[-1]["why"] == "weekly retrain" and history[-1]["who"]
    assert [r["requirement"] for r in history[-1]["requirements"]] == [
        "run succeeded",
        "accuracy>=+2%",
    ]
    assert models.show(store, "m@champion")["aliases"] == ["champion"]


def test_a_version_of_a_failed_run_is_never_promoted(store: Store) -> None:
    run_id = _start(store)
    packed = models.pack(np.zeros(2))
    version = store.add_model_version(
        run_id, None, "m", _put(store, packed.data), 3, "numpy", "npy", {}, None
    )
    store.finish_run(run_id, "failed")
    result = models.promote(store, f"m@{version}", "champion")
    assert not result["moved"]
    assert result["requirements"][0]["requirement"] == "run succeeded"
    assert store.model_alias("m", "champion") is None


def test_alias_moves_without_requirements_and_is_recorded(store: Store) -> None:
    one = _log(store, np.zeros(2), "m", metrics={})
    two = _log(store, np.ones(2), "m", metrics={})
    assert models.set_alias(store, f"m@{two}", "champion")["moved"]
    back = models.set_alias(store, f"m@{one}", "champion", reason="rollback")
    assert (back["from"], back["to"]) == (two, one)
    again = models.set_alias(store, f"m@{one}", "champion")
    assert not again["moved"]
    assert [m["why"] for m in models.history(store, "m")] == [None, "rollback"]
    assert store.model_summaries() == [
        {"name": "m", "versions": 2, "latest": two, "aliases": {"champion": one}}
    ]


def test_a_promotion_checked_against_a_moved_alias_writes_nothing(store: Store) -> None:
    one = _log(store, np.zeros(2), "m", metrics={})
    two = _log(store, np.ones(2), "m", metrics={})
    with pytest.raises(ConflictError, match="moved to version None by someone else"):
        store.move_model_alias("m", "champion", two, how="promote", user="x", expected=one)
    assert store.model_alias("m", "champion") is None and not models.history(store, "m")


# -- in pipelines: lineage, reruns, loading in a fresh process


TRAIN = """\
model = LogisticRegression(C=C, max_iter=500).fit(X, y)
accuracy = float(model.score(X, y))
mlops.log_metric("accuracy", accuracy)
version = mlops.log_model(model, "iris", example=X[:5])
print(version)
"""


def _pipeline(tmp_path: Path) -> Path:
    (tmp_path / "iris.csv").write_text(
        load_iris(as_frame=True).frame.to_csv(index=False), encoding="utf-8"
    )
    return write_notebook(
        tmp_path / "train.ipynb",
        [
            (["parameters"], "C = 1.0"),
            (
                ["setup"],
                "import pandas as pd\nimport mlops_jupyter as mlops\n"
                "from sklearn.linear_model import LogisticRegression",
            ),
            (
                ["stage:load"],
                "frame = pd.read_csv('iris.csv')\nmlops.track_data('iris.csv')\n"
                "X, y = frame.drop(columns='target'), frame['target']",
            ),
            (["stage:train"], TRAIN),
            (["stage:validate", "check"], "mlops.require(accuracy > 0.5, 'no better than chance')"),
        ],
    )


def test_two_runs_give_two_versions_with_their_lineage(tmp_path: Path, home: Path) -> None:
    path = _pipeline(tmp_path)
    first = api.run(path)
    second = api.run(path, parameters={"C": 0.01})
    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    one, two = api.model_show("iris@1"), api.model_show("iris@2")
    assert one["run_id"] == first["run_id"] and two["run_id"] == second["run_id"]
    assert (one["stage"], one["pipeline_version"]) == ("train", first["version"])
    assert (one["parameters"], two["parameters"]) == ({"C": 1.0}, {"C": 0.01})
    assert one["metrics"]["accuracy"] > two["metrics"]["accuracy"]
    assert [d["path"] for d in one["data"]] == [str(tmp_path / "iris.csv")]
    assert one["data"][0]["hash"] == api.data(path=tmp_path / "iris.csv")[0]["hash"]
    assert one["signature"]["inputs"]["type"] == "dataframe"
    assert api.models() == [{"name": "iris", "versions": 2, "latest": 2, "aliases": {}}]
    # a cached rerun logs nothing new: the version of the run that computed it stands
    third = api.run(path)
    assert {s["status"] for s in third["stages"]} == {"cached"}
    assert api.models()[0]["versions"] == 2


def test_a_failed_check_blocks_the_promotion_of_its_runs_model(tmp_path: Path, home: Path) -> None:
    path = _pipeline(tmp_path)
    nb = json.loads(path.read_text())
    nb["cells"][-1]["source"] = "mlops.require(accuracy > 0.99, 'accuracy too low')"
    path.write_text(json.dumps(nb))
    run = api.run(path)
    assert run["status"] == "failed"
    result = api.model_promote("iris@1", "champion")
    assert not result["moved"]
    assert "failed" in result["requirements"][0]["note"]


def test_load_model_by_alias_in_a_fresh_process_without_unpickling(
    tmp_path: Path, home: Path, iris: tuple[Any, Any]
) -> None:
    path = _pipeline(tmp_path)
    api.run(path)
    api.run(path, parameters={"C": 0.05})
    api.model_alias("iris@1", "champion")
    code = textwrap.dedent(
        """
        import json, sys
        import pandas as pd
        import skops.io  # its import (sklearn's) may unpickle builtins: not the model's load
        import mlops_jupyter as mlops
        found = []
        sys.addaudithook(lambda event, args: event == "pickle.find_class" and found.append(args))
        model = mlops.load_model("iris@champion")
        X = pd.read_csv("iris.csv").drop(columns="target")
        print(json.dumps({"unpickled": [list(map(str, a)) for a in found],
                          "C": model.C, "predictions": model.predict(X).tolist()}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["unpickled"] == []
    assert out["C"] == 1.0  # version 1, where the alias points; not the newest
    X, y = iris
    expected = LogisticRegression(C=1.0, max_iter=500).fit(X, y).predict(X)
    assert out["predictions"] == expected.tolist()


def test_load_model_with_no_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "none"))
    result = subprocess.run(
        [sys.executable, "-c", "import mlops_jupyter as m; m.load_model('iris@champion')"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no model 'iris@champion': there is no store" in result.stderr
