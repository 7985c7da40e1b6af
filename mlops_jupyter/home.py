"""Where the project's ``.mlops/`` folder lives (the store, compiled pipelines, runs)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MlopsError

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


def check_home(home: Path) -> None:
    """Refuse a store folder that cannot be one, saying which file is in the way and what to do."""
    if home.exists() and not home.is_dir():
        raise MlopsError(
            f"the store {home} is a file, not a folder.",
            hint="Move or rename that file (mlops keeps its runs in a folder of that name), "
            "or set MLOPS_HOME to the folder the runs should go to.",
        )
    database = home / "mlops.db"
    if database.exists() and not database.is_file():
        raise MlopsError(
            f"the store's database {database} is not a file.",
            hint="Move it aside; the next `mlops run` starts a new database there.",
        )
