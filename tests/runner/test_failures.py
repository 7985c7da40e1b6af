"""A failed stage's message says what failed, at the source notebook's cell and line, also when
the failure is one IPython reports without raising (a line magic's UsageError). Real runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_notebook

from mlops_jupyter import api


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    return tmp_path / ".mlops"


def stage_error(path: Path) -> str:
    run = api.run(path)
    assert run["status"] == "failed"
    [stage] = run["stages"]
    return str(stage["error"])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            "x = 1\n%nosuchmagic 1\ny = 2",
            "stage 'one' failed at nb.ipynb cell 1 (id c1), line 2: "
            "UsageError: Line magic function `%nosuchmagic` not found. (in %nosuchmagic 1)",
            id="unknown magic",
        ),
        pytest.param(
            "x = 1\n\n%timeit -z 1\ny = 2",
            "stage 'one' failed at nb.ipynb cell 1 (id c1), line 3: "
            "UsageError: option -z not recognized",
            id="bad option",
        ),
    ],
)
def test_a_failing_line_magic_is_named_with_its_error(
    tmp_path: Path, lines: str, expected: str
) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [(["stage:one"], lines)])
    assert stage_error(path).startswith(expected)


def test_a_magic_in_a_later_cell_of_the_stage_gets_that_cells_line(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "nb.ipynb",
        [(["stage:one"], "x = 1"), "y = 2\n%timeit -n 1 -r 1 pass\n%bogus_magic"],
    )
    assert stage_error(path) == (
        "stage 'one' failed at nb.ipynb cell 2 (id c2), line 3: "
        "UsageError: Line magic function `%bogus_magic` not found. (in %bogus_magic)"
    )


def test_an_exception_from_a_magic_keeps_its_own_name(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", [(["stage:one"], "%load_ext no_such_module_x")])
    assert stage_error(path) == (
        "stage 'one' failed at nb.ipynb cell 1 (id c1), line 1: "
        "ModuleNotFoundError: No module named 'no_such_module_x'"
    )
