"""Inline SVG charts for the report, drawn in Python (no JavaScript, no external files).

Every text that goes into an SVG is escaped here, because the report inserts the SVG as
markup; company names come from the study file and must not become markup.

Survival panels show the share of inquiries still unanswered over time (Kaplan-Meier with its
confidence band), one panel per channel kind with a time axis that fits it. Up to twelve
companies get a distinct colour and line style each; companies that never answered lie on the
top edge, drawn last and named in the legend. Above twelve companies, small multiples
(:func:`small_panel`) show single companies against the pooled curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Protocol

# 12 distinct colours (Okabe-Ito first, then Tol's muted), each with its own dash pattern
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
           "#882255", "#117733", "#999933", "#44AA99", "#AA4499"]
DASHES = ["", "6 3", "2 2", "8 3 2 3", "", "6 3", "2 2", "8 3 2 3", "", "6 3", "2 2", "8 3 2 3"]
MAX_SERIES = 12
FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="10"'


class CurveLike(Protocol):
    times: list[float]
    survival: list[float]
    lower: list[float]
    upper: list[float]


@dataclass
class Series:
    label: str
    curve: CurveLike
    never: bool = False      # no personal answer at all: the line stays at 100 %
    emphasis: bool = False   # the pooled curve: thick grey with its band
    slot: int = 0            # colour and dash pattern, stable across panels


@dataclass
class Axis:
    seconds: float   # right end of the time axis
    per: float       # seconds per unit
    unit: str        # unit label (already translated)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def nice_axis(max_seconds: float, units: dict[str, str]) -> Axis:
    """A time axis that fits ``max_seconds``: minutes up to 2 h, hours up to 3 days, then
    days; the end is rounded up to a tidy number of units."""
    max_seconds = max(max_seconds, 60.0)
    for limit, per, unit in ((2 * 3600, 60.0, "minutes"), (72 * 3600, 3600.0, "hours"),
                             (float("inf"), 86400.0, "days")):
        if max_seconds <= limit:
            n = max_seconds / per
            step = next(s for s in (1, 2, 5, 10, 15, 20, 30, 60, 120) if n / s <= 8)
            return Axis(seconds=step * per * -(-n // step), per=per, unit=units[unit])
    raise AssertionError("unreachable")


def _steps(times: list[float], values: list[float], xf: Any, yf: Any,
           end: float) -> list[tuple[float, float]]:
    """Points of a right-continuous step function, cut at ``end``."""
    pts: list[tuple[float, float]] = []
    prev = values[0] if values else 1.0
    pts.append((xf(0.0), yf(prev)))
    for t, v in zip(times, values, strict=False):
        if t > end:
            break
        pts.append((xf(t), yf(prev)))
        pts.append((xf(t), yf(v)))
        prev = v
    pts.append((xf(end), yf(prev)))
    return pts


def _path(pts: list[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def survival_panel(series: list[Series], axis: Axis, *, title: str, y_label: str,
                   never_label: str, width: int = 330, height: int = 230) -> str:
    """One panel: S(t) per series (share still unanswered), bands for emphasised series."""
    left, right, top, bottom = 40, 10, 22, 34
    pw, ph = width - left - right, height - top - bottom
    pad = 6  # the 100 % line sits below the frame's top edge so flat lines stay visible

    def xf(t: float) -> float:
        return left + pw * min(max(t, 0.0), axis.seconds) / axis.seconds

    def yf(s: float) -> float:
        return top + pad + (ph - pad) * (1.0 - s)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart panel" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" {FONT}>',
           f"<title>{_e(title)}</title>",
           f'<text x="{left}" y="13" font-weight="bold" fill="#0b2e4f">{_e(title)}</text>']
    for pct in (0, 25, 50, 75, 100):
        yy = yf(pct / 100)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   'stroke="#e3e6ea" stroke-width="0.8"/>')
        out.append(f'<text x="{left - 4}" y="{yy + 3:.1f}" text-anchor="end" '
                   f'fill="#555">{pct}%</text>')
    n_units = round(axis.seconds / axis.per)
    step = next(s for s in (1, 2, 5, 10, 15, 20, 30, 60, 120, 240) if n_units / s <= 6)
    for k in range(0, n_units + 1, step):
        xx = xf(k * axis.per)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + ph}" y2="{top + ph + 3}" '
                   'stroke="#555"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 13}" text-anchor="middle" '
                   f'fill="#555">{k}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" '
               'stroke="#555"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle" '
               f'fill="#333">{_e(axis.unit)}</text>')
    out.append(f'<text transform="translate(10 {top + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" fill="#333">{_e(y_label)}</text>')
    ordered = sorted(enumerate(series), key=lambda p: (p[1].never, not p[1].emphasis))
    n_never = 0
    for _, s in ordered:
        c = s.curve
        shift = 0.0
        if s.never:  # stacked a little apart so each flat line at 100 % stays visible
            shift, n_never = -1.6 * n_never, n_never + 1
        colour = "#555555" if s.emphasis else PALETTE[s.slot % len(PALETTE)]
        if (s.emphasis or len(series) <= 2) and c.lower and c.upper:
            hi = _steps(c.times, c.upper, xf, yf, axis.seconds)
            lo = _steps(c.times, c.lower, xf, yf, axis.seconds)
            out.append(f'<path class="band" d="{_path(hi + lo[::-1])} Z" fill="{colour}" '
                       'fill-opacity="0.18" stroke="none"/>')
        dash = "" if s.emphasis else DASHES[s.slot % len(DASHES)]
        width_ = 2.6 if s.emphasis or s.never else 1.6
        pts = [(x, y + shift) for x, y in _steps(c.times, c.survival or [1.0], xf, yf,
                                                  axis.seconds)]
        out.append(f'<path d="{_path(pts)}" fill="none" stroke="{colour}" '
                   f'stroke-width="{width_}"' + (f' stroke-dasharray="{dash}"' if dash else "")
                   + "/>")
    out.append("</svg>")
    return "\n".join(out)


def small_panel(label: str, curve: CurveLike, pooled: CurveLike, axis: Axis, *,
                never: bool = False, slot: int = 0, width: int = 160, height: int = 96) -> str:
    """A tiny survival panel for small multiples: one company's curve in colour over the
    pooled curve of all companies in grey, the company's name as title."""
    left, right, top, bottom = 22, 4, 14, 14
    pw, ph = width - left - right, height - top - bottom
    pad = 3

    def xf(t: float) -> float:
        return left + pw * min(max(t, 0.0), axis.seconds) / axis.seconds

    def yf(v: float) -> float:
        return top + pad + (ph - pad) * (1.0 - v)

    colour, dash = PALETTE[slot % len(PALETTE)], DASHES[slot % len(DASHES)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart small" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="8">',
           f"<title>{_e(label)}</title>",
           f'<text x="{left}" y="9" fill="#0b2e4f">{_e(_clip(label, 30))}</text>']
    for v in (0.0, 0.5, 1.0):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yf(v):.1f}" y2="{yf(v):.1f}" '
                   'stroke="#e3e6ea" stroke-width="0.6"/>')
        out.append(f'<text x="{left - 2}" y="{yf(v) + 3:.1f}" text-anchor="end" '
                   f'fill="#777">{round(v * 100)}</text>')
    n_units = round(axis.seconds / axis.per)
    out.append(f'<text x="{left}" y="{height - 3}" fill="#777">0</text>')
    out.append(f'<text x="{left + pw}" y="{height - 3}" text-anchor="end" fill="#777">'
               f"{n_units} {_e(axis.unit)}</text>")
    grey = _path(_steps(pooled.times, pooled.survival or [1.0], xf, yf, axis.seconds))
    mine = _path(_steps(curve.times, curve.survival or [1.0], xf, yf, axis.seconds))
    out.append(f'<path d="{grey}" fill="none" stroke="#aaaaaa" stroke-width="1.6"/>')
    out.append(f'<path d="{mine}" fill="none" stroke="{colour}" '
               f'stroke-width="{2.2 if never else 1.5}"'
               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
    out.append("</svg>")
    return "\n".join(out)


def legend(series: list[Series], never_label: str, width: int = 680) -> str:
    """A shared legend for the panels: line sample (colour + dash) and label per series."""
    cols = 3
    row_h = 15
    rows = -(-len(series) // cols)
    height = rows * row_h + 6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart legend" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" {FONT}>']
    col_w = width / cols
    for i, s in enumerate(series):
        x = (i % cols) * col_w + 4
        y = (i // cols) * row_h + 10
        colour = "#555555" if s.emphasis else PALETTE[s.slot % len(PALETTE)]
        dash = "" if s.emphasis else DASHES[s.slot % len(DASHES)]
        out.append(f'<line x1="{x:.1f}" x2="{x + 26:.1f}" y1="{y - 3}" y2="{y - 3}" '
                   f'stroke="{colour}" stroke-width="{2.6 if s.emphasis else 2}"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        label = _clip(s.label, 30) + (f" ({never_label})" if s.never else "")
        out.append(f'<text x="{x + 32:.1f}" y="{y}" fill="#222">{_e(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def index_bars(rows: list[tuple[str, float | None, float | None, float | None]], *,
               title: str, width: int = 680) -> str:
    """Horizontal bars of an index (0-100) sorted by value, with interval whiskers and the
    value at the bar's end; rows are ``(label, value, low, high)``."""
    rows = sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0), r[0]))
    left, right, top, row_h = 190, 40, 8, 16
    pw = width - left - right
    height = top + row_h * max(len(rows), 1) + 22
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" {FONT}>',
           f"<title>{_e(title)}</title>"]
    base = top + row_h * len(rows)
    for v in (0, 25, 50, 75, 100):
        xx = left + pw * v / 100
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top - 2}" y2="{base}" '
                   'stroke="#e3e6ea"/>')
        out.append(f'<text x="{xx:.1f}" y="{base + 13}" text-anchor="middle" '
                   f'fill="#555">{v}</text>')
    for i, (label, value, low, high) in enumerate(rows):
        yy = top + i * row_h
        out.append(f'<text x="{left - 6}" y="{yy + 11}" text-anchor="end" fill="#222">'
                   f"{_e(_clip(label, 34))}</text>")
        if value is None:
            out.append(f'<text x="{left + 4}" y="{yy + 11}" fill="#888">–</text>')
            continue
        out.append(f'<rect x="{left}" y="{yy + 3}" width="{pw * value / 100:.1f}" '
                   f'height="{row_h - 6}" fill="{PALETTE[0]}"/>')
        if low is not None and high is not None:
            x1, x2 = left + pw * low / 100, left + pw * high / 100
            ym = yy + row_h / 2
            out.append(f'<path d="M{x1:.1f},{ym:.1f} H{x2:.1f} M{x1:.1f},{ym - 4:.1f} '
                       f'V{ym + 4:.1f} M{x2:.1f},{ym - 4:.1f} V{ym + 4:.1f}" stroke="#222" '
                       'stroke-width="1"/>')
        end = left + pw * max(value, high or 0) / 100 + 4
        out.append(f'<text x="{end:.1f}" y="{yy + 11}" fill="#222">{round(value)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(labels: list[str], lines: list[tuple[str, list[float | None]]], *, title: str,
               width: int = 680, height: int = 170) -> str:
    """A small line chart on a 0-100 scale: one point per label (e.g. per wave), one line per
    series with its values written at the points and a legend entry above the plot."""
    left, right, top, bottom = 40, 20, 26, 22
    pw, ph = width - left - right, height - top - bottom
    n = max(len(labels), 1)

    def xf(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def yf(v: float) -> float:
        return top + ph * (1 - min(max(v, 0.0), 100.0) / 100)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
           f'{height}" width="{width}" height="{height}" role="img" {FONT}>',
           f"<title>{_e(title)}</title>"]
    for v in (0, 25, 50, 75, 100):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yf(v):.1f}" y2="{yf(v):.1f}" '
                   'stroke="#e3e6ea" stroke-width="0.8"/>')
        out.append(f'<text x="{left - 4}" y="{yf(v) + 3:.1f}" text-anchor="end" '
                   f'fill="#555">{v}</text>')
    for i, label in enumerate(labels):
        out.append(f'<text x="{xf(i):.1f}" y="{height - 6}" text-anchor="middle" '
                   f'fill="#333">{_e(_clip(label, 16))}</text>')
    for k, (name, values) in enumerate(lines):
        colour, dash = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)]
        lx = left + k * 200
        out.append(f'<line x1="{lx}" x2="{lx + 26}" y1="9" y2="9" stroke="{colour}" '
                   'stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(f'<text x="{lx + 32}" y="12" fill="#222">{_e(_clip(name, 30))}</text>')
        pts = [(xf(i), yf(v), v) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            out.append(f'<path d="{_path([(x, y) for x, y, _ in pts])}" fill="none" '
                       f'stroke="{colour}" stroke-width="1.8"'
                       + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        for x, y, v in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{colour}"/>')
            dy = -5 if k % 2 == 0 else 12
            out.append(f'<text x="{x + 4:.1f}" y="{y + dy:.1f}" fill="{colour}">'
                       f"{round(v)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def heat_colour(share: float | None) -> str:
    """Background for a heat-map cell: red (0) through yellow to green (1); grey for none."""
    if share is None:
        return "#eeeeee"
    share = min(max(share, 0.0), 1.0)
    hue = 120 * share
    return f"hsl({hue:.0f}, 60%, {82 - 10 * share:.0f}%)"
