"""Human-readable ``mlops explain``: each stage's inputs, outputs and why."""

from __future__ import annotations

from .pipeline import Pipeline


def explain_text(pipeline: Pipeline) -> str:
    lines = [
        f"Pipeline '{pipeline.name}'  version {pipeline.version}  (from {pipeline.notebook})",
        "",
    ]
    if pipeline.parameters:
        lines.append("Parameters:")
        for p in pipeline.parameters.values():
            lines.append(f"  {p.name}: {p.type} = {p.default!r}   (cell {p.cell}, line {p.line})")
        lines.append("")
    if pipeline.setup:
        lines.append(
            "Setup, run before every stage: cells "
            + ", ".join(str(c.index) for c in pipeline.setup)
        )
        lines.append("")
    consumers: dict[tuple[str, str], list[str]] = {}
    for stage in pipeline.stages:
        for name, producer in stage.inputs.items():
            consumers.setdefault((producer, name), []).append(stage.name)
    lines.append(f"Stages ({len(pipeline.stages)}), in notebook order:")
    for stage in pipeline.stages:
        cells = ", ".join(str(c.index) for c in stage.cells) or "none"
        head = f"  {stage.name}  (cells {cells})"
        if stage.after:
            head += "  after " + ", ".join(stage.after)
        lines.append(head)
        for name, producer in stage.inputs.items():
            use = stage.reads[name]
            lines.append(
                f"    in   {name:<16} <- {producer:<12} {use.how} in cell {use.cell}, line {use.line}"
            )
        for name in stage.outputs:
            use = stage.writes[name]
            to = ", ".join(consumers.get((stage.name, name), []))
            lines.append(
                f"    out  {name:<16} -> {to:<12} {use.how} in cell {use.cell}, line {use.line}"
            )
        if stage.parameters:
            lines.append("    parameters: " + ", ".join(stage.parameters))
        if stage.metrics:
            lines.append("    metrics: " + ", ".join(stage.metrics))
        explicit = [n for n in stage.explicit_after if n not in stage.inputs.values()]
        if explicit:
            lines.append("    after (tag, no data): " + ", ".join(explicit))
        if stage.options:
            lines.append("    options: " + ", ".join(f"{k}={v}" for k, v in stage.options.items()))
    for warning in pipeline.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"
