"""Inline SVG charts for the report, drawn in Python (no JavaScript, no external files).

Every text that goes into an SVG is escaped here, because the report inserts the SVG as
markup; company names come from the study file and must not become markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from .metrics import Curve, km_survival

# Okabe-Ito colours: distinguishable with colour-vision deficiencies and in greyscale print
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999",
           "#000000"]
FONT = 'font-family="inherit" font-size="10"'


@dataclass
class KMSeries:
    label: str
    curve: Curve
    censored: list[float] = field(default_factory=list)  # censoring times in seconds
    lower: Curve | None = None  # 95 % band of S(t) (Greenwood), drawn as thin dashed steps
    upper: Curve | None = None


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _ticks(window_seconds: float) -> tuple[list[float], str, float]:
    """Tick positions (seconds), unit label and seconds per unit for the x axis."""
    hours = window_seconds / 3600
    if hours <= 72:
        step = next((s for s in (1, 2, 3, 6, 12, 24) if hours / s <= 12), 24)
        return [i * step * 3600.0 for i in range(int(hours // step) + 1)], "h", 3600.0
    days = hours / 24
    step = next((s for s in (1, 2, 7, 14, 28) if days / s <= 14), 28)
    return [i * step * 86400.0 for i in range(int(days // step) + 1)], "d", 86400.0


def km_chart(series: list[KMSeries], window_seconds: float, *, title: str, x_label: str,
             y_label: str, width: int = 680, height: int = 300) -> str:
    """Step curves of the share answered (1 - S(t)) from 0 to the window, one per series;
    short vertical ticks mark censored probes."""
    window_seconds = max(window_seconds, 3600.0)
    left, right, top, bottom = 48, 170, 14, 40
    pw, ph = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + pw * min(max(t, 0.0), window_seconds) / window_seconds

    def y(share: float) -> float:
        return top + ph * (1.0 - share)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" {FONT}>',
           f"<title>{_e(title)}</title>"]
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   'stroke="#e3e6ea" stroke-width="0.8"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 3:.1f}" text-anchor="end" '
                   f'fill="#555">{pct}%</text>')
    ticks, unit, per = _ticks(window_seconds)
    for t in ticks:
        xx = x(t)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + ph}" y2="{top + ph + 4}" '
                   'stroke="#555"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 15}" text-anchor="middle" '
                   f'fill="#555">{int(round(t / per))}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" '
               'stroke="#555"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" '
               f'fill="#333">{_e(x_label)}</text>')
    out.append(f'<text transform="translate(12 {top + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" fill="#333">{_e(y_label)}</text>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        for band in (s.lower, s.upper):
            if band:
                out.append(f'<path class="band" d="{_step_path(band, x, y, window_seconds)}" '
                           f'fill="none" stroke="{colour}" stroke-width="0.7" '
                           'stroke-dasharray="3 2" opacity="0.6"/>')
        out.append(f'<path d="{_step_path(s.curve, x, y, window_seconds)}" fill="none" '
                   f'stroke="{colour}" stroke-width="1.8"/>')
        for c in s.censored:
            if c > window_seconds:
                continue
            yy = y(1.0 - km_survival(s.curve, c))
            out.append(f'<line x1="{x(c):.1f}" x2="{x(c):.1f}" y1="{yy - 4:.1f}" '
                       f'y2="{yy + 4:.1f}" stroke="{colour}" stroke-width="1.2"/>')
        ly = top + 8 + i * 16
        out.append(f'<line x1="{left + pw + 14}" x2="{left + pw + 32}" y1="{ly}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{left + pw + 38}" y="{ly + 3.5}" fill="#222">'
                   f"{_e(_clip(s.label, 24))}</text>")
    out.append("</svg>")
    return "\n".join(out)


def _step_path(curve: Curve, x: Callable[[float], float], y: Callable[[float], float],
               window_seconds: float) -> str:
    """SVG path of 1 - S(t) as right-continuous steps, ending at the last follow-up (or at
    the window end once every probe is answered)."""
    if not curve:
        return ""
    t0, s0 = curve[0]
    parts = [f"M{x(0):.1f},{y(0.0):.1f}", f"L{x(t0):.1f},{y(1 - s0):.1f}"]
    for t, s in curve[1:]:
        parts.append(f"H{x(min(t, window_seconds)):.1f}")
        parts.append(f"V{y(1 - s):.1f}")
    if curve[-1][1] <= 0:
        parts.append(f"H{x(window_seconds):.1f}")
    return " ".join(parts)


def bar_chart(rows: list[tuple[str, float | None, float | None]], *, title: str,
              any_label: str, human_label: str, width: int = 680) -> str:
    """Horizontal bars per row label: any reply (light) with human reply (dark) on top."""
    left, right, top, row_h = 200, 90, 26, 20
    pw = width - left - right
    height = top + row_h * max(len(rows), 1) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" {FONT}>',
           f"<title>{_e(title)}</title>",
           f'<rect x="{left}" y="6" width="12" height="9" fill="#a6cbe3"/>',
           f'<text x="{left + 16}" y="14" fill="#333">{_e(any_label)}</text>',
           f'<rect x="{left + 150}" y="6" width="12" height="9" fill="{PALETTE[0]}"/>',
           f'<text x="{left + 166}" y="14" fill="#333">{_e(human_label)}</text>']
    for pct in (0, 50, 100):
        xx = left + pw * pct / 100
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top - 4}" '
                   f'y2="{top + row_h * len(rows)}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + row_h * len(rows) + 14}" '
                   f'text-anchor="middle" fill="#555">{pct}%</text>')
    for i, (label, any_rate, human_rate) in enumerate(rows):
        yy = top + i * row_h
        out.append(f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end" fill="#222">'
                   f"{_e(_clip(label, 36))}</text>")
        if any_rate is not None:
            out.append(f'<rect x="{left}" y="{yy + 3}" width="{pw * any_rate:.1f}" '
                       f'height="{row_h - 6}" fill="#a6cbe3"/>')
        if human_rate is not None:
            out.append(f'<rect x="{left}" y="{yy + 3}" width="{pw * human_rate:.1f}" '
                       f'height="{row_h - 6}" fill="{PALETTE[0]}"/>')
        value = "–" if human_rate is None else (
            f"{round(human_rate * 100)}% / {round((any_rate or 0) * 100)}%")
        out.append(f'<text x="{left + pw + 6}" y="{yy + 13}" fill="#222">{_e(value)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
