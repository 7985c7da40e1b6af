"""Human-readable ``mlops explain``: each stage's inputs, outputs and why, from the JSON object.

Cells are named by their position, as users count them and as error messages do; ``ids=True``
adds each cell's id beside its number (the JSON always has both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import shown


def explain_text(pipeline: dict[str, Any], ids: bool = False) -> str:
    notes = pipeline.get("notes", [])

    def cell(number: int, cell_id: str | None) -> str:
        return f"{number} (id {cell_id})" if ids and cell_id else str(number)

    def cells(pairs: list[tuple[int, str | None]]) -> str:
        word = "cell" if len(pairs) == 1 else "cells"
        return f"{word} {', '.join(cell(n, i) for n, i in pairs)}" if pairs else "no cells"

    def note_cell(note: dict[str, Any]) -> str:
        return f"cell {cell(note['cell'], note['id'])}"

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
                f"  {name}: {p['type']} = {shown(p['default'])}   "
                f"(cell {cell(where['cell'], where['id'])}, line {where['line']})"
            )
        lines += [f"  {note_cell(n)}: {n['text']}" for n in notes if n["kind"] == "declares"]
        lines.append("")
    if pipeline["setup_cells"]:
        setup_ids = pipeline.get("setup_cell_ids") or [None] * len(pipeline["setup_cells"])
        setup = cells(list(zip(pipeline["setup_cells"], setup_ids, strict=True)))
        lines += [f"Setup, run before every stage: {setup}", ""]
    consumers: dict[tuple[str, str], list[str]] = {}
    for stage in pipeline["stages"]:
        for name, producer in stage["from"].items():
            consumers.setdefault((producer, name), []).append(stage["name"])
    # one width per column for the whole pipeline: long names shift a column, never one row
    rows = [
        row
        for stage in pipeline["stages"]
        for row in [
            *stage["from"].items(),
            *((n, ", ".join(consumers.get((stage["name"], n), []))) for n in stage["outputs"]),
        ]
    ]
    value_width = max([16, *(len(v) for v, _ in rows)])
    other_width = max([13, *(len(o) for _, o in rows)])
    lines.append(f"Stages ({len(pipeline['stages'])}), in notebook order:")
    for stage in pipeline["stages"]:
        numbers = stage.get("cell_numbers") or []
        head = f"  {stage['name']}  ({cells(list(zip(numbers, stage['cells'], strict=False)))})"
        if stage["after"]:
            head += "  after " + ", ".join(stage["after"])
        lines.append(head)
        why = stage["why"]

        def row(arrow: str, name: str, other: str, why: dict[str, Any] = why) -> str:
            use = why[name]
            direction = "in  " if arrow == "<-" else "out "
            return (
                f"    {direction} {name:<{value_width}} {arrow} {other:<{other_width}} "
                f"{use['how']} in cell {cell(use['cell'], use['id'])}, line {use['line']}"
            )

        for name, producer in stage["from"].items():
            lines.append(row("<-", name, producer))
        for name in stage["outputs"]:
            lines.append(row("->", name, ", ".join(consumers.get((stage["name"], name), []))))
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
                lines.append(f"    {note_cell(note)} {note['text']}")
    lines += _left_out(notes, note_cell, ids)
    for warning in pipeline["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def _left_out(
    notes: list[dict[str, Any]], note_cell: Callable[[dict[str, Any]], str], ids: bool
) -> list[str]:
    """Cells that are no stage's code, and untagged cells that continue a role past them."""
    skipped = [n for n in notes if n["kind"] == "skip"]
    other = [n for n in notes if n["kind"] in ("injected", "drives")]
    roles = [n for n in notes if n["kind"] == "continues" and n["stage"] is None]
    lines: list[str] = []
    if skipped or other:
        lines += ["", "Left out of the pipeline:"]
        if skipped and ids:
            lines += [f"  {note_cell(n)}: tagged skip" for n in skipped]
        elif skipped:
            numbers = ", ".join(str(n["cell"]) for n in skipped)
            lines.append(f"  cell{'s' if len(skipped) > 1 else ''} {numbers}: tagged skip")
        lines += [f"  {note_cell(n)}: {n['text']}" for n in other]
    lines += [f"  {note_cell(n)} {n['text']}" for n in roles]
    return lines
