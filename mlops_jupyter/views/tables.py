"""Tables: runs × metrics (best value per metric highlighted) and data versions (schema diffs)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from html import escape
from typing import Any

from .text import human_size, schema_changes, schema_of, shape

FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif"
TABLE = f"border-collapse:collapse;font-size:12.5px;{FONT}"
TH = "text-align:left;padding:4px 10px;border-bottom:2px solid #cfd8dc;color:#37474f;white-space:nowrap"
TD = "padding:3px 10px;border-bottom:1px solid #eceff1;white-space:nowrap"
BEST = "background:#d7f0d8;color:#1b4d1e;font-weight:700"

# a metric whose name says "less is better"; sklearn's scorer names (neg_...) are the exception
_LOWER = re.compile(
    r"(^|[_\-. /])(loss|logloss|error|err|errors|rmse|mse|mae|mape|smape|rmsle|perplexity|wer|cer"
    r"|latency|duration|time|seconds)($|[_\-. /0-9])",
    re.IGNORECASE,
)


def lower_is_better(key: str, minimize: Iterable[str] | None = None) -> bool:
    """``minimize`` names the keys to minimize outright; otherwise guess from the name."""
    if minimize is not None and key in set(minimize):
        return True
    if key.lower().startswith(("neg_", "neg-")):
        return False
    return bool(_LOWER.search(key))


def number(value: Any) -> float | None:
    """A finite float, or None for what cannot take part in "best" (text, NaN, inf, None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def best_rows(rows: list[dict[str, Any]], key: str, lower: bool) -> set[int]:
    """Row positions holding the best value of ``key`` (all of them, when tied)."""
    values = {i: number(r["metrics"].get(key)) for i, r in enumerate(rows)}
    finite = {i: v for i, v in values.items() if v is not None}
    if not finite:
        return set()
    target = min(finite.values()) if lower else max(finite.values())
    return {i for i, v in finite.items() if v == target}


def varying_parameters(rows: list[dict[str, Any]]) -> list[str]:
    """Parameters whose value differs between the rows: the ones worth a column."""
    names = list(dict.fromkeys(n for r in rows for n in r.get("parameters", {})))
    return [n for n in names if len({repr(r.get("parameters", {}).get(n)) for r in rows}) > 1]


def metric_keys(rows: list[dict[str, Any]], keys: list[str] | None) -> list[str]:
    if keys:
        return list(keys)
    return sorted(dict.fromkeys(k for r in rows for k in r["metrics"]))


def metrics_table_html(
    rows: list[dict[str, Any]], keys: list[str], minimize: Iterable[str] | None = None
) -> str:
    """``rows`` as ``api.metrics_over_runs`` returns them (newest first)."""
    if not rows:
        return f'<div style="{FONT};color:#607d8b">no runs yet</div>'
    params = varying_parameters(rows)
    lower = {k: lower_is_better(k, minimize) for k in keys}
    best = {k: best_rows(rows, k, lower[k]) for k in keys}
    head = "".join(f'<th style="{TH}">{escape(h)}</th>' for h in ("run", "status", *params))
    head += "".join(
        f'<th style="{TH};text-align:right" title="best = {"lowest" if lower[k] else "highest"}">'
        f"{escape(k)} {'↓' if lower[k] else '↑'}</th>"
        for k in keys
    )
    body = []
    for i, row in enumerate(rows):
        cells = [
            f'<td style="{TD};font-family:monospace">{escape(row["run_id"])}</td>',
            f'<td style="{TD}">{escape(row["status"])}</td>',
        ]
        cells += [
            f'<td style="{TD}">{escape(fmt(row.get("parameters", {}).get(p)))}</td>' for p in params
        ]
        for key in keys:
            mark = i in best[key]
            style = f"{TD};text-align:right;font-variant-numeric:tabular-nums" + (
                f";{BEST}" if mark else ""
            )
            klass = ' class="mlops-best"' if mark else ""
            cells.append(
                f'<td{klass} data-key="{escape(key)}" style="{style}">'
                f"{escape(fmt(row['metrics'].get(key)))}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="mlops-metrics" style="{TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def metrics_table_text(
    rows: list[dict[str, Any]], keys: list[str], minimize: Iterable[str] | None = None
) -> str:
    if not rows:
        return "no runs yet"
    params = varying_parameters(rows)
    best = {k: best_rows(rows, k, lower_is_better(k, minimize)) for k in keys}
    table = [["run", "status", *params, *keys]]
    for i, row in enumerate(rows):
        line = [row["run_id"], row["status"]]
        line += [fmt(row.get("parameters", {}).get(p)) for p in params]
        line += [fmt(row["metrics"].get(k)) + ("*" if i in best[k] else "") for k in keys]
        table.append(line)
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table
    ]
    return "\n".join([*text, "(* best per metric)"])


# -- data versions


def schema_diff(old: dict[str, str] | None, new: dict[str, str] | None) -> list[tuple[str, str]]:
    """[(sign, text)]: '+' added column, '-' removed, '~' changed dtype."""
    if old is None or new is None:
        return []
    found = [("+", f"{c} ({t})" if t else c) for c, t in new.items() if c not in old]
    found += [("-", f"{c} ({t})" if t else c) for c, t in old.items() if c not in new]
    found += [("~", f"{c}: {old[c]} → {t}") for c, t in new.items() if c in old and old[c] != t]
    return found


def with_diffs(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each version (newest first) with ``diff`` against the next older one of the same path,
    unless the version already carries its own ``schema_diff``."""
    older: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for version in reversed(versions):
        previous = older.get(version["path"])
        given = version.get("schema_diff")
        if isinstance(given, list):
            diff = [(str(d[0]), str(d[1])) for d in given if isinstance(d, (list, tuple))]
        elif isinstance(given, dict):  # datasets.schema_diff: added, removed, dtypes, rows
            diff = schema_changes(given, schema_of(version), schema_of(previous or {}))
        elif version.get("changed") is False:
            diff = []  # same content as before: nothing to compare
        else:
            diff = schema_diff(schema_of(previous), schema_of(version)) if previous else []
        changed = version.get("changed")
        if changed is None:
            changed = previous is not None and previous.get("hash") != version.get("hash")
        # first sighting: the version says so (``previous`` hash is None) or nothing older is listed
        new = version["previous"] is None if "previous" in version else previous is None
        out.append({**version, "diff": diff, "changed": bool(changed), "new": new})
        older[version["path"]] = version
    return list(reversed(out))


_BADGES = {
    "changed": ("#fff3c4", "#5d4300"),
    "unchanged": ("#eceff1", "#455a64"),
    "new": ("#dcebfb", "#0d3c73"),
}


def _shown_path(path: Any) -> str:
    """Relative to the current folder when inside it: the project-relative name people use."""
    import os

    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:
        return text
    return relative if not relative.startswith("..") and os.path.isabs(text) else text


def _profile_tip(version: dict[str, Any]) -> str:
    """One line per column (dtype, nulls, min/max/mean): the hover text of the shape cell."""
    types = schema_of(version) or {}
    profile = version.get("profile") or {}
    lines = []
    for column in dict.fromkeys([*types, *profile]):
        facts = [types.get(column, "")]
        stats = profile.get(column) or {}
        facts += [
            f"{k} {fmt(stats[k])}" for k in ("min", "max", "mean") if stats.get(k) is not None
        ]
        if stats.get("nulls"):
            facts.append(f"{stats['nulls']} nulls")
        lines.append(f"{column}: " + " · ".join(f for f in facts if f))
    return "\n".join(lines)


def _when(stamp: Any) -> str:
    text = str(stamp or "")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


def _badge(version: dict[str, Any]) -> str:
    return "changed" if version["changed"] else ("new" if version["new"] else "unchanged")


def data_table_html(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return (
            f'<div style="{FONT};color:#607d8b">no data versions yet: '
            f"<code>mlops.track_data(path)</code> records one</div>"
        )
    rows = with_diffs(versions)
    head = "".join(
        f'<th style="{TH}">{h}</th>'
        for h in ("path", "hash", "size", "rows × cols", "", "when (UTC)", "run / stage")
    )
    body = []
    for v in rows:
        badge = _badge(v)
        bg, ink = _BADGES[badge]
        shown = shape(v)
        where = " / ".join(str(x) for x in (v.get("run_id"), v.get("stage")) if x)
        body.append(
            f'<tr data-path="{escape(str(v["path"]))}" data-badge="{badge}">'
            f'<td style="{TD};font-family:monospace">{escape(_shown_path(v["path"]))}</td>'
            f'<td style="{TD};font-family:monospace" title="{escape(str(v.get("hash", "")))}">'
            f"{escape(str(v.get('hash', ''))[:12])}</td>"
            f'<td style="{TD};text-align:right">{human_size(v.get("size"))}</td>'
            f'<td style="{TD};text-align:right" title="{escape(_profile_tip(v))}">{escape(shown)}</td>'
            f'<td style="{TD}"><span class="mlops-badge" style="padding:1px 7px;border-radius:9px;'
            f'background:{bg};color:{ink};font-size:11px;font-weight:600">{badge}</span></td>'
            f'<td style="{TD};color:#607d8b">{escape(_when(v.get("time")))}</td>'
            f'<td style="{TD};color:#607d8b;font-family:monospace">{escape(where)}</td></tr>'
        )
        if v["diff"]:
            colors = {"+": "#2e7d32", "-": "#c62828", "~": "#a66a00"}
            items = " ".join(
                f'<span style="color:{colors.get(sign, "#455a64")};margin-right:10px">'
                f"{escape(sign)} {escape(text)}</span>"
                for sign, text in v["diff"]
            )
            body.append(
                f'<tr class="mlops-schema-diff"><td></td><td colspan="6" style="{TD};'
                f'font-size:12px;font-family:monospace">schema: {items}</td></tr>'
            )
        for kind, text, ink in version_notes(v):
            body.append(
                f'<tr class="mlops-{kind}"><td></td><td colspan="6" style="{TD};'
                f'font-size:12px;color:{ink}">{escape(text)}</td></tr>'
            )
    return (
        f'<table class="mlops-data" style="{TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def data_table_text(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return "no data versions yet: mlops.track_data(path) records one"
    lines = []
    for v in with_diffs(versions):
        lines.append(
            f"{_shown_path(v['path'])}  {str(v.get('hash', ''))[:12]}  {human_size(v.get('size'))}  "
            f"{shape(v)}  {_badge(v)}  {_when(v.get('time'))}".rstrip()
        )
        lines += [f"    {sign} {text}" for sign, text in v["diff"]]
        lines += [f"    {text}" for _, text, _ in version_notes(v)]
    return "\n".join(lines)


def version_notes(version: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, text, colour)`` lines under a version: its drift against the version before
    (``api.data(drift=True)``) and a failed data check."""
    notes = []
    summary = version.get("drift")
    if summary:
        drifted = summary.get("drifted") or []
        if drifted:
            verdict = "data set drifted" if summary.get("drift") else "some columns drifted"
            text = f"drift: {verdict} ({', '.join(drifted[:6])}" + (
                f" +{len(drifted) - 6})" if len(drifted) > 6 else ")"
            )
            notes.append(("drift", text, "#c62828" if summary.get("drift") else "#a66a00"))
        else:
            notes.append(("drift", "drift: none against the version before", "#2e7d32"))
    check = version.get("check")
    if check and not check.get("passed", True):
        from ..tracking.checks import describe_failure

        failures = check.get("failures") or []
        text = f"check failed ({len(failures)}): " + "; ".join(
            describe_failure(f) for f in failures[:4]
        )
        notes.append(("check", text, "#c62828"))
    return notes


# -- run history

_RUN_INK = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#c62828",
    "running": "#a66a00",
}


def runs_table_html(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return f'<div style="{FONT};color:#607d8b">no runs yet</div>'
    head = "".join(
        f'<th style="{TH}">{h}</th>'
        for h in ("run", "status", "pipeline", "version", "started (UTC)", "time", "metrics")
    )
    body = []
    for run in runs:
        took = f"{run['duration_s']:.1f}s" if run.get("duration_s") is not None else ""
        shown = "  ".join(f"{k}={fmt(v)}" for k, v in (run.get("metrics") or {}).items())
        ink = _RUN_INK.get(run["status"], "#455a64")
        body.append(
            f'<tr><td style="{TD};font-family:monospace">{escape(run["run_id"])}</td>'
            f'<td style="{TD};color:{ink};font-weight:600">{escape(run["status"])}</td>'
            f'<td style="{TD}">{escape(str(run["pipeline"]))}</td>'
            f'<td style="{TD};font-family:monospace">{escape(str(run["version"])[:12])}</td>'
            f'<td style="{TD}">{escape(str(run.get("started_at") or "")[:19].replace("T", " "))}</td>'
            f'<td style="{TD};text-align:right">{took}</td>'
            f'<td style="{TD};font-family:monospace;font-size:11.5px">{escape(shown)}</td></tr>'
        )
    return (
        f'<table class="mlops-runs" style="{TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
