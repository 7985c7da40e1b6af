"""The inline views: SVG/HTML/text renderers (pure) and the ipywidgets models over a real store.

Widget state is read from the models themselves (the HTML widget's ``value`` is what the
frontend draws); runs come from real pipeline runs or real SQLite rows, never from stubs.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.store.db import Store
from mlops_jupyter.views import charts, tables
from mlops_jupyter.views.graph import STATUS_COLORS, layout, run_html, run_text, stage_graph_svg
from mlops_jupyter.views.runstate import RunState, StageView

pytest.importorskip("ipywidgets")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def statuses(markup: str) -> dict[str, str]:
    return dict(re.findall(r'data-stage="([^"]+)" data-status="([^"]+)"', markup))


def iris_events() -> list[dict[str, Any]]:
    after = {
        "load": [],
        "split": ["load"],
        "train_forest": ["split"],
        "train_logreg": ["split"],
        "evaluate": ["train_forest", "train_logreg"],
    }
    return [
        {
            "event": "run",
            "run_id": "r1",
            "pipeline": "iris",
            "version": "41d12cbbe4e9aa",
            "stages": list(after),
            "after": after,
        }
    ]


# -- the stage graph


def test_layout_puts_every_stage_right_of_its_upstreams() -> None:
    state = RunState()
    state.apply(iris_events()[0])
    where = layout(list(state.stages.values()))
    assert where["load"] == (0, 0)
    assert where["split"][0] == 1
    assert {where["train_forest"][0], where["train_logreg"][0]} == {2}
    assert {where["train_forest"][1], where["train_logreg"][1]} == {0, 1}
    assert where["evaluate"][0] == 3


def test_layout_accepts_any_stage_order() -> None:
    stages = [StageView("c", ["b"]), StageView("b", ["a"]), StageView("a")]
    where = layout(stages)
    assert [where[n][0] for n in "abc"] == [0, 1, 2]


def test_graph_colours_follow_live_events_and_a_failure_skips_the_rest() -> None:
    state = RunState()
    events = [
        *iris_events(),
        {"event": "stage", "stage": "load", "status": "cached", "duration_s": None, "error": None},
        {
            "event": "stage",
            "stage": "split",
            "status": "running",
            "duration_s": None,
            "error": None,
        },
    ]
    for event in events:
        state.apply(event, now=100.0)
    svg = stage_graph_svg(state, now=102.5)
    assert statuses(svg) == {
        "load": "cached",
        "split": "running",
        "train_forest": "pending",
        "train_logreg": "pending",
        "evaluate": "pending",
    }
    assert "running · 2.50s" in svg, "a running stage shows its time so far"
    for status in ("cached", "running", "pending"):
        fill, stroke, _ = STATUS_COLORS[status]
        assert f'fill="{fill}" stroke="{stroke}"' in svg
    assert svg.count('class="mlops-edge"') == 5
    assert 'data-from="split" data-to="train_forest"' in svg

    state.apply(
        {"event": "stage", "stage": "split", "status": "failed", "duration_s": 0.4, "error": "boom"}
    )
    state.apply({"event": "end", "status": "failed"})
    svg = stage_graph_svg(state)
    assert statuses(svg)["split"] == "failed"
    assert statuses(svg)["evaluate"] == "skipped"
    assert STATUS_COLORS["failed"][1] in svg
    html = run_html(state)
    assert "boom" in html and 'data-status="failed"' in html
    assert "split" in run_text(state) and "boom" in run_text(state)


def test_names_and_errors_are_escaped() -> None:
    state = RunState()
    state.apply({"event": "run", "run_id": "r", "stages": ["a"], "after": {}})
    state.apply(
        {"event": "stage", "stage": "a", "status": "failed", "duration_s": 1, "error": "<b>x</b>"}
    )
    state.apply({"event": "end", "status": "failed"})
    assert "<b>x</b>" not in run_html(state)
    assert "&lt;b&gt;x&lt;/b&gt;" in run_html(state)


# -- metrics: best values, direction, downsampling


DIRECTIONS = json.loads(
    (Path(__file__).resolve().parents[1] / "cases" / "metric_direction.json").read_text()
)["cases"]


@pytest.mark.parametrize(("key", "lower"), DIRECTIONS)  # the panel's lowerIsBetter runs it too
def test_direction_of_a_metric(key: str, lower: bool) -> None:
    assert tables.lower_is_better(key) is lower


def test_minimize_overrides_the_name() -> None:
    assert tables.lower_is_better("latency_p99") is True
    assert tables.lower_is_better("score", minimize=["score"]) is True


def test_metrics_table_highlights_the_best_per_metric() -> None:
    rows = [
        {"run_id": "r3", "status": "succeeded", "parameters": {"lr": 0.3, "seed": 1},
         "metrics": {"accuracy": 0.91, "loss": 0.30}},
        {"run_id": "r2", "status": "succeeded", "parameters": {"lr": 0.2, "seed": 1},
         "metrics": {"accuracy": 0.95, "loss": 0.35}},
        {"run_id": "r1", "status": "failed", "parameters": {"lr": 0.1, "seed": 1},
         "metrics": {"accuracy": float("nan"), "loss": 0.20}},
    ]  # fmt: skip
    keys = tables.metric_keys(rows, None)
    assert keys == ["accuracy", "loss"]
    html = tables.metrics_table_html(rows, keys)
    best = re.findall(r'<td class="mlops-best" data-key="(\w+)"[^>]*>([^<]*)</td>', html)
    assert sorted(best) == [("accuracy", "0.95"), ("loss", "0.2")]
    assert "accuracy ↑" in html and "loss ↓" in html
    assert ">lr<" in html and ">seed<" not in html, "only parameters that vary get a column"
    text = tables.metrics_table_text(rows, keys)
    assert "0.95*" in text and "0.2*" in text and "NaN" in text


def test_ties_are_all_best() -> None:
    rows = [{"run_id": f"r{i}", "status": "succeeded", "metrics": {"acc": 1.0}} for i in range(3)]
    assert tables.best_rows(rows, "acc", lower=False) == {0, 1, 2}


def test_downsample_keeps_at_most_n_points_and_the_extremes() -> None:
    rng = random.Random(7)
    n = 100_000
    ys = [math.sin(i / 900) + rng.gauss(0, 0.05) for i in range(n)]
    ys[31_337] = 9.0  # one spike up, one down: a plain stride would miss both
    ys[77_777] = -9.0
    xs = [float(i) for i in range(n)]
    started = time.perf_counter()
    keep = charts.downsample(xs, ys, 600)
    took = time.perf_counter() - started
    assert len(keep) <= 600
    assert keep == sorted(set(keep))
    assert {0, n - 1, 31_337, 77_777} <= set(keep)
    assert took < 0.5, f"downsampling 100,000 points took {took:.2f}s"


@pytest.mark.parametrize("n", [0, 1, 3, 600, 601, 1000])
def test_downsample_edges(n: int) -> None:
    ys = [float((i * 37) % 11) for i in range(n)]
    keep = charts.downsample([float(i) for i in range(n)], ys, 600)
    assert len(keep) <= 600
    if n <= 600:
        assert keep == list(range(n))
    if n:
        assert ys.index(max(ys)) in keep or max(ys) in [ys[i] for i in keep]
        assert min(ys) in [ys[i] for i in keep]


def test_chart_draws_the_downsampled_line_and_marks_the_best() -> None:
    ys = [1 / (1 + i) for i in range(100_000)]
    ys[500] = float("nan")
    svg = charts.line_chart_svg("loss", list(range(100_000)), ys, lower_is_better=True)
    points = int(re.search(r'data-points="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert 2 < points <= 2 * (340 - 64)
    assert "1 non-finite left out" in svg
    assert 'class="mlops-best"' in svg
    assert f"best {charts._fmt(min(y for y in ys if y == y))}" in svg
    assert ">99,999<" in svg, "steps are labelled as whole numbers"


def test_chart_of_nothing_finite() -> None:
    svg = charts.line_chart_svg("loss", [0, 1], [float("nan"), float("inf")])
    assert "no finite values" in svg


# -- data versions


def test_data_table_badges_and_schema_diff() -> None:
    versions = [  # newest first, as api.data lists them
        {"path": "data/train.csv", "hash": "c" * 64, "size": 2_400_000, "rows": 1200,
         "schema": {"a": "int64", "b": "float64", "c": "object"}, "time": "t3"},
        {"path": "data/train.csv", "hash": "b" * 64, "size": 2_000_000, "rows": 1000,
         "schema": {"a": "int64", "b": "int64", "d": "object"}, "time": "t2"},
        {"path": "data/train.csv", "hash": "b" * 64, "size": 2_000_000, "rows": 1000,
         "schema": {"a": "int64", "b": "int64", "d": "object"}, "time": "t1"},
    ]  # fmt: skip
    html = tables.data_table_html(versions)
    badges = re.findall(r'data-badge="(\w+)"', html)
    assert badges == ["changed", "unchanged", "new"]
    assert "cccccccccccc<" in html and "c" * 13 not in html.split("title=")[0]
    assert "2.4 MB" in html and "1200 × 3" in html
    diff = html[html.index("mlops-schema-diff") :]
    assert "+ c (object)" in diff and "- d (object)" in diff and "b: int64 → float64" in diff
    text = tables.data_table_text(versions)
    assert "changed" in text and "+ c (object)" in text


def test_a_version_that_brings_its_own_changed_flag_and_diff_is_trusted() -> None:
    versions = [
        {"path": "x.parquet", "hash": "a" * 64, "size": 10, "columns": ["a"], "changed": True,
         "schema_diff": {"added": ["a"], "removed": [], "changed": {}}},
    ]  # fmt: skip
    html = tables.data_table_html(versions)
    assert 'data-badge="changed"' in html and "+ a" in html


# -- the widgets, over a real store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".mlops"
    monkeypatch.setenv("MLOPS_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def record_run(
    home: Path, parameters: dict[str, Any], values: list[tuple[str, int | None, float]]
) -> str:
    with Store(home) as store:
        run_id, _ = store.start_run(
            pipeline="train",
            version="v1",
            notebook=None,
            compiled=str(home / "nowhere"),
            parameters={k: (v, type(v).__name__) for k, v in parameters.items()},
            stages=["fit"],
            environment={},
        )
        store.add_metrics(run_id, "fit", values)
        store.update_stage(run_id, "fit", status="succeeded", duration_s=1.0)
        store.finish_run(run_id, "succeeded")
        time.sleep(0.01)  # runs are ordered by start time
        return run_id


def test_show_metrics_over_runs_and_over_steps(home: Path) -> None:
    from mlops_jupyter.ipython.widgets import show_metrics

    for lr, acc in ((0.1, 0.80), (0.2, 0.93), (0.3, 0.88)):
        loss = [("loss", step, 1 / (1 + step) + lr) for step in range(20_000)]
        record_run(home, {"lr": lr}, [*loss, ("accuracy", None, acc)])
    view = show_metrics(runs=3)
    model_html = view.children[1].value  # what the frontend draws
    best = dict(
        re.findall(r'<td class="mlops-best" data-key="(\w+)"[^>]*>([^<]*)</td>', model_html)
    )
    assert best == {"accuracy": "0.93", "loss": "0.1001"}
    charts_found = re.findall(r'data-metric="(\w+)"', model_html)
    assert charts_found == ["accuracy", "loss"]
    assert "20,000 steps" in model_html, "the newest run's loss curve, over its steps"
    assert "last 3 runs" in model_html, "accuracy was logged once a run: over runs"
    for points in re.findall(r'data-points="(\d+)"', model_html):
        assert int(points) <= 2 * (340 - 64)
    bundle = view._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    assert bundle["text/html"] == view.html() and "mlops-metrics" in bundle["text/html"]
    assert "0.93*" in bundle["text/plain"]


def test_show_metrics_one_key_and_bad_runs(home: Path) -> None:
    from mlops_jupyter.errors import MlopsError
    from mlops_jupyter.ipython.widgets import show_metrics

    record_run(home, {"lr": 0.1}, [("accuracy", None, 0.5), ("f1", None, 0.4)])
    view = show_metrics("f1", runs=5)
    assert re.findall(r'data-metric="(\w+)"', view.html()) == ["f1"]
    with pytest.raises(MlopsError, match="at least 1"):
        show_metrics(runs=0)


def test_show_metrics_with_no_runs(home: Path) -> None:
    from mlops_jupyter.errors import MlopsError
    from mlops_jupyter.ipython.widgets import show_metrics

    with pytest.raises(MlopsError, match="no runs yet"):
        show_metrics()  # no store at all: the api's own message
    Store(home).close()
    view = show_metrics()
    assert "no runs yet" in view.html() and view.text() == "no runs yet"


def test_show_data_reads_the_data_versions(home: Path, tmp_path: Path) -> None:
    import mlops_jupyter as mlops
    from mlops_jupyter.ipython.widgets import show_data

    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    mlops.track_data(str(table))
    table.write_text("a,b,c\n1,2.5,x\n3,4,y\n5,6,z\n")
    mlops.track_data(str(table))
    mlops.flush()
    view = show_data()
    html = view.children[1].value
    assert re.findall(r'data-badge="(\w+)"', html) == ["changed", "new"]
    diff = html[html.index("mlops-schema-diff") :]
    assert "+ c (" in diff and "b: int64 → float64" in diff and "rows: 2 → 3" in diff
    assert ">table.csv<" in html, "paths inside the current folder are shown relative"
    assert "3 × 3" in html and "mean 4.167" in html, "shape, with the profile on hover"
    bundle = view._repr_mimebundle_()
    assert {WIDGET_MIME, "text/html", "text/plain"} <= set(bundle)


def test_show_models_draws_versions_by_metrics_with_aliases(home: Path) -> None:
    pytest.importorskip("skops")
    import numpy as np

    import mlops_jupyter as mlops
    from mlops_jupyter.ipython.widgets import show_models

    mlops.end_run()  # a run an earlier test of this process left open logs into its store
    for accuracy, loss in ((0.9, 0.3), (0.95, 0.2), (0.8, 0.5)):
        mlops.log_metrics({"accuracy": accuracy, "loss": loss})
        mlops.log_model(np.full(3, accuracy), "weights")
        mlops.end_run()
    api.model_alias("weights@2", "champion")
    view = show_models("weights")
    html = view.children[1].value
    assert re.findall(r'data-version="(\d+)"', html) == ["3", "2", "1"]
    assert html.count('class="mlops-alias"') == 1 and ">champion<" in html
    row = html[html.index('data-version="2"') : html.index('data-version="1"')]
    assert row.count(tables.BEST) == 2, "version 2 holds the best accuracy and the best loss"
    assert "weights@2  champion" in view.text()
    assert {WIDGET_MIME, "text/html", "text/plain"} <= set(view._repr_mimebundle_())
    assert show_models("weights").models[0]["aliases"] == {"champion": 2}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A real two-branch pipeline run (real kernels), shared by the show_run tests."""
    folder = tmp_path_factory.mktemp("graph")
    notebook = write_notebook(
        folder / "graph.ipynb",
        [
            (["parameters"], "n = 4"),
            (["stage:make"], "xs = list(range(n))"),
            (["stage:total"], "total = sum(xs)"),
            (["stage:biggest"], "biggest = max(xs)"),
            (["stage:report"], "ratio = total / biggest"),
            (["metrics"], "ratio"),
        ],
    )
    previous = os.environ.get("MLOPS_HOME")
    os.environ["MLOPS_HOME"] = str(folder / ".mlops")
    try:
        run = api.run(notebook, {"n": "5"})
    finally:
        if previous is None:
            del os.environ["MLOPS_HOME"]
        else:
            os.environ["MLOPS_HOME"] = previous
    assert run["status"] == "succeeded", run
    return folder / ".mlops", run


def test_show_run_draws_a_finished_run_with_its_edges(
    finished_run: tuple[Path, dict[str, Any]],
) -> None:
    from mlops_jupyter.ipython.widgets import show_run

    home, run = finished_run
    view = show_run(where=home.parent)  # the newest run of that store
    markup = view.children[0].value
    assert statuses(markup) == {s: "succeeded" for s in ("make", "total", "biggest", "report")}
    assert 'data-from="total" data-to="report"' in markup
    assert 'data-from="biggest" data-to="report"' in markup
    assert "ratio=2.5" in markup and "n=5" in markup
    bundle = view._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == view.model_id
    assert statuses(bundle["text/html"]) == statuses(markup)
    assert bundle["text/plain"].startswith(f"run {run['run_id']}")
    assert "report" in bundle["text/plain"]


def test_show_run_follows_a_run_another_process_is_running(home: Path) -> None:
    from mlops_jupyter.ipython.widgets import show_run

    with Store(home) as store:
        run_id, _ = store.start_run(
            pipeline="p", version="v", notebook=None, compiled=str(home), parameters={},
            stages=["a", "b"], environment={},
        )  # fmt: skip
        store.update_stage(run_id, "a", status="running", started_at=time.time())
        view = show_run(run_id)
        assert statuses(view.children[0].value) == {"a": "running", "b": "pending"}
        store.update_stage(run_id, "a", status="succeeded", duration_s=0.5)
        store.update_stage(run_id, "b", status="cached")
        store.finish_run(run_id, "succeeded")
    deadline = time.time() + 10
    while not view.state.finished and time.time() < deadline:
        time.sleep(0.1)
    assert statuses(view.children[0].value) == {"a": "succeeded", "b": "cached"}


def test_a_live_run_view_redraws_on_each_event() -> None:
    from mlops_jupyter.ipython.widgets import RunView

    view = RunView()
    assert "starting" in view.children[0].value
    seen = []
    for event in [
        *iris_events(),
        {"event": "stage", "stage": "load", "status": "running", "duration_s": None, "error": None},
        {
            "event": "stage",
            "stage": "load",
            "status": "succeeded",
            "duration_s": 1.2,
            "error": None,
        },
    ]:
        view.listener(event)
        seen.append(statuses(view.children[0].value).get("load"))
    assert seen == ["pending", "running", "succeeded"]


def test_importing_the_package_does_not_import_ipywidgets_or_ipython() -> None:
    code = (
        "import sys, mlops_jupyter\n"
        "heavy = [m for m in ('ipywidgets', 'IPython', 'nbformat', 'papermill') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from mlops_jupyter import show_run, show_metrics, show_data\n"
        "assert 'ipywidgets' in sys.modules and show_run.__module__ == 'mlops_jupyter.ipython.widgets'\n"
        "assert 'papermill' not in sys.modules and 'nbformat' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_runs_table_sizes_its_columns_to_their_content() -> None:
    from mlops_jupyter.views.text import runs_table

    def run(run_id: str, status: str, pipeline: str, took: float | None) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "status": status,
            "pipeline": pipeline,
            "version": "0123456789abcdef",
            "started_at": "2026-12-02T00:00:00.000Z",
            "duration_s": took,
        }

    long_name = "quarterly-revenue-forecast-with-holiday-adjustments"
    runs = [
        run("20261202-000000-aaaaaa", "succeeded", "p", 1.25),
        run("20261202-000001-bbbbbb", "interrupted", long_name, 12345.5),
        run("20261202-000002-cccccc", "running", "mid-sized-name", None),
    ]
    lines = runs_table(runs).splitlines()
    header = lines[0]
    for title, values in [
        ("status", ["succeeded", "interrupted", "running"]),
        ("pipeline", ["p", long_name, "mid-sized-name"]),
        ("version", ["0123456789ab"] * 3),
        ("started", ["2026-12-02T00:00:00.000Z"] * 3),
    ]:
        column = header.index(title)
        for line, value in zip(lines[1:], values, strict=True):
            assert f"{line} "[column:].startswith(value + " "), (title, line)
            assert line[column - 1] == " ", "a space before every column"
    # the time column is right-aligned under its title, wherever the long name pushed it
    end = header.index("time") + len("time")
    assert [line[:end].split()[-1] for line in lines[1:3]] == ["1.2s", "12345.5s"]
    assert all(len(line) <= end for line in lines)
    # and short content gives narrow columns (the old fixed widths made every line 105 wide)
    narrow = runs_table([run("r1", "failed", "p", 0.5)]).splitlines()
    assert max(map(len, narrow)) < 70, narrow
