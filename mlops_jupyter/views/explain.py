"""Human-readable ``mlops explain``: each stage's inputs, outputs and why, from the JSON object."""

from __future__ import annotations

from typing import Any


def explain_text(pipeline: dict[str, Any]) -> str:
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
    for warning in pipeline["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"
