"""The result of a classification and the evidence that leads to it.

:class:`Evidence` collects weights per kind with a readable reason for each;
:func:`match_rules` adds the weight of every phrase rule found in a text, capped per category;
:class:`Classification` is what :mod:`servicebench.classify` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from . import rules as R

Kind = Literal["automated", "human", "bounce", "unrelated"]
KINDS: tuple[Kind, ...] = ("automated", "human", "bounce", "unrelated")

MAX_REASONS = 40


@dataclass
class Classification:
    kind: Kind
    subkind: str  # auto-reply, out-of-office, ticket-acknowledgement, survey, delivery-failure...
    reasons: list[str] = field(default_factory=list)
    score: dict[str, float] = field(default_factory=dict)  # evidence weight per kind

    @property
    def uncertain(self) -> bool:
        """True when automated and human evidence are close: worth a look by a person."""
        if self.kind not in ("automated", "human"):
            return False
        return abs(self.score.get("automated", 0.0) - self.score.get("human", 0.0)) < 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "subkind": self.subkind,
            "reasons": list(self.reasons),
            "score": dict(self.score),
            "uncertain": self.uncertain,
        }


class Evidence:
    """Weights per kind plus the reasons that produced them."""

    def __init__(self) -> None:
        self.score: dict[str, float] = {k: 0.0 for k in KINDS}
        self.categories: dict[str, float] = {}
        self.reasons: list[str] = []

    def add(self, kind: Kind, weight: float, reason: str, category: str = "") -> None:
        if weight <= 0:
            return
        self.score[kind] += weight
        if category:
            self.categories[category] = self.categories.get(category, 0.0) + weight
        self.reasons.append(f"{reason} [{kind} +{weight:.2g}]")

    def note(self, reason: str) -> None:
        self.reasons.append(reason)

    def cat(self, *names: str) -> float:
        return sum(self.categories.get(n, 0.0) for n in names)

    def result(self, kind: Kind, subkind: str) -> Classification:
        reasons = list(dict.fromkeys(self.reasons))
        if len(reasons) > MAX_REASONS:
            reasons = reasons[: MAX_REASONS - 1] + [f"... {len(reasons) - MAX_REASONS + 1} more"]
        score = {k: round(v, 2) for k, v in self.score.items()}
        return Classification(kind=kind, subkind=subkind, reasons=reasons, score=score)


def snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def match_rules(rules: list[R.Rule], text: str, ev: Evidence, kind: Kind, where: str = "text",
                scale: float = 1.0) -> None:
    """Add the weight of every rule found in ``text``, capped per category."""
    used: dict[str, float] = {}
    for rule in rules:
        m = rule.pattern.search(text)
        if not m:
            continue
        room = R.CATEGORY_CAP.get(rule.category, 99.0) - used.get(rule.category, 0.0)
        weight = min(rule.weight * scale, room)
        if weight <= 0:
            continue
        used[rule.category] = used.get(rule.category, 0.0) + weight
        ev.add(kind, weight, f"{where}: {rule.label} '{snippet(m.group(0))}'", rule.category)
