"""Figures the report needs beyond the metrics tables, and the key findings as sentences.

Index, intervals, grades, rank ranges and survival curves come from :mod:`servicebench.metrics`
(branch ``method``, issue 9) when it provides them; until then this module computes
stand-ins with the same names (index = personal response rate in points with a Wilson
interval, Kaplan-Meier with Greenwood band) so the report shows the same layout either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import metrics

Z95 = 1.959963984540054


@dataclass
class SurvivalCurve:
    """Same shape as metrics.SurvivalCurve (issue 9)."""
    times: list[float] = field(default_factory=list)
    survival: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    n: int = 0
    small_sample: bool = False


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if not n:
        return None, None
    p = k / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _sent(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["state"].eq("sent") & group["sent_at"].notna()]


def survival_curve(group: pd.DataFrame) -> Any:
    """Kaplan-Meier of time to the first personal answer with a 95 % band: metrics'
    version when it exists, else Greenwood's variance on the log-log scale."""
    fn = getattr(metrics, "survival_curve", None)
    if fn is not None:
        return fn(group)
    sent = _sent(group)
    data = sorted((max(0.0, float(d)), not bool(c))
                  for d, c in zip(sent["observed_seconds"], sent["censored"], strict=True))
    curve = SurvivalCurve(n=len(data), small_sample=len(data) < 10)
    at_risk, s, var, i = len(data), 1.0, 0.0, 0
    while i < len(data):
        t = data[i][0]
        events = removed = 0
        while i < len(data) and data[i][0] == t:
            events += data[i][1]
            removed += 1
            i += 1
        if events:
            s *= 1 - events / at_risk
            if at_risk > events:
                var += events / (at_risk * (at_risk - events))
            lo, hi = _loglog(s, var)
            curve.times.append(t)
            curve.survival.append(s)
            curve.lower.append(lo)
            curve.upper.append(hi)
        at_risk -= removed
    return curve


def _loglog(s: float, var: float) -> tuple[float, float]:
    if s <= 0 or s >= 1 or var <= 0:
        return s, s
    se = math.sqrt(var) / abs(math.log(s))
    return s ** math.exp(Z95 * se), s ** math.exp(-Z95 * se)


def with_scores(rows: list[dict[str, Any]], outcomes: pd.DataFrame) -> list[dict[str, Any]]:
    """Fill ``index``/``index_ci_low``/``index_ci_high``/``rank_best``/``rank_worst`` and
    ``answered_share`` (+ interval) where the metrics tables do not provide them."""
    counts = _answer_counts(outcomes)
    for r in rows:  # the names of issue 9's tables, filled from the older ones
        for new, old, factor in (("any_reply_share", "response_rate", 1.0),
                                 ("ack_share", "ack_rate", 1.0),
                                 ("km_median_hours", "median_human_seconds", 1 / 3600)):
            if r.get(new) is None and r.get(old) is not None:
                r[new] = r[old] * factor
            r.setdefault(new, None)
    for r in rows:
        if r.get("answered_share") is None and r.get("n_sent"):
            key = (r.get("company_id", metrics.ALL_CHANNELS), r["channel"])
            k, n = counts.get(key, (0, 0))
            if n:
                lo, hi = wilson(k, n)
                r.update(answered_share=k / n, answered_share_ci_low=lo,
                         answered_share_ci_high=hi, n_answered=k)
        if r.get("index") is None and r.get("answered_share") is not None:
            r["index"] = 100 * r["answered_share"]
            r["index_ci_low"] = 100 * r["answered_share_ci_low"]
            r["index_ci_high"] = 100 * r["answered_share_ci_high"]
    for r in rows:
        for key in ("index", "index_ci_low", "index_ci_high", "grade", "rank_best",
                    "rank_worst", "answered_share", "answered_share_ci_low",
                    "answered_share_ci_high"):
            r.setdefault(key, None)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["channel"], []).append(r)
    for group in groups.values():
        scored = [r for r in group if r.get("index") is not None]
        for r in group:
            if r.get("rank_best") is not None or r.get("index") is None:
                continue
            lo, hi = r.get("index_ci_low"), r.get("index_ci_high")
            if lo is None or hi is None:
                continue
            better = sum(1 for o in scored if o is not r and (o.get("index_ci_low") or 0) > hi)
            worse = sum(1 for o in scored if o is not r and (o.get("index_ci_high") or 0) < lo)
            r["rank_best"], r["rank_worst"] = 1 + better, len(scored) - worse
    return rows


def _answer_counts(outcomes: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(answered in person, sent) per (company, channel), per (company, "all") and per
    ("all", channel), in one pass."""
    counts: dict[tuple[str, str], list[int]] = {}
    if outcomes.empty:
        return {}
    sent = _sent(outcomes)
    all_ = metrics.ALL_CHANNELS
    for cid, ch, human in zip(sent["company_id"], sent["channel"],
                              sent["first_human_reply_at"].notna(), strict=True):
        for key in ((cid, ch), (cid, all_), (all_, ch)):
            c = counts.setdefault(key, [0, 0])
            c[0] += int(human)
            c[1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def outcome_of(p: dict[str, Any]) -> str:
    """The per-probe outcome (metrics' ``outcome`` column when present)."""
    if p.get("outcome"):
        return str(p["outcome"])
    state = p.get("state")
    if state in ("failed", "unknown"):
        return "failed"
    if state == "blocked":
        return "blocked"
    if state != "sent" or p.get("sent_at") is None:
        return "pending"
    if p.get("first_human_reply_at") is not None:
        return "answered"
    if p.get("bounced") and not p.get("first_reply_at"):
        return "bounced"
    return "not_answered" if p.get("window_closed") else "pending"


def _measured(r: dict[str, Any]) -> bool:
    """Whether a row has inquiries with a result (answered or not answered); pending, failed,
    blocked and bounced ones say nothing about answering."""
    if "n_not_answered" in r and r.get("n_not_answered") is not None:
        return bool((r.get("n_answered") or 0) + (r.get("n_not_answered") or 0))
    return r.get("answered_share") is not None


def never_answered(r: dict[str, Any]) -> bool:
    return _measured(r) and not r.get("answered_share")


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not ((a["index_ci_low"] or 0) > (b["index_ci_high"] or 0)
                or (b["index_ci_low"] or 0) > (a["index_ci_high"] or 0))


def findings(t: dict[str, str], overall: list[dict[str, Any]], per_channel: list[dict[str, Any]],
             channels: list[dict[str, Any]], *, window: str, ch_name: Callable[[str], str],
             pct: Callable[[float | None], str], dur: Callable[[float | None], str],
             num: Callable[[float | None], str]) -> list[str]:
    """3-6 sentences generated from the figures. Never claims one company is better than
    another when their intervals overlap."""
    out: list[str] = []
    by_channel = sorted((c for c in channels if c.get("n_sent")),
                        key=lambda c: -c.get("n_sent", 0))
    for ch in by_channel[:2]:
        rows = [r for r in per_channel if r["channel"] == ch["channel"] and _measured(r)]
        silent = [r for r in rows if not r.get("answered_share")]
        name = ch_name(ch["channel"])
        if silent:
            out.append(t["f_none_answered"].format(n=len(silent), total=len(rows),
                                                   window=window, channel=name))
        elif rows:
            out.append(t["f_all_answered"].format(total=len(rows), channel=name))
    for ch in by_channel[:2]:
        if ch.get("answered_share") is not None:
            out.append(t["f_channel_share"].format(
                channel=ch_name(ch["channel"]), share=pct(ch["answered_share"]), window=window,
                low=pct(ch.get("answered_share_ci_low")),
                high=pct(ch.get("answered_share_ci_high"))))
    timed = [c for c in by_channel if c.get("km_median_hours") is not None]
    if timed:
        fastest = min(timed, key=lambda c: c["km_median_hours"])
        out.append(t["f_channel_median"].format(
            channel=ch_name(fastest["channel"]), median=dur(fastest["km_median_hours"] * 3600)))
    scored = sorted((r for r in overall if r.get("index") is not None
                     and r.get("index_ci_low") is not None),
                    key=lambda r: -r["index"])
    if len(scored) >= 2:
        top = scored[0]
        group = [r for r in scored if _overlap(top, r)]
        if len(group) == 1:
            out.append(t["f_leader"].format(company=top["company"], index=num(top["index"])))
        elif len(group) < len(scored):
            names = [r["company"] for r in group]
            shown = ", ".join(names[:5]) + (f" (+{len(names) - 5})" if len(names) > 5 else "")
            out.append(t["f_leader_group"].format(companies=shown))
        else:
            out.append(t["f_spread"].format(low=num(scored[-1]["index"]),
                                            high=num(top["index"]), n=len(scored)))
    partial = [f"{r['company']} ({', '.join((r.get('channels_tested') or '').split(';'))})"
               for r in overall if r.get("rank") is not None and r.get("weights_renormalised")]
    if partial and "finding_partial_list" in t:
        out.append(t["finding_partial_list"].format(companies="; ".join(partial)))
    cov = [c.get("checklist_coverage") for c in by_channel if c.get("checklist_coverage")]
    if cov and len(out) < 6:
        out.append(t["f_checklist"].format(share=pct(sum(cov) / len(cov))))
    acks = [c for c in by_channel if c.get("ack_share")]
    if acks and len(out) < 6:
        total = sum(c["n_sent"] for c in acks)
        out.append(t["f_ack"].format(share=pct(sum(c["ack_share"] * c["n_sent"] for c in acks)
                                               / total)))
    return out[:5] + out[-1:] if partial and len(out) > 6 else out[:6]
