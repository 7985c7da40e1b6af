"""The model registry as text: ``mlops models``, ``mlops model show``, the promotion table and
the alias history. Pure: records in, strings out."""

from __future__ import annotations

from typing import Any

from .text import aligned, human_size, short_number, strict_json


def models_table(models: list[dict[str, Any]]) -> str:
    if not models:
        return "no models (a stage logs one: mlops.log_model(model, 'NAME', example=X[:5]))"
    rows = [
        [
            m["name"],
            str(m["versions"]),
            str(m["latest"]),
            ", ".join(f"{a}={v}" for a, v in m["aliases"].items()) or "-",
        ]
        for m in models
    ]
    return aligned(["NAME", "VERSIONS", "LATEST", "ALIASES"], rows)


def model_text(record: dict[str, Any]) -> str:
    """Aligned ``key  value`` lines of one version."""
    lines = [
        ["model", f"{record['name']}@{record['version']}"],
        ["aliases", ", ".join(record["aliases"]) or "-"],
        ["hash", record["hash"]],
        ["flavor", record["flavor"]],
        ["format", record["format"]],
        ["size", human_size(record["size"])],
        ["created", record["created_at"] or "-"],
        ["run", f"{record['run_id']} ({record['run_status'] or 'removed'})"],
        ["stage", record["stage"] or "-"],
        ["pipeline", f"{record['pipeline'] or '-'} version {record['pipeline_version'] or '-'}"],
    ]
    for key, value in record["parameters"].items():
        lines.append([f"param {key}", strict_json(value, indent=None)])
    for key, value in record["metrics"].items():
        lines.append([f"metric {key}", short_number(value)])
    for item in record["data"]:
        lines.append([f"data {item['path']}", item["hash"][:16]])
    signature = record.get("signature")
    if signature:
        lines.append(["inputs", strict_json(signature.get("inputs"), indent=None)])
        lines.append(["outputs", strict_json(signature.get("outputs"), indent=None)])
    if record["format"] == "pickle":
        lines.append(["warning", "a pickle: loading it runs code it contains"])
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)


def requirements_table(rows: list[dict[str, Any]]) -> str:
    header = ["REQUIREMENT", "METRIC", "CANDIDATE", "BASELINE", "REQUIRED", "OK", "NOTE"]
    body = [
        [
            r["requirement"],
            r["metric"],
            short_number(r["candidate"]),
            short_number(r["baseline"]),
            r["required"],
            "yes" if r["ok"] else "NO",
            r["note"],
        ]
        for r in rows
    ]
    return aligned(header, body)


def promotion_text(result: dict[str, Any]) -> str:
    target = f"{result['name']}@{result['alias']}"
    if result.get("already"):
        return f"{target} is already version {result['version']}: nothing to move"
    table = requirements_table(result["requirements"])
    if result["moved"]:
        before = "nowhere" if result["from"] is None else f"version {result['from']}"
        return f"{table}\n\n{target} moved from {before} to version {result['version']}"
    failed = sum(not r["ok"] for r in result["requirements"])
    stays = "nowhere" if result["from"] is None else f"version {result['from']}"
    return (
        f"{table}\n\nrefused: {failed} requirement(s) not met; {target} stays at {stays} "
        f"(version {result['version']} was the candidate)"
    )


def moves_table(moves: list[dict[str, Any]]) -> str:
    if not moves:
        return "no alias moves yet"
    rows = [
        [
            m["when"],
            m["alias"],
            short_number(m["from"]),
            str(m["to"]),
            m["how"],
            m["who"] or "-",
            m["why"] or "-",
        ]
        for m in moves
    ]
    return aligned(["WHEN", "ALIAS", "FROM", "TO", "HOW", "WHO", "WHY"], rows)


# -- the models widget (%mlops models): versions × metrics, aliases


def _row(version: dict[str, Any]) -> dict[str, Any]:
    """A version as tables.best_rows reads a run."""
    return {**version, "metrics": version.get("metrics") or {}}


def versions_html(model: dict[str, Any]) -> str:
    """One model: a row per version (newest first) with its aliases, the parameters that vary,
    every metric (the best of each marked, as the metrics view marks runs), run and stage."""
    from html import escape

    from .tables import BEST, TABLE, TD, TH, best_rows, fmt, lower_is_better, varying_parameters

    rows = [_row(v) for v in model["versions"]]
    params = varying_parameters(rows)
    keys = sorted(dict.fromkeys(k for r in rows for k in r["metrics"]))
    lower = {k: lower_is_better(k) for k in keys}
    best = {k: best_rows(rows, k, lower[k]) for k in keys}
    head = (
        "".join(f'<th style="{TH}">{escape(h)}</th>' for h in ("version", "aliases", *params))
        + "".join(
            f'<th style="{TH};text-align:right">{escape(k)} {"↓" if lower[k] else "↑"}</th>'
            for k in keys
        )
        + "".join(f'<th style="{TH}">{h}</th>' for h in ("run", "format", "created"))
    )
    body = []
    for i, row in enumerate(rows):
        badges = "".join(
            f'<span class="mlops-alias" style="padding:1px 7px;margin-right:4px;border-radius:9px;'
            f'background:#e3f2fd;color:#0d47a1;font-size:11px;font-weight:600">{escape(a)}</span>'
            for a in row["aliases"]
        )
        cells = [
            f'<td style="{TD};font-family:monospace">{escape(model["name"])}@{row["version"]}</td>',
            f'<td style="{TD}">{badges}</td>',
        ]
        cells += [f'<td style="{TD}">{escape(fmt(row["parameters"].get(p)))}</td>' for p in params]
        for key in keys:
            style = f"{TD};text-align:right" + (f";{BEST}" if i in best[key] else "")
            cells.append(f'<td style="{style}">{escape(fmt(row["metrics"].get(key)))}</td>')
        status = row.get("run_status") or "removed"
        where = f"{row['run_id']} / {row['stage']}" if row.get("stage") else str(row["run_id"])
        cells.append(
            f'<td style="{TD};font-family:monospace;color:#607d8b" title="run {escape(status)}">'
            f"{escape(where)}</td>"
        )
        warn = " ⚠" if row["format"] == "pickle" else ""
        cells.append(f'<td style="{TD}">{escape(row["format"])}{warn}</td>')
        cells.append(f'<td style="{TD};color:#607d8b">{escape(str(row["created_at"])[:19])}</td>')
        body.append(f'<tr data-version="{row["version"]}">{"".join(cells)}</tr>')
    return (
        f'<div class="mlops-model" style="margin-bottom:10px"><div style="font-weight:600;'
        f'margin:4px 0">{escape(model["name"])}</div><table class="mlops-model-versions" '
        f'style="{TABLE}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


def versions_text(model: dict[str, Any]) -> str:
    from .tables import fmt

    rows = [_row(v) for v in model["versions"]]
    keys = sorted(dict.fromkeys(k for r in rows for k in r["metrics"]))
    body = [
        [
            f"{model['name']}@{r['version']}",
            ", ".join(r["aliases"]) or "-",
            *[fmt(r["metrics"].get(k)) or "-" for k in keys],
            str(r["run_id"]),
        ]
        for r in rows
    ]
    return aligned(["VERSION", "ALIASES", *[k.upper() for k in keys], "RUN"], body)
