"""The venvs of the orchestrators an export is checked against, built on first use.

Airflow and kfp must not go into the project's venv (Airflow brings ~130 packages; kfp pins
``requests`` older than the Jupyter stack's), so each lives in a venv of its own at the repo
root. ``.ci/run`` builds them beside the project's venv to save time; a checkout that has not
(the README's test command alone) gets them built here, once, the first time a test needs one.
``MLOPS_SKIP_SIDE_VENVS=1`` skips those tests instead (no network, say).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILDS = {  # name -> (what must import, the shell command run at the repo root)
    "airflow": (
        "airflow.models.dagbag",
        "python3 -m venv .venv-airflow && .venv-airflow/bin/pip install -q --only-binary :all: "
        "apache-airflow-core apache-airflow-task-sdk apache-airflow-providers-standard",
    ),
    "kfp": (
        "kfp, mlops_jupyter",
        'python3 -m venv .venv-kfp && HATCH_BUILD_NO_HOOKS=true .venv-kfp/bin/pip install -q -e ".[kfp]"',
    ),
}
_found: dict[str, Path] = {}


def _works(python: Path, module: str) -> bool:
    if not python.is_file():
        return False
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def side_python(name: str) -> Path:
    """The Python of the ``name`` venv (``.venv-<name>``), built now if it is missing or broken."""
    if name in _found:
        return _found[name]
    module, command = BUILDS[name]
    python = REPO / f".venv-{name}" / "bin" / "python"
    if not _works(python, module):
        if os.environ.get("MLOPS_SKIP_SIDE_VENVS") == "1":
            pytest.skip(f"no {name} venv at {python.parent.parent} (MLOPS_SKIP_SIDE_VENVS=1)")
        shutil.rmtree(python.parent.parent, ignore_errors=True)
        built = subprocess.run(command, shell=True, cwd=REPO, capture_output=True, text=True)
        if built.returncode != 0 or not _works(python, module):
            pytest.fail(
                f"could not build the {name} venv with `{command}` (run at {REPO}):\n"
                f"{built.stderr[-3000:]}\nSet MLOPS_SKIP_SIDE_VENVS=1 to skip these tests.",
                pytrace=False,
            )
    _found[name] = python
    return python
