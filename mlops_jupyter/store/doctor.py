"""``mlops doctor``: what is wrong with a store, and what to do about each thing; changes nothing
that is not changed by any read (a run whose process died is recorded as interrupted).

A *problem* needs doing something (exit 1); a *note* is worth knowing and harmless.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..home import check_home
from . import objects
from .db import Store

# A folder in runs/ younger than this may be a run whose record is being written.
YOUNG_SECONDS = 60
_RUN_ID = re.compile(r"\A\d{8}-\d{6}-[0-9a-f]{6}\Z")


def finding(
    check: str, problem: str, fix: str, examples: list[str] | None = None, severity: str = "problem"
) -> dict[str, Any]:
    return {
        "check": check,
        "severity": severity,
        "problem": problem,
        "fix": fix,
        "examples": list(examples or [])[:5],
    }


def check(home: Path) -> list[dict[str, Any]]:
    """The findings for the store at ``home``; none when it is healthy."""
    try:
        check_home(home)
    except MlopsError as exc:
        return [finding("store", exc.message, exc.hint or "")]
    database = home / "mlops.db"
    if not database.exists():
        return []  # nothing has run yet: nothing to be wrong
    damage = _integrity(database)
    if damage:
        return [damage]
    with Store(home) as store:
        found = _missing_objects(store)
        found += _missing_models(store)
        found += _leftovers(store)
        found += _stray_run_folders(store)
    return found


def _integrity(database: Path) -> dict[str, Any] | None:
    fix = (
        f"Move it aside (`mv {database} {database}.broken`); the next `mlops run` starts a new "
        "database (the runs' folders and values stay; the old records may be recovered from the "
        "moved file with `sqlite3 FILE .recover`)."
    )
    try:
        db = sqlite3.connect(database, timeout=10)  # only read: integrity_check writes nothing
        try:
            rows = [row[0] for row in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return finding("database", f"{database} is not a readable SQLite database ({exc}).", fix)
    if rows != ["ok"]:
        return finding("database", f"{database} is damaged (PRAGMA integrity_check).", fix, rows)
    return None


def _missing_objects(store: Store) -> list[dict[str, Any]]:
    """Objects a run's record or a cache entry names that are not in ``objects/``."""
    in_runs: list[str] = []
    for row in store.db.execute(
        "SELECT run_id, stage, outputs, files FROM stage_runs"
        " WHERE outputs IS NOT NULL OR files IS NOT NULL"
    ):
        keys = _keys(row["outputs"], row["files"])
        gone = [k for k in keys if not objects.exists(store.objects, k)]
        if gone:
            in_runs.append(f"run {row['run_id']} stage '{row['stage']}': {len(gone)} missing")
    for row in store.db.execute("SELECT run_id, name, hash FROM artifacts WHERE hash IS NOT NULL"):
        if not objects.exists(store.objects, row["hash"]):
            in_runs.append(f"run {row['run_id']} artifact '{row['name']}': missing")
    in_cache = 0
    for row in store.db.execute("SELECT outputs, files FROM cache"):
        keys = _keys(row["outputs"], row["files"])
        if any(not objects.exists(store.objects, k) for k in keys):
            in_cache += 1
    found = []
    if in_runs:
        found.append(
            finding(
                "objects",
                f"{len(in_runs)} stage records or artifacts name values missing from "
                f"{store.objects}.",
                "Those runs' values are lost (a stage that needs one reruns its producer); remove "
                "the runs with `mlops runs rm RUN`, or keep their records as they are.",
                in_runs,
            )
        )
    if in_cache:
        found.append(
            finding(
                "cache",
                f"{in_cache} cache entries name values missing from {store.objects}.",
                "Nothing to do: those stages run again the next time, and the entry is replaced.",
                severity="note",
            )
        )
    return found


def _missing_models(store: Store) -> list[dict[str, Any]]:
    """Model versions whose bytes are gone from ``objects/``: they can no longer be loaded."""
    gone = sorted(
        version
        for key, version in store.model_objects().items()
        if not objects.exists(store.objects, key)
    )
    if not gone:
        return []
    return [
        finding(
            "models",
            f"{len(gone)} model versions name objects missing from {store.objects}.",
            "Those versions cannot be loaded: log the model again (rerun the stage that logs "
            "it) and point the aliases at the new version (`mlops model alias NAME@V ALIAS`).",
            gone,
        )
    ]


def _keys(outputs: str | None, files: str | None) -> list[str]:
    keys = [ref["hash"] for ref in json.loads(outputs or "{}").values()]
    written = json.loads(files or "{}").get("written", {})
    return keys + [ref["object"] for ref in written.values()]


def _leftovers(store: Store) -> list[dict[str, Any]]:
    from .gc import collect

    would = collect(store, dry_run=True)
    found = []
    if would["objects"]["count"]:
        found.append(
            finding(
                "orphans",
                f"{would['objects']['count']} objects ({would['objects']['bytes']} bytes) are "
                "referred to by no run and no cache entry.",
                "`mlops gc` removes them.",
            )
        )
    if would["temp_files"]["count"]:
        found.append(
            finding(
                "temp files",
                f"{would['temp_files']['count']} temp files ({would['temp_files']['bytes']} "
                f"bytes) in {store.objects} were left by writers that were killed.",
                "`mlops gc` removes them (the next `mlops run` does too).",
            )
        )
    return found


def _stray_run_folders(store: Store) -> list[dict[str, Any]]:
    """Folders in ``runs/`` named like a run with no record: gc leaves them to the user."""
    if not store.runs_dir.is_dir():
        return []
    known = {row[0] for row in store.db.execute("SELECT id FROM runs")}
    young = time.time() - YOUNG_SECONDS
    stray = []
    for entry in os.scandir(store.runs_dir):
        named = _RUN_ID.match(entry.name) and entry.name not in known
        if named and entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < young:
            stray.append(entry.path)
    if not stray:
        return []
    return [
        finding(
            "run folders",
            f"{len(stray)} folders in {store.runs_dir} belong to no recorded run (their records "
            "were removed, or the database was replaced).",
            "They hold executed notebooks only you can judge: delete them by hand if not needed "
            "(`mlops gc` never does).",
            sorted(stray),
            severity="note",
        )
    ]
