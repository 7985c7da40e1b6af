"""The run store: SQLite (WAL) for records, ``objects/`` for values, ``runs/<id>/`` for notebooks.

Every write is one short transaction, so two runs in two terminals both land whole; readers never
block writers (WAL). The schema is versioned with ``PRAGMA user_version`` and upgraded in order.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError
from ..files import pid_alive
from ..home import check_home
from ..status import RunStatus, StageStatus
from .schema import migrate

# (run_id, stage, key, step, value, time): one row of the metrics table
MetricRow = tuple[str, str | None, str, int | None, float, float]


def new_run_id() -> str:
    """Sortable by time, unique across processes: ``20261126-235959-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime()) + "-" + secrets.token_hex(3)


def _unreadable(database: Path, exc: sqlite3.Error) -> MlopsError:
    if "locked" in str(exc):
        return MlopsError(
            f"the store's database {database} stayed locked by another process ({exc}).",
            hint="Wait for the other mlops command to end, or stop it, and try again.",
        )
    return MlopsError(
        f"{database} is not a readable mlops database ({exc}).",
        hint=f"Move it aside (for example `mv {database} {database}.broken`) and run again: a "
        "new, empty database is made there (the old runs' records stay in the moved file). "
        "`mlops doctor` checks a store.",
    )


class Store:
    """One project's ``.mlops`` folder. Open one per thread; connections are not shared."""

    def __init__(self, home: str | Path, *, shared: bool = False) -> None:
        """``shared=True`` lets several threads use the connection; the caller serializes them
        (tracking.py writes from the user's thread and its flush thread under one lock)."""
        self.home = Path(home)
        self.objects = self.home / "objects"
        self.runs_dir = self.home / "runs"
        check_home(self.home)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MlopsError(
                f"cannot make the store folder {self.home}: {exc.strerror}.",
                hint="Set MLOPS_HOME to a folder you can write to.",
            ) from None
        database = self.home / "mlops.db"
        self.db = sqlite3.connect(
            database, timeout=60, isolation_level=None, check_same_thread=not shared
        )
        try:
            self._open()
        except sqlite3.DatabaseError as exc:  # a file that is not SQLite, or a damaged one
            self.db.close()
            raise _unreadable(database, exc) from None
        except BaseException:
            self.db.close()
            raise

    def _open(self) -> None:
        self.db.row_factory = sqlite3.Row
        # Switching a new database to WAL takes an exclusive lock and does not wait on the busy
        # timeout: two processes opening a brand-new store would see "database is locked".
        for attempt in range(200):
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.05)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrate(self.db, self.home)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- pipelines and runs

    def add_pipeline(self, name: str, version: str, notebook: str | None, path: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO pipelines VALUES (?, ?, ?, ?, ?)",
                (name, version, notebook, path, time.time()),
            )

    def start_run(
        self,
        *,
        pipeline: str,
        version: str,
        notebook: str | None,
        compiled: str,
        parameters: dict[str, tuple[Any, str]],
        stages: Iterable[str],
        environment: dict[str, Any],
        origin: str = "cli",
        trigger: str = "manual",
        schedule: str | None = None,
        scheduled_for: float | None = None,
    ) -> tuple[str, Path]:
        from .objects import remove_dead_temp

        remove_dead_temp(self.objects)  # what writers killed since the last run left behind
        run_id = new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, pipeline, version, status, started_at, notebook, compiled,"
                " run_dir, origin, git_commit, git_dirty, python, environment, host, pid,"
                " triggered_by, schedule, scheduled_for)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    pipeline,
                    version,
                    RunStatus.RUNNING,
                    now,
                    notebook,
                    compiled,
                    str(run_dir),
                    origin,
                    environment.get("git_commit"),
                    environment.get("git_dirty"),
                    environment.get("python"),
                    json.dumps(environment, sort_keys=True),
                    socket.gethostname(),
                    os.getpid(),
                    trigger,
                    schedule,
                    scheduled_for,
                ),
            )
            db.executemany(
                "INSERT INTO params (run_id, name, value, type) VALUES (?, ?, ?, ?)",
                [(run_id, k, json.dumps(v), t) for k, (v, t) in parameters.items()],
            )
            db.executemany(
                "INSERT INTO stage_runs (run_id, stage, position, status) VALUES (?, ?, ?, ?)",
                [(run_id, s, i, StageStatus.PENDING) for i, s in enumerate(stages)],
            )
        return run_id, run_dir

    def update_stage(self, run_id: str, stage: str, **fields: Any) -> None:
        for name in ("outputs", "files"):
            if name in fields and not isinstance(fields[name], (str, type(None))):
                fields[name] = json.dumps(fields[name], sort_keys=True)
        columns = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(
                f"UPDATE stage_runs SET {columns} WHERE run_id = ? AND stage = ?",
                (*fields.values(), run_id, stage),
            )

    def add_metrics(
        self, run_id: str, stage: str | None, values: Iterable[tuple[str, int | None, float]]
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, stage, key, step, value, now) for key, step, value in values],
            )

    def finish_run(
        self, run_id: str, status: str, error: str | None = None, ended_at: float | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                (status, time.time() if ended_at is None else ended_at, error, run_id),
            )
            if status != RunStatus.SUCCEEDED:
                db.execute(
                    "UPDATE stage_runs SET status = ? WHERE run_id = ? AND status = ?",
                    (StageStatus.SKIPPED, run_id, StageStatus.PENDING),
                )
                # a stage still 'running' here lost its process (kill -9, power loss)
                db.execute(
                    "UPDATE stage_runs SET status = ?, error = COALESCE(error, ?)"
                    " WHERE run_id = ? AND status = ?",
                    (StageStatus.FAILED, error or status, run_id, StageStatus.RUNNING),
                )

    # -- tracking: what tracking.py, datasets.py and hashing.py write and read

    def add_metric_rows(self, rows: Sequence[MetricRow]) -> None:
        """``(run_id, stage, key, step, value, time)`` rows in one transaction (one buffer flush)."""
        with self.transaction() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)

    def add_param(
        self, run_id: str, stage: str | None, name: str, value: Any, kind: str
    ) -> tuple[Any, str | None] | None:
        """Record a logged parameter. A run keeps one value per name: when ``name`` already has
        another value, nothing is written and ``(that value, the stage that set it)`` is returned."""
        text = json.dumps(value, sort_keys=True)
        with self.transaction() as db:
            row = db.execute(
                "SELECT value, stage FROM params WHERE run_id = ? AND name = ?", (run_id, name)
            ).fetchone()
            if row is not None:
                return None if row["value"] == text else (json.loads(row["value"]), row["stage"])
            db.execute(
                "INSERT INTO params (run_id, name, value, type, stage) VALUES (?, ?, ?, ?, ?)",
                (run_id, name, text, kind, stage),
            )
        return None

    def run_params(self, run_id: str) -> dict[str, tuple[Any, str | None]]:
        """``{name: (value, stage that logged it, or None for the run's own parameters)}``."""
        return {
            row["name"]: (json.loads(row["value"]), row["stage"])
            for row in self.db.execute(
                "SELECT name, value, stage FROM params WHERE run_id = ?", (run_id,)
            )
        }

    def add_artifact(
        self,
        run_id: str,
        stage: str | None,
        name: str,
        kind: str,
        digest: str,
        path: str,
        size: int,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, stage, name, kind, digest, path, size, time.time()),
            )

    def add_data_version(
        self,
        run_id: str | None,
        stage: str | None,
        path: str,
        digest: str,
        size: int | None,
        info: dict[str, Any],
        when: float | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO data_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    stage,
                    path,
                    digest,
                    size,
                    json.dumps(info, sort_keys=True),
                    time.time() if when is None else when,
                ),
            )

    def data_versions(
        self,
        paths: Sequence[str] | None = None,
        *,
        run_id: str | None = None,
        stage: str | None = None,
        limit: int | None = 100,
    ) -> list[dict[str, Any]]:
        """Recorded data versions, newest first: ``{run_id, stage, path, hash, size, time, **info}``."""
        query = "SELECT rowid, * FROM data_versions WHERE 1"
        args: list[Any] = []
        if paths:
            query += f" AND path IN ({', '.join('?' * len(paths))})"
            args += paths
        if run_id is not None:
            query += " AND run_id = ?"
            args.append(run_id)
        if stage is not None:
            query += " AND stage = ?"
            args.append(stage)
        query += " ORDER BY time DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        return [self._data_version_dict(row) for row in self.db.execute(query, args)]

    @staticmethod
    def _data_version_dict(row: sqlite3.Row) -> dict[str, Any]:
        return {
            **json.loads(row["info"] or "{}"),
            "run_id": row["run_id"],
            "stage": row["stage"],
            "path": row["path"],
            "hash": row["hash"],
            "size": row["size"],
            "time": _iso(row["time"]),
            "timestamp": row["time"],
        }

    def last_data_version(self, path: str) -> dict[str, Any] | None:
        """The newest version recorded for ``path`` by any run (what ``changed`` compares with)."""
        found = self.data_versions([path], limit=1)
        return found[0] if found else None

    _PASSING_TABLE = (
        "json_extract(info, '$.dtypes') IS NOT NULL AND (json_extract(info, '$.check') IS NULL"
        " OR json_extract(info, '$.check.passed') = 1)"
    )

    def baseline_data_version(self, path: str) -> dict[str, Any] | None:
        """The newest table version of ``path`` whose own check did not fail: what
        ``check_data`` infers the schema from (tracking/checks.py)."""
        row = self.db.execute(
            f"SELECT rowid FROM data_versions WHERE path = ? AND {self._PASSING_TABLE}"
            " ORDER BY time DESC, rowid DESC LIMIT 1",
            (path,),
        ).fetchone()
        return None if row is None else self._data_version_row(row["rowid"])

    def baseline_data_versions(self) -> dict[str, dict[str, Any]]:
        """``{path: baseline_data_version(path)}`` for every table path (what a remote stage's
        journal answers ``check_data`` from)."""
        found = {}
        for row in self.db.execute(
            "SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY path ORDER BY"
            f" time DESC, rowid DESC) AS newest FROM data_versions WHERE {self._PASSING_TABLE})"
            " WHERE newest = 1"
        ):
            version = self._data_version_row(row["rowid"])
            found[version["path"]] = version
        return found

    def data_version(self, path: str, prefix: str) -> dict[str, Any]:
        """The newest version of ``path`` whose hash starts with ``prefix``; NotFoundError
        naming the versions there are, or saying the prefix is ambiguous."""
        from ..errors import MlopsError, NotFoundError

        rows = self.db.execute(
            "SELECT rowid, hash FROM data_versions WHERE path = ? ORDER BY time DESC, rowid DESC",
            (path,),
        ).fetchall()
        hashes = list(dict.fromkeys(r["hash"] for r in rows))
        matches = [h for h in hashes if h.startswith(prefix.lower())] if prefix else []
        if len(matches) > 1:
            raise MlopsError(
                f"the version '{prefix}' of {path} is ambiguous: {', '.join(m[:12] for m in matches[:5])}.",
                hint="Give more characters of the hash.",
            )
        if not matches:
            there = ", ".join(h[:12] for h in hashes[:8]) or "none"
            raise NotFoundError(
                f"{path} has no version '{prefix}' (newest first: {there}).",
                hint="`mlops data PATH` lists its versions; give a prefix of a hash.",
            )
        rowid = next(r["rowid"] for r in rows if r["hash"] == matches[0])
        return self._data_version_row(rowid)

    def _data_version_row(self, rowid: int) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT rowid, * FROM data_versions WHERE rowid = ?", (rowid,)
        ).fetchone()
        return self._data_version_dict(row)

    def last_tracked(self, base_key: str, stage: str) -> dict[str, str]:
        """``{path: kind}`` of the files and folders a stage tracked in its newest successful
        execution with this base cache key (same code, parameters and inputs), and of the files
        it opened for reading there (kind ``file``; they are not data versions)."""
        row = self.db.execute(
            "SELECT run_id, files FROM stage_runs WHERE base_key = ? AND stage = ?"
            " AND status = 'succeeded' ORDER BY ended_at DESC LIMIT 1",
            (base_key, stage),
        ).fetchone()
        if row is None:
            return {}
        found = dict.fromkeys(json.loads(row["files"] or "{}").get("read", {}), "file")
        return {**found, **self.tracked_files(row["run_id"], stage)}

    def tracked_files(self, run_id: str, stage: str | None) -> dict[str, str]:
        """``{path: kind}`` of the files and folders tracked in one run (and stage)."""
        found: dict[str, str] = {}
        for version in reversed(self.data_versions(run_id=run_id, stage=stage, limit=None)):
            if version.get("kind") in ("file", "directory"):
                found[version["path"]] = version["kind"]
        return found

    def copy_stage_records(self, source_run: str, run_id: str, stage: str) -> bool:
        """A cached stage's metrics, logged parameters and artifacts, copied from the run that
        computed it, so each run's record is whole. False when the source run has no metrics
        left to copy (the caller then records the cache entry's own metrics)."""
        with self.transaction() as db:
            copied = db.execute(
                "INSERT INTO metrics SELECT ?, stage, key, step, value, time FROM metrics"
                " WHERE run_id = ? AND stage = ? ORDER BY rowid",
                (run_id, source_run, stage),
            ).rowcount
            db.execute(
                "INSERT OR IGNORE INTO params (run_id, name, value, type, stage)"
                " SELECT ?, name, value, type, stage FROM params WHERE run_id = ? AND stage = ?",
                (run_id, source_run, stage),
            )
            db.execute(
                "INSERT INTO artifacts SELECT ?, stage, name, kind, hash, path, size, time"
                " FROM artifacts WHERE run_id = ? AND stage = ? ORDER BY rowid",
                (run_id, source_run, stage),
            )
        return copied > 0

    def forget_stage_records(self, run_id: str, stage: str) -> None:
        """What one stage logged in this run (metrics, parameters, artifacts, data versions,
        model versions no alias names yet): it runs again, and its record must be that
        execution's alone."""
        with self.transaction() as db:
            for table in ("metrics", "params", "artifacts", "data_versions"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ? AND stage = ?", (run_id, stage))
            db.execute(
                "DELETE FROM model_versions WHERE run_id = ? AND stage = ? AND NOT EXISTS"
                " (SELECT 1 FROM model_aliases a WHERE a.name = model_versions.name"
                " AND a.version = model_versions.version)",
                (run_id, stage),
            )

    def stat_get(self, path: str) -> tuple[int, int, int, int, str, int] | None:
        """The stat cache entry of a file: ``(inode, size, mtime_ns, ctime_ns, hash, checked_ns)``."""
        row = self.db.execute(
            "SELECT inode, size, mtime_ns, ctime_ns, hash, checked_ns FROM file_hashes"
            " WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else tuple(row)

    def stat_put(self, entries: Sequence[tuple[str, int, int, int, int, str, int]]) -> None:
        """``(path, inode, size, mtime_ns, ctime_ns, hash, checked_ns)`` entries, one transaction."""
        if entries:
            with self.transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?, ?, ?)", entries
                )

    # -- cache

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """``{"outputs", "metrics", "files"}`` of an entry whose values and written files are
        all still in the object store, else None."""
        row = self.db.execute(
            "SELECT outputs, metrics, files FROM cache WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        outputs = json.loads(row["outputs"])
        files = json.loads(row["files"] or "{}")
        written = [{"hash": ref["object"]} for ref in files.get("written", {}).values()]
        if not self._all_stored(outputs) or not self._all_stored(dict(enumerate(written))):
            return None  # an object was collected or lost: recompute rather than fail
        found = {"outputs": outputs, "metrics": json.loads(row["metrics"] or "{}")}
        return {**found, "files": files} if files else found

    def _all_stored(self, outputs: dict[Any, Any]) -> bool:
        from . import objects

        return all(objects.exists(self.objects, ref["hash"]) for ref in outputs.values())

    def cache_put(
        self,
        key: str,
        pipeline: str,
        stage: str,
        outputs: dict[str, Any],
        metrics: dict[str, float],
        run_id: str,
        files: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cache"
                " (key, pipeline, stage, outputs, metrics, run_id, created_at, files)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    pipeline,
                    stage,
                    json.dumps(outputs, sort_keys=True),
                    json.dumps(metrics, sort_keys=True),
                    run_id,
                    time.time(),
                    json.dumps(files, sort_keys=True) if files else None,
                ),
            )

    def cache_forget(self, key: str) -> None:
        """Drop one cache entry (its result turned out not to be what its key promises)."""
        with self.transaction() as db:
            db.execute("DELETE FROM cache WHERE key = ?", (key,))

    def cache_entry(self, key: str) -> dict[str, str | None] | None:
        """Where a cache entry came from: ``{"run_id", "notebook"}`` (the run that stored it and
        the stage's executed notebook there, each None when unknown), or None if no entry."""
        row = self.db.execute(
            "SELECT c.run_id, c.stage, r.run_dir FROM cache c LEFT JOIN runs r ON r.id = c.run_id"
            " WHERE c.key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        notebook = str(Path(row["run_dir"]) / f"{row['stage']}.ipynb") if row["run_dir"] else None
        return {"run_id": row["run_id"] or None, "notebook": notebook}

    def last_stage_files(self, pipeline: str, notebook: str | None) -> dict[str, dict[str, Any]]:
        """``{stage: {"read": {path: hash}, "written": {path: {...}}}}`` from each stage's newest
        execution (run or cached) in a run of this pipeline from this notebook: the files its
        stages opened last time, so a run can order stages that meet only through a file."""
        found: dict[str, dict[str, Any]] = {}
        for row in self.db.execute(
            "SELECT s.stage, s.files FROM stage_runs s JOIN runs r ON r.id = s.run_id"
            " WHERE r.pipeline = ? AND r.notebook IS ? AND s.files IS NOT NULL"
            " ORDER BY s.ended_at DESC LIMIT 5000",
            (pipeline, notebook),
        ):
            found.setdefault(row["stage"], json.loads(row["files"]))
        return found

    def outputs_for_key(self, stage: str, base_key: str, key: str) -> dict[str, Any] | None:
        """The newest outputs a stage handed on under exactly this cache key (same code,
        parameters, inputs, environment and tracked data), for a ``cache:off`` upstream of
        ``--stages``/``--from``: ``{"outputs", "metrics": {}, "run_id", "notebook"}``, or None
        (also when one of its values is no longer stored)."""
        row = self.db.execute(
            "SELECT run_id, outputs, notebook FROM stage_runs WHERE base_key = ? AND stage = ?"
            " AND cache_key = ? AND status IN ('succeeded', 'cached') AND outputs IS NOT NULL"
            " ORDER BY ended_at DESC LIMIT 1",
            (base_key, stage, key),
        ).fetchone()
        if row is None:
            return None
        outputs = json.loads(row["outputs"])
        if not self._all_stored(outputs):
            return None
        return {
            "outputs": outputs,
            "metrics": {},
            "run_id": row["run_id"],
            "notebook": row["notebook"],
        }

    # -- reading

    def _reap(self, rows: list[sqlite3.Row]) -> None:
        """Runs left 'running' by a process that died (kill -9, power loss) become 'interrupted'."""
        host = socket.gethostname()
        for row in rows:
            alive = row["host"] != host or pid_alive(row["pid"])
            if row["status"] == RunStatus.RUNNING and not alive:
                # it ended when it last wrote something, not when someone looked at it
                self.finish_run(
                    row["id"],
                    RunStatus.INTERRUPTED,
                    "the process running it is gone",
                    ended_at=self.last_event(row["id"]),
                )

    def reap_all(self) -> None:
        """Reap every run still marked running whose process is gone."""
        self._reap(
            self.db.execute("SELECT * FROM runs WHERE status = ?", (RunStatus.RUNNING,)).fetchall()
        )

    def last_event(self, run_id: str) -> float:
        """When a run last wrote anything: a stage starting or ending, a metric, a data version,
        an artifact (its own start at the latest)."""
        row = self.db.execute(
            "SELECT MAX(t) FROM (SELECT started_at AS t FROM runs WHERE id = :id"
            " UNION ALL SELECT MAX(started_at) FROM stage_runs WHERE run_id = :id"
            " UNION ALL SELECT MAX(ended_at) FROM stage_runs WHERE run_id = :id"
            " UNION ALL SELECT MAX(time) FROM metrics WHERE run_id = :id"
            " UNION ALL SELECT MAX(time) FROM data_versions WHERE run_id = :id"
            " UNION ALL SELECT MAX(time) FROM artifacts WHERE run_id = :id)",
            {"id": run_id},
        ).fetchone()
        return float(row[0])

    def list_runs(
        self, limit: int = 20, notebook: str | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        query = "SELECT id FROM runs"
        args: list[Any] = []
        if notebook:
            query += " WHERE notebook = ?"
            args.append(notebook)
        query += " ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        ids = [row["id"] for row in self.db.execute(query, args)]
        return [self.get_run(i) for i in ids]

    def latest_run_id(self, pipeline: str, version: str | None = None) -> str | None:
        """The newest run of ``pipeline`` (one of ``version`` when there is one), or None."""
        row = self.db.execute(
            "SELECT id FROM runs WHERE pipeline = ? ORDER BY version = ? DESC, started_at DESC,"
            " id DESC LIMIT 1",
            (pipeline, version),
        ).fetchone()
        return None if row is None else str(row["id"])

    def resolve_run(self, ref: str) -> str:
        if ref == "latest":
            row = self.db.execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
            if row:
                return str(row["id"])
            raise NotFoundError(
                "there are no runs yet.", hint="Start one with `mlops run NOTEBOOK`."
            )
        rows = self.db.execute(
            "SELECT id FROM runs WHERE id = ? OR id LIKE ? ORDER BY id LIMIT 2", (ref, ref + "%")
        ).fetchall()
        exact = [r["id"] for r in rows if r["id"] == ref]
        if exact:
            return str(exact[0])
        if len(rows) == 1:
            return str(rows[0]["id"])
        if not rows:
            raise NotFoundError(f"no run '{ref}'.", hint="`mlops runs` lists them.")
        raise MlopsError(f"'{ref}' matches several runs.", hint="Give more of the run id.")

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run as the ``mlops run --json`` / ``mlops show --json`` object."""
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run '{run_id}'.", hint="`mlops runs` lists them.")
        self._reap([row])
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        params = {
            r["name"]: json.loads(r["value"])
            for r in self.db.execute("SELECT name, value FROM params WHERE run_id = ?", (run_id,))
        }
        metrics = self._last_metrics("run_id = ?", (run_id,))
        stages = []
        for s in self.db.execute(
            "SELECT * FROM stage_runs WHERE run_id = ? ORDER BY position", (run_id,)
        ):
            stages.append(
                {
                    "name": s["stage"],
                    "status": s["status"],
                    "started_at": _iso(s["started_at"]),
                    "ended_at": _iso(s["ended_at"]),
                    "duration_s": round(s["duration_s"], 3)
                    if s["duration_s"] is not None
                    else None,
                    "notebook": s["notebook"],
                    "error": s["error"],
                    "cache_key": s["cache_key"],
                    "attempts": s["attempts"],
                    "files": _file_lists(s["files"]),
                    # where it ran ("local", a Dask worker's address); None: cached, not run,
                    # or recorded before stores kept it (schema 5)
                    "worker": s["worker"],
                    # {name: content hash}: two runs compared value by value
                    "outputs": {
                        name: ref.get("hash")
                        for name, ref in json.loads(s["outputs"] or "{}").items()
                    },
                }
            )
        environment = json.loads(row["environment"] or "{}")
        return {
            "run_id": row["id"],
            "status": row["status"],
            "pipeline": row["pipeline"],
            "version": row["version"],
            "parameters": params,
            "metrics": metrics,
            "stages": stages,
            "started_at": _iso(row["started_at"]),
            "ended_at": _iso(row["ended_at"]),
            "duration_s": round(row["ended_at"] - row["started_at"], 3)
            if row["ended_at"]
            else None,
            "notebook": row["notebook"],
            "compiled": row["compiled"],
            "run_dir": row["run_dir"],
            "origin": row["origin"],
            # runs recorded before schedules existed were all started by hand
            "trigger": row["triggered_by"] or "manual",
            "schedule": row["schedule"],
            "scheduled_for": _iso(row["scheduled_for"]),
            "error": row["error"],
            "code": {"git_commit": row["git_commit"], "git_dirty": _bool(row["git_dirty"])},
            "environment": environment,
            "data": {
                r["path"]: r["hash"]
                for r in self.db.execute(
                    "SELECT path, hash FROM data_versions WHERE run_id = ? ORDER BY time, rowid",
                    (run_id,),
                )
            },
            "artifacts": [
                {
                    "name": r["name"],
                    "stage": r["stage"],
                    "kind": r["kind"],
                    "hash": r["hash"],
                    "path": r["path"],
                    "size": r["size"],
                    "time": _iso(r["time"]),
                }
                for r in self.db.execute(
                    "SELECT * FROM artifacts WHERE run_id = ? ORDER BY time, rowid", (run_id,)
                )
            ],
        }

    def stage_outputs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """``{stage: {name: {"hash", "format", "type", "size", "fingerprint"}}}`` of a run."""
        return self._per_stage(run_id, "outputs")

    def stage_files(self, run_id: str) -> dict[str, dict[str, Any]]:
        """``{stage: {"read": {path: hash}, "written": {path: {"hash", ...}}}}`` of a run
        (a cached stage: the files its cache entry restored)."""
        return self._per_stage(run_id, "files")

    def _per_stage(self, run_id: str, column: str) -> dict[str, dict[str, Any]]:
        assert column in ("outputs", "files")  # a column name, never data
        return {
            r["stage"]: json.loads(r[column])
            for r in self.db.execute(
                f"SELECT stage, {column} FROM stage_runs WHERE run_id = ? AND {column} IS NOT NULL",
                (run_id,),
            )
        }

    def metric_series(
        self, run_id: str, keys: list[str] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Every logged value of a run, by key, in logging order (NaN is stored as NULL)."""
        query = "SELECT key, step, value, time, stage FROM metrics WHERE run_id = ?"
        args: list[Any] = [run_id]
        if keys:
            query += f" AND key IN ({', '.join('?' * len(keys))})"
            args += keys
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.db.execute(query + " ORDER BY time, rowid", args):
            value = float("nan") if row["value"] is None else row["value"]
            found.setdefault(row["key"], []).append(
                {
                    "step": row["step"],
                    "value": value,
                    "time": _iso(row["time"]),
                    "stage": row["stage"],
                }
            )
        return found

    def metric_steps(
        self, run_id: str, keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, list[Any]]]:
        """``{key: {"steps": [...], "values": [...]}}`` in logging order, with no per-point dicts
        or timestamps: what charts of long series need. NaN (stored as NULL) comes back as NaN."""
        nan = float("nan")
        query = "SELECT key, step, value FROM metrics WHERE run_id = ?"
        args: list[Any] = [run_id]
        if keys:
            query += f" AND key IN ({', '.join('?' * len(keys))})"
            args += keys
        found: dict[str, dict[str, list[Any]]] = {}
        for key, step, value in self.db.execute(query + " ORDER BY time, rowid", args):
            series = found.get(key)
            if series is None:
                series = found[key] = {"steps": [], "values": []}
            series["steps"].append(step)
            series["values"].append(nan if value is None else value)
        return found

    # -- models: what tracking/models.py writes and reads (the registry's rules live there)

    def add_model_version(
        self,
        run_id: str | None,
        stage: str | None,
        name: str,
        digest: str,
        size: int,
        flavor: str,
        format: str,
        loader: dict[str, Any],
        signature: dict[str, Any] | None,
    ) -> int:
        """Record a new version of model ``name`` and return its number: 1, 2, ... per name,
        taken inside this transaction, so two stages logging at once get two. Its lineage is
        copied from the run as it stands now (the caller flushes buffered metrics first): the
        pipeline version, the run's parameters, the last value of each metric of this stage,
        the data versions the run tracked."""
        with self.transaction() as db:
            version = int(
                db.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?",
                    (name,),
                ).fetchone()[0]
            )
            run = db.execute(
                "SELECT pipeline, version FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            parameters = {n: v for n, (v, _) in self.run_params(run_id).items()} if run_id else {}
            # the newest version of each path the run tracked, with its drift sketch: what
            # `mlops monitor` compares served inputs with after the run itself is gone
            data: dict[str, dict[str, Any]] = {}
            for r in db.execute(
                "SELECT path, hash, json_extract(info, '$.sketch') AS sketch FROM data_versions"
                " WHERE run_id = ? ORDER BY time, rowid",
                (run_id,),
            ):
                data.pop(r["path"], None)
                data[r["path"]] = {"path": r["path"], "hash": r["hash"]}
                if r["sketch"]:
                    data[r["path"]]["sketch"] = r["sketch"]
            db.execute(
                "INSERT INTO model_versions VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    digest,
                    flavor,
                    format,
                    size,
                    run_id,
                    stage,
                    run["pipeline"] if run else None,
                    run["version"] if run else None,
                    json.dumps(parameters, sort_keys=True),
                    json.dumps(self.stage_metrics(run_id, stage)),
                    json.dumps(list(data.values())),
                    None if signature is None else json.dumps(signature, sort_keys=True),
                    json.dumps(loader, sort_keys=True),
                    time.time(),
                ),
            )
        return version

    def import_model_version(self, record: dict[str, Any]) -> None:
        """A version as ``model_version`` returned it, written as it is (a model image's own
        store: the lineage and the number the source store gave it stay)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO model_versions VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["name"],
                    record["version"],
                    record["hash"],
                    record["flavor"],
                    record["format"],
                    record["size"],
                    record["run_id"],
                    record["stage"],
                    record["pipeline"],
                    record["pipeline_version"],
                    json.dumps(record["parameters"], sort_keys=True),
                    json.dumps(record["metrics"]),
                    json.dumps(record["data"]),
                    None if record["signature"] is None else json.dumps(record["signature"]),
                    json.dumps(record["loader"], sort_keys=True),
                    time.time(),
                ),
            )

    def stage_metrics(self, run_id: str | None, stage: str | None) -> dict[str, float]:
        """The last value of each metric one stage of a run logged (``stage=None``: the metrics
        of an interactive run, which has no stages), in the order keys were first logged."""
        return self._last_metrics("run_id = ? AND stage IS ?", (run_id, stage))

    def _last_metrics(self, where: str, args: tuple[Any, ...]) -> dict[str, float]:
        """The last value of each key among the metrics ``where`` selects, in the order keys
        were first logged, computed by SQLite (a 100,000-step run would otherwise cost ~0.3 s of
        Python per run listed). NaN is stored as NULL."""
        found: dict[str, float] = {}
        for r in self.db.execute(
            "SELECT key, value FROM (SELECT key, value, ROW_NUMBER() OVER"
            " (PARTITION BY key ORDER BY time DESC, rowid DESC) AS newest,"
            f" MIN(time) OVER (PARTITION BY key) AS first FROM metrics WHERE {where})"
            " WHERE newest = 1 ORDER BY first, key",
            args,
        ):
            found[r["key"]] = float("nan") if r["value"] is None else r["value"]
        return found

    def model_version(self, name: str, version: int) -> dict[str, Any] | None:
        """One version (``mlops model show --json``), or None. Its metrics are those copied in
        when it was logged, updated with what its stage logged afterwards while the run's record
        is there (a stage may log the model first and evaluate it after)."""
        row = self.db.execute(
            "SELECT m.*, r.status AS run_status, r.origin AS run_origin, s.status AS stage_status"
            " FROM model_versions m LEFT JOIN runs r ON r.id = m.run_id"
            " LEFT JOIN stage_runs s ON s.run_id = m.run_id AND s.stage = m.stage"
            " WHERE m.name = ? AND m.version = ?",
            (name, version),
        ).fetchone()
        if row is None:
            return None
        metrics = json.loads(row["metrics"])
        if row["run_status"] is not None:
            metrics.update(self.stage_metrics(row["run_id"], row["stage"]))
        aliases = [
            r["alias"]
            for r in self.db.execute(
                "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias",
                (name, version),
            )
        ]
        return {
            "name": row["name"],
            "version": row["version"],
            "hash": row["hash"],
            "flavor": row["flavor"],
            "format": row["format"],
            "size": row["size"],
            "run_id": row["run_id"],
            "stage": row["stage"],
            "pipeline": row["pipeline"],
            "pipeline_version": row["pipeline_version"],
            "parameters": json.loads(row["parameters"]),
            "metrics": metrics,
            "data": json.loads(row["data"]),
            "aliases": aliases,
            "signature": json.loads(row["signature"]) if row["signature"] else None,
            "loader": json.loads(row["loader"]),
            "created_at": _iso(row["created_at"]),
            # None: the run's record was removed (its lineage above stays)
            "run_status": row["run_status"],
            "run_origin": row["run_origin"],
            "stage_status": row["stage_status"],
        }

    def model_latest(self, name: str) -> int | None:
        row = self.db.execute(
            "SELECT MAX(version) FROM model_versions WHERE name = ?", (name,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def model_alias(self, name: str, alias: str) -> int | None:
        """The version ``alias`` points to, or None."""
        row = self.db.execute(
            "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
        ).fetchone()
        return None if row is None else int(row["version"])

    def model_summaries(self) -> list[dict[str, Any]]:
        """``[{"name", "versions", "latest", "aliases": {alias: version}}]`` by name."""
        found = [
            {"name": r["name"], "versions": r["n"], "latest": r["latest"], "aliases": {}}
            for r in self.db.execute(
                "SELECT name, COUNT(*) AS n, MAX(version) AS latest FROM model_versions"
                " GROUP BY name ORDER BY name"
            )
        ]
        by_name = {m["name"]: m for m in found}
        for r in self.db.execute("SELECT name, alias, version FROM model_aliases ORDER BY alias"):
            if r["name"] in by_name:
                by_name[r["name"]]["aliases"][r["alias"]] = r["version"]
        return found

    def models_of_notebook(self, notebook: str) -> set[str]:
        """Names of the models that runs of ``notebook`` (its absolute path) logged versions of."""
        return {
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT m.name FROM model_versions m JOIN runs r ON r.id = m.run_id"
                " WHERE r.notebook = ?",
                (notebook,),
            )
        }

    def model_version_numbers(self, name: str) -> list[int]:
        return [
            int(r[0])
            for r in self.db.execute(
                "SELECT version FROM model_versions WHERE name = ? ORDER BY version", (name,)
            )
        ]

    def move_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        how: str,
        user: str | None,
        reason: str | None = None,
        requirements: list[dict[str, Any]] | None = None,
        expected: int | str | None = "any",
    ) -> int | None:
        """Point ``alias`` at ``version`` and record the move (who, when, from, to, why, the
        requirements checked), in one transaction; returns where it pointed before.
        ``expected`` (a version, or None for nowhere) is where the caller saw it point when it
        checked the requirements: if another process moved it meanwhile, nothing is written."""
        from ..errors import ConflictError

        with self.transaction() as db:
            row = db.execute(
                "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
            ).fetchone()
            before = None if row is None else int(row["version"])
            if expected != "any" and before != expected:
                raise ConflictError(
                    f"{name}@{alias} was moved to version {before} by someone else while the "
                    "requirements were checked; nothing was changed.",
                    hint="Run the command again to check against the new baseline.",
                )
            now = time.time()
            db.execute(
                "INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?, ?)",
                (name, alias, version, now),
            )
            db.execute(
                "INSERT INTO alias_moves (name, alias, from_version, to_version, how, user,"
                " time, reason, requirements) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    alias,
                    before,
                    version,
                    how,
                    user,
                    now,
                    reason,
                    None if requirements is None else json.dumps(requirements),
                ),
            )
        return before

    def alias_moves(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """Every recorded move of the aliases of ``name`` (of one ``alias``), oldest first."""
        query = "SELECT * FROM alias_moves WHERE name = ?"
        args: list[Any] = [name]
        if alias is not None:
            query += " AND alias = ?"
            args.append(alias)
        return [
            {
                "name": r["name"],
                "alias": r["alias"],
                "from": r["from_version"],
                "to": r["to_version"],
                "how": r["how"],
                "who": r["user"],
                "when": _iso(r["time"]),
                "why": r["reason"],
                "requirements": json.loads(r["requirements"]) if r["requirements"] else None,
            }
            for r in self.db.execute(query + " ORDER BY time, id", args)
        ]

    def model_objects(self, *, sketches: bool = False) -> dict[str, str]:
        """``{object key: "name@version"}`` of every model version (gc keeps them all);
        ``sketches``: also the drift sketches of the data in their lineage."""
        found = {}
        for r in self.db.execute("SELECT name, version, hash, data FROM model_versions"):
            label = f"{r['name']}@{r['version']}"
            found[r["hash"]] = label
            if sketches:
                for item in json.loads(r["data"]):
                    if item.get("sketch"):
                        found.setdefault(item["sketch"], f"{label} data {item['path']}")
        return found

    # -- serving: what serve/traffic.py writes and serve/monitor.py reads

    def add_serving_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``(model, version, time, latency_ms, status, rows, inputs, predictions, error)``
        rows, one transaction (one batch of the traffic recorder)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO serving (model, version, time, latency_ms, status, rows, inputs,"
                " predictions, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def serving_rows(
        self, model: str, version: int, since: float, until: float
    ) -> list[dict[str, Any]]:
        """The requests a version answered in ``[since, until)``, oldest first."""
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT time, latency_ms, status, rows, inputs, predictions, error FROM serving"
                " WHERE model = ? AND version = ? AND time >= ? AND time < ? ORDER BY time, id",
                (model, version, since, until),
            )
        ]

    def referenced_objects(self, without: Collection[str] = ()) -> set[str]:
        """Every object a run's record or a cache entry names, leaving out the runs ``without``
        (and the cache entries they stored): what would still be needed once they are gone."""
        gone = set(without)
        keys: set[str] = set()
        for run_id, text in self.db.execute(
            "SELECT run_id, outputs FROM cache UNION ALL SELECT run_id, outputs FROM stage_runs"
        ):
            if text and run_id not in gone:
                keys.update(ref["hash"] for ref in json.loads(text).values())
        for run_id, text in self.db.execute(  # files stages wrote: what a cache hit restores
            "SELECT run_id, files FROM cache WHERE files IS NOT NULL UNION ALL"
            " SELECT run_id, files FROM stage_runs WHERE files IS NOT NULL"
        ):
            if run_id not in gone:
                written = json.loads(text).get("written", {})
                keys.update(ref["object"] for ref in written.values())
        for run_id, digest in self.db.execute(
            "SELECT run_id, hash FROM artifacts UNION ALL"
            " SELECT run_id, json_extract(info, '$.sketch') FROM data_versions"
        ):
            if digest and run_id not in gone:
                keys.add(digest)
        return keys

    def remove_runs(self, run_ids: Collection[str]) -> None:
        """Delete runs' records and the cache entries they stored, in one transaction (the run
        folders and objects are ``store/gc.py``'s to remove, after this)."""
        ids = list(run_ids)
        with self.transaction() as db:
            for start in range(0, len(ids), 500):  # SQLite's limit on ? in one statement
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for table in ("metrics", "params", "stage_runs", "data_versions", "artifacts"):
                    db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM cache WHERE run_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)


def _file_lists(text: str | None) -> dict[str, list[str]]:
    """``{"read": [...], "written": [...]}``: the paths a stage opened (``mlops show``)."""
    files = json.loads(text or "{}")
    return {"read": sorted(files.get("read", {})), "written": sorted(files.get("written", {}))}


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}Z"


def _bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)
