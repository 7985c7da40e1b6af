"""``mlops gc`` and ``mlops runs rm``: remove runs, then the objects nothing kept refers to.

What is kept, precisely:

* a run the policy does not select: with ``keep_last=N`` the newest N runs, with
  ``older_than=S`` every run started in the last S seconds; given both, a run is removed only if
  both select it (each rule keeps what it keeps, as restic's ``--keep-*`` do); given neither, no
  run is removed;
* a *root* (:func:`roots`): a run that is still going, and the object of every model version
  (its run may go: the version keeps a copy of its lineage); schedule pins join here;
* a run a kept run's cached stage was computed by: the kept run's record points at that run's
  executed notebook, and the cache entry it hit is that run's;
* every object a kept run or a kept run's cache entry names (values, files stages wrote,
  artifacts), every object written (or reused: ``objects.put`` touches it) since this collection
  began, and every root object;
* while a pipeline run is going: every object written since it started (a stage writes its
  values before its record names them), and the removed runs' values too, until the next gc (it
  may have just hit one of their cache entries). An interactive run (a notebook's own
  ``mlops.log_*``, going as long as its kernel) names each artifact as it stores it, so it holds
  nothing back.

Removing a run removes its records, the cache entries it stored and its folder ``runs/<id>/``
(only that folder inside the store, whatever path the database names). A folder in ``runs/`` with
no record is left alone (``mlops doctor`` reports it): it may be all that is left of runs whose
database was moved aside.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..files import pid_alive, temp_writer
from ..status import ACTIVE
from .db import Store

# A temp file named without its writer's pid (written by an older version) is left this long.
GRACE_SECONDS = 3600
# Runs on another host write objects with that host's clock.
CLOCK_SLACK_SECONDS = 60


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str | float) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``, ``"45s"`` (or plain seconds) in seconds."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        spelled = text.strip().lower()
        unit = _UNITS.get(spelled[-1:])
        number = spelled[:-1] if unit else spelled
        try:
            seconds = float(number) * (unit or 1)
        except ValueError:
            seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise MlopsError(
            f"an age of {str(text)[:40]!r} is not one mlops reads.",
            hint="Write a number and a unit: 30d, 12h, 90m, 2w or 45s.",
        )
    return seconds


@dataclass
class Roots:
    """What gc keeps whatever it is asked, each with the reason: ``{id: why}``."""

    runs: dict[str, str] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)


def roots(store: Store) -> Roots:
    """The one place a feature that needs runs or objects kept plugs in (a schedule's pinned
    run, a model version's run and objects, an alias): add them here, and both ``mlops gc`` and
    ``mlops runs rm`` keep them."""
    found = Roots()
    marks = ", ".join("?" * len(ACTIVE))
    for row in store.db.execute(
        f"SELECT id, host, pid FROM runs WHERE status IN ({marks})", sorted(ACTIVE)
    ):
        found.runs[row["id"]] = f"still running (pid {row['pid']} on {row['host']})"
    # a model version outlives its run (its lineage is copied in): its bytes must too
    for key, version in store.model_objects(sketches=True).items():
        found.objects.setdefault(key, f"model {version}")
    return found


def collect(
    store: Store,
    *,
    runs: Collection[str] | None = None,
    keep_last: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove the runs named (``runs``, as ``mlops runs rm``) or selected by the policy, then
    the objects and temp files nothing kept needs. Returns what was (``dry_run``: would be)
    removed and freed, the ``mlops gc --json`` object."""
    began = time.time()
    store.reap_all()  # a run whose process died is not "still running"
    keep = roots(store)
    kept: list[dict[str, str]] = []
    if runs is not None:
        blocked = [f"run {r} is {keep.runs[r]}" for r in runs if r in keep.runs]
        if blocked:
            raise MlopsError(
                "; ".join(blocked) + ": nothing was removed.",
                hint="Stop it first (Ctrl-C where it runs), or wait for it to end.",
            )
        chosen = list(dict.fromkeys(runs))
    else:
        chosen = _selected(store, keep_last, older_than, began)
        needed = _needed(store, set(chosen), keep)
        kept = [{"run_id": r, "reason": needed[r]} for r in chosen if r in needed]
        chosen = [r for r in chosen if r not in needed]
    removed = _describe(store, chosen)
    folders = [f for f in (store.runs_dir / r for r in chosen) if f.is_symlink() or f.exists()]
    folder_bytes = sum(_size(f) for f in folders)
    going = _oldest_pipeline_run(store)
    references = store.referenced_objects(without=chosen if going is None else ())
    if not dry_run and chosen:
        store.remove_runs(chosen)
        for folder in folders:
            _remove_folder(folder)
    cutoff = began if going is None else min(began, going - CLOCK_SLACK_SECONDS)
    objects, temp = _sweep(store, references | set(keep.objects), began, cutoff, dry_run)
    return {
        "dry_run": dry_run,
        "runs": removed,
        "kept": kept,
        "run_folders": {"count": len(folders), "bytes": folder_bytes},
        "objects": objects,
        "temp_files": temp,
        "freed_bytes": folder_bytes + objects["bytes"] + temp["bytes"],
    }


def _selected(
    store: Store, keep_last: int | None, older_than: float | None, now: float
) -> list[str]:
    """The runs the policy removes, newest first."""
    if keep_last is None and older_than is None:
        return []
    ordered = [
        (row["id"], row["started_at"])
        for row in store.db.execute(
            "SELECT id, started_at FROM runs ORDER BY started_at DESC, id DESC"
        )
    ]
    chosen = []
    for position, (run_id, started) in enumerate(ordered):
        beyond = keep_last is None or position >= keep_last
        old = older_than is None or started < now - older_than
        if beyond and old:
            chosen.append(run_id)
    return chosen


def _needed(store: Store, chosen: set[str], keep: Roots) -> dict[str, str]:
    """``{run id: why}`` for the chosen runs that must stay: roots, and the runs whose cached
    stages a kept run reuses (and so on: a kept source's own sources stay too)."""
    sources: dict[str, list[tuple[str, str, str]]] = {}  # run -> [(source run, stage, run)]
    entries = {
        row["key"]: row["run_id"] for row in store.db.execute("SELECT key, run_id FROM cache")
    }
    runs_dir = {str(store.runs_dir), os.path.realpath(store.runs_dir)}
    for row in store.db.execute(
        "SELECT run_id, stage, cache_key, notebook FROM stage_runs WHERE status = 'cached'"
    ):
        found: set[str | None] = {entries.get(row["cache_key"])}
        if row["notebook"]:  # a cached stage's notebook is the one its source run executed
            folder = os.path.dirname(row["notebook"])
            if os.path.dirname(folder) in runs_dir:
                found.add(os.path.basename(folder))
        for source in found:
            if source and source != row["run_id"]:
                sources.setdefault(row["run_id"], []).append((source, row["stage"], row["run_id"]))
    needed = {r: why for r, why in keep.runs.items() if r in chosen}
    all_runs = {row["id"] for row in store.db.execute("SELECT id FROM runs")}
    frontier = (all_runs - chosen) | set(needed)
    while frontier:
        reached = set()
        for run_id in frontier:
            for source, stage, user in sources.get(run_id, []):
                if source in chosen and source not in needed:
                    needed[source] = f"kept run {user} reuses its cached stage '{stage}'"
                    reached.add(source)
        frontier = reached
    return needed


def _describe(store: Store, run_ids: list[str]) -> list[dict[str, Any]]:
    found = []
    for run_id in run_ids:
        row = store.db.execute(
            "SELECT id, pipeline, status, started_at FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is not None:
            found.append(
                {
                    "run_id": row["id"],
                    "pipeline": row["pipeline"],
                    "status": row["status"],
                    "started_at": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["started_at"])
                    ),
                }
            )
    return found


def _oldest_pipeline_run(store: Store) -> float | None:
    """When the oldest pipeline run still going started (None: there is none)."""
    marks = ", ".join("?" * len(ACTIVE))
    row = store.db.execute(
        f"SELECT MIN(started_at) FROM runs WHERE status IN ({marks})"
        " AND origin IS NOT 'interactive'",
        sorted(ACTIVE),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def _sweep(
    store: Store, keep: set[str], began: float, cutoff: float, dry_run: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """Remove the objects not in ``keep`` written before ``cutoff``, and the temp files of dead
    writers (an older version's temp files, named without a pid, an hour after ``began``):
    ``({"count", "bytes"} of objects, of temp files)``."""
    objects = {"count": 0, "bytes": 0}
    temp = {"count": 0, "bytes": 0}
    if not store.objects.is_dir():
        return objects, temp
    candidates = [*store.objects.glob(".*"), *store.objects.glob("??/*")]
    for path in candidates:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if not path.is_file():
            continue
        if path.name.startswith("."):
            counts = temp
            writer = temp_writer(path.name)
            if writer is None:  # no pid in its name: wait an hour, as before
                gone = stat.st_mtime < began - GRACE_SECONDS
            else:
                gone = not pid_alive(writer)
            if not gone:
                continue
        else:
            counts = objects
            if path.parent.name + path.name in keep or stat.st_mtime >= cutoff:
                continue
        if not dry_run:
            try:
                # looked at again at the last moment: a run may have just written it anew
                if counts is objects and path.stat().st_mtime >= cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
        counts["count"] += 1
        counts["bytes"] += stat.st_size
    return objects, temp


def _size(folder: Path) -> int:
    if folder.is_symlink():
        return 0
    total = 0
    for top, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _remove_folder(folder: Path) -> None:
    if folder.is_symlink():  # never follow a link out of the store
        folder.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)
