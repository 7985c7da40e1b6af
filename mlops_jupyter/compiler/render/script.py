"""The standalone ``pipeline.py``: a thin entry point into the same runner ``mlops run`` uses."""

from __future__ import annotations

from ..._version import __version__
from ..model import Pipeline

_TEMPLATE = '''#!/usr/bin/env python3
"""Pipeline {name!r}, version {version}, compiled by mlops-jupyter {compiler} from {notebook}.

Run it from anywhere (needs only mlops-jupyter installed):

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

Parameters:
{parameters}
Stages, in order:
{stages}
"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
'''


def render_script(pipeline: Pipeline) -> str:
    parameters = (
        "".join(f"    {p.name} ({p.type}) = {p.default!r}\n" for p in pipeline.parameters.values())
        or "    (none)\n"
    )
    stages = "".join(
        f"    {s.name}" + (f"  (after {', '.join(s.after)})" if s.after else "") + "\n"
        for s in pipeline.stages
    )
    return _TEMPLATE.format(
        name=pipeline.name,
        version=pipeline.version,
        compiler=__version__,
        notebook=pipeline.notebook,
        parameters=parameters,
        stages=stages,
    )
