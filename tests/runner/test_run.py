"""The run loop with real kernels and a real store: what runs, what is cached, what is recorded.

Every test has its own store (``MLOPS_HOME``); notebooks are small so a kernel costs ~1 s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.runner import run as run_module
from mlops_jupyter.runner.run import RunOptions, run_pipeline
from mlops_jupyter.store import objects

pytestmark = pytest.mark.usefixtures("home")

MakeNotebook = Callable[..., Path]


def run(notebook: Path, **options: Any) -> dict[str, Any]:
    return run_pipeline(notebook, RunOptions(**options))


def statuses(run: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["stages"]}


def stage(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in run["stages"] if s["name"] == name)


@pytest.fixture
def executors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the executors the runner starts (an executor is what starts kernels)."""
    started: list[str] = []
    real = run_module.load_executor

    def load_executor(name: str, **options: Any) -> Any:
        started.append(name)
        return real(name, **options)

    monkeypatch.setattr(run_module, "load_executor", load_executor)
    return started


def test_stages_run_in_the_notebook_folder_with_typed_parameters(
    make_notebook: MakeNotebook, tmp_path: Path, home: Path
) -> None:
    (tmp_path / "data.txt").write_text("1 2 3")
    nb = make_notebook(
        [
            (["parameters"], "n = 3\nlr = 0.5\nflag = False\nlabel = 'a'"),
            (["stage:load"], "rows = [float(v) for v in open('data.txt').read().split()]"),
            (
                ["stage:train"],
                "assert type(n) is int and type(lr) is float, (n, lr)\n"
                "assert flag is True and label == '7', (flag, label)\n"
                "score = sum(rows) * n * lr",
            ),
            (["metrics"], "score"),
        ]
    )
    source = nb.read_bytes()
    result = run(nb, parameters={"n": "4", "lr": "0.25", "flag": "true", "label": "7"})

    assert result["status"] == "succeeded", result
    assert result["parameters"] == {"n": 4, "lr": 0.25, "flag": True, "label": "7"}
    assert result["metrics"] == {"score": 6.0}
    assert statuses(result) == {"load": "succeeded", "train": "succeeded"}
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == home / "runs"
    for entry in result["stages"]:
        assert entry["notebook"] == str(run_dir / f"{entry['name']}.ipynb")
        executed = json.loads(Path(entry["notebook"]).read_text())
        assert all(c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code")
        assert entry["error"] is None
        assert entry["duration_s"] >= 0
    assert nb.read_bytes() == source  # the source notebook is never written
    assert json.loads((run_dir / "run.json").read_text()) == result


def test_unchanged_stages_are_cached_without_starting_a_kernel(
    make_notebook: MakeNotebook, executors: list[str]
) -> None:
    nb = make_notebook(
        [
            (["stage:a"], "x = list(range(5))"),
            (["stage:b"], "total = sum(x)"),
            (["metrics"], "total"),
        ]
    )
    first = run(nb)
    assert statuses(first) == {"a": "succeeded", "b": "succeeded"}
    assert executors == ["local"]

    second = run(nb)
    assert second["status"] == "succeeded"
    assert statuses(second) == {"a": "cached", "b": "cached"}
    assert executors == ["local"], "a fully cached run starts no executor, so no kernel"
    assert list(Path(second["run_dir"]).glob("*.ipynb")) == []
    assert second["metrics"] == {"total": 10.0}  # metrics come back with the cached outputs
    for name in ("a", "b"):
        # a cached stage points at the notebook of the run that computed it
        assert stage(second, name)["notebook"] == stage(first, name)["notebook"]
        assert stage(second, name)["cache_key"] == stage(first, name)["cache_key"]

    # the cache hit restores a's outputs: a forced b reads x without a running again
    third = run(nb, force=["b"])
    assert statuses(third) == {"a": "cached", "b": "succeeded"}
    assert third["metrics"] == {"total": 10.0}
    assert stage(third, "b")["notebook"] == str(Path(third["run_dir"]) / "b.ipynb")


def test_an_upstream_that_reruns_with_equal_values_leaves_downstream_cached(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["parameters"], "n = 3"),
            (["stage:parity"], "odd = n % 2"),
            (["stage:report"], "shown = 'odd' if odd else 'even'"),
        ]
    )
    assert statuses(run(nb)) == {"parity": "succeeded", "report": "succeeded"}
    again = run(nb, parameters={"n": "5"})  # parity reruns, and hands on an equal value
    assert statuses(again) == {"parity": "succeeded", "report": "cached"}


def test_an_equal_set_is_the_same_input_in_every_process(make_notebook: MakeNotebook) -> None:
    # a set of strings pickles in an order that follows the kernel's hash seed, so its stored
    # bytes differ from run to run; the cache key takes inputs by content fingerprint
    nb = make_notebook(
        [
            (["stage:words"], "words = {f'w{i}' for i in range(50)}"),
            (["stage:count"], "count = len(words)"),
        ]
    )
    run(nb)
    again = run(nb, force=["words"])
    assert statuses(again) == {"words": "succeeded", "count": "cached"}


def test_changing_a_parameter_reruns_only_the_stages_that_read_it(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["parameters"], "n = 2\nm = 10"),
            (["stage:left"], "a = n + 1"),
            (["stage:right"], "b = m * 2"),
            (["stage:join"], "c = a + b"),
            (["metrics"], "c"),
        ]
    )
    assert run(nb)["metrics"] == {"c": 23.0}
    again = run(nb, parameters={"m": "11"})
    assert statuses(again) == {"left": "cached", "right": "succeeded", "join": "succeeded"}
    assert again["metrics"] == {"c": 25.0}


def test_editing_only_the_last_stage_reruns_only_it(
    make_notebook: MakeNotebook, executors: list[str]
) -> None:
    cells: list[Any] = [
        (["stage:a"], "x = 1"),
        (["stage:b"], "y = x + 1"),
        (["stage:c"], "z = y * 10"),
        (["metrics"], "z"),
    ]
    nb = make_notebook(cells)
    first = run(nb)
    assert first["metrics"] == {"z": 20.0}

    cells[2] = (["stage:c"], "z = y * 100")
    make_notebook(cells)
    edited = run(nb)
    assert statuses(edited) == {"a": "cached", "b": "cached", "c": "succeeded"}
    assert edited["metrics"] == {"z": 200.0}
    assert edited["version"] != first["version"]

    # outputs and execution counts saved in the notebook are not code: nothing reruns
    cells[0] = {
        "tags": ["stage:a"],
        "source": "x = 1",
        "execution_count": 7,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "hello\n"}],
    }
    make_notebook(cells)
    count = len(executors)
    saved = run(nb)
    assert set(statuses(saved).values()) == {"cached"}
    assert saved["version"] == edited["version"]
    assert len(executors) == count


def test_no_cache_and_the_cache_off_tag_bypass_the_cache(make_notebook: MakeNotebook) -> None:
    nb = make_notebook(
        [
            (["stage:a"], "x = 1"),
            (["stage:fresh", "cache:off"], "y = x + 1"),
            (["stage:c"], "z = y * 2"),
        ]
    )
    assert statuses(run(nb)) == {"a": "succeeded", "fresh": "succeeded", "c": "succeeded"}
    # cache:off always runs; its equal output keeps what follows cached
    assert statuses(run(nb)) == {"a": "cached", "fresh": "succeeded", "c": "cached"}
    assert statuses(run(nb, no_cache=True)) == {
        "a": "succeeded",
        "fresh": "succeeded",
        "c": "succeeded",
    }


def test_a_failing_stage_fails_the_run_and_a_fixed_notebook_resumes_from_the_cache(
    make_notebook: MakeNotebook,
) -> None:
    cells: list[Any] = [
        {"cell_type": "markdown", "source": "# Title"},
        (["stage:a"], "x = 2"),
        (["stage:b"], "y = x * 3\nz = y / 0"),
        (["stage:c"], "w = z + 1"),
        (["metrics"], "w"),
    ]
    nb = make_notebook(cells)
    failed = run(nb)
    assert failed["status"] == "failed"
    assert statuses(failed) == {"a": "succeeded", "b": "failed", "c": "skipped"}
    error = stage(failed, "b")["error"]
    # where the user can fix it: the SOURCE notebook's cell position, id and line
    assert (
        error
        == "stage 'b' failed at nb.ipynb cell 3 (id c3), line 2: ZeroDivisionError: division by zero"
    )
    assert "'b'" in stage(failed, "c")["error"]
    assert stage(failed, "c")["notebook"] is None
    assert failed["metrics"] == {}

    executed = json.loads(Path(stage(failed, "b")["notebook"]).read_text())
    errors = [
        out
        for cell in executed["cells"]
        for out in cell.get("outputs", [])
        if out["output_type"] == "error"
    ]
    assert [e["ename"] for e in errors] == ["ZeroDivisionError"]
    assert errors[0]["traceback"]  # the executed notebook keeps the traceback

    cells[2] = (["stage:b"], "y = x * 3\nz = y / 2")
    make_notebook(cells)
    fixed = run(nb)
    assert fixed["status"] == "succeeded"
    assert statuses(fixed) == {"a": "cached", "b": "succeeded", "c": "succeeded"}
    assert fixed["metrics"] == {"w": 4.0}


def test_stages_and_from_run_a_subgraph_on_cached_upstream_values(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["stage:a"], "x = 1"),
            (["stage:b"], "y = x + 1"),
            (["stage:c"], "z = y + 1"),
            (["metrics"], "z"),
            (["stage:side"], "q = x * 5"),
        ]
    )
    assert set(statuses(run(nb)).values()) == {"succeeded"}

    only_c = run(nb, stages=["c"], no_cache=True)
    assert statuses(only_c) == {"a": "cached", "b": "cached", "c": "succeeded"}
    assert only_c["metrics"] == {"z": 3.0}

    from_b = run(nb, from_stage="b", no_cache=True)
    assert statuses(from_b) == {"a": "cached", "b": "succeeded", "c": "succeeded"}


def test_a_value_that_cannot_be_pickled_fails_naming_the_variable(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["stage:make"], "gen = (i for i in range(3))"),
            (["stage:use"], "total = sum(gen)"),
        ]
    )
    result = run(nb)
    assert result["status"] == "failed"
    assert statuses(result) == {"make": "failed", "use": "skipped"}
    error = stage(result, "make")["error"]
    # variable, type, producing stage and the stage that needed it
    assert "stage 'make' cannot pass 'gen' (a generator) to 'use'" in error


def test_a_value_that_cannot_be_pickled_names_the_cell_that_assigns_it(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["stage:make"], "n = 1"),
            "gen = (i for i in range(3))",
            (["stage:use"], "total = sum(gen)"),
        ]
    )
    error = stage(run(nb), "make")["error"]
    assert "cell 2" in error and "c2" in error


def test_retries_rerun_a_failing_stage_and_a_timeout_stops_a_slow_one(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (
                ["stage:flaky", "retries:2"],
                "import pathlib\n"
                "marks = pathlib.Path('attempts')\n"
                "marks.mkdir(exist_ok=True)\n"
                "attempt = len(list(marks.iterdir())) + 1\n"
                "(marks / str(attempt)).touch()\n"
                "assert attempt >= 2, 'the first attempt fails'",
            ),
            (["stage:slow", "timeout:1"], "import time\ntime.sleep(60)"),
        ]
    )
    result = run(nb, jobs=2)
    assert result["status"] == "failed"
    flaky, slow = stage(result, "flaky"), stage(result, "slow")
    assert (flaky["status"], flaky["attempts"]) == ("succeeded", 2)
    assert slow["status"] == "failed"
    assert "timed out" in slow["error"]
    assert slow["duration_s"] < 30


def test_braces_in_the_project_folder_are_not_read_as_a_template(
    make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill formats the paths it is given with the parameters: a folder named like a
    format string, holding the store, must be run as named (it failed, or ran another path)."""
    nb = make_notebook(
        [(["parameters"], "x = 1"), (["stage:a"], "y = x + 1"), (["stage:b"], "print(y * 2)")],
        name="br {x} {{y}}/nb.ipynb",
    )
    monkeypatch.setenv("MLOPS_HOME", str(nb.parent / ".mlops"))
    result = run(nb)
    assert statuses(result) == {"a": "succeeded", "b": "succeeded"}
    assert all("br {x} {{y}}" in s["notebook"] for s in result["stages"])
    # and what it computed there is what the notebook computes run top to bottom
    from mlops_jupyter import api

    checked = api.verify(nb)
    assert checked["agree"] is True, checked["differences"]
    assert checked["compared"]["value"] == 1, checked["compared"]  # y, handed from a to b


def test_an_orchestrator_that_retries_tasks_itself_turns_the_stage_retries_off(
    make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exported Airflow/KFP task sets MLOPS_NO_RETRIES: its orchestrator retries the task,
    so the runner must not retry inside it too."""
    nb = make_notebook([(["stage:flaky", "retries:2"], "raise RuntimeError('always fails')")])
    monkeypatch.setenv("MLOPS_NO_RETRIES", "1")
    flaky = stage(run(nb), "flaky")
    assert (flaky["status"], flaky["attempts"]) == ("failed", 1)


def test_a_stage_that_times_out_or_kills_its_kernel_keeps_its_executed_notebook(
    make_notebook: MakeNotebook,
) -> None:
    nb = make_notebook(
        [
            (["stage:slow", "timeout:1"], "print('working')\nimport time\ntime.sleep(60)"),
            (["stage:crash"], "print('working')\nimport os\nos._exit(3)"),
        ]
    )
    result = run(nb, jobs=2)
    assert statuses(result) == {"slow": "failed", "crash": "failed"}
    assert "Kernel died" in stage(result, "crash")["error"]
    for entry in result["stages"]:
        assert "working" in Path(entry["notebook"]).read_text()


def test_a_timeout_names_the_source_cell_that_ran_too_long(make_notebook: MakeNotebook) -> None:
    nb = make_notebook(
        [
            (["stage:slow", "timeout:1"], "x = 1"),
            "import time\ntime.sleep(60)",
        ]
    )
    assert "nb.ipynb cell 2 (id c2)" in stage(run(nb), "slow")["error"]


def test_a_damaged_value_is_repaired_by_running_without_the_cache(
    make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook([(["stage:a"], "x = list(range(5))"), (["stage:b"], "total = sum(x)")])
    first = run(nb)
    ref = stage_outputs(home, first["run_id"], "a")["x"]
    damaged = objects.object_path(home / "objects", ref["hash"])
    damaged.write_bytes(damaged.read_bytes()[:-3])
    assert statuses(run(nb, no_cache=True)) == {"a": "succeeded", "b": "succeeded"}


def stage_outputs(home: Path, run_id: str, name: str) -> dict[str, Any]:
    from mlops_jupyter.store.db import Store

    with Store(home) as store:
        row = store.db.execute(
            "SELECT outputs FROM stage_runs WHERE run_id = ? AND stage = ?", (run_id, name)
        ).fetchone()
    return dict(json.loads(row["outputs"]))


def test_the_same_stage_code_in_another_folder_is_not_taken_from_the_cache(
    make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    cells = [(["stage:load"], "v = float(open('data.txt').read())"), (["metrics"], "v")]
    for folder, value in (("one", "1"), ("two", "2")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.txt").write_text(value)
    assert run(make_notebook(cells, name="one/first.ipynb"))["metrics"] == {"v": 1.0}
    assert run(make_notebook(cells, name="two/second.ipynb"))["metrics"] == {"v": 2.0}


def test_bad_parameters_or_stage_names_start_no_run(
    make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook([(["parameters"], "n = 1"), (["stage:a"], "x = n")])
    with pytest.raises(MlopsError, match="parameter 'n' expects an int"):
        run(nb, parameters={"n": "one"})
    with pytest.raises(MlopsError, match="unknown parameter 'm'"):
        run(nb, parameters={"m": "1"})
    with pytest.raises(MlopsError, match="no stage 'b'"):
        run(nb, force=["b"])
    with pytest.raises(MlopsError, match="no stage 'b'"):
        run(nb, stages=["b"])
    assert not (home / "runs").exists() or list((home / "runs").iterdir()) == []


def test_the_run_folder_keeps_a_log_of_every_state_change(make_notebook: MakeNotebook) -> None:
    result = run(make_notebook([(["stage:a"], "x = 1"), (["stage:b"], "y = x + 1")]))
    lines = (Path(result["run_dir"]) / "events.log").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert {e["run_id"] for e in events} == {result["run_id"]}
    assert events[0]["event"] == "run" and events[0]["stages"] == ["a", "b"]
    assert [(e["stage"], e["status"]) for e in events if e["event"] == "stage"] == [
        ("a", "running"),
        ("a", "succeeded"),
        ("b", "running"),
        ("b", "succeeded"),
    ]
    assert events[-1] == {**events[-1], "event": "end", "status": "succeeded"}


@pytest.mark.parametrize(
    "stop",
    [
        "import sys\nsys.exit(0)",
        "import sys\nsys.exit()",
        "raise SystemExit",
        "import os\nos._exit(0)",
    ],
    ids=["sys.exit(0)", "sys.exit()", "raise SystemExit", "os._exit(0)"],
)
def test_a_stage_that_stops_before_its_last_cell_fails_and_is_not_cached(
    make_notebook: MakeNotebook, stop: str
) -> None:
    # nothing downstream reads its values, so no missing output gives it away (issue 9)
    nb = make_notebook(
        [
            (["stage:early"], f"x = 1\n{stop}\ny = 2"),
            "print('the last cell')",
            (["stage:other"], "z = 3"),
        ]
    )
    for other in ("succeeded", "cached"):  # never cached itself: the rerun stops the same way
        result = run(nb)
        assert result["status"] == "failed"
        assert statuses(result) == {"early": "failed", "other": other}
        error = stage(result, "early")["error"]
        assert "stage 'early' stopped before its last cell" in error, error
        assert "nb.ipynb cell 1 (id c1)" in error, error


def test_stages_after_a_cache_off_upstream_take_only_its_outputs_for_this_very_key(
    make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    # two notebooks of one name (one pipeline name) in two folders, with other code: `--stages`
    # in one must never hand it the other's values (issue 9: it took the newest run of any
    # notebook with the pipeline's name)
    def notebook(folder: str, start: int) -> Path:
        return make_notebook(
            [
                (["parameters"], "n = 1"),
                (["stage:fresh", "cache:off"], f"x = {start} + n"),
                (["stage:use"], "y = x * 10"),
                (["metrics"], "y"),
            ],
            name=f"{folder}/nb.ipynb",
        )

    one, two = notebook("one", 0), notebook("two", 100)
    first = run(one)
    assert first["metrics"] == {"y": 10.0}
    assert run(two)["metrics"] == {"y": 1010.0}  # the newest run of pipeline 'nb'

    only = run(one, stages=["use"], no_cache=True)
    assert statuses(only) == {"fresh": "cached", "use": "succeeded"}
    assert only["metrics"] == {"y": 10.0}
    # the reused upstream points at the run that computed it
    assert stage(only, "fresh")["notebook"] == stage(first, "fresh")["notebook"]
    from_use = run(one, from_stage="use", no_cache=True)
    assert statuses(from_use) == {"fresh": "cached", "use": "succeeded"}
    assert from_use["metrics"] == {"y": 10.0}

    # other parameters: no run of `fresh` with this key, so it runs again, and says so
    again = run(one, stages=["use"], no_cache=True, parameters={"n": "2"})
    assert statuses(again) == {"fresh": "succeeded", "use": "succeeded"}
    assert again["metrics"] == {"y": 20.0}
    assert "ran again" in stage(again, "fresh")["error"]
    assert stage(again, "use")["error"] is None


# -- the cache key covers the code a stage imports (issue 9)


def test_editing_a_local_module_two_imports_away_reruns_the_stage(
    make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    (tmp_path / "helpers.py").write_text("from deep import VALUE\n\ndef f():\n    return VALUE\n")
    nb = make_notebook([(["stage:a"], "import helpers\nv = helpers.f()"), (["metrics"], "v")])
    assert_an_edit_reruns(nb, tmp_path / "deep.py", "v")


def assert_an_edit_reruns(nb: Path, module: Path, metric: str) -> None:
    """``module`` holding ``VALUE = 1``: cached while unchanged, run again once edited."""
    module.write_text("VALUE = 1\n")
    assert run(nb)["metrics"] == {metric: 1.0}
    assert statuses(run(nb)) == {"a": "cached"}
    module.write_text("VALUE = 333\n")  # another size: the kernel's bytecode cache sees it too
    again = run(nb)
    assert statuses(again) == {"a": "succeeded"}
    assert again["metrics"] == {metric: 333.0}


def test_editing_a_module_on_pythonpath_reruns_the_stage(
    make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(shared))
    nb = make_notebook([(["stage:a"], "import common\nk = common.VALUE"), (["metrics"], "k")])
    assert_an_edit_reruns(nb, shared / "common.py", "k")


def test_a_stage_kernel_does_not_import_from_the_folder_mlops_was_started_in(
    make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as in Jupyter: the kernel finds modules in the notebook's folder, PYTHONPATH and
    # site-packages; a module beside the shell that started `mlops run` is none of those
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "onlyhere.py").write_text("X = 1\n")
    monkeypatch.chdir(elsewhere)
    nb = make_notebook([(["stage:a"], "import onlyhere\nx = onlyhere.X")], name="nb/nb.ipynb")
    result = run(nb)
    assert statuses(result) == {"a": "failed"}
    assert "ModuleNotFoundError" in stage(result, "a")["error"]
