"""``mlops verify``: the pipeline against the notebook run top to bottom in one kernel.

Real kernels, real papermill, the real ``mlops`` command: exit 0 when the two agree, 1 with a
table naming the stage, the value and the cell when they do not, 2 for bad input.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter import api

MLOPS = str(Path(sys.executable).parent / "mlops")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MakeNotebook = Callable[..., Path]


def verify(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLOPS, "verify", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def verdict(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    found = json.loads(result.stdout)
    assert isinstance(found, dict), result.stdout
    return found


@pytest.mark.parametrize(
    ("folder", "notebook"), [("iris", "iris.ipynb"), ("kale", "diabetes.ipynb")]
)
def test_every_example_computes_what_its_notebook_computes(
    folder: str, notebook: str, tmp_path: Path, home: Path
) -> None:
    work = tmp_path / folder
    shutil.copytree(EXAMPLES / folder, work)
    result = verify(notebook, "--json", cwd=work)
    found = verdict(result)
    assert result.returncode == 0, (found["differences"], result.stderr)
    assert found["agree"] and found["compared"]["value"] > 0
    # the reference ran the whole notebook, outside the project's record of runs
    assert Path(found["reference"]).is_file()
    runs = json.loads(subprocess.check_output([MLOPS, "runs", "--json"], cwd=work, text=True))
    assert [r["origin"] for r in runs] == ["verify"]


CORPUS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("notebook", sorted(p.name for p in CORPUS.glob("*.ipynb")))
def test_every_corpus_notebook_computes_what_it_computes_top_to_bottom(
    notebook: str, tmp_path: Path, home: Path
) -> None:
    # notebooks in the styles people write: textbook pandas cleaning in place, a notebook
    # papermill already ran, files handed between stages, %%mlops cells changing arrays in
    # place, models trained side by side, Kale's Titanic example
    shutil.copy(CORPUS / notebook, tmp_path / notebook)
    result = verify(notebook, "--json", cwd=tmp_path)
    found = verdict(result)
    assert result.returncode == 0, (found["differences"], result.stderr)
    assert sum(found["compared"].values()) > 0


def test_a_parameter_reaches_both_sides(make_notebook: MakeNotebook, home: Path) -> None:
    nb = make_notebook(
        [
            (["parameters"], "n = 2"),
            (["stage:make"], "values = list(range(n))\nprint(len(values))"),
            (["stage:sum"], "total = sum(values)"),
            (["metrics"], "total"),
        ]
    )
    result = verify(nb, "-p", "n=5", "--json", cwd=nb.parent)
    found = verdict(result)
    assert result.returncode == 0, found
    assert found["compared"] == {"value": 1, "metric": 1, "output": 2, "file": 0}
    assert api.show(found["run_id"])["metrics"] == {"total": 10.0}


def test_a_change_the_pipeline_misses_is_named(make_notebook: MakeNotebook, home: Path) -> None:
    # a value made by setup (which every stage runs anew) changed by a setup function: each
    # stage kernel starts from setup's value, the notebook's kernel carries the change on
    nb = make_notebook(
        [
            (["setup"], "config = {'scale': 1}\n\ndef boost():\n    config['scale'] = 10"),
            (["stage:tune"], "boost()"),
            (["stage:report"], "total = 3 * config['scale']\nprint(total)"),
            (["metrics"], "total"),
        ]
    )
    result = verify(nb, cwd=nb.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "DIFFER" in lines[0]
    row = next(line.split() for line in lines if line.startswith("metric"))
    assert row[:4] == ["metric", "report", "total", "3"] and row[4:6] == ["3.0", "30.0"]
    assert any(line.split()[:3] == ["output", "report", "stdout"] for line in lines)
    found = verdict(verify(nb, "--json", cwd=nb.parent))
    assert {(d["kind"], d["stage"], d["name"]) for d in found["differences"]} >= {
        ("metric", "report", "total")
    }


def test_a_skip_cell_that_changes_a_value_is_caught(
    make_notebook: MakeNotebook, home: Path
) -> None:
    # the reference is the whole notebook: a 'skip' cell is not in the pipeline, but it runs there
    nb = make_notebook(
        [
            (["stage:load"], "rows = [3, 1, 2]"),
            (["skip"], "rows = sorted(rows)  # 'just a look'"),
            (["stage:first"], "first = rows[0]"),
            (["metrics"], "first"),
        ]
    )
    found = verdict(verify(nb, "--json", cwd=nb.parent))
    assert not found["agree"]
    assert [
        (d["kind"], d["stage"], d["name"], d["pipeline"], d["notebook"])
        for d in found["differences"]
    ] == [("metric", "first", "first", 3.0, 1.0)]


def test_files_written_agree_when_each_has_its_last_content(
    make_notebook: MakeNotebook, home: Path
) -> None:
    # 'report.txt' is written twice: what counts is its content when the notebook ends
    nb = make_notebook(
        [
            (
                ["stage:make"],
                "rows = [3, 1, 2]\nopen('rows.txt', 'w').write(repr(rows))\n"
                "open('report.txt', 'w').write('draft')",
            ),
            (["stage:report"], "open('report.txt', 'w').write(str(sum(rows)))"),
        ]
    )
    found = verdict(verify(nb, "--json", cwd=nb.parent))
    assert found["agree"], found["differences"]
    assert found["compared"]["file"] == 2
    assert (nb.parent / "report.txt").read_text() == "6"
    # again, every stage cached: the cached stages' files are what is compared
    again = verdict(verify(nb, "--json", cwd=nb.parent))
    assert again["agree"] and again["compared"]["file"] == 2, again


def test_a_file_the_pipeline_writes_differently_is_named(
    make_notebook: MakeNotebook, home: Path
) -> None:
    # a skip cell changes a value only the notebook's kernel carries on into the file
    nb = make_notebook(
        [
            (["stage:load"], "rows = [3, 1, 2]"),
            (["skip"], "rows.append(10)"),
            (["stage:save"], "with open('out/total.txt', 'w') as f:\n    f.write(str(sum(rows)))"),
        ]
    )
    (nb.parent / "out").mkdir()
    found = verdict(verify(nb, "--json", cwd=nb.parent))
    assert not found["agree"]
    files = [d for d in found["differences"] if d["kind"] == "file"]
    assert [(d["stage"], d["name"]) for d in files] == [("save", "out/total.txt")]
    assert files[0]["pipeline"] != files[0]["notebook"] and None not in (
        files[0]["pipeline"],
        files[0]["notebook"],
    )


def test_a_file_only_the_notebook_writes_is_named(make_notebook: MakeNotebook, home: Path) -> None:
    nb = make_notebook(
        [
            (["stage:a"], "x = 1"),
            (["skip"], "open('scratch.txt', 'w').write('a look')"),
        ]
    )
    found = verdict(verify(nb, "--json", cwd=nb.parent))
    assert [(d["kind"], d["stage"], d["name"], d["pipeline"]) for d in found["differences"]] == [
        ("file", "(none)", "scratch.txt", None)
    ]


def test_a_notebook_that_fails_on_its_own_is_bad_input(
    make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook([(["stage:a"], "x = 1"), (["skip"], "raise ValueError('exploration')")])
    result = verify(nb, cwd=nb.parent)
    assert result.returncode == 2
    assert "does not run top to bottom" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_notebook_is_bad_input(tmp_path: Path, home: Path) -> None:
    result = verify("nope.ipynb", cwd=tmp_path)
    assert result.returncode == 2 and "nope.ipynb" in result.stderr
    assert "Traceback" not in result.stderr
