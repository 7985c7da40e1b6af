"""Shared helpers: notebooks are written as plain nbformat-4.5 JSON, the way JupyterLab saves them.

A cell is given as one of:

* ``"source"`` – an untagged code cell;
* ``(tags, source)`` – a code cell with ``metadata.tags``;
* a dict – merged over a default code cell, so any field can be set (``cell_type``, ``id``,
  ``outputs``, ``execution_count``, ``metadata``...); ``"tags"`` is a shorthand for
  ``metadata.tags``, and ``"id": None`` leaves the id out (as nbformat 4.4 did).

Cells without an explicit id get ``c1``, ``c2``... by position, so tests can name them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.compiler.build import build_pipeline
from mlops_jupyter.compiler.model import Pipeline
from mlops_jupyter.compiler.notebook import parse_notebook

CellSpec = str | tuple[Sequence[str], str] | dict[str, Any]


def make_cell(spec: CellSpec, position: int) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "id": f"c{position}",
        "metadata": {},
        "outputs": [],
        "source": "",
    }
    if isinstance(spec, str):
        cell["source"] = spec
    elif isinstance(spec, tuple):
        tags, source = spec
        cell["source"] = source
        if tags:
            cell["metadata"] = {"tags": list(tags)}
    else:
        cell.update(spec)
        if "tags" in spec:  # shorthand: {"tags": [...], "source": ...}
            cell["metadata"] = {**cell["metadata"], "tags": list(cell.pop("tags"))}
    if cell["id"] is None:
        del cell["id"]
    if cell["cell_type"] != "code":
        for key in ("execution_count", "outputs"):
            cell.pop(key, None)
    return cell


def notebook_dict(cells: Iterable[CellSpec], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cells": [make_cell(spec, i) for i, spec in enumerate(cells, start=1)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    data.update(top)
    return data


def write_notebook(path: Path, cells: Iterable[CellSpec], **top: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(notebook_dict(cells, **top), handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    return path


def build(cells: Iterable[CellSpec], path: str = "nb.ipynb", **top: Any) -> Pipeline:
    """Compile in memory: the pure half of the compiler."""
    return build_pipeline(parse_notebook(json.dumps(notebook_dict(cells, **top)), path))


@pytest.fixture
def make_notebook(tmp_path: Path) -> Callable[..., Path]:
    """``make_notebook(cells, name="nb.ipynb", **top_level_fields)`` -> path of the written file."""

    def make(cells: Iterable[CellSpec], name: str = "nb.ipynb", **top: Any) -> Path:
        return write_notebook(tmp_path / name, cells, **top)

    return make


@pytest.fixture(scope="session")
def build_nb() -> Callable[..., Pipeline]:
    """``build_nb(cells, path="nb.ipynb")`` -> Pipeline, without touching the disk."""
    return build


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own ``.mlops`` store (``MLOPS_HOME``, seen by subprocesses too); the notebooks
    live in ``tmp_path`` beside it."""
    path = tmp_path / "home"
    monkeypatch.setenv("MLOPS_HOME", str(path))
    return path
