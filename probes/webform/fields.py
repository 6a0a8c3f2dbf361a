"""Which form field gets which value, and why.

Controls found by :mod:`.scan` become :class:`Field` s (a radio group is one field). Every
field is scored against every field kind (email, first_name, message, topic...) from its
autocomplete attribute, input type, label, aria-label, placeholder, nearby text and its
name/id; the best pairs are assigned greedily. Checkboxes are judged one by one (consent
ticked, marketing left alone), hidden and honeypot-like fields are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .choose import choose_option, choose_salutation
from .kinds import (
    CONSENT,
    HONEYPOT_LABEL,
    HONEYPOT_NAME,
    KINDS,
    MARKETING,
    fold,
    tokens,
)


@dataclass
class Field:
    """One thing a customer fills in: an input, textarea, select, custom dropdown, single
    checkbox or a whole radio group."""

    frame: int
    sid: str  # data-sb-id of the control (of the first radio for a group)
    control: str  # text | textarea | editable | select | radio | checkbox | combobox
    type: str  # input type / tag
    name: str
    id: str
    autocomplete: str
    label: str
    aria: str
    placeholder: str
    near: str
    title: str
    classes: str
    required: str
    hidden: str
    tabindex: str | None
    form: int
    order: int
    value: str = ""
    checked: bool = False
    options: list[dict[str, Any]] = field(default_factory=list)
    readonly: bool = False
    disabled: bool = False
    # what the browser enforces (see .constraints)
    maxlength: int | None = None
    minlength: int | None = None
    pattern: str = ""
    min: str = ""
    max: str = ""
    step: str = ""

    @property
    def selector(self) -> str:
        return f'[data-sb-id="{self.sid}"]'

    @property
    def text(self) -> str:
        return " | ".join(t for t in (self.label, self.aria, self.placeholder, self.near,
                                      self.title) if t)

    def describe(self) -> str:
        what = {"text": f"input type={self.type}", "textarea": "textarea",
                "editable": "rich-text editor", "select": "select",
                "radio": "radio group", "checkbox": "checkbox",
                "combobox": "custom dropdown"}.get(self.control, self.control)
        for word, val in (("label", self.label), ("aria-label", self.aria),
                          ("placeholder", self.placeholder), ("text", self.near),
                          ("title", self.title), ("name", self.name), ("id", self.id)):
            if val:
                return f"{what}, {word} '{_short(val)}'"
        return what


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass
class Decision:
    field: Field | None
    kind: str
    action: str  # fill | select | check | choose | leave
    value: str = ""
    option: dict[str, Any] | None = None
    source: str = ""
    reason: str = ""
    blocked: bool = False  # must not be submitted as it is (see .constraints)

    def line(self) -> str:
        where = self.field.describe() if self.field else "?"
        if self.action == "leave":
            return f"{self.kind}: left alone ({where}): {self.reason}"
        if self.action == "check":
            return f"{self.kind} ☑ ticked ({where}): {self.reason}"
        val = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        return f"{self.kind} ← {self.source or repr(val)} = {val!r} ({where}; {self.reason})"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "action": self.action, "value": self.value,
                "source": self.source, "reason": self.reason,
                "field": self.field.describe() if self.field else None,
                "name": self.field.name if self.field else None,
                "required": bool(self.field and self.field.required)}


@dataclass
class FormInput:
    """What goes into a form: the persona's data, the scenario's text, the reply address."""

    persona: Any
    subject: str
    body: str
    email: str
    email_source: str = "persona.email"
    topic: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    success: str | None = None
    short: str = ""  # the scenario's short text: the message where the body does not fit
    company: str = ""  # the company's id (named in messages about the study file)

    def value_of(self, kind: str) -> tuple[str, str]:
        p = self.persona
        spec = self.overrides.get(kind)
        if isinstance(spec, dict) and "value" in spec:  # fields: {street: {value: ...}}
            return str(spec["value"]), "study fields"
        if kind in ("email", "email_confirm"):
            return self.email, self.email_source
        if kind == "subject":
            return self.subject, "scenario.subject"
        if kind == "message":
            return self.body, "scenario body"
        if kind == "postcode_city":
            both = f"{p.postcode} {p.city}".strip()
            return (both, "persona.postcode + city") if p.postcode and p.city else ("", "")
        attr = {"full_name": "name"}.get(kind, kind)
        val = getattr(p, attr, None)
        return (str(val), f"persona.{attr}") if isinstance(val, str) else ("", "")


def fields_from_scan(frame: int, scan: dict[str, Any]) -> list[Field]:
    """Turn one frame's scan into fields; radios of one name become one field."""
    out: list[Field] = []
    groups: dict[str, Field] = {}
    for c in scan["controls"]:
        control = {"input": "text", "textarea": "textarea", "select": "select"}.get(c["tag"], "")
        if c["type"] in ("checkbox", "radio", "combobox", "editable"):
            control = c["type"]
        control = control or "text"
        if control == "radio" and c["group"]:
            key = f"{c['form']}|{c['group']}"
            opt = {"value": c["value"], "text": c["label"] or c["near"] or c["value"],
                   "sid": c["sid"], "checked": c["checked"], "hidden": c["hidden"]}
            if key in groups:
                groups[key].options.append(opt)
                continue
            g = scan["groups"].get(c["group"], {})
            f = _field(frame, c, "radio")
            f.label, f.near, f.aria, f.placeholder = g.get("label", ""), "", "", ""
            f.required = g.get("required", "") or c["required"]
            f.options = [opt]
            groups[key] = f
            out.append(f)
            continue
        out.append(_field(frame, c, control))
    for f in out:
        if f.control == "radio":
            f.hidden = "" if any(not o["hidden"] for o in f.options) else f.hidden
            f.checked = any(o["checked"] for o in f.options)
    return out


def _field(frame: int, c: dict[str, Any], control: str) -> Field:
    return Field(frame=frame, sid=c["sid"], control=control, type=c["type"], name=c["name"],
                 id=c["id"], autocomplete=c["autocomplete"], label=c["label"], aria=c["aria"],
                 placeholder=c["placeholder"], near=c["near"], title=c["title"],
                 classes=c["classes"], required=c["required"], hidden=c["hidden"],
                 tabindex=c["tabindex"], form=c["form"], order=c["order"], value=c["value"],
                 checked=c["checked"], options=list(c["options"]), readonly=c["readonly"],
                 disabled=c["disabled"], maxlength=c.get("maxlength"),
                 minlength=c.get("minlength"), pattern=c.get("pattern") or "",
                 min=c.get("min") or "", max=c.get("max") or "", step=c.get("step") or "")


def honeypot_reason(f: Field) -> str:
    """Why a real customer would leave this field alone, or '' if they would not."""
    if f.hidden:
        return f"not visible ({f.hidden})"
    if f.disabled or f.readonly and f.control not in ("combobox", "select"):
        return "disabled or read-only"
    if HONEYPOT_NAME.search(tokens(f.name + " " + f.id)):
        return f"honeypot-like name '{f.name or f.id}'"
    if HONEYPOT_LABEL.search(fold(f.text)):
        return f"label says to leave it empty ('{_short(f.text)}')"
    if f.tabindex == "-1" and f.control in ("text", "textarea"):
        return "text field taken out of the tab order (tabindex=-1)"
    return ""


def score(f: Field, kind: str) -> tuple[float, str]:
    """How well ``f`` fits ``kind``, with the strongest evidence as the reason."""
    k = KINDS[kind]
    if f.control not in k.controls:
        return 0.0, ""
    total, why = 0.0, []
    ac = f.autocomplete.split()
    if k.autocomplete and any(a in k.autocomplete for a in ac):
        total += 10
        why.append(f"autocomplete={f.autocomplete}")
    if k.types and f.type in k.types:
        total += 7
        why.append(f"input type={f.type}")
    for src, text, weight in (("label", f.label, 7), ("aria-label", f.aria, 7),
                              ("placeholder", f.placeholder, 6), ("text", f.near, 5),
                              ("title", f.title, 3)):
        if text and k.words and k.words.search(fold(text)):
            total += weight
            why.append(f"{src} '{_short(text, 40)}'")
            break
    names = tokens(f.name + " " + f.id)
    if k.names and names.strip() and k.names.search(names):
        total += 4.5
        why.append(f"name '{f.name or f.id}'")
    elif k.names and k.names.search(tokens(f.classes)):
        total += 2
        why.append("CSS class")
    if k.options and f.options:
        hits = sum(1 for o in f.options if k.options.search(fold(o["text"])))
        if hits >= 2:
            total += 8
            why.append("options " + "/".join(o["text"] for o in f.options[:3]))
    if k.negative and k.negative.search(fold(f.text + " " + names)):
        total -= 9
    total += k.bonus.get(f.control, 0)
    return total, ", ".join(why) or f"only a {f.control}"


ChoiceFn = Callable[[Field, FormInput, Any], tuple[dict[str, Any] | None, str]]


def map_fields(fields: list[Field], fi: FormInput,
               forced: dict[str, tuple[Field | None, Any]] | None = None) -> list[Decision]:
    """Decide for every field what to do with it. ``forced`` maps a kind to the field the
    study's ``fields:`` override chose for it (None: leave that kind alone) and its spec."""
    forced = forced or {}
    decisions: list[Decision] = []
    taken: set[str] = set()
    for kind, (f, spec) in forced.items():
        if f is None or spec is False:
            continue
        taken.add(f.sid)
        decisions.append(_decide(f, kind, fi, "set in the study's fields", spec))
    free = []
    for f in fields:
        if f.sid in taken:
            continue
        why = honeypot_reason(f)
        if why:
            decisions.append(Decision(f, "honeypot" if "hidden" not in why and "visible"
                                      not in why else "hidden", "leave", reason=why))
        else:
            free.append(f)
    boxes = [f for f in free if f.control == "checkbox"]
    rest = [f for f in free if f.control != "checkbox"]
    pairs = []
    for f in rest:
        for kind in KINDS:
            if kind in forced:
                continue
            s, why = score(f, kind)
            if s >= 4:
                pairs.append((s, -f.order, kind, f, why))
    pairs.sort(key=lambda p: (p[0], p[1]), reverse=True)
    assigned: dict[str, tuple[Field, str]] = {}
    used: set[str] = set()
    for _s, _, kind, f, why in pairs:
        if f.sid in used or (kind in assigned and not KINDS[kind].multi):
            continue
        used.add(f.sid)
        assigned[kind if kind not in assigned else f"{kind}#{f.sid}"] = (f, why)
    if "first_name" in assigned and "full_name" in assigned and "last_name" not in assigned:
        f, why = assigned.pop("full_name")
        assigned["last_name"] = (f, why + "; 'Name' beside a first-name field is the surname")
    for key, (f, why) in assigned.items():
        decisions.append(_decide(f, key.split("#")[0], fi, why, None))
    for f in rest:
        if f.sid in used:
            continue
        if f.control in ("select", "radio", "combobox") and f.required:
            decisions.append(_decide(f, "choice", fi, "required choice", None))
        else:
            decisions.append(Decision(f, "other", "leave", reason="no matching data"
                                      + (" (but marked required)" if f.required else "")))
    for f in boxes:
        decisions.append(_checkbox(f))
    decisions.sort(key=lambda d: d.field.order if d.field else 0)
    return decisions


def _checkbox(f: Field) -> Decision:
    text = fold(f.text + " " + tokens(f.name + " " + f.id))
    if MARKETING.search(text):
        if f.required:
            return Decision(f, "marketing", "check", reason="marketing box the form requires")
        return Decision(f, "marketing", "leave", reason="optional marketing/newsletter box")
    if CONSENT.search(text):
        return Decision(f, "consent", "check", reason="privacy/consent box"
                        + (f" ({f.required})" if f.required else ""))
    if f.required:
        return Decision(f, "checkbox", "check", reason=f"required checkbox ({f.required})")
    return Decision(f, "checkbox", "leave", reason="optional box")


def _decide(f: Field, kind: str, fi: FormInput, why: str, spec: Any) -> Decision:
    spec = spec if isinstance(spec, dict) else {}
    if f.control == "checkbox":
        if spec.get("check") is False:
            return Decision(f, kind, "leave", reason=why)
        return Decision(f, kind, "check", reason=why)
    if f.control in ("select", "radio", "combobox"):
        if kind == "salutation" and not spec.get("choose"):
            opt, reason = choose_salutation(f.options, fi.persona.salutation, bool(f.required))
        else:
            opt, reason = choose_option(f.options, fi, spec.get("choose"))
        action = "choose" if f.control == "combobox" else "select"
        if f.control == "combobox" and not f.options:
            # options show up only when the dropdown opens; decided again then
            return Decision(f, kind, action, value=spec.get("choose", ""), reason=why,
                            source="scenario")
        if opt is None:
            return Decision(f, kind, "leave", reason=f"{why}; {reason}")
        return Decision(f, kind, action, value=opt["text"], option=opt, reason=f"{why}; {reason}",
                        source="option")
    if "value" in spec:
        return Decision(f, kind, "fill", value=str(spec["value"]), source="study fields",
                        reason=why)
    value, source = fi.value_of(kind)
    if not value:
        return Decision(f, kind, "leave", reason=f"{why}; no data for {kind}"
                        + (" (required!)" if f.required else " (optional)"))
    return Decision(f, kind, "fill", value=value, source=source, reason=why)


def label_matches(f: Field, wanted: str) -> float:
    """How well a field's visible texts match a label given in the study (0 = not at all)."""
    want = fold(wanted).strip(" *:")
    best = 0.0
    for t in (f.label, f.aria, f.placeholder, f.near, f.title, f.name):
        t = fold(t).strip(" *:")
        if not t:
            continue
        if t == want:
            best = max(best, 3)
        elif re.search(r"(^|\W)" + re.escape(want) + r"($|\W)", t):
            best = max(best, 2)
        elif want in t:
            best = max(best, 1)
    return best
