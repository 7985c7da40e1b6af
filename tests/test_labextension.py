"""The JupyterLab extension comes with the package: installed and enabled, no build step.

(`pip install` runs hatch-jupyter-builder, which builds labextension/ into the wheel's
share/jupyter/labextensions/.) Its behaviour is tested in a browser in tests/browser/, and its
TypeScript units with `jlpm test` in labextension/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

NAME = "mlops-jupyter-labextension"
SOURCE = Path(__file__).resolve().parents[1] / "labextension"


def test_jupyter_labextension_list_shows_it_enabled() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # no colours
    line = next((row for row in text.splitlines() if NAME in row), "")
    assert "enabled" in line and "OK" in line, text


def test_the_installed_build_is_this_source() -> None:
    from jupyter_core.paths import jupyter_path

    installed = next(
        Path(folder) / NAME
        for folder in jupyter_path("labextensions")
        if (Path(folder) / NAME / "package.json").exists()
    )
    built = json.loads((installed / "package.json").read_text(encoding="utf-8"))
    source = json.loads((SOURCE / "package.json").read_text(encoding="utf-8"))
    assert built["name"] == source["name"] == NAME
    assert built["version"] == source["version"]
    assert "_build" in built["jupyterlab"]  # a federated build, loadable without a lab build
    assert list((installed / "static").glob("remoteEntry.*.js"))
