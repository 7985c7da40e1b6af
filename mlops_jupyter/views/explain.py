"""Human-readable ``mlops explain``: each stage's inputs, outputs and why, from the JSON object."""

from __future__ import annotations

from typing import Any


def explain_text(pipeline: dict[str, Any]) -> str:
    notes = pipeline.get("notes", [])
    lines = [
        f"Pipeline '{pipeline['pipeline']}'  version {pipeline['version']}  "
        f"(from {pipeline['notebook']})",
        "",
    ]
    if pipeline["parameters"]:
        lines.append("Parameters:")
        for name, p in pipeline["parameters"].items():
            where = pipeline["parameter_cells"][name]
            lines.append(
                f"  {name}: {p['type']} = {p['default']!r}   "
                f"(cell {where['cell']}, line {where['line']})"
            )
        lines += [f"  {_cell(n)}: {n['text']}" for n in notes if n["kind"] == "declares"]
        lines.append("")
    if pipeline["setup_cells"]:
        cells = ", ".join(str(c) for c in pipeline["setup_cells"])
        lines += [f"Setup, run before every stage: cells {cells}", ""]
    consumers: dict[tuple[str, str], list[str]] = {}
    for stage in pipeline["stages"]:
        for name, producer in stage["from"].items():
            consumers.setdefault((producer, name), []).append(stage["name"])
    lines.append(f"Stages ({len(pipeline['stages'])}), in notebook order:")
    for stage in pipeline["stages"]:
        head = f"  {stage['name']}  (cells {', '.join(stage['cells']) or 'none'})"
        if stage["after"]:
            head += "  after " + ", ".join(stage["after"])
        lines.append(head)
        why = stage["why"]
        for name, producer in stage["from"].items():
            use = why[name]
            lines.append(
                f"    in   {name:<16} <- {producer:<13} {use['how']} in cell {use['cell']}, "
                f"line {use['line']}"
            )
        for name in stage["outputs"]:
            use = why[name]
            to = ", ".join(consumers.get((stage["name"], name), []))
            lines.append(
                f"    out  {name:<16} -> {to:<13} {use['how']} in cell {use['cell']}, "
                f"line {use['line']}"
            )
        if stage["parameters"]:
            lines.append("    parameters: " + ", ".join(stage["parameters"]))
        if stage["metrics"]:
            lines.append("    metrics: " + ", ".join(stage["metrics"]))
        explicit = [n for n in stage["explicit_after"] if n not in stage["from"].values()]
        if explicit:
            lines.append("    after (tag, no data): " + ", ".join(explicit))
        if stage["options"]:
            lines.append(
                "    options: " + ", ".join(f"{k}={v}" for k, v in stage["options"].items())
            )
        for note in notes:
            if note["stage"] == stage["name"] and note["kind"] in ("continues", "main"):
                lines.append(f"    {_cell(note)} {note['text']}")
    lines += _left_out(notes)
    for warning in pipeline["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def _cell(note: dict[str, Any]) -> str:
    return f"cell {note['cell']}" + (f" (id {note['id']})" if note["id"] else "")


def _left_out(notes: list[dict[str, Any]]) -> list[str]:
    """Cells that are no stage's code, and untagged cells that continue a role past them."""
    skipped = [str(n["cell"]) for n in notes if n["kind"] == "skip"]
    other = [n for n in notes if n["kind"] in ("injected", "drives")]
    roles = [n for n in notes if n["kind"] == "continues" and n["stage"] is None]
    lines: list[str] = []
    if skipped or other:
        lines += ["", "Left out of the pipeline:"]
        if skipped:
            lines.append(
                f"  cell{'s' if len(skipped) > 1 else ''} {', '.join(skipped)}: tagged skip"
            )
        lines += [f"  {_cell(n)}: {n['text']}" for n in other]
    lines += [f"  {_cell(n)} {n['text']}" for n in roles]
    return lines
