"""Stage membership, specified by the shared table ``tests/cases/stages.json``.

The JupyterLab extension colours cells by stage with its own walk over the cells
(``labextension/src/stages.ts``); its unit tests run this same table, so the colours a user sees
are the stages the compiler builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter import api
from mlops_jupyter.errors import CompileError

TABLE = Path(__file__).parents[1] / "cases" / "stages.json"
CASES = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]


def write_notebook(path: Path, cells: list[dict[str, Any]]) -> Path:
    nb_cells = []
    for cell in cells:
        entry: dict[str, Any] = {
            "cell_type": cell["type"],
            "id": cell["id"],
            "metadata": {"tags": cell["tags"]} if cell["tags"] else {},
            "source": cell["source"],
        }
        if cell["type"] == "code":
            entry.update(execution_count=None, outputs=[])
        nb_cells.append(entry)
    notebook = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def test_the_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert set(case) in ({"name", "cells", "expect"}, {"name", "cells", "error"}), case["name"]
        for cell in case["cells"]:
            assert set(cell) == {"id", "type", "tags", "source"}
        if "expect" in case:
            assert set(case["expect"]) == {"stages", "setup", "parameters"}
        else:
            assert set(case["error"]) == {"message", "cell"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_compiler_agrees(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", case["cells"])
    if "error" in case:
        with pytest.raises(CompileError) as caught:
            api.explain(path)
        assert caught.value.message == case["error"]["message"]
        assert caught.value.cell == case["error"]["cell"]
        return
    explained = api.explain(path)
    ids = [cell["id"] for cell in case["cells"]]
    assert {s["name"]: s["cells"] for s in explained["stages"]} == case["expect"]["stages"]
    assert [ids[i - 1] for i in explained["setup_cells"]] == case["expect"]["setup"]
    parameter_ids = list(dict.fromkeys(p["id"] for p in explained["parameter_cells"].values()))
    assert parameter_ids == case["expect"]["parameters"]
