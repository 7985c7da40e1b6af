"""Where the project's ``.mlops/`` folder lives (the store, compiled pipelines, runs)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_DIR = ".mlops"


def find_home(start: str | Path) -> Path:
    """``$MLOPS_HOME``; else the nearest ancestor holding ``.mlops/``; else the git root's;
    else ``.mlops/`` beside ``start`` (a notebook or a folder)."""
    env = os.environ.get("MLOPS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / HOME_DIR).is_dir():
            return folder / HOME_DIR
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder / HOME_DIR
    return here / HOME_DIR
