"""Figures per wave for the report (issue 14): answered share and index per company and wave,
and the change from the first to the last wave.

Each wave's figures come from the same company table as the ranking
(:func:`servicebench.tables.company_table` on that wave's inquiries), so a wave's numbers
follow the same rules as the study's. With one wave there is nothing to compare and the
report leaves the section out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup

from . import charts, metrics
from .i18n import format_number, format_percent
from .metrics import ALL_CHANNELS
from .scoring import Scoring


def waves_with_sent(outcomes: pd.DataFrame) -> list[int]:
    """The waves that have at least one sent inquiry, in order."""
    if outcomes.empty:
        return []
    sent = outcomes[outcomes["sent_at"].notna()]
    return sorted(int(w) for w in sent["wave"].dropna().unique())


def _pooled(rows: pd.DataFrame) -> tuple[float | None, float | None]:
    """Answered share over all companies' measured inquiries; mean of the companies' index."""
    answered = float(rows["n_answered"].fillna(0).sum())
    measured = answered + float(rows["n_not_answered"].fillna(0).sum())
    index = [float(v) for v in rows["index"] if v is not None and not pd.isna(v)]
    return (answered / measured if measured else None,
            sum(index) / len(index) if index else None)


def _change(values: list[float | None], scale: float, lang: str) -> str:
    """Last minus first wave with a sign (``+12``, ``−5``, ``±0``); ``–`` if either is missing."""
    first, last = values[0], values[-1]
    if first is None or last is None:
        return "–"
    diff = round((last - first) * scale)
    if diff == 0:
        return "±0"
    sign = "+" if diff > 0 else "−"
    return f"{sign}{format_number(abs(diff), lang)}"


def wave_figures(scored: pd.DataFrame, cfg: Scoring, overall: list[dict[str, Any]],
                 t: dict[str, str], lang: str) -> dict[str, Any] | None:
    """Rows (all companies first, then the ranking's order) with answered share and index per
    wave and their change; ``None`` with fewer than two waves with sent inquiries."""
    waves = waves_with_sent(scored)
    if len(waves) < 2:
        return None
    per_wave: list[dict[str, tuple[float | None, float | None]]] = []
    pooled: list[tuple[float | None, float | None]] = []
    for w in waves:
        sub = scored[scored["wave"] == w].reset_index(drop=True)
        table = metrics.company_table(sub, cfg, lang)
        rows = table[table["channel"] == ALL_CHANNELS]
        per_wave.append({str(r["company_id"]): (r["answered_share"], r["index"])
                         for r in rows.to_dict("records")})
        pooled.append(_pooled(rows))

    def clean(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    def row(label: str, values: list[tuple[Any, Any]], strong: bool = False) -> dict[str, Any]:
        shares = [clean(s) for s, _ in values]
        index = [clean(i) for _, i in values]
        return {"label": label, "strong": strong,
                "shares": [format_percent(s, lang) for s in shares],
                "index": [format_number(i, lang) for i in index],
                "share_change": _change(shares, 100, lang), "index_change": _change(index, 1, lang),
                "share_values": shares, "index_values": index}

    rows = [row(t["waves_all"], pooled, strong=True)]
    rows += [row(r["company"], [pw.get(str(r["company_id"]), (None, None)) for pw in per_wave])
             for r in overall]
    labels = [t["wave_label"].format(n=w) for w in waves]
    chart = charts.line_chart(
        labels, [(t["wave_share_line"], [None if v is None else 100 * v
                                         for v in rows[0]["share_values"]]),
                 (t["wave_index_line"], rows[0]["index_values"])],
        title=t["waves_chart"])
    return {"labels": labels, "rows": rows, "chart": Markup(chart)}
