"""Where the project's ``.mlops/`` folder lives (the store, compiled pipelines, runs)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_DIR = ".mlops"


def find_home(start: str | Path) -> Path:
    """``$MLOPS_HOME``; else the nearest ancestor holding ``.mlops/``; else the git root's;
    else ``.mlops/`` beside ``start`` (a notebook or a folder).

    Inside a git repository the search stops at its root: a stray ``.mlops`` in some folder
    above the project (``/tmp``, the home folder) must not capture the project's runs.
    """
    env = os.environ.get("MLOPS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    ancestors = (here, *here.parents)
    root = next((folder for folder in ancestors if (folder / ".git").exists()), None)
    for folder in ancestors:
        if (folder / HOME_DIR).is_dir():
            return folder / HOME_DIR
        if folder == root:
            return root / HOME_DIR
    return here / HOME_DIR
