"""The model registry as text: ``mlops models``, ``mlops model show``, the promotion table and
the alias history. Pure: records in, strings out."""

from __future__ import annotations

import math
from typing import Any

from .text import aligned, human_size, strict_json


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


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
        lines.append([f"metric {key}", _value(value)])
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
            _value(r["candidate"]),
            _value(r["baseline"]),
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
            _value(m["from"]),
            str(m["to"]),
            m["how"],
            m["who"] or "-",
            m["why"] or "-",
        ]
        for m in moves
    ]
    return aligned(["WHEN", "ALIAS", "FROM", "TO", "HOW", "WHO", "WHY"], rows)
