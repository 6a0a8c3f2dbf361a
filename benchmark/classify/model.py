"""Weights fitted on labelled mail, applied to a message's clues (plain Python, no scikit-learn).

The weights are a multinomial logistic regression over the clue features, fitted by
:mod:`servicebench.classify.calibrate` and shipped as ``weights.json`` in this package. For
each kind, logit = intercept + sum(weight x value) over the clues found; probabilities are the
softmax of the logits. A clue that never occurred in the labelled mail has no fitted weight;
it counts with its hand-set weight for its own kind (times ``hand_scale``) so that rare but
sure clues (a read receipt, a reply within seconds) are not ignored.
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


def predict(model: Model, features: dict[str, float], hand_kinds: dict[str, str]) -> Prediction:
    logits = {k: model.intercept.get(k, 0.0) for k in model.kinds}
    contributions: dict[str, dict[str, float]] = {}
    fitted: dict[str, bool] = {}
    for name, value in features.items():
        weights = model.coef.get(name)
        if weights is not None:
            contrib = {k: weights.get(k, 0.0) * value for k in model.kinds}
            fitted[name] = True
        elif hand_kinds.get(name) in logits:
            contrib = {hand_kinds[name]: model.hand_scale * value}
            fitted[name] = False
        else:
            continue
        contributions[name] = contrib
        for k, c in contrib.items():
            logits[k] += c
    return Prediction(logits, softmax(logits), contributions, fitted)
