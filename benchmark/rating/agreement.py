"""Ratings as stored, Krippendorff's alpha per criterion, disagreements and adjudication.

Alpha uses the ``krippendorff`` package: ``ordinal`` for ranges (1-5) and ordered word scales
(yes/partly/no, custom ordinal), ``nominal`` for yes/no, per-fact judgements and custom
nominal scales. Units are (item, fact) for per-fact criteria and items otherwise; a unit rated
by fewer than two raters does not count (as Krippendorff defines it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..clock import utc_iso
from ..errors import ServicebenchError
from ..store import Store
from ..study import Study
from .overrides import current_user
from .rubric import Criterion, Scale, all_criteria, rubric_for

CHECK_KIND = "check_kind"
CHECK_VALUES = ("human", "automated", "other")


def current_ratings(store: Store) -> pd.DataFrame:
    """The ratings in force (the latest import per rater), one row per value."""
    rows = [dict(r) for r in store.query(
        "SELECT rater, item_id, criterion, fact_id, value FROM ratings WHERE current = 1"
        " ORDER BY rater, item_id, criterion, fact_id")]
    return pd.DataFrame(rows, columns=["rater", "item_id", "criterion", "fact_id", "value"])


def adjudicated(store: Store) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The latest final value per (item, criterion, fact)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in store.query("SELECT * FROM adjudications ORDER BY decided_at, id"):
        out[(r["item_id"], r["criterion"], r["fact_id"])] = dict(r)
    return out


@dataclass
class CriterionAgreement:
    criterion: str
    label: str
    level: str
    alpha: float | None
    n_items: int
    n_raters: int
    n_units: int  # units with at least two ratings


@dataclass
class Agreement:
    raters: list[str]
    n_items: int
    criteria: list[CriterionAgreement] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    n_adjudicated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"raters": self.raters, "n_raters": len(self.raters), "n_items": self.n_items,
                "n_adjudicated": self.n_adjudicated,
                "criteria": [vars(c) for c in self.criteria],
                "disagreements": self.disagreements}


def _units(df: pd.DataFrame) -> dict[tuple[str, str], dict[str, str]]:
    units: dict[tuple[str, str], dict[str, str]] = {}
    for r in df.itertuples(index=False):
        units.setdefault((r.item_id, r.fact_id), {})[r.rater] = r.value
    return units


def alpha(units: dict[Any, dict[str, str]], raters: list[str], scale: Scale) -> float | None:
    """Krippendorff's alpha over units rated by raters (None when it is undefined)."""
    import krippendorff

    pairable = [u for u in units.values() if len(u) >= 2]
    if len(raters) < 2 or not pairable:
        return None
    data = np.full((len(raters), len(pairable)), np.nan)
    for j, u in enumerate(pairable):
        for i, rater in enumerate(raters):
            if rater in u and u[rater] in scale.values:
                data[i, j] = scale.code(u[rater])
    values = set(data[~np.isnan(data)].tolist())
    if len(values) < 2:
        # every rating identical: perfect agreement (alpha's formula is 0/0 here)
        return 1.0
    try:
        a = float(krippendorff.alpha(reliability_data=data, level_of_measurement=scale.level,
                                     value_domain=list(range(len(scale.values)))))
    except (ValueError, ZeroDivisionError):
        return None
    return None if math.isnan(a) else a


def spread(values: list[str], scale: Scale) -> float:
    """How far raters are apart on one unit: 0 (agree) .. 1 (opposite ends)."""
    if scale.level == "nominal":
        return 0.0 if len(set(values)) <= 1 else 1.0
    codes = [scale.code(v) for v in values if v in scale.values]
    return (max(codes) - min(codes)) / (len(scale.values) - 1) if codes else 0.0


def agreement(study: Study, store: Store, top: int = 10) -> Agreement:
    """Alpha per criterion, the raters and items, and the units raters disagree on most."""
    df = current_ratings(store)
    raters = sorted(df["rater"].unique().tolist())
    finals = adjudicated(store)
    result = Agreement(raters=raters, n_items=int(df["item_id"].nunique()),
                       n_adjudicated=len(finals))
    crits = {c.id: c for c in all_criteria(study)}
    disagreements = []
    for cid, c in crits.items():
        sub = df[df["criterion"] == cid]
        units = _units(sub)
        result.criteria.append(CriterionAgreement(
            cid, c.title(study.language), c.scale.level, alpha(units, raters, c.scale),
            int(sub["item_id"].nunique()), int(sub["rater"].nunique()),
            sum(1 for u in units.values() if len(u) >= 2)))
        for (item, fact), u in units.items():
            s = spread(list(u.values()), c.scale)
            if len(u) >= 2 and s > 0:
                disagreements.append({
                    "item_id": item, "criterion": cid, "fact": fact, "spread": round(s, 3),
                    "values": dict(sorted(u.items())),
                    "final": (finals.get((item, cid, fact)) or {}).get("value")})
    disagreements.sort(key=lambda d: (-d["spread"], d["final"] is not None, d["item_id"],
                                      d["criterion"], d["fact"]))
    result.disagreements = disagreements[:top] if top else disagreements
    return result


def _crit(study: Study, cid: str) -> Criterion:
    for c in all_criteria(study):
        if c.id == cid:
            return c
    raise ServicebenchError(f"unknown criterion {cid!r}; known: "
                            f"{', '.join(c.id for c in all_criteria(study))}")


def adjudicate(study: Study, store: Store, item_id: str, criterion: str, value: str,
               now: datetime, *, fact: str = "", by: str | None = None,
               note: str = "") -> dict[str, Any]:
    """Record the final value of one criterion (one fact) for one item."""
    c = _crit(study, criterion)
    item = store.one("SELECT i.item_id, p.scenario_id FROM rating_items i JOIN probes p ON"
                     " p.id = i.probe_id WHERE i.item_id = ?", (item_id,))
    if item is None:
        raise ServicebenchError(f"unknown item {item_id!r}; see: servicebench rate agreement")
    if criterion not in {x.id for x in rubric_for(study, item["scenario_id"])}:
        raise ServicebenchError(f"{criterion} does not apply to item {item_id} (scenario "
                                f"{item['scenario_id']})")
    if c.scale.spec == "facts":
        facts = [f.id for f in study.scenario(item["scenario_id"]).expect]
        if fact not in facts:
            raise ServicebenchError(f"{criterion} is judged per checklist fact: name one with "
                                    f"--fact ({', '.join(facts)})")
    elif fact:
        raise ServicebenchError(f"{criterion} is not judged per fact; leave out --fact")
    try:
        canonical = c.scale.read(value)
    except ValueError as exc:
        raise ServicebenchError(f"{criterion}: {exc}") from None
    row = {"item_id": item_id, "criterion": criterion, "fact_id": fact, "value": canonical,
           "decided_by": by or current_user(), "decided_at": utc_iso(now), "note": note or None}
    store.db.execute("INSERT INTO adjudications (item_id, criterion, fact_id, value, decided_by,"
                     " decided_at, note) VALUES (:item_id, :criterion, :fact_id, :value,"
                     " :decided_by, :decided_at, :note)", row)
    return row
