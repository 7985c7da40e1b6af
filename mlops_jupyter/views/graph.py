"""The stage graph as SVG (layered, left to right) and a run's HTML / text summaries."""

from __future__ import annotations

from html import escape
from typing import Any

from .runstate import STAGE_STATUSES, RunState, StageView

# fill, stroke, text: readable on light and dark themes alike because the box carries its own fill
STATUS_COLORS: dict[str, tuple[str, str, str]] = {
    "pending": ("#eceff1", "#90a4ae", "#455a64"),
    "running": ("#fff3c4", "#f0a800", "#5d4300"),
    "succeeded": ("#d7f0d8", "#2e7d32", "#1b4d1e"),
    "cached": ("#dcebfb", "#1565c0", "#0d3c73"),
    "failed": ("#fde0e0", "#c62828", "#7f1616"),
    "skipped": ("#f7f7f7", "#9e9e9e", "#616161"),
}
RUN_COLORS = {
    "starting": "#90a4ae",
    "running": "#f0a800",
    "interrupting": "#f0a800",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#c62828",
}
FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif"
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 152, 46, 44, 14, 8


def layout(stages: list[StageView]) -> dict[str, tuple[int, int]]:
    """stage -> (layer, row). Layer = longest path from a source, so every edge points right;
    rows are ordered by the mean row of a stage's upstreams (fewer crossings), then notebook order."""
    names = {s.name for s in stages}
    layer = {s.name: 0 for s in stages}
    for _ in range(len(stages)):  # relax until stable: any stage order works, cycles cannot hang
        changed = False
        for stage in stages:
            ups = [layer[u] + 1 for u in stage.after if u in names]
            if ups and max(ups) > layer[stage.name]:
                layer[stage.name], changed = max(ups), True
        if not changed:
            break
    position: dict[str, tuple[int, int]] = {}
    by_layer: dict[int, list[StageView]] = {}
    for stage in stages:
        by_layer.setdefault(layer[stage.name], []).append(stage)
    for number in sorted(by_layer):
        members = by_layer[number]

        def weight(stage: StageView, order: int) -> tuple[float, int]:
            rows = [position[u][1] for u in stage.after if u in position]
            return (sum(rows) / len(rows) if rows else float(order), order)

        ranked = sorted(enumerate(members), key=lambda item: weight(item[1], item[0]))
        for row, (_, stage) in enumerate(ranked):
            position[stage.name] = (number, row)
    return position


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f}s" if value >= 10 else f"{value:.2f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def stage_graph_svg(state: RunState, now: float | None = None) -> str:
    """Boxes coloured by status with name and time; edges from upstream to downstream stage."""
    stages = list(state.stages.values())
    if not stages:
        return ""
    position = layout(stages)
    layers = max(layer for layer, _ in position.values()) + 1
    rows_in = [sum(1 for la, _ in position.values() if la == n) for n in range(layers)]
    rows = max(rows_in)
    width = 2 * PAD + layers * BOX_W + (layers - 1) * GAP_X
    height = 2 * PAD + rows * BOX_H + (rows - 1) * GAP_Y

    def corner(name: str) -> tuple[float, float]:
        layer, row = position[name]
        offset = (rows - rows_in[layer]) * (BOX_H + GAP_Y) / 2  # centre short layers
        return PAD + layer * (BOX_W + GAP_X), PAD + offset + row * (BOX_H + GAP_Y)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mlops-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" style="max-width:100%;height:auto;{FONT}">'
    ]
    for stage in stages:  # edges under the boxes
        x2, top = corner(stage.name)
        y2 = top + BOX_H / 2
        for upstream in stage.after:
            if upstream not in position:
                continue
            left, y1 = corner(upstream)
            x1, y1 = left + BOX_W, y1 + BOX_H / 2
            bend = (x2 - x1) / 2
            end = x2 - 6
            parts.append(
                f'<path class="mlops-edge" data-from="{escape(upstream)}" data-to="{escape(stage.name)}" '
                f'd="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {end - bend:.1f},{y2:.1f} {end:.1f},{y2:.1f}" '
                f'fill="none" stroke="#9aa5ad" stroke-width="1.5"/>'
                f'<polygon points="{end:.1f},{y2 - 4:.1f} {x2:.1f},{y2:.1f} {end:.1f},{y2 + 4:.1f}" fill="#9aa5ad"/>'
            )
    for stage in stages:
        x, y = corner(stage.name)
        fill, stroke, ink = STATUS_COLORS.get(stage.status, STATUS_COLORS["pending"])
        took = _seconds(state.stage_time(stage, now))
        label = stage.status + (f" · {took}" if took else "")
        dash = ' stroke-dasharray="4 3"' if stage.status in ("skipped", "pending") else ""
        pulse = (
            '<animate attributeName="stroke-opacity" values="1;0.25;1" dur="1.2s" '
            'repeatCount="indefinite"/>'
            if stage.status == "running"
            else ""
        )
        tip = stage.name + (f": {stage.error}" if stage.error else "")
        parts.append(
            f'<g class="mlops-stage" data-stage="{escape(stage.name)}" data-status="{stage.status}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="2"{dash}>{pulse}</rect>'
            f'<text x="{x + 10:.1f}" y="{y + 19:.1f}" font-size="13" font-weight="600" '
            f'fill="{ink}">{escape(_clip(stage.name, 19))}</text>'
            f'<text x="{x + 10:.1f}" y="{y + 36:.1f}" font-size="11.5" fill="{ink}">'
            f"{escape(label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _pill(text: str, color: str) -> str:
    return (
        f'<span style="display:inline-block;padding:1px 8px;border-radius:9px;background:{color};'
        f'color:#fff;font-size:11.5px;font-weight:600">{escape(text)}</span>'
    )


def legend_html() -> str:
    items = []
    for status in STAGE_STATUSES:
        fill, stroke, _ = STATUS_COLORS[status]
        items.append(
            f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:10px">'
            f'<span style="width:10px;height:10px;border-radius:3px;background:{fill};'
            f'border:1.5px solid {stroke};display:inline-block"></span>{status}</span>'
        )
    return f'<div style="font-size:11px;color:#78909c;margin-top:4px">{"".join(items)}</div>'


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def run_html(state: RunState, now: float | None = None) -> str:
    """Header (run, pipeline, status, time, counts), the graph, then errors / parameters / metrics."""
    if state.run_id is None:
        text = state.message or "starting…"
        return f'<div class="mlops-run" style="{FONT};font-size:13px;color:#607d8b">{escape(text)}</div>'
    counts = " · ".join(f"{n} {s}" for s, n in state.counts().items())
    took = _seconds(state.elapsed(now))
    version = (state.version or "")[:12]
    head = (
        f'<div style="display:flex;gap:10px;align-items:baseline;flex-wrap:wrap;margin-bottom:6px">'
        f"<b>run {escape(state.run_id)}</b>"
        f'<span style="color:#607d8b">pipeline {escape(state.pipeline or "?")} · '
        f"version {escape(version)}</span>"
        f"{_pill(state.status, RUN_COLORS.get(state.status, '#607d8b'))}"
        f'<span style="color:#607d8b">{took}{" · " if took and counts else ""}{counts}</span></div>'
    )
    notes = []
    for stage in state.stages.values():
        if stage.status == "failed" and stage.error:
            notes.append(
                f'<div style="color:#c62828">✗ <b>{escape(stage.name)}</b>: {escape(stage.error)}</div>'
            )
    if state.message and state.status != "succeeded":
        notes.append(f'<div style="color:#c62828">{escape(state.message)}</div>')
    if state.note:
        notes.append(f'<div style="color:#78909c">{escape(state.note)}</div>')
    if state.parameters:
        shown = "  ".join(f"{k}={_short(v)}" for k, v in state.parameters.items())
        notes.append(f'<div style="color:#455a64">parameters: <code>{escape(shown)}</code></div>')
    if state.metrics:
        shown = "  ".join(f"{k}={_short(v)}" for k, v in state.metrics.items())
        notes.append(f'<div style="color:#455a64">metrics: <code>{escape(shown)}</code></div>')
    return (
        f'<div class="mlops-run" data-run="{escape(state.run_id)}" data-status="{state.status}" '
        f'style="{FONT};font-size:13px">{head}{stage_graph_svg(state, now)}{legend_html()}'
        f'<div style="font-size:12px;margin-top:4px">{"".join(notes)}</div></div>'
    )


def run_text(state: RunState, now: float | None = None) -> str:
    if state.run_id is None:
        return state.message or "starting…"
    took = _seconds(state.elapsed(now))
    lines = [
        f"run {state.run_id}: pipeline '{state.pipeline}' version {(state.version or '')[:12]} "
        f"{state.status}{' in ' + took if took else ''}"
    ]
    width = max((len(s) for s in state.stages), default=8)
    for stage in state.stages.values():
        line = f"  {stage.name:<{width}}  {stage.status:<9}  {_seconds(state.stage_time(stage, now)):>7}"
        if stage.after:
            line += f"  after {', '.join(stage.after)}"
        if stage.error and stage.status == "failed":
            line += f"\n    {stage.error}"
        lines.append(line.rstrip())
    if state.message and state.status != "succeeded":
        lines.append(f"  {state.message}")
    if state.metrics:
        lines.append(
            "  metrics: " + "  ".join(f"{k}={_short(v)}" for k, v in state.metrics.items())
        )
    return "\n".join(lines)
