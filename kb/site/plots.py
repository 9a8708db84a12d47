"""Small inline SVG charts for the results pages: a curve often says more than its table.

Plain Python that returns an SVG string (no plotting library, no JavaScript), so the picture is part of the page,
scales with it and works offline. Colours follow the theme through `currentColor` and Material's CSS variables.
"""

from __future__ import annotations

import html
from typing import Any

WIDTH, HEIGHT, PAD = 520, 260, 46
_SERIES_COLOURS = ("var(--md-accent-fg-color)", "var(--md-primary-fg-color)", "#e65100")


def _numeric_keys(points: list[dict[str, Any]]) -> list[str]:
    keys = list(points[0]) if points else []
    return [
        k for k in keys if all(isinstance(p.get(k), int | float) and not isinstance(p.get(k), bool) for p in points)
    ]


def choose_axes(points: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
    """The x key and the y keys of a curve, or None when the points have fewer than two numeric keys.

    Accuracy is what every experiment trades against something, so accuracy-like keys go on the y axis and the first
    other numeric key (sparsity, bits, rank, latency, step) on the x axis; without accuracy, the first numeric key is
    x and the next ones (three at most) are y.
    """
    numeric = _numeric_keys(points)
    if len(numeric) < 2:
        return None
    accuracy_like = [k for k in numeric if "acc" in k]
    others = [k for k in numeric if k not in accuracy_like]
    if accuracy_like and others:
        return others[0], accuracy_like[:3]
    return numeric[0], numeric[1:4]


def _ticks(low: float, high: float) -> list[float]:
    return [low + (high - low) * i / 4 for i in range(5)]


def svg_chart(points: list[dict[str, Any]], title: str) -> str | None:
    """An SVG line-and-marker chart of `points` (list of dicts), or None when they cannot be plotted."""
    axes = choose_axes(points)
    if axes is None or len(points) < 2:
        return None
    x_key, y_keys = axes
    xs = [float(p[x_key]) for p in points]
    ys = [float(p[k]) for p in points for k in y_keys]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(v: float) -> float:
        return PAD + (v - x0) / (x1 - x0) * (WIDTH - 2 * PAD)

    def sy(v: float) -> float:
        return HEIGHT - PAD + 10 - (v - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="kb-chart" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<g stroke="currentColor" stroke-opacity="0.35"><line x1="{PAD}" y1="{sy(y0)}" x2="{WIDTH - PAD}" '
        f'y2="{sy(y0)}"/><line x1="{PAD}" y1="{sy(y0)}" x2="{PAD}" y2="{sy(y1)}"/></g>',
        '<g font-size="10" fill="currentColor">',
    ]
    parts += [
        f'<text x="{sx(v):.1f}" y="{HEIGHT - PAD + 24}" text-anchor="middle">{v:.3g}</text>' for v in _ticks(x0, x1)
    ]
    parts += [f'<text x="{PAD - 6}" y="{sy(v) + 3:.1f}" text-anchor="end">{v:.3g}</text>' for v in _ticks(y0, y1)]
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" text-anchor="middle">{html.escape(x_key)}</text></g>')
    order = sorted(range(len(points)), key=lambda i: xs[i])
    for n, key in enumerate(y_keys):
        colour = _SERIES_COLOURS[n]
        coords = [(sx(xs[i]), sy(float(points[i][key]))) for i in order]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords]
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{14 + 12 * n}" font-size="10" text-anchor="end" fill="{colour}">'
            f"{html.escape(key)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
