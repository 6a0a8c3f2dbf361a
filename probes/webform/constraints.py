"""The limits real forms put on their fields (``maxlength``, ``minlength``, ``pattern``,
number ranges) and what the probe does about them before anything is typed.

A message the browser would cut is never submitted: the scenario's ``short`` text is used
where it fits, otherwise the probe fails with what to write. A subject is cut at a word
boundary (it is not the question), other values the browser would cut are noted. Required
fields the persona has no value for fail the probe with the YAML that would fill them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .fields import Decision, Field, FormInput
from .kinds import KINDS, fold

# fields that are never ours to fill, whatever they are marked as
NOT_OURS = ("hidden", "honeypot", "captcha")
TEXT_CONTROLS = ("text", "textarea", "editable")


def js_len(text: str) -> int:
    """Length as the browser counts it for ``maxlength``: UTF-16 code units, a line break
    as one character (the textarea's API value)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return len(text.encode("utf-16-le")) // 2


def cut_at_word(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, ending at a whole word."""
    text = " ".join(text.split())
    if js_len(text) <= limit:
        return text
    cut = text[:limit]
    while js_len(cut) > limit:  # characters outside the BMP count twice
        cut = cut[:-1]
    if len(cut) < len(text) and not text[len(cut)].isspace() and " " in cut.strip():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–")


def phone_variants(phone: str) -> list[str]:
    """The persona's phone number in the forms a pattern or input mask may want: as given,
    without spaces, nationally (``+49 30 1234567`` -> ``030 1234567``), digits only, and
    internationally with ``00``."""
    phone = " ".join(phone.split())
    out = [phone, re.sub(r"[\s/().-]", "", phone)]
    m = re.match(r"^(?:\+|00)(\d{1,3})[\s/.-]*\(?0?\)?\s*(.*)$", phone)
    if m and m.group(2) and re.search(r"[\s/.-]", phone[:6]):
        cc, rest = m.group(1), m.group(2)
        trunk = "" if cc in ("1", "39", "7") else "0"  # no trunk prefix 0 there
        national = trunk + rest
        out += [national, re.sub(r"\D", "", national), "00" + cc + re.sub(r"\D", "", rest)]
    elif phone.startswith("+"):
        out.append("00" + re.sub(r"\D", "", phone))
    seen: list[str] = []
    for v in out:
        if v and v not in seen:
            seen.append(v)
    return seen


def phone_key(value: str) -> str:
    """A phone number as dialled: digits and a leading '+' (``00`` counts as '+')."""
    v = re.sub(r"[^\d+]", "", value)
    return "+" + v[2:] if v.startswith("00") else v


@dataclass
class Fitted:
    warnings: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)  # the probe must not be submitted


def fit(decisions: list[Decision], fi: FormInput) -> Fitted:
    """Make the decided values fit their fields' limits (see the module docstring)."""
    out = Fitted()
    for d in decisions:
        f = d.field
        if f is None or d.action != "fill" or f.control not in TEXT_CONTROLS:
            continue
        if d.kind == "message":
            _fit_message(d, fi, out)
            continue
        n = js_len(d.value)
        if f.maxlength is not None and n > f.maxlength:
            if d.kind == "subject":
                cut = cut_at_word(d.value, f.maxlength)
                out.warnings.append(f"subject: the field takes at most {f.maxlength} "
                                    f"characters ({f.describe()}); cut at a word from {n} to "
                                    f"{js_len(cut)}: {cut!r}")
                d.reason += f"; cut to the field's maxlength {f.maxlength}"
                d.value = cut
            else:
                out.warnings.append(f"{d.kind}: the field takes at most {f.maxlength} "
                                    f"characters ({f.describe()}); the browser cuts "
                                    f"{d.value!r} ({n}) to {d.value[:f.maxlength]!r}")
        if f.minlength is not None and n < f.minlength:
            out.warnings.append(f"{d.kind}: the field wants at least {f.minlength} characters "
                                f"({f.describe()}); {d.value!r} has {n}")
        if f.type == "number" and f.min + f.max:
            out.warnings += _out_of_range(d)
    return out


def _fit_message(d: Decision, fi: FormInput, out: Fitted) -> None:
    f = d.field
    assert f is not None
    n = js_len(d.value)
    too_long = f.maxlength is not None and n > f.maxlength
    too_short = f.minlength is not None and n < f.minlength
    if not (too_long or too_short):
        return
    limit = f"at most {f.maxlength}" if too_long else f"at least {f.minlength}"
    short = fi.short.strip() if d.source != "study fields" else ""  # the study's own text
    if short and (f.maxlength is None or js_len(short) <= f.maxlength) and (
            f.minlength is None or js_len(short) >= f.minlength):
        d.value, d.source = short, "scenario short"
        d.reason += f"; the full text ({n} characters) does not fit the field ({limit})"
        out.warnings.append(f"message: the field takes {limit} characters and the scenario's "
                            f"text has {n}; the scenario's short text ({js_len(short)}) was "
                            "entered instead")
        return
    if too_long:
        what = (f"its short text has {js_len(short)}" if short else "it has no short text")
        todo = (f"write the scenario a 'short' text of at most {f.maxlength} characters "
                "(used where the full text does not fit)")
    else:
        what = "its short text does not fit either" if short else "it has no short text"
        todo = (f"lengthen the scenario's text to at least {f.minlength} characters")
    out.blockers.append(
        f"message field ({f.describe()}) takes {limit} characters, the scenario's text has "
        f"{n} and {what}; a cut question is not submitted: {todo}")
    d.action, d.value, d.blocked = "leave", "", True
    d.reason += f"; does not fit ({limit} characters, text has {n})"


def _out_of_range(d: Decision) -> list[str]:
    f = d.field
    assert f is not None
    try:
        v = float(d.value.replace(",", "."))
    except ValueError:
        return [f"{d.kind}: {d.value!r} is not a number ({f.describe()})"]
    lo, hi = (float(x) if x else None for x in (f.min, f.max))
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        return [f"{d.kind}: {d.value!r} is outside the field's range {f.min}..{f.max} "
                f"({f.describe()})"]
    return []


def unfilled_required(decisions: list[Decision], fi: FormInput, url: str,
                      now: dict[str, Field] | None = None) -> list[str]:
    """A blocker for every visible required field that is left empty: the probe must not
    invent personal data, so it says which YAML gives the field its value. ``now`` holds
    the fields as the last scan saw them (a value the page set itself counts)."""
    out = []
    for d in decisions:
        f = d.field
        if (f is None or d.action != "leave" or not f.required or d.kind in NOT_OURS
                or f.control == "checkbox" or d.blocked):
            continue
        cur = (now or {}).get(f.sid, f)
        if cur.hidden or cur.checked or (cur.value.strip() and cur.control != "combobox"):
            continue  # out of sight, or holding a value already (a preselected country)
        choice = f.control in ("select", "radio", "combobox")
        if choice or d.kind not in KINDS:
            key = _slug(f.label or f.aria or f.placeholder or f.name or f.id or d.kind)
            spec: dict[str, str] = {"label": _label(f)} if _label(f) else {
                "selector": f"[name='{f.name}']" if f.name else f.selector}
        else:
            key, spec = d.kind, {}
        spec["choose" if choice else "value"] = "..."
        yaml = f"webform: {{url: {json.dumps(url)}, fields: {{{key}: {_flow(spec)}}}}}"
        out.append(f"required field {f.describe()} ({f.required}) has no value: the persona "
                   f"has none for it and none is invented; give it one in study.yaml under "
                   f"company {fi.company or '<id>'}'s channels: {yaml}")
    return out


def _label(f: Field) -> str:
    text = f.label or f.aria or f.placeholder
    return " ".join(text.replace("*", " ").split())[:60].strip(" :")


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")
    return s[:30] or "field"


def _flow(spec: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}"
                           for k, v in spec.items()) + "}"


def message_text(decisions: list[Decision], current: str) -> str:
    """Which text the message field got after filling: "full", "short" (the scenario's
    short text), "study fields" (a value the study gave), "none" (it is not submitted)."""
    for d in decisions:
        if d.kind != "message" or d.field is None:
            continue
        if d.action == "leave" or d.blocked:
            return "none"
        return {"scenario short": "short", "study fields": "study fields"}.get(d.source, "full")
    return current
