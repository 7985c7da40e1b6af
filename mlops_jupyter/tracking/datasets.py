"""Data versions: what ``track_data`` returns and records.

A version is a content hash (``hashing.check`` for files and folders; every row for a DataFrame)
plus, for tables (CSV, Parquet, a pandas DataFrame), rows, columns, dtypes and a small profile
(nulls; min, max and mean of numeric columns) computed over **all** rows, in chunks, so a table
larger than memory can be profiled. MLflow's dataset digest hashes only the first 10,000 rows;
here a change in row 10,001 is a new version.

The profile of an unchanged file is not computed again: a version with the same hash as the
previous one for that path reuses its table description, so re-tracking costs a stat.

pandas and pyarrow are imported only to describe a table, never by importing this module.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..store import hashing
from ..store.db import Store

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CHUNK_ROWS = 500_000
TABLE_FIELDS = ("rows", "columns", "dtypes", "profile", "sketch")


@dataclass
class DataVersion:
    """One sighting of a data set, compared with the last version recorded for the same path
    by any run. One rule, the words ``mlops data`` prints: the first version of a path is
    ``new`` (``previous`` is None; nothing to have changed from, so ``changed`` is False);
    later ones are ``changed`` when their hash differs from that last version, else unchanged."""

    path: str
    hash: str
    size: int
    changed: bool
    kind: str  # "file" | "directory" | "dataframe"
    previous: str | None = None
    files: int | None = None
    rows: int | None = None
    columns: list[str] | None = None
    dtypes: dict[str, str] | None = None
    profile: dict[str, dict[str, Any]] | None = None
    schema_diff: dict[str, Any] | None = None
    run_id: str | None = None
    stage: str | None = None
    time: float = field(default_factory=time.time)
    new: bool = False
    # a table's drift sketch: its object key (tracking/drift.py)
    sketch: str | None = None
    # check_data only: the schema inferred from this version (pandera YAML) and the outcome
    schema: str | None = None
    check: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def info(self) -> dict[str, Any]:
        """What goes into the ``info`` JSON column (everything but the columns of the table)."""
        data = self.to_dict()
        for key in ("path", "hash", "size", "run_id", "stage", "time"):
            data.pop(key)
        return data

    def __repr__(self) -> str:
        shape = f", rows={self.rows}, columns={len(self.columns)}" if self.columns else ""
        return (
            f"DataVersion(path={self.path!r}, hash={self.hash[:12]!r}, size={self.size}"
            f"{shape}, {'new=True' if self.new else f'changed={self.changed}'})"
        )


# -- describing tables


def _number(value: Any) -> float | int | None:
    """A JSON-safe number: NaN and infinities become None (an all-null column has no mean)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


class _Profile:
    """Column statistics accumulated over chunks of a table."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: list[str] = []
        self.dtypes: dict[str, set[str]] = {}
        self.nulls: dict[str, int] = {}
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        self.sum: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, frame: Any) -> None:
        names = [str(c) for c in frame.columns]
        if not self.columns:
            self.columns = names
        self.rows += len(frame)
        for name, dtype in zip(names, frame.dtypes, strict=True):
            self.dtypes.setdefault(name, set()).add(str(dtype))
        for name, nulls in zip(names, frame.isna().sum(), strict=True):
            self.nulls[name] = self.nulls.get(name, 0) + int(nulls)
        numeric = frame.select_dtypes(include="number")
        if numeric.shape[1] == 0 or len(frame) == 0:
            return
        numeric.columns = [str(c) for c in numeric.columns]
        stats = zip(
            numeric.columns,
            numeric.min(),
            numeric.max(),
            numeric.sum(),
            numeric.count(),
            strict=True,
        )
        for name, low, high, total, count in stats:
            if count == 0:
                continue
            self.low[name] = min(self.low.get(name, low), low)
            self.high[name] = max(self.high.get(name, high), high)
            self.sum[name] = self.sum.get(name, 0.0) + float(total)
            self.count[name] = self.count.get(name, 0) + int(count)

    def result(self) -> dict[str, Any]:
        dtypes = {}
        for name in self.columns:
            seen = self.dtypes.get(name, set())
            # chunks may disagree (ints, then a chunk with a gap reads as floats)
            if len(seen) == 1:
                dtypes[name] = next(iter(seen))
            elif seen and all(d.startswith(("int", "float", "uint")) for d in seen):
                dtypes[name] = "float64"
            else:
                dtypes[name] = "object"
        profile: dict[str, dict[str, Any]] = {}
        for name in self.columns:
            entry: dict[str, Any] = {"nulls": self.nulls.get(name, 0)}
            if name in self.count:
                entry["min"] = _number(self.low[name])
                entry["max"] = _number(self.high[name])
                entry["mean"] = _number(self.sum[name] / self.count[name])
            profile[name] = entry
        return {"rows": self.rows, "columns": self.columns, "dtypes": dtypes, "profile": profile}


def _chunks(path: str, fmt: str) -> Any:
    if fmt == "csv":
        import pandas as pd

        sep = "\t" if path.endswith(".tsv") else ","
        yield from pd.read_csv(path, sep=sep, chunksize=CHUNK_ROWS, low_memory=False)
    else:
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(path)
        if handle.metadata.num_rows == 0:
            yield handle.schema_arrow.empty_table().to_pandas()
            return
        for batch in handle.iter_batches(batch_size=CHUNK_ROWS):
            yield batch.to_pandas()


def describe_table(
    source: Any, fmt: str | None = None, *, sketch: bool = False, validator: Any = None
) -> dict[str, Any] | None:
    """``{rows, columns, dtypes, profile}`` of a DataFrame or a CSV/Parquet file, over all rows;
    None when the libraries to read it are missing or the file does not parse as a table.
    ``sketch``: also ``"sketch"``, a :class:`~.drift.Sketch` of it; ``validator``: a
    :class:`~.checks.Validator` that sees every chunk (the same one pass)."""
    profile = _Profile()
    builder = None
    if sketch:
        from .drift import SketchBuilder

        builder = SketchBuilder()
    try:
        for chunk in [source] if fmt is None else _chunks(source, fmt):
            profile.add(chunk)
            if builder is not None:
                builder.add(chunk)
            if validator is not None:
                validator.add(chunk)
    except ImportError:
        if fmt is None:
            raise
        return None
    except Exception as exc:  # a .csv that is not a table is still a versioned file
        if fmt is None or (validator is not None and not isinstance(exc, (ValueError, OSError))):
            raise
        return {"table_error": f"{type(exc).__name__}: {exc}"[:300]}
    found = profile.result()
    if builder is not None:
        found["sketch"] = builder.result()
    return found


def hash_frame(frame: Any) -> tuple[str, int]:
    """(hash, bytes in memory) of a DataFrame: every row, the index, column names and dtypes."""
    import pandas as pd

    header = repr(
        [(str(c), str(t)) for c, t in zip(frame.columns, frame.dtypes, strict=True)]
    ).encode()
    try:
        rows = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    except TypeError:  # unhashable cells (lists, dicts): hash the pickled frame instead
        import pickle

        rows = pickle.dumps(frame, protocol=5)
    size = int(frame.memory_usage(index=True, deep=True).sum())
    return hashing.hash_bytes(header + b"\0" + rows), size


# -- comparing versions


def schema_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    """Added and removed columns, dtype changes and the row count change between two table
    descriptions; None when either is not a table or nothing in the schema changed."""
    if not before or not before.get("dtypes") or not after.get("dtypes"):
        return None
    old, new = before["dtypes"], after["dtypes"]
    diff: dict[str, Any] = {
        "added": [c for c in new if c not in old],
        "removed": [c for c in old if c not in new],
        "dtypes": {c: [old[c], new[c]] for c in new if c in old and old[c] != new[c]},
    }
    if before.get("rows") != after.get("rows"):
        diff["rows"] = [before.get("rows"), after.get("rows")]
    return diff if any(diff.values()) else None


def _compare(version: DataVersion, previous: dict[str, Any] | None) -> None:
    version.previous = previous["hash"] if previous else None
    version.new = previous is None
    version.changed = previous is not None and previous["hash"] != version.hash
    version.schema_diff = schema_diff(previous, version.to_dict()) if version.changed else None


# -- tracking


def track(
    store: Store,
    source: Any,
    *,
    run_id: str | None,
    stage: str | None,
    name: str | None = None,
    verify: bool = False,
) -> DataVersion:
    """Hash and describe a file, folder or DataFrame, compare with the last version of the same
    path, and record it in ``data_versions``."""
    version = observe(store, source, name=name, verify=verify)
    record(store, version, run_id, stage)
    return version


def version_path(source: Any, name: str | None = None) -> str:
    """The path a source's versions are recorded under: a file's or folder's absolute path, a
    DataFrame's name (default ``"dataframe"``)."""
    if isinstance(source, (str, os.PathLike)):
        if name is not None:
            raise TypeError(
                "track_data(path, name=...): name is for DataFrames; a file is named by its path."
            )
        return os.path.abspath(os.fspath(source))
    if _is_frame(source):
        return name or "dataframe"
    kind = type(source)
    named = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    raise TypeError(
        f"track_data() takes a file or folder path or a pandas DataFrame, not {named} "
        f"({source!r:.60})."
    )


def _is_frame(source: Any) -> bool:
    return type(source).__module__.startswith("pandas") and type(source).__name__ == "DataFrame"


def observe(
    store: Store,
    source: Any,
    *,
    name: str | None = None,
    verify: bool = False,
    validator: Any = None,
) -> DataVersion:
    """A :class:`DataVersion` of ``source``, compared with the newest recorded for its path,
    not recorded yet. A table gets its description and drift sketch (the sketch's bytes go to
    the object store now: a version recorded later names an object that exists). An unchanged
    file reuses the newest version's description, unless a ``validator`` must see its rows."""
    version_path(source, name)  # the argument errors, before any work
    if isinstance(source, (str, os.PathLike)):
        digest = hashing.check(source, store, verify=verify)
        version = DataVersion(digest.path, digest.hash, digest.size, False, digest.kind)
        if digest.kind == "directory":
            version.files = digest.files
        previous = store.last_data_version(version.path)
        fmt = TABLE_SUFFIXES.get(os.path.splitext(version.path)[1].lower())
        table: dict[str, Any] | None = None
        if fmt and digest.kind == "file":
            reuse = previous and previous["hash"] == version.hash and "rows" in previous
            if reuse and validator is None and previous and previous.get("sketch"):
                table = {k: previous.get(k) for k in TABLE_FIELDS}
            else:
                table = describe_table(version.path, fmt, sketch=True, validator=validator)
    else:
        digest_hash, size = hash_frame(source)
        version = DataVersion(version_path(source, name), digest_hash, size, False, "dataframe")
        table = describe_table(source, sketch=True, validator=validator)
        previous = store.last_data_version(version.path)
    for key, value in (table or {}).items():
        if key == "sketch" and value is not None and not isinstance(value, str):
            from ..store import objects
            from .drift import to_bytes

            value = objects.open_objects(store.objects).put(to_bytes(value))
        if key in TABLE_FIELDS:
            setattr(version, key, value)
    _compare(version, previous)
    return version


def record(store: Store, version: DataVersion, run_id: str | None, stage: str | None) -> None:
    version.run_id, version.stage = run_id, stage
    store.add_data_version(
        run_id, stage, version.path, version.hash, version.size, version.info(), version.time
    )


def copy_versions(store: Store, source_run: str, run_id: str, stage: str) -> None:
    """A cached stage's data versions, recorded again under the run that reused it."""
    for row in reversed(store.data_versions(run_id=source_run, stage=stage, limit=None)):
        record_version(store, run_id, stage, row, time.time())


_RECORD_COLUMNS = ("run_id", "stage", "path", "hash", "size", "time", "timestamp", "rowid")


def record_version(store: Store, run_id: str, stage: str, row: dict[str, Any], when: float) -> None:
    """A version seen elsewhere (a cached run's; a remote stage's journal) recorded under this
    run and stage, ``changed`` compared anew: the data may have gone back to this version since."""
    known = {k: v for k, v in row.items() if k in DataVersion.__dataclass_fields__}
    version = DataVersion(**{**known, "changed": False, "time": when})
    _compare(version, store.last_data_version(version.path))
    version.run_id, version.stage = run_id, stage
    extra = {k: v for k, v in row.items() if k not in known and k not in _RECORD_COLUMNS}
    store.add_data_version(
        run_id, stage, version.path, version.hash, version.size, {**extra, **version.info()}, when
    )
