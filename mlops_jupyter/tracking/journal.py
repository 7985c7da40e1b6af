"""What a stage on a remote worker records, kept as a journal the run's own process replays.

A stage kernel on a Dask worker must not open ``mlops.db``: the worker may be another host, and
SQLite over a network file system loses locks. So where a local stage's tracker writes into the
store, a remote stage's writes into a :class:`Journal`: the same methods the tracker and
``datasets.track`` call on a :class:`~mlops_jupyter.store.db.Store`, each appending one JSON line
to a file on the worker's own disk. The worker sends the lines back with the task's result, and
the run loop replays them (:func:`replay`) into the store before the stage's cache key is made,
so the records, the key and what the faces show are what a local run would have written.

What the kernel reads back is answered from what the run's process sent along with the task
(``<journal>.known.json``: the run's parameters, and the last version of each path the stage
tracked the last time it ran with this key) plus what the journal itself recorded since. A path
tracked for the first time on a worker reads as new there; the version recorded at replay is
compared with the store's newest, as a local one is. The stat cache is kept in memory: file
signatures of the worker's disk mean nothing to the client's.

A killed attempt's journal dies with its worker (its task is run again elsewhere with a journal
of its own); the attempts of one task (the stage's retries) share it, as locally their records
share the run. ``multiprocessing`` children of the kernel append to the same file: each flush is
one ``write`` on a file opened with ``O_APPEND``, which the kernel keeps whole.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.db import MetricRow, Store

KNOWN_SUFFIX = ".known.json"


class Journal:
    """A store a stage kernel writes into when it must not open ``mlops.db`` itself."""

    def __init__(self, path: str | os.PathLike[str], objects: str) -> None:
        self.path = Path(path)
        self.objects = objects  # the object store both sides reach: artifacts go there at once
        self._known: dict[str, Any] | None = None
        self._params: dict[str, tuple[str, str | None]] = {}  # name -> (JSON text, stage)
        self._data: dict[str, dict[str, Any]] = {}
        self._stats: dict[str, tuple[int, int, int, int, str, int]] = {}

    def _read_known(self) -> dict[str, Any]:
        if self._known is None:
            try:
                found = json.loads(Path(f"{self.path}{KNOWN_SUFFIX}").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = {}
            self._known = found if isinstance(found, dict) else {}
            for name, (value, stage) in (self._known.get("params") or {}).items():
                self._params.setdefault(name, (json.dumps(value, sort_keys=True), stage))
        return self._known

    def _append(self, records: Iterable[Mapping[str, Any]]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            view = memoryview(data)
            while view:  # a regular file takes it whole; a short write would only split a line
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    # -- the Store methods a stage's tracking calls

    def add_metric_rows(self, rows: Sequence[MetricRow]) -> None:
        self._append([{"op": "metrics", "rows": [list(r[2:]) for r in rows]}])

    def add_param(
        self, run_id: str, stage: str | None, name: str, value: Any, kind: str
    ) -> tuple[Any, str | None] | None:
        self._read_known()
        text = json.dumps(value, sort_keys=True)
        found = self._params.get(name)
        if found is not None:
            return None if found[0] == text else (json.loads(found[0]), found[1])
        self._params[name] = (text, stage)
        self._append([{"op": "param", "name": name, "value": value, "kind": kind}])
        return None

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
        record = {"name": name, "kind": kind, "digest": digest, "path": path, "size": size}
        self._append([{"op": "artifact", **record}])

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
        when = time.time() if when is None else when
        self._data[path] = {**info, "path": path, "hash": digest, "size": size}
        record = {"path": path, "hash": digest, "size": size, "info": info, "time": when}
        self._append([{"op": "data", **record}])

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
    ) -> None:
        """Numbered at replay, by the run's process: a worker cannot know the next version."""
        record = {"name": name, "hash": digest, "size": size, "flavor": flavor}
        record.update(format=format, loader=loader, signature=signature)
        self._append([{"op": "model", **record}])

    def last_data_version(self, path: str) -> dict[str, Any] | None:
        found = self._data.get(path)
        if found is None:
            found = (self._read_known().get("data") or {}).get(path)
        return found

    def baseline_data_version(self, path: str) -> dict[str, Any] | None:
        """What ``Store.baseline_data_version`` answers, from this stage's records and the
        baselines the run's process sent along."""
        found = self._data.get(path)
        if (
            found is not None
            and found.get("dtypes")
            and (found.get("check") or {}).get("passed", True)
        ):
            return found
        return (self._read_known().get("baselines") or {}).get(path)

    def stat_get(self, path: str) -> tuple[int, int, int, int, str, int] | None:
        return self._stats.get(path)

    def stat_put(self, entries: Sequence[tuple[str, int, int, int, int, str, int]]) -> None:
        for path, *rest in entries:
            self._stats[path] = tuple(rest)  # type: ignore[assignment]

    def close(self) -> None:
        pass  # every record is in the file once its method returned


def param_clash(name: str, run_id: str, clash: tuple[Any, str | None], value: Any) -> str:
    """What logging ``value`` for a parameter the run has with another value says."""
    owner = f"stage '{clash[1]}'" if clash[1] else "the run's parameters"
    return (
        f"parameter '{name}' of run {run_id} is already {clash[0]!r} (from {owner}); "
        f"a run keeps one value per parameter: log {value!r} under another name."
    )


# -- the two ends: the run's process before and after the task, the worker around it


def known(store: Store, run_id: str, paths: Iterable[str]) -> dict[str, Any]:
    """What a remote stage's journal answers reads from: the run's parameters so far, and the
    newest version of each of ``paths`` (what the stage tracked when it last ran)."""
    data = {}
    for path in paths:
        found = store.last_data_version(path)
        if found is not None:
            data[path] = found
    # every path's check_data baseline: the run's process cannot know which the stage checks
    baselines = store.baseline_data_versions()
    return {"params": store.run_params(run_id), "data": data, "baselines": baselines}


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a journal; a last line cut short (the kernel killed mid-write) is left out."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def replay(
    store: Store, run_id: str, stage: str, records: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Write a remote stage's journal into the store as the stage itself would have; returns the
    problems a local stage would have raised in its kernel (a parameter another stage of the run
    set to another value meanwhile). The run and stage are the task's, whatever a record says."""
    from .datasets import record_version

    problems = []
    rows: list[MetricRow] = []
    for record in records:
        op = record.get("op")
        if op == "metrics":
            rows.extend((run_id, stage, k, s, v, t) for k, s, v, t in record["rows"])
            continue
        if rows:
            store.add_metric_rows(rows)
            rows = []
        if op == "param":
            clash = store.add_param(run_id, stage, record["name"], record["value"], record["kind"])
            if clash is not None:
                problems.append(param_clash(record["name"], run_id, clash, record["value"]))
        elif op == "artifact":
            store.add_artifact(
                run_id,
                stage,
                record["name"],
                record["kind"],
                record["digest"],
                record["path"],
                record["size"],
            )
        elif op == "model":
            store.add_model_version(
                run_id,
                stage,
                record["name"],
                record["hash"],
                record["size"],
                record["flavor"],
                record["format"],
                record["loader"],
                record["signature"],
            )
        elif op == "data":
            info = {**record["info"], "path": record["path"], "hash": record["hash"]}
            record_version(store, run_id, stage, {**info, "size": record["size"]}, record["time"])
    if rows:
        store.add_metric_rows(rows)
    return problems
