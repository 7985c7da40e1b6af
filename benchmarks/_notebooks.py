"""Small tagged notebooks for the run benchmark, written with ``json`` (no nbformat import).

Each pipeline is written twice from the same cell sources:

- as a tagged pipeline notebook (a ``parameters`` cell ``n = 10``, then one cell per stage tagged
  ``stage:NAME``), which ``mlops run`` splits into stages;
- as one plain notebook with the very same cells (the ``parameters`` tag kept, no stage tags),
  which papermill runs top to bottom in one kernel.

nbformat 4.5: every cell has an ``id``; tags live in ``cell.metadata.tags``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _cell(index: int, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"cell-{index:04d}",
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source.strip("\n").splitlines(keepends=True),
    }


def notebook(cells: list[tuple[str, list[str] | None]]) -> dict[str, Any]:
    """A notebook from ``(source, tags)`` pairs."""
    return {
        "cells": [_cell(i, src, tags) for i, (src, tags) in enumerate(cells)],
        "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(path: Path, cells: list[tuple[str, list[str] | None]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook(cells), indent=1) + "\n")
    return path


PARAMETERS = "n = 10"


def diamond_stages(join_extra: str = "") -> list[tuple[str, str]]:
    """load -> left, right -> join: four trivial stages. ``join_extra`` edits the last one."""
    join = "total = sum(left_values) + sum(right_values)\nprint(total)"
    if join_extra:
        join += "\n" + join_extra
    return [
        ("load", "data = list(range(n))"),
        ("left", "left_values = [x * 2 for x in data]"),
        ("right", "right_values = [x + 1 for x in data]"),
        ("join", join),
    ]


def chain_stages(length: int) -> list[tuple[str, str]]:
    """``s01 .. sNN``: each stage reads the previous stage's value."""
    stages = [("s01", "v01 = n + 1")]
    for i in range(2, length + 1):
        stages.append((f"s{i:02d}", f"v{i:02d} = v{i - 1:02d} + {i}"))
    return stages


def write_pair(folder: Path, name: str, stages: list[tuple[str, str]]) -> tuple[Path, Path]:
    """``folder/NAME.ipynb`` (tagged stages) and ``folder/NAME_single.ipynb`` (same cells, one notebook)."""
    params: tuple[str, list[str] | None] = (PARAMETERS, ["parameters"])
    tagged = write(
        folder / f"{name}.ipynb", [params, *[(src, [f"stage:{s}"]) for s, src in stages]]
    )
    single = write(folder / f"{name}_single.ipynb", [params, *[(src, None) for _, src in stages]])
    return tagged, single
