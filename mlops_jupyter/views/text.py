"""Plain-text pieces every face shares: strict JSON, sizes, shapes, schema changes, the runs table.

The CLI prints these, the magics use them as the ``text/plain`` of their views, the server sends
the same strict JSON. Pure: values in, strings out.
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def strict_json(value: Any, indent: int | None = 2) -> str:
    """JSON that ``jq`` and JavaScript read: NaN and infinities (which the store keeps, a
    diverging loss is a result) become ``null``; anything else unknown is its ``str``."""
    return json.dumps(json_safe(value), indent=indent, default=str, allow_nan=False)


def short_number(value: Any, digits: int = 6) -> str:
    """A number in a table cell: floats to ``digits`` significant digits (``nan``, ``inf`` as
    such), None as ``-``, anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def human_size(size: int | None, missing: str = "") -> str:
    """Decimal units, as file managers show them: ``2.4 MB``."""
    if size is None:
        return missing
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def column_count(version: dict[str, Any]) -> int | None:
    columns = version.get("columns")
    if isinstance(columns, int):
        return columns
    if isinstance(columns, list):
        return len(columns)
    schema = schema_of(version)
    return len(schema) if schema is not None else None


def schema_of(version: dict[str, Any]) -> dict[str, str] | None:
    """column -> dtype from whichever shape the version carries (a dict, a list, or names)."""
    for key in ("schema", "dtypes"):
        found = version.get(key)
        if isinstance(found, dict):
            return {str(k): str(v) for k, v in found.items()}
        if isinstance(found, list):
            return {
                str(c.get("name")): str(c.get("dtype") or c.get("type") or "")
                for c in found
                if isinstance(c, dict)
            }
    columns = version.get("columns")
    if isinstance(columns, list):
        return {str(c): "" for c in columns}
    return None


def shape(version: dict[str, Any], times: str = " × ", missing: str = "") -> str:
    """rows × columns of a table; the file count of a folder; ``missing`` for an opaque file."""
    cols = column_count(version)
    rows = version.get("rows")
    if rows is not None:
        return f"{rows}{times}{cols}" if cols is not None else f"{rows} rows"
    if version.get("files") is not None:
        return f"{version['files']} files"
    return f"{cols} cols" if cols is not None else missing


def _typed(column: Any, types: dict[str, str]) -> str:
    return f"{column} ({types[str(column)]})" if types.get(str(column)) else str(column)


def schema_changes(
    diff: dict[str, Any],
    new_types: dict[str, str] | None = None,
    old_types: dict[str, str] | None = None,
    *,
    ascii: bool = False,
) -> list[tuple[str, str]]:
    """``[(sign, text)]`` from a data version's ``schema_diff`` (``datasets.schema_diff``):
    ``+`` an added column, ``-`` a removed one, ``~`` a changed dtype or row count. ``ascii``:
    for a terminal (``rows 2 -> 3``) rather than a page (``rows: 2 → 3``)."""
    new_types, old_types = new_types or {}, old_types or {}
    arrow, rows_label = ("->", "rows") if ascii else ("→", "rows:")
    found = [("+", _typed(c, new_types)) for c in diff.get("added") or []]
    found += [("-", _typed(c, old_types)) for c in diff.get("removed") or []]
    dtypes = diff.get("dtypes") or diff.get("changed") or {}
    for column, change in dtypes.items() if isinstance(dtypes, dict) else ():
        if isinstance(change, (list, tuple)) and len(change) == 2:
            found.append(("~", f"{column}: {change[0]} {arrow} {change[1]}"))
    rows = diff.get("rows")
    if isinstance(rows, (list, tuple)) and len(rows) == 2:
        found.append(("~", f"{rows_label} {rows[0]} {arrow} {rows[1]}"))
    return found


def changes_line(changes: list[tuple[str, str]]) -> str:
    """``+c; -d; rows 2 -> 3``: schema changes on one line."""
    return "; ".join(text if sign == "~" else sign + text for sign, text in changes)


def runs_table(runs: list[dict[str, Any]]) -> str:
    """One line per run, newest first, under a header."""
    if not runs:
        return "no runs yet: start one with `mlops run NOTEBOOK`"
    header = ["run", "status", "pipeline", "version", "started", "time"]
    rows = [
        [
            str(run["run_id"]),
            str(run["status"]),
            str(run["pipeline"]),
            str(run["version"])[:12],
            str(run.get("started_at") or ""),
            f"{run['duration_s']:.1f}s" if run.get("duration_s") is not None else "",
        ]
        for run in runs
    ]
    # sized to what is shown: a fixed width let a long pipeline name push every later column
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    last = len(header) - 1  # the time, right-aligned so the decimal points line up
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i == last else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    )


def aligned(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, under a header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    )


SCHEDULE_HEADER = ["NAME", "CRON", "TZ", "STATE", "NEXT FIRE", "TARGET"]


def schedules_table(schedules: list[dict[str, Any]]) -> str:
    """``mlops schedule list``: one line per schedule (``schedule.model.to_json`` objects)."""
    if not schedules:
        return "no schedules (add one: mlops schedule add NAME NOTEBOOK --cron '0 2 * * *')"
    rows = [
        [
            s["name"],
            s["cron"],
            s["tz"],
            "on" if s["enabled"] else "paused",
            s["next_fire"] or "-",
            s["target"],
        ]
        for s in schedules
    ]
    return aligned(SCHEDULE_HEADER, rows)


def history_table(name: str, fires: list[dict[str, Any]]) -> str:
    """``mlops schedule history``: one line per fire, newest first."""
    if not fires:
        return f"schedule {name} has not fired yet"
    rows = [
        [f["scheduled_for"], f["fired_at"] or "-", f["run_id"] or "-", f["status"], f["reason"]]
        for f in fires
    ]
    return aligned(["SCHEDULED FOR", "FIRED AT", "RUN", "STATUS", "REASON"], rows)
