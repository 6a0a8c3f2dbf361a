"""Choosing an option (topic, category, salutation) the way the customer would."""

from __future__ import annotations

import re
from typing import Any

from .kinds import fold

PLACEHOLDER = re.compile(
    r"^\W*$|bitte\s+(aus)?waehlen|^\W*(aus)?waehlen|please\s+(select|choose)|^\W*(select|choose)"
    r"\b|keine auswahl|^\W*-+\W*$|^\W*none\W*$|nothing selected|^\W*\.\.\.\W*$|auswahl treffen")
FALLBACK = re.compile(r"sonstig|andere|allgemein|other|general|misc|weitere|uebrig|something "
                      r"else|anything else|\belse\b|^\W*(frage|question|anfrage|inquiry|enquiry)"
                      r"\W*$")
#: topic words in German and English, so a German scenario finds an English option
SYNONYMS = [
    ("vertrag", "contract", "subscription", "abo"), ("kuendigung", "kuendigen", "cancellation",
                                                     "cancel", "terminate", "termination"),
    ("rechnung", "bill", "billing", "invoice"), ("zahlung", "payment", "pay", "bezahlung"),
    ("lieferung", "versand", "delivery", "shipping"), ("ruecksendung", "retoure", "return",
                                                       "returns", "widerruf", "refund"),
    ("umzug", "moving", "move", "relocation"), ("stoerung", "fault", "outage", "technik",
                                                 "technical", "technische", "problem"),
    ("tarif", "tariff", "plan", "preis", "price", "pricing"), ("konto", "account", "kundenkonto"),
    ("bestellung", "order", "orders"), ("beschwerde", "complaint", "reklamation"),
    ("datenschutz", "privacy"), ("frist", "deadline", "notice"),
]
STOP = set("""
aber alle allem also auch auf aus bei bin bis bitte dann das dass dem den der des die dies
diese doch ein eine einem einen einer eines fuer hat hatte habe haben ich ihr ihre ihrem ihren
ihrer im in ist ja kann koennen mein meine meinem meinen meiner mich mir mit nach nicht noch nur
oder ob sehr sich sie sind so ueber um und uns unser vom von vor war was wie wir wird wo zu zum
zur sehr geehrte geehrter damen herren gruessen freundlichen viele gruesse hallo danke vielen
a an and are as at be but by can could do for from have how i if in is it me my of on or our
please so that the this to was we what when which will with would you your dear regards thanks
hello hi best kind thank
""".split())


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", fold(text)) if len(w) > 2 and w not in STOP]


def _expand(words: list[str]) -> list[str]:
    """The words plus their translations (DE<->EN) from :data:`SYNONYMS`."""
    out = list(words)
    for group in SYNONYMS:
        if any(_similar(w, g) for w in words for g in group):
            out += [g for g in group if g not in out]
    return out


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    n = min(len(a), len(b))
    if n < 4:
        return False
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= max(4, int(n * 0.7)) or (n >= 5 and (a in b or b in a))


def real_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in options if not o.get("disabled") and not PLACEHOLDER.search(
        fold(o.get("text", ""))) and (o.get("value", "x") != "" or o.get("sid"))]


def choose_option(options: list[dict[str, Any]], fi: Any,
                  wanted: str | None = None) -> tuple[dict[str, Any] | None, str]:
    """The option that fits the scenario best, and why. ``wanted`` (from the study) wins."""
    opts = real_options(options)
    if not opts:
        return None, "no real options (only placeholders)"
    if wanted:
        w = fold(wanted).strip()
        for test in (lambda t: t == w, lambda t: t.startswith(w), lambda t: w in t):
            for o in opts:
                if test(fold(o["text"]).strip()) or test(fold(str(o.get("value", ""))).strip()):
                    return o, f"study asks for '{wanted}'"
        return None, f"no option matches '{wanted}' (options: {_list(opts)})"
    weights: list[tuple[list[str], float, str]] = []
    if getattr(fi, "topic", ""):
        weights.append((_expand(_words(fi.topic)), 6.0, "scenario.topic"))
    weights.append((_expand(_words(fi.subject)), 2.0, "subject"))
    weights.append((_expand(_words(fi.body)), 1.0, "body"))
    best, best_score, best_why = None, 0.0, ""
    for o in opts:
        ow = _words(o["text"])
        s, hits = 0.0, []
        for words, weight, src in weights:
            matched = {w for w in ow if any(_similar(w, x) for x in words)}
            if matched:
                s += weight * len(matched) + (weight if src == "scenario.topic" else 0)
                hits.append(f"{src}: {', '.join(sorted(matched))}")
        if s > best_score:
            best, best_score, best_why = o, s, "; ".join(hits)
    if best is not None:
        return best, f"'{best['text']}' overlaps {best_why}"
    for o in opts:
        if FALLBACK.search(fold(o["text"])):
            return o, f"no option matches the scenario; chose the catch-all '{o['text']}'"
    return opts[0], f"no option matches the scenario; chose the first, '{opts[0]['text']}'"


SALUTATIONS = {
    "frau": ("frau", "ms", "mrs", "miss", "madam"),
    "herr": ("herr", "mr", "sir"),
    "ms": ("ms", "mrs", "frau", "miss"),
    "mrs": ("mrs", "ms", "frau"),
    "mr": ("mr", "herr"),
    "divers": ("divers", "mx", "other", "keine angabe", "neutral"),
    "mx": ("mx", "divers", "other", "keine angabe"),
}


def choose_salutation(options: list[dict[str, Any]], salutation: str,
                      required: bool) -> tuple[dict[str, Any] | None, str]:
    opts = real_options(options)
    key = fold(salutation).strip(" .")
    for want in SALUTATIONS.get(key, (key,) if key else ()):
        for o in opts:
            t = fold(o["text"]).strip(" .")
            if t == want or t.startswith(want + " ") or t.startswith(want + "."):
                return o, f"persona.salutation '{salutation}'"
    if not required:
        return None, "persona has no matching salutation; optional"
    for o in opts:
        if re.search(r"keine angabe|divers|prefer not|not specified|other|neutral",
                     fold(o["text"])):
            return o, "persona has no salutation; chose the neutral option"
    return None, "persona has no salutation and the form has no neutral option"


def _list(opts: list[dict[str, Any]]) -> str:
    return ", ".join(o["text"] for o in opts[:12])
