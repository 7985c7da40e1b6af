"""A served model's monitor report as text and HTML: ``mlops monitor``, ``%mlops monitor``.
Pure: the report in, strings out."""

from __future__ import annotations

from html import escape
from typing import Any

from .tables import FONT, TABLE, TD, TH
from .text import short_number


def _headline(found: dict[str, Any]) -> list[str]:
    latency = found["latency_ms"]
    lines = [
        f"{found['model']}@{found['version']} ({found['ref']}), last {short_number(found['window']['seconds'] / 3600, 3)} h "
        f"({found['window']['since']} .. {found['window']['until']})",
        f"requests {found['requests']}  errors {found['errors']} ({found['error_rate'] * 100:.1f} %)  "
        f"latency p50 {short_number(latency['p50'], 3)} ms  p99 {short_number(latency['p99'], 3)} ms",
    ]
    reference = found.get("reference")
    if reference:
        lines.append(
            f"inputs ({found['served_rows']} rows) vs training data {reference['path']} "
            f"{reference['hash'][:12]} ({reference['rows']} rows): "
            + ("DRIFT" if found["drift"] else "no drift")
            + f" ({found['share'] * 100:.0f} % of columns)"
        )
    if found.get("note"):
        lines.append(f"note: {found['note']}")
    return lines


def _prediction_line(found: dict[str, Any]) -> str:
    predictions = found.get("predictions") or {}
    if not predictions.get("rows"):
        return "predictions: none recorded in the window"
    if predictions.get("kind") == "classes":
        shown = ", ".join(f"{k}: {v}" for k, v in list(predictions["counts"].items())[:8])
    else:
        shown = f"mean {short_number(predictions.get('mean'), 3)}, std {short_number(predictions.get('std'), 3)}"
    shift = predictions.get("shift")
    moved = (
        "not compared (too few in the window before)"
        if shift is None
        else ("SHIFTED" if shift["drift"] else "steady")
        + f" vs the window before ({shift['test']})"
    )
    return f"predictions ({predictions['rows']}): {shown}; {moved}"


def monitor_text(found: dict[str, Any]) -> str:
    lines = _headline(found)
    if found["columns"]:
        width = max(len(c) for c in found["columns"])
        for name, column in found["columns"].items():
            verdict = "DRIFT" if column["drift"] else ("no" if column["test"] else "-")
            detail = column.get("note") or (
                f"{column['test']} statistic {short_number(column['statistic'], 3)}"
                + (
                    f" p {short_number(column['p_value'], 3)}"
                    if column["p_value"] is not None
                    else ""
                )
            )
            lines.append(f"  {name.ljust(width)}  {verdict:5}  {detail}")
    lines.append(_prediction_line(found))
    if found.get("on_drift"):
        ran = found["on_drift"]
        lines.append(f"on drift: ran {ran['command']!r} (exit {ran['exit_code']})")
    return "\n".join(lines)


def monitor_html(found: dict[str, Any]) -> str:
    head = "".join(f"<div>{escape(line)}</div>" for line in _headline(found))
    rows = "".join(
        f'<tr data-column="{escape(name)}" data-drift="{str(c["drift"]).lower()}">'
        f'<td style="{TD}">{escape(name)}</td><td style="{TD}">{escape(c["test"] or "-")}</td>'
        f'<td style="{TD};text-align:right">{escape(short_number(c["statistic"], 3))}</td>'
        f'<td style="{TD};text-align:right">{escape(short_number(c["p_value"], 3))}</td>'
        f'<td style="{TD};{"color:#c62828;font-weight:700" if c["drift"] else ""}">'
        f"{'drift' if c['drift'] else 'no'}</td></tr>"
        for name, c in found["columns"].items()
    )
    table = (
        f'<table class="mlops-monitor" style="{TABLE}"><thead><tr>'
        + "".join(
            f'<th style="{TH}">{h}</th>' for h in ("column", "test", "statistic", "p", "drift")
        )
        + f"</tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<div class="mlops-monitor-view" style="{FONT};font-size:12.5px">{head}{table}'
        f"<div>{escape(_prediction_line(found))}</div></div>"
    )
