"""The store's schema: SQL migrations applied in order, numbered by ``PRAGMA user_version``.

A new table or column is a new entry at the end of :data:`MIGRATIONS`, never an edit of an old
one: stores written by every earlier version upgrade in place, in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import MlopsError

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE pipelines (
        name TEXT NOT NULL, version TEXT NOT NULL, notebook TEXT, path TEXT,
        created_at REAL NOT NULL, PRIMARY KEY (name, version));
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, version TEXT NOT NULL,
        status TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL,
        notebook TEXT, compiled TEXT, run_dir TEXT, origin TEXT,
        git_commit TEXT, git_dirty INTEGER, python TEXT, environment TEXT,
        host TEXT, pid INTEGER, error TEXT);
    CREATE INDEX runs_started ON runs (started_at);
    CREATE INDEX runs_notebook ON runs (notebook, started_at);
    CREATE TABLE stage_runs (
        run_id TEXT NOT NULL REFERENCES runs (id), stage TEXT NOT NULL, position INTEGER,
        status TEXT NOT NULL, started_at REAL, ended_at REAL, duration_s REAL,
        cache_key TEXT, notebook TEXT, error TEXT, attempts INTEGER DEFAULT 0, outputs TEXT,
        PRIMARY KEY (run_id, stage));
    CREATE TABLE params (
        run_id TEXT NOT NULL REFERENCES runs (id), name TEXT NOT NULL, value TEXT, type TEXT,
        PRIMARY KEY (run_id, name));
    CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs (id), stage TEXT, key TEXT NOT NULL,
        step INTEGER, value REAL, time REAL NOT NULL);
    CREATE INDEX metrics_run ON metrics (run_id, key);
    CREATE TABLE data_versions (
        run_id TEXT, stage TEXT, path TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER,
        info TEXT, time REAL NOT NULL);
    CREATE INDEX data_versions_path ON data_versions (path, time);
    CREATE TABLE artifacts (
        run_id TEXT, stage TEXT, name TEXT NOT NULL, kind TEXT, hash TEXT, path TEXT,
        size INTEGER, time REAL NOT NULL);
    CREATE TABLE cache (
        key TEXT PRIMARY KEY, pipeline TEXT, stage TEXT NOT NULL, outputs TEXT NOT NULL,
        metrics TEXT, run_id TEXT, created_at REAL NOT NULL);
    """,
    # 2: tracking. file_hashes is the stat cache of hashing.py (DVC's "state"); params logged by
    # a stage name it, and base_key finds the files a stage tracked the last time its code,
    # parameters and inputs were these (runner/cache.py adds their hashes to the cache key).
    """
    CREATE TABLE file_hashes (
        path TEXT PRIMARY KEY, inode INTEGER NOT NULL, size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, hash TEXT NOT NULL,
        checked_ns INTEGER NOT NULL);
    ALTER TABLE params ADD COLUMN stage TEXT;
    ALTER TABLE stage_runs ADD COLUMN base_key TEXT;
    CREATE INDEX stage_runs_base ON stage_runs (base_key, stage);
    CREATE INDEX data_versions_run ON data_versions (run_id, stage);
    CREATE INDEX artifacts_run ON artifacts (run_id, stage);
    """,
    # 3: files a stage opened (values.py's audit hook), as JSON {"read": {path: hash},
    # "written": {path: {"hash", "object", "size"}}}: on stage_runs, so the next lookup adds the
    # read files' hashes to the key (last_tracked) and `mlops show` lists them; on cache, so a
    # hit restores the written ones.
    """
    ALTER TABLE stage_runs ADD COLUMN files TEXT;
    ALTER TABLE cache ADD COLUMN files TEXT;
    """,
    # 4: schedules (schedule/). A fire is one due (schedule, scheduled_for): the UNIQUE key is
    # what makes two schedulers on one store fire it once (the second INSERT conflicts); the
    # claimer renews lease_expires while the run goes, so a fire whose claimer died is found and
    # retried once (attempts). A run says what started it (`trigger` is an SQL keyword).
    """
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY, target TEXT NOT NULL, compiled TEXT, cron TEXT NOT NULL,
        tz TEXT NOT NULL, parameters TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,
        catch_up TEXT NOT NULL DEFAULT 'latest', max_catch_up INTEGER NOT NULL DEFAULT 10,
        overlap TEXT NOT NULL DEFAULT 'skip', pin INTEGER NOT NULL DEFAULT 0, on_failure TEXT,
        next_fire REAL, last_fire REAL, created_at REAL NOT NULL);
    CREATE TABLE fires (
        id INTEGER PRIMARY KEY, schedule TEXT NOT NULL, scheduled_for REAL NOT NULL,
        fired_at REAL, claimer TEXT, lease_expires REAL, run_id TEXT, status TEXT NOT NULL,
        reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, previous_run_id TEXT,
        UNIQUE (schedule, scheduled_for));
    CREATE INDEX fires_status ON fires (status, lease_expires);
    ALTER TABLE runs ADD COLUMN triggered_by TEXT;
    ALTER TABLE runs ADD COLUMN schedule TEXT;
    ALTER TABLE runs ADD COLUMN scheduled_for REAL;
    """,
    # 5: where a stage ran: "local", or the address of the Dask worker (runner/dask.py)
    """
    ALTER TABLE stage_runs ADD COLUMN worker TEXT;
    """,
    # 6: the model registry (tracking/models.py). A version's lineage is copied in when it is
    # logged (parameters, metrics, data as JSON), so it outlives its run; `loader` is what
    # loading needs (the trusted types skops reported at save time, library versions). An
    # alias names one version; every move of one is a row of alias_moves, never updated.
    """
    CREATE TABLE model_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, flavor TEXT NOT NULL,
        format TEXT NOT NULL, size INTEGER NOT NULL, run_id TEXT, stage TEXT, pipeline TEXT,
        pipeline_version TEXT, parameters TEXT NOT NULL, metrics TEXT NOT NULL,
        data TEXT NOT NULL, signature TEXT, loader TEXT NOT NULL, created_at REAL NOT NULL,
        PRIMARY KEY (name, version));
    CREATE INDEX model_versions_run ON model_versions (run_id, stage);
    CREATE INDEX model_versions_hash ON model_versions (hash);
    CREATE TABLE model_aliases (
        name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
        updated_at REAL NOT NULL, PRIMARY KEY (name, alias));
    CREATE TABLE alias_moves (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, alias TEXT NOT NULL, from_version INTEGER,
        to_version INTEGER NOT NULL, how TEXT NOT NULL, user TEXT, time REAL NOT NULL,
        reason TEXT, requirements TEXT);
    CREATE INDEX alias_moves_name ON alias_moves (name, alias, time);
    """,
    # 7: what `mlops serve` answered (serve/traffic.py): one row per request, with its latency
    # and status; the inputs (as {"columns", "data"}) and predictions of the sampled ones, which
    # `mlops monitor` compares with the model's training data
    """
    CREATE TABLE serving (
        id INTEGER PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL,
        time REAL NOT NULL, latency_ms REAL NOT NULL, status INTEGER NOT NULL,
        rows INTEGER NOT NULL, inputs TEXT, predictions TEXT, error TEXT);
    CREATE INDEX serving_model ON serving (model, version, time);
    """,
]


def migrate(db: sqlite3.Connection, home: Path) -> None:
    """Bring the database up to the newest schema; refuse one written by a newer version."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise MlopsError(
            f"the store {home} was written by a newer mlops-jupyter (schema {current}).",
            hint="Upgrade mlops-jupyter to read it.",
        )
    if current == len(MIGRATIONS):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for number in range(current, len(MIGRATIONS)):
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
