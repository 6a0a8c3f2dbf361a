"""Answer quality per probe: from people's ratings where they exist, else automatic.

Quality rule: a reply's quality is a score from 0 to 1. Where people rated it (servicebench
rate), each rubric criterion's score is the adjudicated value where one was recorded, else
the mean of the raters' scores (a per-fact criterion: the mean over its facts); quality is
the weighted mean of the criteria's scores and ``quality_source`` is ``adjudicated`` (some
value was adjudicated) or ``raters``. Otherwise it comes from the automatic criteria
(``quality_source`` ``automatic``): checklist coverage (weight 50), personal salutation
(15), not a template answer (15), signed by a person (10) and in the inquiry's language
(10), over those that could be judged.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..store import Store
from ..study import Study
from .agreement import adjudicated, current_ratings
from .criteria import refresh_checks
from .overrides import message_key
from .rubric import rubric_for

AUTO_WEIGHTS = {"coverage": 50, "salutation": 15, "not_template": 15, "signed": 10,
                "language": 10}
QUALITY_COLUMNS = ["probe_id", "company_id", "channel", "scenario_id", "persona_id",
                   "message_id", "item_id", "quality", "quality_source", "n_raters",
                   "automatic_quality", "template", "template_evidence", "language_match",
                   "signed_by_person", "ticket_reference", "readability", "readability_evidence"]


def _weighted(parts: dict[str, tuple[float | None, float]]) -> float | None:
    got = [(s, w) for s, w in parts.values() if s is not None and w > 0]
    total = sum(w for _, w in got)
    return sum(s * w for s, w in got) / total if total else None


def _flag(v: Any) -> float | None:
    return None if v is None else float(bool(v))


def quality_scores(study: Study, store: Store, now: datetime | None = None,
                   outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per probe with a human reply: ``quality`` (0-1), ``quality_source``
    (adjudicated | raters | automatic), the automatic criteria with their evidence, and a
    ``q_<criterion>`` column per rubric criterion (rated replies only). Refreshes the stored
    automatic criteria. ``outcomes`` (from metrics.probe_outcomes at ``now``) saves
    computing them again."""
    from .criteria import first_replies

    now = now or datetime.now(UTC)
    replies = first_replies(study, store, now, outcomes)
    checks = refresh_checks(study, store, now, replies)
    items = {r["message_key"]: r["item_id"] for r in store.query(
        "SELECT item_id, message_key FROM rating_items")}
    ratings = current_ratings(store)
    finals = adjudicated(store)
    by_item: dict[str, list[Any]] = defaultdict(list)
    for r in ratings.itertuples(index=False):
        by_item[r.item_id].append(r)
    records = []
    for _, r in replies.iterrows():
        m = r["message"]
        c = checks.get(m["id"], {})
        val = {k: (v.value if v else None) for k, v in ((k, c.get(k)) for k in (
            "template", "language", "salutation", "signed", "ticket", "readability"))}
        auto = _weighted({
            "coverage": (r["checklist_coverage"] if pd.notna(r["checklist_coverage"]) else None,
                         AUTO_WEIGHTS["coverage"]),
            "salutation": (_flag(val["salutation"]), AUTO_WEIGHTS["salutation"]),
            "not_template": (None if val["template"] is None else 1.0 - float(val["template"]),
                             AUTO_WEIGHTS["not_template"]),
            "signed": (_flag(val["signed"]), AUTO_WEIGHTS["signed"]),
            "language": (_flag(val["language"]), AUTO_WEIGHTS["language"]),
        })
        item = items.get(message_key(m))
        rec: dict[str, Any] = {
            "probe_id": int(r["probe_id"]), "company_id": r["company_id"],
            "channel": r["channel"], "scenario_id": r["scenario_id"],
            "persona_id": r["persona_id"], "message_id": int(m["id"]), "item_id": item,
            "automatic_quality": auto, "template": val["template"],
            "template_evidence": c["template"].evidence if "template" in c else "",
            "language_match": val["language"], "signed_by_person": val["signed"],
            "ticket_reference": val["ticket"], "readability": val["readability"],
            "readability_evidence": c["readability"].evidence if "readability" in c else "",
        }
        rated = by_item.get(item or "", [])
        human, used_final, per_crit = _rated(study, r["scenario_id"], item, rated, finals)
        rec.update({f"q_{k}": v for k, v in per_crit.items()})
        rec["n_raters"] = len({x.rater for x in rated})
        if human is not None:
            rec["quality"] = human
            rec["quality_source"] = "adjudicated" if used_final else "raters"
        else:
            rec["quality"] = auto
            rec["quality_source"] = "automatic" if auto is not None else None
        records.append(rec)
    df = pd.DataFrame(records)
    extra = sorted(c for c in df.columns if c.startswith("q_")) if not df.empty else []
    return df.reindex(columns=QUALITY_COLUMNS + extra)


def _rated(study: Study, scenario_id: str, item: str | None, rated: list[Any],
           finals: dict[tuple[str, str, str], dict[str, Any]]
           ) -> tuple[float | None, bool, dict[str, float | None]]:
    """Quality from ratings: (quality or None, whether an adjudicated value was used,
    score per criterion)."""
    if item is None or not rated:
        return None, False, {}
    used_final = False
    parts: dict[str, tuple[float | None, float]] = {}
    per: dict[str, float | None] = {}
    for crit in rubric_for(study, scenario_id):
        units: dict[str, list[float]] = defaultdict(list)
        for x in rated:
            if x.criterion == crit.id:
                s = crit.scale.score(x.value)
                if s is not None:
                    units[x.fact_id].append(s)
        for (it, cid, fact), f in finals.items():
            if it == item and cid == crit.id:
                s = crit.scale.score(f["value"])
                if s is not None:
                    units[fact] = [s]
                    used_final = True
        scores = [sum(v) / len(v) for v in units.values() if v]
        per[crit.id] = sum(scores) / len(scores) if scores else None
        parts[crit.id] = (per[crit.id], crit.weight)
    return _weighted(parts), used_final, per


EXPORT_COLUMNS = ["quality", "quality_source", "n_raters", "automatic_quality", "template",
                  "template_evidence", "language_match", "signed_by_person", "ticket_reference",
                  "readability", "readability_evidence"]


def add_quality(probes: pd.DataFrame, study: Study, store: Store,
                now: datetime | None = None, outcomes: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """``probes`` (one row per probe, with ``probe_id``) plus the quality columns of
    :func:`quality_scores` (empty for probes without a human reply), for the exports."""
    q = quality_scores(study, store, now, outcomes)
    cols = EXPORT_COLUMNS + sorted(c for c in q.columns if c.startswith("q_"))
    if q.empty:
        return probes.assign(**{c: None for c in cols})
    return probes.merge(q[["probe_id", *cols]], on="probe_id", how="left")
