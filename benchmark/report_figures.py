"""Figures as report text: intervals, ranks, the preliminary banner, findings, the scoring
part of the methods section. Sentences never call two companies better or worse than each
other when their index intervals overlap (:func:`servicebench.scoring.comparison`)."""

from __future__ import annotations

from typing import Any

from .i18n import format_duration, format_percent
from .scoring import CRITERIA, Scoring, comparison


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


def index_text(r: dict[str, Any], t: dict[str, str]) -> str:
    """``72 (65–80)``: index and its 95 % interval."""
    if r.get("index") is None:
        return t["none"]
    low, high = r.get("index_ci_low"), r.get("index_ci_high")
    ci = f" ({_num(low)}–{_num(high)})" if low is not None and high is not None else ""
    return f"{_num(r['index'])}{ci}"


def rank_text(r: dict[str, Any], t: dict[str, str]) -> str:
    """``2`` or ``2 (1–4)`` when the 95 % rank range is wider than the rank."""
    rank = r.get("rank")
    if rank is None:
        return t["none"]
    best, worst = r.get("rank_best"), r.get("rank_worst")
    if best is None or worst is None or best == worst:
        return str(rank)
    return f"{rank} ({best}–{worst})"


def share_text(r: dict[str, Any], key: str, lang: str) -> str:
    """``75 % (30–95 %)``: a share and its Wilson interval."""
    value = r.get(key)
    if value is None:
        return format_percent(None, lang)
    low, high = r.get(f"{key}_ci_low"), r.get(f"{key}_ci_high")
    if low is None or high is None:
        return format_percent(value, lang)
    return (f"{format_percent(value, lang)} ({round(low * 100)}–"
            f"{format_percent(high, lang)})")


def subscores_text(r: dict[str, Any], t: dict[str, str]) -> str:
    """``E 100 · T 85 · Q 67 · P 100`` for a channel row (criteria that apply)."""
    parts = [f"{t['abbr_' + c]} {_num(r.get(f'{c}_score'))}" for c in CRITERIA
             if r.get(f"{c}_score") is not None]
    return " · ".join(parts) if parts else t["none"]


def preliminary(probes: list[dict[str, Any]], t: dict[str, str]) -> dict[str, Any]:
    """The banner: active while any probe is pending at the cut-off."""
    n = sum(1 for p in probes if p["outcome"] == "pending")
    return {"active": n > 0, "n_pending": n, "text": t["preliminary_text"].format(n=n)}


def findings(overall: list[dict[str, Any]], t: dict[str, str]) -> list[str]:
    """Sentences about the ranking: the leader, and which companies cannot be told apart
    from it (overlapping index intervals) or are clearly behind; companies ranked on fewer
    channels than others are named."""
    ranked = [r for r in overall if r.get("rank") is not None and r.get("index") is not None]
    out: list[str] = []
    if len(ranked) >= 2:
        top = ranked[0]
        tied = [r for r in ranked[1:] if comparison(top, r) == "indistinguishable"]
        behind = [r for r in ranked[1:] if comparison(top, r) == "better"]
        if tied:
            out.append(t["finding_tied"].format(
                top=top["company"], others=", ".join(r["company"] for r in tied)))
        else:
            out.append(t["finding_leader"].format(top=top["company"]))
        if behind and tied:
            out.append(t["finding_behind"].format(
                top=top["company"], others=", ".join(r["company"] for r in behind)))
    partial = [f"{r['company']} ({', '.join((r.get('channels_tested') or '').split(';'))})"
               for r in ranked if r.get("weights_renormalised")]
    if partial:
        out.append(t["finding_partial_list"].format(companies="; ".join(partial)))
    return out


def scoring_methods(cfg: Scoring, overall: list[dict[str, Any]], t: dict[str, str],
                    lang: str, channels: list[str]) -> dict[str, Any]:
    """The formula, weights, speed bands and grade bands for the methods section."""
    w = {c: cfg.criteria.get(c, 0.0) for c in CRITERIA}
    formula = t["m_formula"].format(**{c: f"{v:g}" for c, v in w.items()})
    if cfg.half_life:
        speed = [(t["m_half_life"].format(h=format_duration(cfg.half_life, lang)), "")]
    else:
        speed = [(f"≤ {format_duration(b.within_seconds, lang)}", f"{b.score:g}")
                 for b in cfg.bands] + [(t["m_later"], f"{cfg.beyond_bands:g}")]
    notes = [t["m_bootstrap"].format(samples=cfg.samples, seed=cfg.seed)]
    if not cfg.explicit:
        notes.append(t["m_defaults"])
    notes += [t["finding_partial"].format(
        company=r["company"], channels=", ".join((r.get("channels_tested") or "").split(";")))
        for r in overall if r.get("weights_renormalised")]
    return {
        "formula": formula,
        "criteria": [(t[f"crit_{c}"], f"{v:g}") for c, v in w.items()],
        "channels": [(ch, f"{cfg.channel_weight(ch):g}") for ch in channels],
        "speed": speed,
        "grades": [(g.label(lang), f"{g.min:g}") for g in cfg.grades],
        "notes": notes,
    }
