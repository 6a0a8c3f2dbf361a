"""Weights fitted on labelled mail, applied to a message's clues (plain Python, no scikit-learn).

The weights are a multinomial logistic regression over the clue features, fitted by
:mod:`servicebench.classify.calibrate` and shipped as ``weights.json`` in this package. For
each kind, logit = intercept + sum(weight x value) over the clues found; probabilities are the
softmax of the logits. A clue that never occurred in the labelled mail has no fitted weight;
it still counts through the fitted weight on the sum of hand-set weights of its kind (the
``hand:<kind>`` inputs), so that rare but sure clues (a read receipt, a reply within seconds)
are not ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("weights.json")


@dataclass(frozen=True)
class Model:
    kinds: tuple[str, ...]
    intercept: dict[str, float]
    coef: dict[str, dict[str, float]]  # feature -> kind -> weight
    threshold: float  # below this top probability a decision is flagged uncertain
    hand_scale: float = 1.0

    @classmethod
    def from_dict(cls, data: dict) -> Model:
        return cls(kinds=tuple(data["kinds"]), intercept=dict(data["intercept"]),
                   coef={f: dict(w) for f, w in data["coef"].items()},
                   threshold=float(data["threshold"]),
                   hand_scale=float(data.get("hand_scale", 1.0)))


@dataclass
class Prediction:
    logits: dict[str, float]
    probabilities: dict[str, float]
    contributions: dict[str, dict[str, float]]  # feature -> kind -> logit contribution
    fitted: dict[str, bool]  # feature -> has a fitted weight (else hand-set)


@lru_cache(maxsize=4)
def load_model(path: str = str(WEIGHTS_FILE)) -> Model | None:
    try:
        return Model.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def softmax(logits: dict[str, float]) -> dict[str, float]:
    top = max(logits.values())
    exp = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


HAND = "hand:"  # per kind: the sum of the hand-set weights of the clues for that kind


def hand_sums(features: dict[str, float], hand_kinds: dict[str, str]) -> dict[str, float]:
    """The hand-set weights summed per kind: fitted inputs too, so the fit keeps the experts'
    judgement for clues that the labelled mail shows rarely or never."""
    sums: dict[str, float] = {}
    for name, value in features.items():
        kind = hand_kinds.get(name)
        if kind:
            sums[HAND + kind] = sums.get(HAND + kind, 0.0) + value
    return sums


def predict(model: Model, features: dict[str, float], hand_kinds: dict[str, str]) -> Prediction:
    """Logits, probabilities and each clue's contribution: its own fitted weight plus its share
    of the fitted weight on the hand-set sum of its kind."""
    logits = {k: model.intercept.get(k, 0.0) for k in model.kinds}
    contributions: dict[str, dict[str, float]] = {}
    fitted: dict[str, bool] = {}
    for name, value in features.items():
        own = model.coef.get(name)
        kind = hand_kinds.get(name)
        via_hand = model.coef.get(HAND + kind) if kind else None
        if own is None and via_hand is None:
            if kind in logits:  # no fitted weights at all for it: hand-set weight as it is
                contributions[name] = {kind: model.hand_scale * value}
                fitted[name] = False
            continue
        contributions[name] = {k: value * ((own or {}).get(k, 0.0) + (via_hand or {}).get(k, 0.0))
                               for k in model.kinds}
        fitted[name] = own is not None
    for contrib in contributions.values():
        for k, c in contrib.items():
            logits[k] += c
    return Prediction(logits, softmax(logits), contributions, fitted)
