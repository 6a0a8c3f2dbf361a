"""Figures the report needs beyond the metrics tables, and the key findings as sentences.

Index, intervals, grades, rank ranges and survival curves come from :mod:`servicebench.metrics`
and :mod:`servicebench.scoring` (issue 9); this module only words them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from . import metrics

#: the table keys the templates read; rows without a figure carry None (shown as "–")
SCORE_KEYS = ("index", "index_ci_low", "index_ci_high", "grade", "rank_best", "rank_worst",
              "answered_share", "answered_share_ci_low", "answered_share_ci_high",
              "any_reply_share", "ack_share", "km_median_hours")


def survival_curve(group: pd.DataFrame) -> metrics.SurvivalCurve:
    """Kaplan-Meier of time to the first personal answer with its 95 % band (metrics)."""
    return metrics.survival_curve(group)


def with_scores(rows: list[dict[str, Any]], outcomes: pd.DataFrame) -> list[dict[str, Any]]:
    """The metrics tables' rows with every key the templates read. Figures come only from
    the tables (the scoring rules of :mod:`servicebench.scoring`): a company with no measured
    inquiry (everything bounced, blocked or failed) has no index, never a made-up one."""
    del outcomes  # kept for the call signature; the tables carry every figure
    for r in rows:
        for key in SCORE_KEYS:
            r.setdefault(key, None)
    return rows


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
