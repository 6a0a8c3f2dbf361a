"""From a message's clues to its kind: the fitted weights decide, a few rules name the subkind.

:func:`decide` applies :mod:`servicebench.classify.model`; :func:`decide_by_hand` sums the
hand-set weights (social-network replies, for which no labelled data exists, and a missing
weights file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import rules as R
from .evidence import KINDS, Classification, Evidence, Kind, cap_reasons
from .headers import BounceEvidence
from .model import Model, load_model, predict, softmax

BULK_FEATURES = ("header:list-unsubscribe", "header:list-id", "header:mass-mailer", "text:spam",
                  "text:many-links",
                  "header:precedence-bulk", "text:newsletter", "text:promo")


@dataclass
class Facts:
    """What was found in a message, before the weights decide."""

    ev: Evidence
    platform: str = ""
    blanket: list[str] = field(default_factory=list)
    bounce: BounceEvidence = field(default_factory=BounceEvidence)
    answers: str = ""  # why the message is taken as an answer to something ('' if not)
    tied_to_probe: bool = False  # the matcher tied it to a probe by its headers
    readable: bool = True


def _automated_subkind(ev: Evidence) -> str:
    """The most specific kind of automation with real evidence, else a generic auto-reply."""
    for order in (["receipt", "ooo", "survey", "contact-form", "dm-request", "bot", "ack"],
                  ["auto-notice", "header", "timing", "canned"]):
        best = max(order, key=lambda c: (ev.categories.get(c, 0.0), -order.index(c)))
        if ev.categories.get(best, 0.0) >= 1.5:
            return R.AUTOMATED_SUBKIND.get(best, "auto-reply")
    return "auto-reply"


def _subkind(kind: str, facts: Facts) -> str:
    ev, platform, bounce = facts.ev, facts.platform, facts.bounce
    f = ev.features
    if kind == "bounce":
        return "delivery-failure"
    if kind == "unrelated":
        promo = ev.categories.get("promo", 0.0) > ev.categories.get("newsletter", 0.0)
        ev.note("decision: bulk mail that does not refer to the inquiry")
        return "marketing" if promo else "newsletter"
    if kind == "human":
        if platform:
            blanket = facts.blanket
            overridden = f" (automation headers overridden: {', '.join(blanket)})" * bool(blanket)
            ev.note(f"platform: {platform} agent reply{overridden}")
            return "agent-reply"
        if facts.blanket or ev.cat("header"):
            ev.note("decision: the text outweighs the automation headers")
        return "personal-reply"
    if "structure:read-receipt" in f:
        return "read-receipt"
    if bounce.gate or "structure:dsn-action-delayed" in f:
        delay = f.get("text:delay", 0.0)
        if "structure:dsn-action-delayed" in f or (not bounce.actions and delay >= 1.5):
            ev.note("decision: a delayed-delivery warning, not a final bounce; the mail server "
                    "keeps trying, so it counts as automated")
            return "delivery-delay"
        if bounce.actions & {"delivered", "relayed", "expanded"}:
            ev.note("decision: a successful-delivery report, counted as automated")
            return "delivery-report"
    if platform:
        ev.note(f"platform: {platform} automatic notification")
    return _automated_subkind(ev)


def _contribution(pred_contrib: dict[str, float], fitted: bool) -> str:
    parts = sorted(((k, c) for k, c in pred_contrib.items() if abs(c) >= 0.05),
                   key=lambda kc: -abs(kc[1]))[:3]
    text = ", ".join(f"{k} {c:+.2f}" for k, c in parts) or "no weight"
    return text if fitted else f"{text}, hand-set: no labelled examples"


def decide(facts: Facts, model: Model | None = None) -> Classification:
    """Weigh the clues with the fitted model and name the kind and subkind."""
    model = model or load_model()
    ev = facts.ev
    if model is None:  # the weights file is missing: weigh by hand-set weights
        return decide_by_hand(ev, facts.platform, facts.blanket)
    pred = predict(model, ev.features, ev.kinds)
    probs = dict(pred.probabilities)
    if facts.tied_to_probe and probs.get("unrelated", 0.0) > 0:
        if probs["unrelated"] >= 0.2 or any(f in ev.features for f in BULK_FEATURES):
            ev.note(f"decision: looks like bulk mail, but not unrelated ({facts.answers})")
        rest = 1.0 - probs["unrelated"]
        probs = {k: (0.0 if k == "unrelated" else v / rest) for k, v in probs.items()}
    kind: Kind = max(KINDS, key=lambda k: (probs.get(k, 0.0), -KINDS.index(k)))
    top = probs[kind]
    uncertain = top < model.threshold
    if not facts.readable and sum(ev.score.values()) == 0:
        ev.note("decision: no readable text and no evidence; counted as automated, not as an "
                "answer; check it by hand")
        kind, subkind, uncertain = "automated", "unreadable", True
    else:
        if facts.answers and not any(isinstance(r, tuple) and r[1] == facts.answers
                                     for r in ev.reasons):
            ev.note(facts.answers)
        subkind = _subkind(kind, facts)
    reasons = ["model: " + ", ".join(f"{k} {probs[k]:.0%}" for k in sorted(
        probs, key=lambda k: -probs[k])) + (f" (uncertain: below {model.threshold:.0%})"
                                           if uncertain else "")]
    for item in ev.reasons:
        if isinstance(item, str):
            reasons.append(item)
        elif item[0] in pred.contributions:
            how = _contribution(pred.contributions[item[0]], pred.fitted[item[0]])
            reasons.append(f"{item[1]} [{how}]")
        else:
            reasons.append(item[1])
    return Classification(
        kind=kind, subkind=subkind, reasons=cap_reasons(reasons),
        score={k: round(v, 2) for k, v in pred.logits.items()},
        probabilities={k: round(probs[k], 4) for k in KINDS}, uncertain=uncertain)


def decide_by_hand(ev: Evidence, platform: str, blanket: list[str]) -> Classification:
    """Hand-set weights: social-network replies (no labelled data) and a missing weights file."""
    auto, human = ev.score["automated"], ev.score["human"]
    if human > auto:
        if platform:
            overridden = f" (automation headers overridden: {', '.join(blanket)})" * bool(blanket)
            ev.note(f"platform: {platform} agent reply{overridden}")
            return hand_result(ev, "human", "agent-reply")
        if blanket or ev.cat("header"):
            ev.note("decision: the text outweighs the automation headers")
        return hand_result(ev, "human", "personal-reply")
    if platform:
        ev.note(f"platform: {platform} automatic notification")
    if auto == 0 and human == 0:
        ev.note("decision: no readable text and no evidence; counted as automated, not as an "
                "answer; check it by hand")
        return hand_result(ev, "automated", "unreadable", uncertain=True)
    return hand_result(ev, "automated", _automated_subkind(ev))


def hand_result(ev: Evidence, kind: Kind, subkind: str,
                 uncertain: bool | None = None) -> Classification:
    score = {k: round(v, 2) for k, v in ev.score.items()}
    if uncertain is None:
        uncertain = kind in ("automated", "human") and abs(score["automated"] - score["human"]) < 1
    probs = softmax(score)
    return Classification(kind=kind, subkind=subkind, reasons=ev.hand_reasons(), score=score,
                          probabilities={k: round(probs[k], 4) for k in KINDS},
                          uncertain=uncertain)


def fallback(reason: str) -> Classification:
    return Classification(
        kind="automated", subkind="unclassifiable",
        reasons=[reason, "fallback: counted as automated so it is not taken for a human answer; "
                 "check it by hand"],
        score={k: 0.0 for k in KINDS}, probabilities={k: 0.25 for k in KINDS}, uncertain=True,
    )


