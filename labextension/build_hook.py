"""The wheel's build function (pyproject.toml, hatch-jupyter-builder): the JupyterLab extension
is built when Node.js is there; without it, one already built is used, or it is left out with one
line.

Most users of a source install want the CLI and the library; without this, a machine with no
Node.js failed the whole install in a long traceback from `jlpm`. A build that *does* start and
fails (a TypeScript error) still fails the install: CI, which has Node.js, must see it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

NODE_MAJOR = 20  # what labextension/package.json's toolchain (@jupyter/builder) needs
BUILT = ("mlops_jupyter/labextension/static/style.js", "mlops_jupyter/labextension/package.json")


def _node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    try:
        found = subprocess.run(
            [node, "-p", "process.versions.node.split('.')[0]"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return int(found.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def build(target_name: str, version: str, **kwargs: Any) -> None:
    """``npm_builder`` when Node.js >= 20 is on PATH; otherwise a note and no extension."""
    major = _node_major()
    if major is None or major < NODE_MAJOR:
        found = "none on PATH" if major is None else f"found {major}"
        if all(Path(path).exists() for path in BUILT):
            what = "the JupyterLab extension already built in mlops_jupyter/labextension/ is used"
        else:
            what = "the JupyterLab extension was not built"
        # pip shows a build's output only with -v, so README's install section says this too
        print(
            f"mlops-jupyter: {what} (building it needs Node.js >= {NODE_MAJOR}, {found}); the "
            f"CLI, library and %mlops magics are installed. To build the extension, install "
            f"Node.js >= {NODE_MAJOR} and run pip install again.",
            file=sys.stderr,
            flush=True,
        )
        return
    from hatch_jupyter_builder import npm_builder

    npm_builder(target_name, version, **kwargs)
    missing = [path for path in BUILT if not Path(path).exists()]
    if missing:  # the build ran and said nothing, yet did not make the extension
        raise RuntimeError(f"the labextension build did not produce {', '.join(missing)}")
