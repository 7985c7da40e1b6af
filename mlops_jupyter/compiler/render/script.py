"""The standalone ``pipeline.py``: a thin entry point into the same runner ``mlops run`` uses.

What the pipeline is (its name, source notebook, parameters and stages) is written as literal
assignments, each value through :func:`~..render.literal`: the docstring is fixed text, so no
default, file name or stage name can close it, and reading the file runs nothing it holds.
"""

from __future__ import annotations

from ..._version import __version__
from ..model import Pipeline
from . import literal

_HEAD = '''#!/usr/bin/env python3
"""A pipeline compiled by mlops-jupyter from a notebook: NOTEBOOK, PARAMETERS and STAGES below.

Run it from anywhere (needs only mlops-jupyter installed); it is `mlops run` on this folder:

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

The runner reads pipeline.json beside this file; the values below are for people to read.
"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

'''

_MAIN = """
if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
"""


def _table(name: str, comment: str, rows: list[tuple[object, object]]) -> str:
    """``NAME = {key: value, ...}``, one entry a line, keys and values as literals."""
    if not rows:
        return f"{name} = {{}}  # {comment}\n"
    body = "".join(f"    {literal(key)}: {literal(value)},\n" for key, value in rows)
    return f"{name} = {{  # {comment}\n{body}}}\n"


def render_script(pipeline: Pipeline) -> str:
    header = "".join(
        f"{name} = {literal(value)}\n"
        for name, value in [
            ("PIPELINE", pipeline.name),
            ("VERSION", pipeline.version),
            ("COMPILER", f"mlops-jupyter {__version__}"),
            ("NOTEBOOK", pipeline.notebook),
        ]
    )
    parameters = _table(
        "PARAMETERS",
        "name: [type, default]",
        [(p.name, [p.type, p.default]) for p in pipeline.parameters.values()],
    )
    stages = _table(
        "STAGES",
        "in notebook order: name: the stages it runs after",
        [(s.name, list(s.after)) for s in pipeline.stages],
    )
    return _HEAD + header + parameters + stages + _MAIN
