"""Line charts as SVG, with min/max downsampling so 100,000 points draw as a few hundred.

Why min/max buckets and not LTTB: LTTB keeps the visually largest triangles, which can drop the
single worst spike in a loss curve; a min/max bucket keeps every bucket's extremes, so the chart
never hides the global minimum or maximum, and it is one linear pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif"


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int) -> list[int]:
    """Indices to keep (increasing): the first, the last, and each bucket's min and max.

    At most ``max_points`` indices (``max_points >= 4``), and the indices of the global minimum
    and maximum of ``ys`` are always among them.
    """
    n = len(ys)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, (max_points - 2) // 2)
    inner = n - 2
    keep = [0]
    for b in range(buckets):
        lo = 1 + b * inner // buckets
        hi = 1 + (b + 1) * inner // buckets
        if lo >= hi:
            continue
        window = range(lo, hi)
        low = min(window, key=ys.__getitem__)
        high = max(window, key=ys.__getitem__)
        keep.extend(sorted({low, high}))
    keep.append(n - 1)
    return keep


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _fmt_x(value: float) -> str:
    """Steps are whole numbers: 99,999 reads better than 1e+05."""
    return f"{int(value):,}" if value == int(value) else _fmt(value)


def line_chart_svg(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    lower_is_better: bool = False,
    x_labels: tuple[str, str] | None = None,
    caption: str = "",
    width: int = 340,
    height: int = 150,
    max_points: int | None = None,
) -> str:
    """One metric over steps (or runs): the line, its range, the best point marked and labelled.

    Non-finite values (NaN, inf) are left out of the line and counted in the caption.
    ``max_points`` defaults to twice the plot width: more is invisible on screen.
    """
    finite = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y) and math.isfinite(x)]
    dropped = len(ys) - len(finite)
    left, right, top, bottom = 52, 12, 22, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mlops-chart" data-metric="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'style="max-width:100%;height:auto;{FONT}">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#fff" '
        f'stroke="#e0e4e7"/>'
        f'<text x="10" y="15" font-size="12" font-weight="600" fill="#263238">{escape(title)}</text>'
    ]
    note = caption + (f" · {dropped} non-finite left out" if dropped else "")
    if note:
        parts.append(
            f'<text x="{width - 10}" y="15" font-size="10.5" fill="#78909c" text-anchor="end">'
            f"{escape(note)}</text>"
        )
    if not finite:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" font-size="11" fill="#90a4ae" '
            f'text-anchor="middle">no finite values</text></svg>'
        )
        return "".join(parts)
    px = [x for x, _ in finite]
    py = [y for _, y in finite]
    keep = downsample(px, py, max_points or 2 * plot_w)
    x0, x1 = min(px), max(px)
    y0, y1 = min(py), max(py)
    if y0 == y1:
        pad = abs(y0) * 0.05 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    else:
        pad = (y1 - y0) * 0.06
        y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return left + (plot_w * (x - x0) / (x1 - x0) if x1 > x0 else plot_w / 2)

    def sy(y: float) -> float:
        return top + plot_h * (1 - (y - y0) / (y1 - y0))

    for y in (min(py), max(py)):  # the data's range, labelled where it lies
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            f'stroke="#eef1f3"/><text x="{left - 5}" y="{sy(y) + 3.5:.1f}" font-size="10" '
            f'fill="#78909c" text-anchor="end">{_fmt(y)}</text>'
        )
    first, last = x_labels or (_fmt_x(x0), _fmt_x(x1))
    base = top + plot_h + 15
    parts.append(
        f'<text x="{left}" y="{base}" font-size="10" fill="#78909c">{escape(first)}</text>'
        f'<text x="{left + plot_w}" y="{base}" font-size="10" fill="#78909c" '
        f'text-anchor="end">{escape(last)}</text>'
    )
    points = " ".join(f"{sx(px[i]):.1f},{sy(py[i]):.1f}" for i in keep)
    parts.append(
        f'<polyline class="mlops-line" data-points="{len(keep)}" points="{points}" fill="none" '
        f'stroke="#1e88e5" stroke-width="1.6" stroke-linejoin="round"/>'
    )
    if len(keep) <= 40:  # few points (runs): show each one
        parts.extend(
            f'<circle cx="{sx(px[i]):.1f}" cy="{sy(py[i]):.1f}" r="2.4" fill="#1e88e5"/>'
            for i in keep
        )
    pick = min if lower_is_better else max
    best = pick(range(len(py)), key=py.__getitem__)
    # the best point: a dot on the line, its value in the title row (a label by the point would
    # sit on the line itself in a noisy curve)
    parts.append(
        f'<circle class="mlops-best" cx="{sx(px[best]):.1f}" cy="{sy(py[best]):.1f}" r="4" '
        f'fill="#2e7d32" stroke="#fff" stroke-width="1.5"/>'
        f'<text x="{12 + 7 * len(title)}" y="15" font-size="10.5" font-weight="600" '
        f'fill="#2e7d32">best {_fmt(py[best])}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
