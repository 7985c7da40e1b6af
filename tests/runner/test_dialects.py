"""papermill's and Kale's notebooks, run: the real ``mlops`` command against papermill itself.

papermill executes a notebook top to bottom (the reference); these tests check that what a
pipeline computes from a papermill-executed notebook, and from a notebook in Kale's dialect, is
what papermill computes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import papermill
from conftest import write_notebook

MLOPS = str(Path(sys.executable).parent / "mlops")
TITANIC = Path(__file__).parents[1] / "notebooks" / "kale_titanic.ipynb"
TITANIC_METRICS = ["acc_log", "acc_gaussian", "acc_decision_tree", "best_score", "N_PASSENGERS"]


def mlops_run(notebook: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [MLOPS, "run", str(notebook), *args, "--json"],
        capture_output=True,
        text=True,
        cwd=notebook.parent,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded", run
    return run


def stage_output(run: dict[str, Any], stage: str) -> str:
    """What the stage printed, from its executed notebook."""
    entry = next(s for s in run["stages"] if s["name"] == stage)
    executed = json.loads(Path(entry["notebook"]).read_text(encoding="utf-8"))
    return "".join(
        "".join(out.get("text", ""))
        for cell in executed["cells"]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )


def execute(source: Path, target: Path, **parameters: Any) -> dict[str, Any]:
    """papermill, as a user runs it: the executed notebook written to ``target``."""
    papermill.execute_notebook(
        str(source), str(target), parameters=parameters, cwd=str(source.parent), progress_bar=False
    )
    return json.loads(target.read_text(encoding="utf-8"))


def test_a_notebook_papermill_ran_runs_with_the_new_values(tmp_path: Path, home: Path) -> None:
    source = write_notebook(
        tmp_path / "greet.ipynb",
        [
            (["parameters"], "msg = 'Hi'\ntimes = 2"),
            (["stage:say"], "said = ' '.join([msg] * times)\nprint(said)"),
            (["stage:count"], "length = len(said)"),
            (["metrics"], "length, times"),
        ],
    )
    executed = execute(source, tmp_path / "greet-out.ipynb", msg="Hello")
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"]["tags"]]
    assert len(injected) == 1 and "Hello" in "".join(injected[0]["source"])
    out = tmp_path / "greet-out.ipynb"

    run = mlops_run(out, "-p", "msg=Bye")
    assert run["parameters"] == {"msg": "Bye", "times": 2}
    assert run["metrics"] == {"length": len("Bye Bye"), "times": 2.0}
    assert stage_output(run, "say") == "Bye Bye\n"

    # without -p the parameters cell's defaults stand, not what papermill injected last time
    run = mlops_run(out)
    assert run["parameters"] == {"msg": "Hi", "times": 2}
    assert run["metrics"] == {"length": len("Hi Hi"), "times": 2.0}


def test_without_a_parameters_cell_the_injected_values_are_the_defaults(
    tmp_path: Path, home: Path
) -> None:
    # papermill injects at the top when no cell is tagged 'parameters'; run again without
    # parameters it runs that cell as it is: the injected values are the notebook's values
    source = write_notebook(
        tmp_path / "bare.ipynb",
        [(["stage:say"], "length = len(msg)\nprint(msg)"), (["metrics"], "length")],
    )
    executed = execute(source, tmp_path / "bare-out.ipynb", msg="Hello")
    assert executed["cells"][0]["metadata"]["tags"] == ["injected-parameters"]
    out = tmp_path / "bare-out.ipynb"
    assert mlops_run(out)["metrics"] == {"length": 5.0}
    run = mlops_run(out, "-p", "msg=Bye")
    assert run["metrics"] == {"length": 3.0}
    assert stage_output(run, "say") == "Bye\n"


def printed_metrics(executed: dict[str, Any]) -> dict[str, float]:
    """The values the pipeline-metrics cell printed when papermill ran the notebook."""
    cell = next(c for c in executed["cells"] if "pipeline-metrics" in c["metadata"].get("tags", []))
    lines = "".join("".join(o["text"]) for o in cell["outputs"] if o["name"] == "stdout").split()
    return dict(zip(TITANIC_METRICS, map(float, lines), strict=True))


def test_kales_titanic_shape_runs_and_computes_what_papermill_computes(
    tmp_path: Path, home: Path
) -> None:
    notebook = tmp_path / "kale_titanic.ipynb"
    shutil.copy(TITANIC, notebook)
    run = mlops_run(notebook, "-j", "2")
    assert {s["name"]: s["status"] for s in run["stages"]} == dict.fromkeys(
        [
            "loaddata",
            "datapreprocessing",
            "featureengineering",
            "logisticregression",
            "naivebayes",
            "decisiontree",
            "results",
        ],
        "succeeded",
    )
    assert set(run["metrics"]) == set(TITANIC_METRICS)
    assert run["metrics"]["N_PASSENGERS"] == 400  # a parameter: its value in this run
    assert 40 < run["metrics"]["best_score"] <= 100

    reference = execute(notebook, tmp_path / "reference.ipynb")
    assert run["metrics"] == printed_metrics(reference)
    # the cells after the skip cells ran in their block: the imputed mean age and the features
    # the models saw are the notebook's
    printed = "".join(
        "".join(o.get("text", "")) for c in reference["cells"] for o in c.get("outputs", [])
    )
    for stage in ("datapreprocessing", "featureengineering", "results"):
        for line in stage_output(run, stage).splitlines():
            assert line in printed, (stage, line)
    assert "mean age" in stage_output(run, "datapreprocessing")
    assert "features" in stage_output(run, "featureengineering")

    # a parameter passed with -p reaches the stages and the metric that names it
    smaller = mlops_run(notebook, "-p", "N_PASSENGERS=240")
    assert smaller["metrics"]["N_PASSENGERS"] == 240
    # papermill knows no 'pipeline-parameters' tag (it would inject above it, to be overridden):
    # the reference is the notebook with that value written in
    edited = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in edited["cells"] if c.get("id") == "parameters")
    cell["source"] = "".join(cell["source"]).replace("N_PASSENGERS = 400", "N_PASSENGERS = 240")
    (tmp_path / "edited.ipynb").write_text(json.dumps(edited), encoding="utf-8")
    reference = execute(tmp_path / "edited.ipynb", tmp_path / "reference-240.ipynb")
    assert smaller["metrics"] == printed_metrics(reference)
