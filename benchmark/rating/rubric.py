"""The rating rubric: criteria with a scale and a weight, per scenario with study-wide defaults.

In ``study.yaml``::

    rubric:                                   # study-wide defaults (optional)
      criteria:
        - {id: correct, label: {en: Correct, de: Richtig}, scale: facts, weight: 2}
        - {id: complete, label: {en: Complete, de: Vollständig}, scale: 1-5}
        - {id: solved, scale: yes-partly-no, weight: 2}
    scenarios:
      - id: tariff
        rubric: {criteria: [{id: fee_named, scale: yes-no}], drop: [complete]}

Scales: ``facts`` (one judgement per checklist fact of the scenario: correct / wrong /
missing), ``yes-no``, ``yes-partly-no``, a range such as ``1-5`` (ordinal), or
``{values: [best, ..., worst], level: ordinal|nominal}``. Without a ``rubric`` section the
default rubric below is used. Each value has a score from 0 (worst) to 1 (best); a reply's
quality is the weighted mean of its criteria's scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..study import Study

LABEL = {"oneOf": [{"type": "string", "minLength": 1},
                   {"type": "object", "additionalProperties": False, "minProperties": 1,
                    "properties": {"en": {"type": "string"}, "de": {"type": "string"}}}],
         "description": "a text, or {en: ..., de: ...}"}
SCALE = {
    "description": "facts, yes-no, yes-partly-no, a range such as 1-5, or "
                   "{values: [best, ..., worst], level: ordinal|nominal}",
    "oneOf": [
        {"enum": ["facts", "yes-no", "yes-partly-no"]},
        {"type": "string", "pattern": r"^\d+-\d+$"},
        {"type": "object", "additionalProperties": False, "required": ["values"],
         "properties": {"values": {"type": "array", "minItems": 2, "maxItems": 12,
                                   "items": {"type": "string", "minLength": 1}},
                        "level": {"enum": ["ordinal", "nominal"]}}},
    ],
}
CRITERION_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["id", "scale"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_]*$",
               "description": "lower-case letters, digits and _"},
        "label": LABEL,
        "help": {**LABEL, "description": "what raters should judge (shown on the sheet)"},
        "scale": SCALE,
        "weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 1},
    },
}
RUBRIC_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "how replies are rated by people (servicebench rate)",
    "properties": {
        "criteria": {"type": "array", "items": CRITERION_SCHEMA},
        "drop": {"type": "array", "items": {"type": "string"},
                 "description": "(in a scenario) default criteria that do not apply"},
    },
}

VALUE_LABELS = {
    "yes": {"en": "yes", "de": "ja"}, "no": {"en": "no", "de": "nein"},
    "partly": {"en": "partly", "de": "teilweise"},
    "correct": {"en": "correct", "de": "richtig"}, "wrong": {"en": "wrong", "de": "falsch"},
    "missing": {"en": "missing", "de": "fehlt"},
}
FACT_SCORES = {"correct": 1.0, "wrong": 0.0, "missing": 0.0}

DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {"id": "correct", "scale": "facts", "weight": 2,
     "label": {"en": "Correct", "de": "Richtig"},
     "help": {"en": "per checklist fact: stated correctly, wrongly, or missing",
              "de": "je Prüfpunkt: richtig, falsch oder fehlt"}},
    {"id": "complete", "scale": "1-5", "label": {"en": "Complete", "de": "Vollständig"},
     "help": {"en": "1 = nothing of the question answered, 5 = everything",
              "de": "1 = nichts beantwortet, 5 = alles beantwortet"}},
    {"id": "understandable", "scale": "1-5",
     "label": {"en": "Understandable", "de": "Verständlich"}},
    {"id": "friendly", "scale": "1-5",
     "label": {"en": "Friendly and personal", "de": "Freundlich und persönlich"}},
    {"id": "next_step", "scale": "yes-no",
     "label": {"en": "Next step offered", "de": "Nächster Schritt angeboten"}},
    {"id": "solved", "scale": "yes-partly-no", "weight": 2,
     "label": {"en": "Problem solved", "de": "Problem gelöst"}},
]


def text_in(value: Any, language: str) -> str:
    """A label in the study's language (a plain string, or {en, de})."""
    if isinstance(value, dict):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return str(value or "")


@dataclass
class Scale:
    spec: str  # facts | yes-no | yes-partly-no | 1-5 | custom
    values: list[str]  # canonical values, worst first
    level: str  # ordinal | nominal

    @classmethod
    def parse(cls, spec: Any) -> Scale:
        if spec == "facts":
            return cls("facts", ["wrong", "missing", "correct"], "nominal")
        if spec == "yes-no":
            return cls("yes-no", ["no", "yes"], "nominal")
        if spec == "yes-partly-no":
            return cls("yes-partly-no", ["no", "partly", "yes"], "ordinal")
        if isinstance(spec, str) and (m := re.fullmatch(r"(\d+)-(\d+)", spec)):
            lo, hi = int(m.group(1)), int(m.group(2))
            return cls(spec, [str(v) for v in range(lo, hi + 1)], "ordinal")
        if isinstance(spec, dict):
            return cls("custom", list(reversed([str(v) for v in spec["values"]])),
                       spec.get("level", "ordinal"))
        raise ValueError(f"unknown scale {spec!r}")

    @property
    def numeric(self) -> bool:
        return all(v.lstrip("-").isdigit() for v in self.values)

    def score(self, value: str) -> float | None:
        """0 (worst) .. 1 (best); None for a value not on the scale."""
        if self.spec == "facts":
            return FACT_SCORES.get(value)
        if value not in self.values:
            return None
        return self.values.index(value) / (len(self.values) - 1)

    def code(self, value: str) -> int:
        """A number for Krippendorff's alpha (rank for ordinal scales)."""
        return self.values.index(value)

    def label(self, value: str, language: str) -> str:
        return VALUE_LABELS.get(value, {}).get(language, value)

    def choices(self, language: str) -> list[str]:
        """What a rater may type, in display order (best first for word scales)."""
        vals = self.values if self.numeric else list(reversed(self.values))
        return [self.label(v, language) for v in vals]

    def read(self, cell: Any) -> str:
        """The canonical value of a rater's cell; ValueError if it is not on the scale."""
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        text = str(cell).strip()
        for v in self.values:
            if text.casefold() in {v.casefold(), *(lab.casefold() for lab in
                                                    VALUE_LABELS.get(v, {}).values())}:
                return v
        raise ValueError(f"{text!r} is not on the scale ({', '.join(self.choices('en'))})")


@dataclass
class Criterion:
    id: str
    label: dict[str, str] | str
    scale: Scale
    weight: float = 1.0
    help: dict[str, str] | str = field(default="")

    def title(self, language: str) -> str:
        return text_in(self.label, language) or self.id.replace("_", " ").capitalize()


def _criterion(d: dict[str, Any]) -> Criterion:
    return Criterion(id=d["id"], label=d.get("label") or "", scale=Scale.parse(d["scale"]),
                     weight=float(d.get("weight", 1)), help=d.get("help") or "")


def study_criteria(study: Study) -> list[Criterion]:
    """The study-wide criteria: ``rubric.criteria`` or the default rubric."""
    spec = (study.settings.get("rubric") or {}).get("criteria")
    return [_criterion(d) for d in (spec if spec else DEFAULT_CRITERIA)]


def rubric_for(study: Study, scenario_id: str) -> list[Criterion]:
    """The criteria for one scenario: the study's, with the scenario's ``rubric`` replacing
    criteria of the same id, adding new ones and dropping those in ``drop``. A ``facts``
    criterion does not apply to a scenario without checklist facts."""
    crits = {c.id: c for c in study_criteria(study)}
    try:
        scenario = study.scenario(scenario_id)
    except StopIteration:
        return list(crits.values())
    own = getattr(scenario, "rubric", None) or {}
    for d in own.get("criteria") or []:
        crits[d["id"]] = _criterion(d)
    for cid in own.get("drop") or []:
        crits.pop(cid, None)
    return [c for c in crits.values() if c.scale.spec != "facts" or scenario.expect]


def all_criteria(study: Study) -> list[Criterion]:
    """Every criterion used by some scenario, in first-use order."""
    seen: dict[str, Criterion] = {}
    for s in study.scenarios:
        for c in rubric_for(study, s.id):
            seen.setdefault(c.id, c)
    return list(seen.values())


def criterion(study: Study, cid: str) -> Criterion:
    for c in all_criteria(study):
        if c.id == cid:
            return c
    raise KeyError(cid)


def check_rubric(spec: Any, path: tuple[str | int, ...], add: Any,
                 default_ids: set[str] | None = None) -> None:
    """Checks the schema cannot express: duplicate ids, empty ranges, unknown ``drop`` ids.
    ``add(path, message)`` reports a problem."""
    if not isinstance(spec, dict):
        return
    seen: set[str] = set()
    for i, c in enumerate(spec.get("criteria") or []):
        if not isinstance(c, dict):
            continue
        cid = c.get("id")
        if isinstance(cid, str):
            if cid in seen or cid == "check_kind":
                add(path + ("criteria", i, "id"), f"criterion id {cid!r} is used twice or "
                    "reserved; ids must be unique")
            seen.add(cid)
        scale = c.get("scale")
        if isinstance(scale, str) and (m := re.fullmatch(r"(\d+)-(\d+)", scale)):
            lo, hi = int(m.group(1)), int(m.group(2))
            if not lo < hi or hi - lo > 10:
                add(path + ("criteria", i, "scale"), f"{scale!r}: the range must go up, with "
                    "at most 11 steps, e.g. 1-5 or 0-10")
        if isinstance(scale, dict) and isinstance(scale.get("values"), list):
            vals = [str(v) for v in scale["values"]]
            if len(set(vals)) != len(vals):
                add(path + ("criteria", i, "scale", "values"), "the values must differ")
    if default_ids is not None:
        for j, cid in enumerate(spec.get("drop") or []):
            if cid not in default_ids:
                add(path + ("drop", j), f"{cid!r} is not a study-wide criterion; known: "
                    f"{', '.join(sorted(default_ids))}")
