"""Data checks: ``mlops.check_data(frame_or_path, schema=None)`` on pandera.

**The schema, when none is given, comes from the data before.** Every table version keeps what
a schema needs: its columns and dtypes, nulls and ranges in the profile, distinct values in its
sketch (``tracking/drift.py``). The baseline is the newest version of the same path (or
DataFrame name) whose own check did not fail, so a bad version never becomes the standard the
next one is held to; the schema is inferred from it (:func:`infer_schema`) and the new data
validated against it. The first version of a path has nothing before it: it passes, and its
schema becomes the first baseline. Each checked version keeps the schema inferred from itself
(pandera's YAML) and the outcome beside its data version, so ``mlops data --json`` shows both.

**What an inferred schema requires.** Every column present before (added columns are allowed:
``mlops data`` shows them in the schema diff); its dtype for numbers, bools and dates (a column
of floats may arrive as ints, which is lossless, so float columns coerce; int columns do not,
since coercing 1.5 to int truncates it silently); no nulls where there were none; numbers
within the range seen, widened by a tenth of its span each way (a fresh sample of a continuous
column nearly always steps a little past the last one's extremes, and a check that fails every
new batch gets switched off; 150 for an age seen between 18 and 89 still fails), and not
negative where nothing was; and for a categorical column (at most :data:`CATEGORY_LIMIT` distinct
values, each seen twice on average) no value not seen before. Text columns carry no dtype
check: pandas' own text dtype differs between versions (object, ``str``) while the data does not.

**pandera does the validating**, lazily, so one error lists every failed column and rule.
A file is validated chunk by chunk as it is read for its profile, so a table larger than memory
is checked in the same one pass; row numbers count from the file's first data row.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .require import CheckFailed

CATEGORY_LIMIT = 100
RANGE_MARGIN = 0.1
EXAMPLES = 3


class DataCheckFailed(CheckFailed):
    """Data that does not meet its schema; ``failures`` lists each failed column and rule. An
    ``AssertionError``, so in a ``check`` stage it is a check failure."""

    def __init__(self, message: str, failures: list[dict[str, Any]], version: Any) -> None:
        super().__init__(message)
        self.failures = failures
        self.version = version


def pandera() -> Any:
    try:
        import pandera.pandas as pa
    except ImportError:
        raise ImportError(
            "mlops.check_data validates with pandera (0.24 or later), which is not installed: "
            'pip install "mlops-jupyter[checks]" (or pandera).'
        ) from None
    return pa


# -- schemas


def infer_schema(version: dict[str, Any], sketch: Any = None) -> Any:
    """A pandera ``DataFrameSchema`` from a table version's description (and its sketch, for
    categories); None when the version is not a table."""
    dtypes = version.get("dtypes")
    if not dtypes:
        return None
    pa = pandera()
    profile = version.get("profile") or {}
    columns = {}
    for name in version.get("columns") or list(dtypes):
        dtype = str(dtypes.get(name, "object"))
        stats = profile.get(name) or {}
        checks = []
        kind = _kind(dtype)
        if kind in "if" and stats.get("min") is not None and stats.get("max") is not None:
            checks.append(pa.Check.in_range(*widened(stats["min"], stats["max"], kind == "i")))
        column_sketch = None if sketch is None else sketch.columns.get(name)
        counts = None if column_sketch is None else column_sketch.counts
        seen = 0 if column_sketch is None else column_sketch.n
        if kind == "O" and counts and len(counts) <= CATEGORY_LIMIT and len(counts) * 2 <= seen:
            checks.append(pa.Check.isin(sorted(counts, key=str)))
        columns[name] = pa.Column(
            dtype if kind in "ifbM" else None,
            checks=checks or None,
            nullable=bool(stats.get("nulls", 1)),
            coerce=kind == "f",
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False)


def widened(low: float, high: float, integers: bool) -> tuple[float, float]:
    """The range a new version's values must fall in: the range seen, widened by
    :data:`RANGE_MARGIN` of its span each way, never below 0 when nothing was (rounded outward
    to whole numbers for an int column)."""
    margin = (high - low) * RANGE_MARGIN
    lower, upper = low - margin, high + margin
    if low >= 0:
        lower = max(lower, 0)
    if integers:
        return math.floor(lower), math.ceil(upper)
    return lower, upper


def _kind(dtype: str) -> str:
    """``i`` int, ``f`` float, ``b`` bool, ``M`` datetime, ``O`` anything else (text)."""
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "i"
    if dtype.startswith(("float", "Float")):
        return "f"
    if dtype in ("bool", "boolean"):
        return "b"
    if dtype.startswith("datetime64"):
        return "M"
    return "O"


def parse_schema(schema: Any) -> Any:
    """A pandera ``DataFrameSchema``: one given, its YAML text, or the path of a YAML file.
    ValueError naming what is wrong when it does not parse."""
    pa = pandera()
    if isinstance(schema, pa.DataFrameSchema):
        return schema
    if isinstance(schema, os.PathLike) or (
        isinstance(schema, str) and "\n" not in schema and schema.endswith((".yaml", ".yml"))
    ):
        path = Path(schema)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"the schema file {str(path)!r} cannot be read ({exc}).") from None
        where = f"the schema file {str(path)!r}"
    elif isinstance(schema, str):
        text, where = schema, "the schema text"
    else:
        raise TypeError(
            "schema= takes a pandera DataFrameSchema, its YAML text or a .yaml file's path, not "
            f"{type(schema).__module__}.{type(schema).__qualname__}."
        )
    try:
        found = pa.DataFrameSchema.from_yaml(text)
    except Exception as exc:  # yaml's and pandera's own errors, whatever their class
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{where} is not a pandera schema ({type(exc).__name__}: {first[:200]}). Write it "
            "as pandera writes one (DataFrameSchema.to_yaml()), or pass the schema object."
        ) from None
    if not isinstance(found, pa.DataFrameSchema):
        raise ValueError(f"{where} is not a pandera DataFrameSchema.")
    if not found.columns and not found.checks:
        raise ValueError(f"{where} names no columns and no checks: it would check nothing.")
    return found


def schema_yaml(schema: Any) -> str | None:
    try:
        return str(schema.to_yaml())
    except Exception:  # a schema with custom checks pandera cannot write out
        return None


# -- validating


class Validator:
    """Failures of a schema over the chunks of one table, grouped by column and rule."""

    def __init__(self, schema: Any, *, positional: bool = True) -> None:
        """``positional``: rows are counted from the table's first row across chunks (a file);
        else they are the frame's own index labels (a DataFrame)."""
        self.schema = schema
        self.positional = positional
        self._groups: dict[tuple[str | None, str], dict[str, Any]] = {}
        self._offset = 0

    def add(self, frame: Any) -> None:
        pa = pandera()
        if self.positional:
            frame = frame.reset_index(drop=True)
        try:
            self.schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            for case in exc.failure_cases.to_dict("records"):
                self._add(case)
        self._offset += len(frame)

    def _add(self, case: dict[str, Any]) -> None:
        check = str(case.get("check"))
        column = case.get("column")
        if check == "column_in_dataframe":
            column, value = str(case.get("failure_case")), None
        else:
            value = case.get("failure_case")
        column = None if column is None or _missing(column) else str(column)
        group = self._groups.setdefault(
            (column, check), {"column": column, "check": check, "count": 0, "examples": []}
        )
        if check == "column_in_dataframe":
            group["count"] = 1  # once, however many chunks
            return
        index = case.get("index")
        group["count"] += 1
        if len(group["examples"]) < EXAMPLES:
            row = None if index is None or _missing(index) else index
            if row is not None and self.positional:
                row = int(row) + self._offset
            group["examples"].append({"row": row, "value": _plain(value)})

    def failures(self) -> list[dict[str, Any]]:
        """``[{"column", "check", "count", "examples": [{"row", "value"}]}]``, missing columns
        first, then by column."""
        return sorted(
            self._groups.values(),
            key=lambda g: (g["check"] != "column_in_dataframe", str(g["column"]), g["check"]),
        )


def _missing(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN
    except Exception:
        return False


def _plain(value: Any) -> Any:
    """A failure case as JSON keeps it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):  # pandera's failure cases of an int column may come as floats
        return None if value != value else int(value) if value.is_integer() else value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _plain(item())
        except Exception:
            pass
    return str(value)[:200]


def describe_failure(failure: dict[str, Any]) -> str:
    """One line: ``column 'age': in_range(0, 99) failed for 3 rows (e.g. 120 at row 7)``."""
    where = "the table" if failure["column"] is None else f"column '{failure['column']}'"
    if failure["check"] == "column_in_dataframe":
        return f"{where} is missing"
    count = failure["count"]
    examples = ", ".join(
        f"{e['value']!r}" + ("" if e["row"] is None else f" at row {e['row']}")
        for e in failure["examples"]
    )
    rows = f"{count} row{'s' if count != 1 else ''}"
    return f"{where}: {failure['check']} failed for {rows}" + (
        f" (e.g. {examples})" if examples else ""
    )


def failure_message(label: str, against: str, failures: list[dict[str, Any]]) -> str:
    lines = [f"data check of {label} failed against {against}: {len(failures)} problem(s)"]
    lines += [f"  {describe_failure(f)}" for f in failures]
    return "\n".join(lines)


# -- check_data


def load_sketch(store: Any, key: str | None) -> Any:
    """The drift sketch an object key names, or None (no key, or its object is gone)."""
    if not key:
        return None
    from ..store import objects
    from .drift import from_bytes

    try:
        return from_bytes(objects.open_objects(store.objects).get(key))
    except (OSError, ValueError, KeyError):
        return None


def check(
    store: Any,
    source: Any,
    *,
    run_id: str | None,
    stage: str | None,
    schema: Any = None,
    name: str | None = None,
) -> Any:
    """``mlops.check_data``: validate ``source`` against ``schema`` or its baseline, record it
    as a data version with the outcome and its own inferred schema, raise
    :class:`DataCheckFailed` listing every failure. Returns the ``DataVersion``."""
    from . import datasets

    path = datasets.version_path(source, name)
    if isinstance(source, (str, os.PathLike)) and not datasets.TABLE_SUFFIXES.get(
        os.path.splitext(path)[1].lower()
    ):
        raise ValueError(
            f"check_data checks tables: a DataFrame, or a .csv, .tsv or .parquet file; "
            f"{path!r} is not one."
        )
    given = None if schema is None else parse_schema(schema)  # a bad schema: nothing written
    if given is not None:
        rules, against, base = given, "the given schema", None
    else:
        base = store.baseline_data_version(path)
        rules = None if base is None else infer_schema(base, load_sketch(store, base.get("sketch")))
        against = (
            "nothing (the first version)"
            if base is None
            else (f"version {base['hash'][:12]} ({base.get('time') or 'recorded'})")
        )
    positional = isinstance(source, (str, os.PathLike))
    validator = None if rules is None else Validator(rules, positional=positional)
    version = datasets.observe(store, source, name=name, validator=validator)
    if not version.dtypes:
        raise ValueError(
            f"check_data could not read {path!r} as a table"
            + (f" ({version.to_dict().get('table_error')})" if version.kind == "file" else "")
            + "."
        )
    own = infer_schema(version.to_dict(), load_sketch(store, version.sketch))
    version.schema = None if own is None else schema_yaml(own)
    failures = [] if validator is None else validator.failures()
    version.check = {
        "passed": not failures,
        "against": "schema" if given is not None else (None if base is None else base["hash"]),
        "failures": failures,
    }
    datasets.record(store, version, run_id, stage)
    if failures:
        label = os.path.basename(path) if os.path.isabs(path) else f"DataFrame '{path}'"
        raise DataCheckFailed(failure_message(label, against, failures), failures, version)
    return version
