#!/usr/bin/env python3
"""Generate a large, realistic, tagged notebook for the compile benchmark, deterministically.

Default shape: 1,000 cells = an intro, a ``parameters`` cell, a ``setup`` cell, 100 stages of
~10 cells each (one markdown cell and 8-9 code cells) and a ``metrics`` cell. The code is small
but real Python a data scientist writes: literal assignments, comprehensions, function
definitions, dict/list method calls, a helper class from setup, f-strings, and reads of names
produced by 1-3 earlier stages, so the compiler has a real data-flow graph to resolve.
The notebook also runs top to bottom (about a second) if you want to check that.

    python benchmarks/gen_notebook.py -o /tmp/big.ipynb            # 1,000 cells, 100 stages
    python benchmarks/gen_notebook.py --stages 20 -o /tmp/small.ipynb

Same arguments -> byte-identical file (a seeded ``random.Random``, no clocks, no uuids).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

HEADER_CELLS = 3  # intro markdown, parameters, setup
FOOTER_CELLS = 1  # metrics


def _cell(kind: str, cell_id: str, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    lines = source.strip("\n").splitlines(keepends=True)
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": cell_id,
        "metadata": {"tags": tags} if tags else {},
        "source": lines,
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


PARAMETERS = """
# Pipeline parameters
n_rows = 200
groups = 5
scale = 1.5
threshold = 0.25
label = "benchmark"
"""

SETUP = '''
import itertools
import math
import statistics
from collections import Counter, defaultdict


class Summary:
    """Running summary of a stream of numbers."""

    def __init__(self, name):
        self.name = name
        self.values = []

    @property
    def count(self):
        return len(self.values)

    def add(self, value):
        self.values.append(float(value))

    def add_many(self, values):
        for value in values:
            self.add(value)

    def mean(self):
        return statistics.fmean(self.values) if self.values else 0.0


def clip(value, low=0.0, high=1000.0):
    return max(low, min(high, value))
'''


def _stage_cells(
    k: int, ups: list[int], rng: random.Random, n_code: int, last: bool
) -> list[dict[str, Any]]:
    """One stage: a markdown cell and ``n_code`` (8 or 9) code cells."""
    s = f"{k:03d}"
    name = f"s{s}"
    cells = [
        _cell(
            "markdown",
            f"md-{s}",
            f"### Stage {name}\n\nBuilds `vals_{s}` and `stats_{s}`"
            + (
                " from " + ", ".join(f"`vals_{u:03d}`" for u in ups)
                if ups
                else " from the parameters"
            )
            + ".",
        )
    ]
    mult, offset = rng.randint(3, 31), rng.randint(0, 96)
    code: list[str] = []
    code.append(
        f"# {name}: synthetic rows\n"
        f'rows_{s} = [{{"id": i, "value": (i * {mult} + {offset}) % 97, "group": i % groups}} for i in range(n_rows)]'
    )
    if ups:
        zipped = ", ".join(f"vals_{u:03d}" for u in ups)
        code.append(
            f"upstream_{s} = [sum(parts) / {len(ups)} for parts in zip({zipped})]\n"
            f"upstream_{s} = [clip(v) for v in upstream_{s}] or [0.0]"
        )
    else:
        code.append(f"upstream_{s} = [float(i % 7) * scale for i in range(n_rows)]")
    code.append(
        f"def score_{s}(row, weight={round(rng.uniform(0.5, 2.0), 3)}):\n"
        f'    """Weighted score of one row of {name}."""\n'
        f'    bonus = math.log1p(row["id"]) * threshold\n'
        f'    return row["value"] * weight * scale + bonus'
    )
    code.append(
        f'scores_{s} = [score_{s}(r) for r in rows_{s} if r["group"] != {rng.randint(0, 4)}]\n'
        f"top_{s} = sorted(scores_{s}, reverse=True)[:{rng.randint(3, 12)}]"
    )
    code.append(
        f"buckets_{s} = defaultdict(list)\n"
        f"for r in rows_{s}:\n"
        f'    buckets_{s}[r["group"]].append(r["value"])\n'
        f"buckets_{s}.pop({rng.randint(0, 4)}, None)\n"
        f"sizes_{s} = Counter({{g: len(v) for g, v in buckets_{s}.items()}})"
    )
    code.append(
        f'summary_{s} = Summary("{name}")\n'
        f"summary_{s}.add_many(scores_{s})\n"
        f"summary_{s}.add(sum(upstream_{s}) / max(len(upstream_{s}), 1))"
    )
    extra = ""
    if len(ups) > 1:
        extra = f'\nstats_{s}["upstream_mean"] = stats_{ups[-1]:03d}["mean"]'
    code.append(
        f"stats_{s} = {{\n"
        f'    "mean": summary_{s}.mean(),\n'
        f'    "n": summary_{s}.count,\n'
        f'    "groups": sorted(buckets_{s}),\n'
        f'    "largest": sizes_{s}.most_common(1)[0][0] if sizes_{s} else None,\n'
        f"}}" + extra
    )
    code.append(
        f"vals_{s} = [\n"
        f"    clip((a + b) / 2)\n"
        f"    for a, b in zip(itertools.cycle(top_{s}), upstream_{s})\n"
        f"][:n_rows]"
    )
    tail = f"print(f\"{name} [{{label}}]: mean={{stats_{s}['mean']:.2f}} n={{stats_{s}['n']}}\")"
    if last:
        tail = f'final_score = round(stats_{s}["mean"], 4)\n' + tail
    code.append(tail)
    if n_code == 8:  # a shorter stage: its last two code cells are one cell
        code[-2:] = ["\n".join(code[-2:])]
    cells.extend(
        _cell("code", f"c-{s}-{j}", src, [f"stage:{name}"] if j == 0 else None)
        for j, src in enumerate(code)
    )
    return cells


def generate(stages: int = 100, cells: int = 1000, seed: int = 1234) -> dict[str, Any]:
    """The notebook as a dict (nbformat 4.5). ``cells`` must allow 9 or 10 cells per stage."""
    stage_cells = cells - HEADER_CELLS - FOOTER_CELLS
    if not 9 * stages <= stage_cells <= 10 * stages:
        raise ValueError(f"{cells} cells cannot hold {stages} stages of 9-10 cells each")
    short = 10 * stages - stage_cells  # stages with one cell fewer (8 code cells)
    rng = random.Random(seed)
    out = [
        _cell(
            "markdown",
            "intro",
            f"# Compile benchmark: {stages} stages, {cells} cells\n\n"
            "Generated by `benchmarks/gen_notebook.py`. Each stage reads values from up to three "
            "earlier stages.",
        ),
        _cell("code", "parameters", PARAMETERS, ["parameters"]),
        _cell("code", "setup", SETUP, ["setup"]),
    ]
    short_stages = set(range(0, stages, max(1, stages // short))[:short]) if short else set()
    for k in range(stages):
        ups = sorted(rng.sample(range(k), min(k, rng.randint(1, 3)))) if k else []
        n_code = 8 if k in short_stages else 9
        out.extend(_stage_cells(k, ups, rng, n_code, last=k == stages - 1))
    out.append(_cell("code", "metrics", "final_score", ["metrics"]))
    assert len(out) == cells, (len(out), cells)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(path: str | Path, stages: int = 100, cells: int = 1000, seed: int = 1234) -> Path:
    path = Path(path)
    path.write_text(
        json.dumps(generate(stages, cells, seed), indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default="big.ipynb")
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--cells", type=int, default=None, help="default: 10 per stage")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    cells = args.cells if args.cells is not None else 10 * args.stages
    path = write(args.output, args.stages, cells, args.seed)
    print(f"wrote {path} ({cells} cells, {args.stages} stages)")


if __name__ == "__main__":
    main()
