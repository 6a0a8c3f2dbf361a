"""The result of a classification and the evidence that leads to it.

:class:`Evidence` collects clues: each clue is a named feature (``header:auto-submitted-replied``,
``text:ooo``...) with a value and a readable reason. The fitted model
(:mod:`servicebench.classify.model`) turns the features into probabilities; the hand-set weight
of each clue is its value (the strength of the clue within its kind) and is also summed per kind
for social-network replies, for which no labelled data exists. :func:`match_rules` adds the
weight of every phrase rule found in a text, capped per category, behind a keyword gate that
skips rules whose words do not occur.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import ahocorasick

from . import rules as R
from .anchors import gate_text

Kind = Literal["automated", "human", "bounce", "unrelated"]
KINDS: tuple[Kind, ...] = ("automated", "human", "bounce", "unrelated")

MAX_REASONS = 40


@dataclass
class Classification:
    kind: Kind
    subkind: str  # auto-reply, out-of-office, ticket-acknowledgement, survey, delivery-failure...
    reasons: list[str] = field(default_factory=list)
    score: dict[str, float] = field(default_factory=dict)  # model logit (or weight) per kind
    probabilities: dict[str, float] = field(default_factory=dict)  # per kind, sum 1
    uncertain: bool = False  # the most likely kind is below the calibrated threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "subkind": self.subkind,
            "probabilities": dict(self.probabilities),
            "uncertain": self.uncertain,
            "reasons": list(self.reasons),
            "score": dict(self.score),
        }


class Evidence:
    """Clues (features with values and reasons) plus hand-set weights per kind."""

    def __init__(self) -> None:
        self.score: dict[str, float] = {k: 0.0 for k in KINDS}
        self.categories: dict[str, float] = {}
        self.features: dict[str, float] = {}
        # notes (str) and clues (feature, reason, kind, hand weight), in the order found
        self.reasons: list[str | tuple[str, str, str, float]] = []
        self.kinds: dict[str, str] = {}  # feature -> the kind its hand-set weight is for

    def add(self, kind: Kind, weight: float, reason: str, category: str = "",
            feature: str = "") -> None:
        if weight <= 0:
            return
        self.score[kind] += weight
        if category:
            self.categories[category] = self.categories.get(category, 0.0) + weight
        feature = feature or f"{kind}:{category or 'other'}"
        self.features[feature] = self.features.get(feature, 0.0) + weight
        self.kinds.setdefault(feature, kind)
        self.reasons.append((feature, reason, kind, weight))

    def flag(self, feature: str, reason: str, value: float = 1.0) -> None:
        """A clue that only the fitted model weighs (context, structure)."""
        if value <= 0:
            return
        self.features[feature] = self.features.get(feature, 0.0) + value
        self.reasons.append((feature, reason, "", value))

    def note(self, reason: str) -> None:
        self.reasons.append(reason)

    def cat(self, *names: str) -> float:
        return sum(self.categories.get(n, 0.0) for n in names)

    def hand_reasons(self) -> list[str]:
        """Reasons with the hand-set weight of each clue (used where no model applies)."""
        out = []
        for item in self.reasons:
            if isinstance(item, str):
                out.append(item)
            elif item[2]:
                out.append(f"{item[1]} [{item[2]} +{item[3]:.2g}]")
            else:
                out.append(item[1])
        return cap_reasons(out)


def cap_reasons(reasons: list[str]) -> list[str]:
    reasons = list(dict.fromkeys(reasons))
    if len(reasons) > MAX_REASONS:
        reasons = reasons[: MAX_REASONS - 1] + [f"... {len(reasons) - MAX_REASONS + 1} more"]
    return reasons


def snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def match_rules(rules: list[R.Rule], text: str, ev: Evidence, kind: Kind, where: str = "text",
                scale: float = 1.0) -> None:
    """Add the weight of every rule found in ``text``, capped per category.

    A rule whose anchor words (:mod:`servicebench.classify.anchors`) are all absent from the
    text cannot match and is not searched.
    """
    if not rules or not text:
        return
    low = gate_text(text)
    present = anchors_in(rules, low)
    used: dict[str, float] = {}
    for rule in rules:
        if rule.anchors and present.isdisjoint(rule.anchors):
            continue
        m = rule.pattern.search(text)
        if not m:
            continue
        room = R.CATEGORY_CAP.get(rule.category, 99.0) - used.get(rule.category, 0.0)
        weight = min(rule.weight * scale, room)
        if weight <= 0:
            continue
        used[rule.category] = used.get(rule.category, 0.0) + weight
        ev.add(kind, weight, f"{where}: {rule.label} '{snippet(m.group(0))}'", rule.category,
               feature=f"{where}:{rule.category}")


_AUTOMATA: dict[int, tuple[list[R.Rule], Any]] = {}


def anchors_in(rules: list[R.Rule], low: str) -> set[str]:
    """The anchor words of ``rules`` that occur in ``low`` (a :func:`gate_text`), found in
    one pass by an Aho-Corasick automaton (overlapping and nested words included), instead
    of one substring search per anchor of every rule."""
    got = _AUTOMATA.get(id(rules))
    if got is None or got[0] is not rules:
        automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for word in {a for r in rules for a in (r.anchors or ())}:
            automaton.add_word(word, word)
        if len(automaton):
            automaton.make_automaton()
        got = _AUTOMATA[id(rules)] = (rules, automaton if len(automaton) else None)
    if got[1] is None:
        return set()
    return {word for _, word in got[1].iter(low)}
