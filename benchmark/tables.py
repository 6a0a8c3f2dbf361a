"""Figures per company × channel, per company (``channel = all``) and per channel.

Rates rule: shares are fractions of the measured probes, those answered or not answered;
pending, failed, blocked and bounced probes are counted in their own columns and are never
in a denominator, so a probe whose window is still open is never counted as unanswered.
answered_share = answered / measured; any_reply_share = measured probes with any reply
(automated or human) in the window; within_1h/24h/72h = probes answered within that time /
measured, so within 1 h <= within 24 h <= within 72 h <= answered share. Every share has a
95 % Wilson interval. median_hours and mean_hours are over the answered probes;
km_median_hours is the Kaplan-Meier median over all sent probes, the ones without a human
reply censored at their window end (or at the cut-off), with a 95 % interval. Checklist
coverage and personal-salutation rate are means over the answered probes where they apply.
Cells with fewer than five measured probes are marked ``small_sample``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .intervals import (
    SMALL_SAMPLE,
    SurvivalCurve,
    km_median_ci,
    km_quantile,
    survival,
    wilson_many,
)
from .scoring import (
    CRITERIA,
    CellScore,
    Rows,
    Scoring,
    combine_channels,
    rank_ranges,
    score_cells,
)

HOUR = 3600.0
WITHIN = {"within_1h": 1 * HOUR, "within_24h": 24 * HOUR, "within_72h": 72 * HOUR}
ALL_CHANNELS = "all"
COUNT_COLUMNS = ["n_probes", "n_sent", "n_answered", "n_not_answered", "n_pending",
                 "n_failed", "n_blocked", "n_bounced"]
SHARES = ["answered_share", "any_reply_share", *WITHIN]
FIGURE_COLUMNS = [
    "answered_share", "answered_share_ci_low", "answered_share_ci_high",
    "any_reply_share", "any_reply_share_ci_low", "any_reply_share_ci_high",
    *[f"{w}{s}" for w in WITHIN for s in ("", "_ci_low", "_ci_high")],
    "median_hours", "mean_hours", "km_median_hours", "km_median_ci_low_hours",
    "km_median_ci_high_hours", "ack_share", "checklist_coverage", "personal_salutation_rate",
    *[f"{c}_score" for c in CRITERIA], "index", "index_ci_low", "index_ci_high",
]
SCORE_COLUMNS = ["grade", "rank", "rank_best", "rank_worst", "small_sample", "weight",
                 "channels_tested", "weights_renormalised"]
COMPANY_COLUMNS = ["company_id", "company", "channel", *COUNT_COLUMNS, *FIGURE_COLUMNS,
                   *SCORE_COLUMNS]
CHANNEL_COLUMNS = ["channel", "n_companies", *COUNT_COLUMNS, *FIGURE_COLUMNS, *SCORE_COLUMNS]


def _measured(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["outcome"].isin(["answered", "not_answered"])]


def _sent(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["observed_seconds"].notna()]


def human_curve(group: pd.DataFrame) -> list[tuple[float, float]]:
    """Kaplan-Meier step curve of time to first human reply over the group's sent probes."""
    return survival_curve(group).steps


def survival_curve(group: pd.DataFrame) -> SurvivalCurve:
    """Kaplan-Meier curve with 95 % Greenwood bands over a group of probe outcomes (sent
    probes; those without a human reply censored at window end or cut-off)."""
    sent = _sent(group)
    curve = survival([float(x) for x in sent["observed_seconds"]],
                     [not bool(c) for c in sent["censored"]])
    curve.small_sample = len(_measured(group)) < SMALL_SAMPLE
    return curve


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and not _isnan(v)]
    return sum(vals) / len(vals) if vals else None


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _aggregate(group: pd.DataFrame | Rows) -> dict[str, Any]:
    """Counts, shares and times of one cell (see the module doc). Shares are stored with
    their counts (``_k_<share>``, ``_n``); :func:`_with_intervals` adds the intervals."""
    outcome = np.asarray(group["outcome"])
    is_measured = (outcome == "answered") | (outcome == "not_answered")
    is_answered = outcome == "answered"
    n = int(is_measured.sum())
    secs = [float(s) for s in np.asarray(group["seconds_to_first_human_reply"])[is_answered]]
    observed = np.asarray(group["observed_seconds"])
    has_obs = pd.notna(observed)
    dur = [float(x) for x in observed[has_obs]]
    obs = [not bool(c) for c in np.asarray(group["censored"])[has_obs]]
    out: dict[str, Any] = {"n_probes": len(outcome), "n_sent": len(dur), "_n": n}
    for name in ("answered", "not_answered", "pending", "failed", "blocked", "bounced"):
        out[f"n_{name}"] = int((outcome == name).sum())
    out["_k_answered_share"] = len(secs)
    out["_k_any_reply_share"] = int(pd.notna(np.asarray(group["first_reply_at"])[is_measured])
                                    .sum())
    for name, limit in WITHIN.items():
        out[f"_k_{name}"] = sum(1 for x in secs if x <= limit)
    out["median_hours"] = float(np.median(secs)) / HOUR if secs else None
    out["mean_hours"] = float(np.mean(secs)) / HOUR if secs else None
    km = km_quantile(survival(dur, obs).steps, 0.5) if dur else None
    low, high = km_median_ci(dur, obs) if km is not None else (None, None)
    out["km_median_hours"] = km / HOUR if km is not None else None
    out["km_median_ci_low_hours"] = low / HOUR if low is not None else None
    out["km_median_ci_high_hours"] = high / HOUR if high is not None else None
    ack = np.asarray(group["acknowledged"])[is_measured]
    out["ack_share"] = sum(1 for v in ack if v is True) / n if n else None
    out["checklist_coverage"] = _mean(np.asarray(group["checklist_coverage"])[is_answered])
    sal = [bool(v) for v in np.asarray(group["personal_salutation"])[is_answered]
           if v is not None and not _isnan(v)]
    out["personal_salutation_rate"] = sum(sal) / len(sal) if sal else None
    out["small_sample"] = n < SMALL_SAMPLE
    return out


def _with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """Each share and its 95 % Wilson interval from the counts kept by :func:`_aggregate`
    (one vectorised statsmodels call per share)."""
    n = df["_n"].to_numpy(dtype=float)
    for share in SHARES:
        k = df[f"_k_{share}"].to_numpy(dtype=float)
        value, low, high = wilson_many(k, n)
        df[share], df[f"{share}_ci_low"], df[f"{share}_ci_high"] = value, low, high
    return df.drop(columns=["_n", *[f"_k_{s}" for s in SHARES]])


def _score_fields(cell: CellScore, cfg: Scoring, language: str) -> dict[str, Any]:
    out: dict[str, Any] = {f"{c}_score": v for c, v in cell.subscores.items()}
    out.update(index=cell.index, index_ci_low=cell.low, index_ci_high=cell.high,
               grade=cfg.grade(cell.index, language))
    return out


def company_table(outcomes: pd.DataFrame, scoring: Scoring | None = None,
                  language: str = "en") -> pd.DataFrame:
    """Figures per company and channel, plus one row per company with channel ``all``
    (module doc: rates; :mod:`.scoring`: index, grade, intervals).

    Ranking rule: companies are ranked by their index (higher first), within each channel
    on that channel's index and overall (``all`` rows) on the weighted index over the
    channels each was tested on. Equal indices (to 0.01) share a rank (1, 1, 3);
    ``rank_best``-``rank_worst`` is the 95 % range of the rank (bootstrap, widened to every
    rank the overlapping index intervals allow). Rows without a measured probe get no
    index and no rank.
    """
    cfg = scoring or Scoring()
    if outcomes.empty:
        return pd.DataFrame(columns=COMPANY_COLUMNS)
    groups = Rows.groups(outcomes, ["company_id", "channel"])
    cells = score_cells(groups, cfg)
    records: list[dict[str, Any]] = []
    reps: list[np.ndarray] = []
    for (cid, ch), g in groups:
        records.append({"company_id": cid, "company": g["company"][0], "channel": ch,
                        **_aggregate(g), **_score_fields(cells[(cid, ch)], cfg, language),
                        "weight": cfg.channel_weight(ch)})
        reps.append(cells[(cid, ch)].replicates)
    all_channels = sorted(outcomes["channel"].unique())
    by_company: dict[Any, dict[str, CellScore]] = {}
    for (c_id, ch), c in cells.items():
        by_company.setdefault(c_id, {})[ch] = c
    for cid, g in Rows.groups(outcomes, ["company_id"]):
        mine = by_company.get(cid, {})
        combined = combine_channels(mine, cfg)
        point, rep, used = combined.index, combined.replicates, list(combined.subscores)
        low, high = combined.low, combined.high
        records.append({"company_id": cid, "company": g["company"][0],
                        "channel": ALL_CHANNELS, **_aggregate(g),
                        **{f"{c}_score": None for c in CRITERIA},
                        "index": point, "index_ci_low": low, "index_ci_high": high,
                        "grade": cfg.grade(point, language), "weight": None,
                        "channels_tested": ";".join(used),
                        "weights_renormalised": bool(used) and used != [
                            ch for ch in all_channels if cfg.channel_weight(ch) > 0]})
        reps.append(rep)
    by_channel: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_channel.setdefault(r["channel"], []).append(i)
    for idx in by_channel.values():
        ranged = rank_ranges([records[i]["index"] for i in idx], [reps[i] for i in idx],
                             [(records[i]["index_ci_low"], records[i]["index_ci_high"])
                              for i in idx])
        for i, (rank, best, worst) in zip(idx, ranged, strict=True):
            records[i].update(rank=rank, rank_best=best, rank_worst=worst)
    df = _with_intervals(pd.DataFrame(records)).reindex(columns=COMPANY_COLUMNS)
    df["_all"] = df["channel"].eq(ALL_CHANNELS)
    df = df.sort_values(["_all", "channel", "rank", "company"],
                        ascending=[False, True, True, True], na_position="last",
                        kind="stable").drop(columns="_all")
    return tidy(df.reset_index(drop=True))


def channel_table(outcomes: pd.DataFrame, scoring: Scoring | None = None,
                  language: str = "en") -> pd.DataFrame:
    """The company-table figures per channel, pooled over all companies (no rank), so
    channels can be compared: same rates, Kaplan-Meier, index and interval rules."""
    cfg = scoring or Scoring()
    if outcomes.empty:
        return pd.DataFrame(columns=CHANNEL_COLUMNS)
    groups = Rows.groups(outcomes, ["channel"])
    cells = score_cells(groups, cfg)
    records = [{"channel": ch, "n_companies": len(set(g["company_id"])), **_aggregate(g),
                **_score_fields(cells[ch], cfg, language), "weight": cfg.channel_weight(ch),
                "rank": None, "rank_best": None, "rank_worst": None}
               for ch, g in groups]
    return tidy(_with_intervals(pd.DataFrame(records)).reindex(columns=CHANNEL_COLUMNS))


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Figures rounded to 4 decimals (None, not NaN, where a figure does not exist); counts
    and ranks as nullable integers."""
    for col in FIGURE_COLUMNS:
        df[col] = pd.Series([None if v is None or _isnan(v) else round(float(v), 4)
                             for v in df[col]], index=df.index, dtype=object)
    for col in ("grade", "channels_tested", "weights_renormalised", "small_sample"):
        df[col] = pd.Series([None if _isnan(v) else v for v in df[col]], index=df.index,
                            dtype=object)
    for col in ("rank", "rank_best", "rank_worst", *COUNT_COLUMNS):
        df[col] = pd.array([None if v is None or _isnan(v) else int(v) for v in df[col]],
                           dtype="Int64")
    return df
