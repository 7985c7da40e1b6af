"""Data checks and drift as text: ``mlops data check``, ``mlops data drift`` and the drift
column of the data versions views. Pure: records in, strings out."""

from __future__ import annotations

from typing import Any

from ..tracking.checks import describe_failure
from .text import aligned, short_number


def against_text(against: Any) -> str:
    if against == "schema" or against is None:
        return "the given schema" if against == "schema" else "nothing (the first version)"
    if isinstance(against, dict):
        return f"version {against['hash'][:12]} ({against.get('time') or 'recorded'})"
    return f"version {str(against)[:12]}"


def check_text(result: dict[str, Any]) -> str:
    head = f"{result['path']} against {against_text(result['against'])}: "
    if result["passed"]:
        return head + "passed"
    lines = [head + f"{len(result['failures'])} problem(s)"]
    lines += [f"  {describe_failure(f)}" for f in result["failures"]]
    return "\n".join(lines)


def drift_text(result: dict[str, Any]) -> str:
    """The per-column table and a verdict line."""
    rows = []
    for name, column in result["columns"].items():
        rows.append(
            [
                name,
                column["test"] or "-",
                short_number(column["statistic"], 3),
                short_number(column["p_value"], 3),
                short_number(column["threshold"], 3),
                "DRIFT" if column["drift"] else ("-" if column["test"] is None else "no"),
                column.get("note", ""),
            ]
        )
    table = aligned(["COLUMN", "TEST", "STATISTIC", "P-VALUE", "THRESHOLD", "DRIFT", "NOTE"], rows)
    tested = sum(c["test"] is not None for c in result["columns"].values())
    drifted = sum(c["drift"] for c in result["columns"].values())
    verdict = "drift" if result["drift"] else "no drift"
    head = ""
    if "from" in result:
        head = f"{result['path']}: {result['from']['hash'][:12]} -> {result['to']['hash'][:12]}\n"
    return f"{head}{table}\n\n{verdict}: {drifted} of {tested} columns drifted"


def drift_cell(summary: Any) -> str:
    """The data views' drift column: ``2/5 cols``, ``none``, or empty (nothing to compare)."""
    if not summary:
        return ""
    drifted = summary.get("drifted") or []
    if not drifted:
        return "no drift"
    mark = "DRIFT " if summary.get("drift") else ""
    return f"{mark}{', '.join(drifted[:3])}" + (f" +{len(drifted) - 3}" if len(drifted) > 3 else "")
