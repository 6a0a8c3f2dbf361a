"""Fit the classifier's weights on labelled mail and report how well they generalise.

    python -m servicebench.classify.calibrate [--corpus DIR] [--fixtures DIR] [--check]

Reads the labelled real-world corpus (``labels.csv``: file, kind, source...; default
``../shared/corpus`` beside the repository, or ``$SERVICEBENCH_CORPUS``) and the project's own
fixtures (``tests/fixtures/emails/<kind>__<name>.eml``, each read twice: as a loose file and with
the context the runner has). Every message becomes its clue features
(:func:`servicebench.classify.core.extract_evidence`); a multinomial logistic regression
(scikit-learn, L2, lbfgs, balanced class weights) is fitted on them. Reported: accuracy when
each source is left out in turn (leave-one-source-out: the weights never saw that project's
mail), per-kind precision and recall, the confusion matrix. The uncertainty threshold is the
lowest top probability above which the left-out predictions were at least 99 % right. The final
weights (fitted on everything) go to ``weights.json`` in this package; inputs are sorted and the
solver deterministic, so a re-run writes the same file (``--check`` fails if it would differ).

Needs scikit-learn (the ``test`` extra); the classifier itself does not.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .core import extract_evidence
from .decide import Facts
from .evidence import KINDS
from .model import WEIGHTS_FILE, hand_sums

REPO = Path(__file__).resolve().parents[2]
C = 1.0  # inverse L2 strength: weights stay moderate, so no single clue decides alone
FIT_INTERCEPT = False  # no leaning toward any kind without a clue: priors are clues too
MIN_SUPPORT = 2  # a clue seen in fewer labelled messages gets no fitted weight
TARGET_PRECISION = 0.99
HAND_SCALE = 1.5  # logit per unit of hand-set weight, for clues without labelled examples
FIXTURE_PERSONA = "Anna Berger"
FIXTURE_PROBE_ID = b"<probe-7f3a2c91@mystery.example.net>"
FIXTURE_PROBE_DE = (
    "Guten Tag,\n\nich würde gern in Ihrem Shop bestellen und habe vorher zwei Fragen: Kann ich "
    "auf Rechnung bezahlen, und wie lange dauert die Lieferung nach Österreich (Wien)? Fallen "
    "dafür zusätzliche Versandkosten an?\n\nVielen Dank im Voraus und viele Grüße\nAnna Berger")
FIXTURE_PROBE_EN = (
    "Hello,\n\nI'm thinking about ordering from your online shop and have two questions before I "
    "do: can I pay by invoice (bank transfer) instead of credit card, and how long does delivery "
    "to Ireland (Dublin) usually take? Are there extra shipping costs or customs fees?\n\n"
    "Thanks in advance,\nAnna Berger")


@dataclass
class Sample:
    name: str
    source: str
    kind: str
    features: dict[str, float]
    in_corpus: bool


def corpus_dir() -> Path:
    env = os.environ.get("SERVICEBENCH_CORPUS")
    return Path(env) if env else (REPO / ".." / "shared" / "corpus").resolve()


def _features(raw: bytes, **context: object) -> dict[str, float]:
    facts = extract_evidence(raw, **context)  # type: ignore[arg-type]
    if not isinstance(facts, Facts):
        return {}
    return {**facts.ev.features, **hand_sums(facts.ev.features, facts.ev.kinds)}


def load_samples(corpus: Path | None, fixtures: Path | None) -> list[Sample]:
    samples: list[Sample] = []
    if corpus is not None and (corpus / "labels.csv").is_file():
        with (corpus / "labels.csv").open(encoding="utf-8", newline="") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
        for row in rows:
            raw = (corpus / row["file"]).read_bytes()
            samples.append(Sample(row["file"], row["source"], row["kind"], _features(raw), True))
    if fixtures is not None and fixtures.is_dir():
        for path in sorted(fixtures.glob("*.eml")):
            kind = path.name.split("__", 1)[0]
            raw = path.read_bytes()
            samples.append(Sample(path.name, "servicebench/fixtures", kind, _features(raw), False))
            head = raw.split(b"\n\n", 1)[0].lower()
            replies = FIXTURE_PROBE_ID.lower() in head and b"in-reply-to" in head
            probe = FIXTURE_PROBE_EN if "-en" in path.name else FIXTURE_PROBE_DE
            samples.append(Sample(path.name + " (with context)", "servicebench/fixtures", kind,
                                  _features(raw, replies_to_probe=replies, probe_text=probe,
                                            persona_name=FIXTURE_PERSONA), False))
    return samples


def vocabulary(samples: list[Sample]) -> list[str]:
    counts: dict[str, int] = {}
    for s in samples:
        for f in s.features:
            counts[f] = counts.get(f, 0) + 1
    return sorted(f for f, n in counts.items() if n >= MIN_SUPPORT)


def _fit(samples: list[Sample], vocab: list[str]):  # noqa: ANN202 - sklearn object
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[s.features.get(f, 0.0) for f in vocab] for s in samples])
    y = np.array([s.kind for s in samples])
    model = LogisticRegression(C=C, solver="lbfgs", class_weight="balanced", max_iter=20_000,
                               tol=1e-8, fit_intercept=FIT_INTERCEPT)
    model.fit(x, y)
    return model


def _predict(model, samples: list[Sample], vocab: list[str]) -> list[dict[str, float]]:  # noqa: ANN001
    import numpy as np

    x = np.array([[s.features.get(f, 0.0) for f in vocab] for s in samples])
    probs = model.predict_proba(x)
    return [{str(k): float(p) for k, p in zip(model.classes_, row, strict=True)} for row in probs]


def leave_one_source_out(samples: list[Sample]) -> list[dict[str, float]]:
    out: list[dict[str, float] | None] = [None] * len(samples)
    for source in sorted({s.source for s in samples}):
        train = [s for s in samples if s.source != source]
        held = [i for i, s in enumerate(samples) if s.source == source]
        vocab = vocabulary(train)
        model = _fit(train, vocab)
        for i, p in zip(held, _predict(model, [samples[i] for i in held], vocab), strict=True):
            out[i] = {k: p.get(k, 0.0) for k in KINDS}
    return [p or {} for p in out]


def report(samples: list[Sample], probs: list[dict[str, float]], title: str) -> dict:
    pred = [max(KINDS, key=lambda k: (p[k], -KINDS.index(k))) for p in probs]
    n = len(samples)
    right = sum(p == s.kind for p, s in zip(pred, samples, strict=True))
    lines = [f"{title}: leave-one-source-out accuracy {right}/{n} = {right / max(n, 1):.1%}"]
    per_kind = {}
    for k in KINDS:
        tp = sum(p == k and s.kind == k for p, s in zip(pred, samples, strict=True))
        n_pred = sum(p == k for p in pred)
        n_true = sum(s.kind == k for s in samples)
        prec = tp / n_pred if n_pred else float("nan")
        rec = tp / n_true if n_true else float("nan")
        per_kind[k] = {"precision": round(prec, 4), "recall": round(rec, 4), "n": n_true}
        lines.append(f"  {k:<10} precision {prec:6.1%}  recall {rec:6.1%}  (n={n_true})")
    lines.append("  confusion (rows: label, columns: predicted): " + " ".join(
        f"{k[:5]:>6}" for k in KINDS))
    for k in KINDS:
        row = [sum(p == c and s.kind == k for p, s in zip(pred, samples, strict=True))
               for c in KINDS]
        lines.append(f"  {k:<10}" + " " * 38 + " ".join(f"{v:>6}" for v in row))
    wrong = [f"    {s.name} [{s.source}]: {s.kind} -> {p} ({pr[p]:.0%})"
             for s, p, pr in zip(samples, pred, probs, strict=True) if p != s.kind]
    if wrong:
        lines.append("  misclassified:")
        lines.extend(wrong)
    print("\n".join(lines))
    return {"accuracy": round(right / max(n, 1), 4), "n": n, "per_kind": per_kind}


def threshold(samples: list[Sample], probs: list[dict[str, float]]) -> float:
    """The lowest top probability above which left-out decisions were >= 99 % right; prints
    how many decisions each candidate threshold would flag and how many errors it catches."""
    pairs = [(max(p.values()), max(p, key=lambda k: p[k]) == s.kind)
             for s, p in zip(samples, probs, strict=True)]
    errors = sum(not ok for _, ok in pairs)
    chosen = None
    for t in [x / 100 for x in range(40, 100, 5)]:
        kept = [ok for top, ok in pairs if top >= t]
        flagged = len(pairs) - len(kept)
        caught = sum(not ok for top, ok in pairs if top < t)
        right = sum(kept) / len(kept) if kept else 1.0
        print(f"  threshold {t:.2f}: {flagged} of {len(pairs)} flagged uncertain, catching "
              f"{caught} of {errors} errors; the rest {right:.1%} right")
        if chosen is None and kept and right >= TARGET_PRECISION:
            chosen = t
    return chosen if chosen is not None else 0.95


def weights(samples: list[Sample], t: float, figures: dict) -> dict:
    vocab = vocabulary(samples)
    model = _fit(samples, vocab)
    classes = [str(c) for c in model.classes_]
    coef = {f: {k: round(float(model.coef_[classes.index(k)][j]), 4) for k in KINDS}
            for j, f in enumerate(vocab)}
    return {
        "about": "multinomial logistic regression over the classifier's clue features; "
                 "fitted by python -m servicebench.classify.calibrate",
        "kinds": list(KINDS),
        "intercept": {k: round(float(model.intercept_[classes.index(k)]) if FIT_INTERCEPT
                               else 0.0, 4) for k in KINDS},
        "coef": coef,
        "threshold": t,
        "hand_scale": HAND_SCALE,
        "training": {"C": C, "fit_intercept": FIT_INTERCEPT, "min_support": MIN_SUPPORT,
                     "class_weight": "balanced",
                     "messages": len(samples),
                     "sources": sorted({s.source for s in samples})},
        "leave_one_source_out": figures,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m servicebench.classify.calibrate",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=None,
                    help="labelled corpus (default $SERVICEBENCH_CORPUS or ../shared/corpus)")
    ap.add_argument("--fixtures", type=Path, default=REPO / "tests" / "fixtures" / "emails")
    ap.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the fitted weights differ from --out")
    args = ap.parse_args(argv)
    corpus = args.corpus or corpus_dir()
    if not (corpus / "labels.csv").is_file():
        print(f"calibrate: no labels.csv in {corpus}; set --corpus or SERVICEBENCH_CORPUS",
              file=sys.stderr)
        return 2
    samples = load_samples(corpus, args.fixtures)
    probs = leave_one_source_out(samples)
    corpus_idx = [i for i, s in enumerate(samples) if s.in_corpus]
    fixture_idx = [i for i, s in enumerate(samples) if not s.in_corpus]
    figures = {"corpus": report([samples[i] for i in corpus_idx], [probs[i] for i in corpus_idx],
                                f"corpus {corpus.name}")}
    if fixture_idx:
        figures["fixtures"] = report([samples[i] for i in fixture_idx],
                                     [probs[i] for i in fixture_idx], "project fixtures")
    t = threshold(samples, probs)
    print(f"uncertainty threshold: top probability below {t:.2f}")
    data = json.dumps(weights(samples, t, figures), indent=1, sort_keys=True) + "\n"
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == data
        print("weights: identical to " + str(args.out) if same else
              f"weights: DIFFER from {args.out}")
        return 0 if same else 1
    args.out.write_text(data, encoding="utf-8")
    print(f"weights written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
