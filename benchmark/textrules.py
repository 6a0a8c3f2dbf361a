"""Text rules for replies: normalisation, the checklist and the personal salutation.

The docstrings state the rules; the report's methods section quotes them, so change rule
and docstring together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .study import Fact, Persona

# -- text normalisation ------------------------------------------------------------------
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\u00ad"})


def normalize(text: str) -> str:
    """Fold text for matching: case, umlauts (ä=ae, ö=oe, ü=ue, ß=ss), other accents
    dropped, dashes unified, every run of whitespace one space."""
    text = unicodedata.normalize("NFC", text or "").casefold().translate(_UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    text = text.translate(_DASHES)
    return re.sub(r"\s+", " ", text).strip()


NEGATIONS = frozenset(
    "nicht kein keine keinen keinem keiner keines nie niemals ohne "
    "no not never without cannot can't won't don't isn't aren't".split())
_NEGATION_WINDOW = 2


def _phrase_regex(phrase: str) -> re.Pattern[str] | None:
    """A space in the phrase matches whitespace or hyphens; a hyphen matches a hyphen,
    whitespace or nothing; a trailing ``*`` matches the rest of the word."""
    norm = normalize(phrase)
    prefix = norm.endswith("*")
    norm = norm.rstrip("*").strip()
    if not norm:
        return None
    parts = []
    for token in re.split(r"(\s|-)", norm):
        if token == " ":
            parts.append(r"[\s-]+")
        elif token == "-":
            parts.append(r"[\s-]?")
        elif token:
            parts.append(re.escape(token))
    tail = r"\w*" if prefix else ""
    return re.compile(r"(?<!\w)" + "".join(parts) + tail + r"(?!\w)")


def _negated(norm_text: str, start: int) -> bool:
    """True when one of the two words before ``start`` (same sentence) is a negation."""
    before = re.split(r"[.!?;:\n]", norm_text[:start])[-1]
    words = re.findall(r"[\w']+", before)[-_NEGATION_WINDOW:]
    return any(w in NEGATIONS for w in words)


def phrase_in(phrase: str, norm_text: str) -> bool:
    """Whether ``phrase`` occurs, not negated, in already-normalised text."""
    rx = _phrase_regex(phrase)
    if rx is None:
        return False
    literal_negation = any(w in NEGATIONS for w in re.findall(r"[\w']+", normalize(phrase)))
    return any(literal_negation or not _negated(norm_text, m.start())
               for m in rx.finditer(norm_text))


def checklist(text: str, facts: Iterable[Fact]) -> list[str]:
    """Ids of the facts a reply text contains, in the order of ``facts``.

    Checklist rule: a fact is found when at least one of its ``any`` phrases occurs (if it has
    ``any``) and every one of its ``all`` phrases occurs (if it has ``all``); a fact with
    neither is never found. Matching ignores case, treats ä/ae, ö/oe, ü/ue and ß/ss (and
    accented/plain letters) as equal, lets a space in a phrase match any run of whitespace
    or hyphens, and only matches whole words (a phrase ending in ``*`` matches any word
    ending, e.g. ``Rückerstatt*``). An occurrence preceded within two words of the same
    sentence by a negation (nicht, kein(e), nie, ohne, no, not, never, cannot ...) does not
    count, so "keine Rückerstattung" does not confirm "Rückerstattung"; a phrase that itself
    contains a negation ("nicht möglich") is matched literally.
    """
    norm = normalize(text or "")
    found = []
    for fact in facts:
        if not fact.any and not fact.all:
            continue
        ok_any = not fact.any or any(phrase_in(p, norm) for p in fact.any)
        ok_all = all(phrase_in(p, norm) for p in fact.all)
        if ok_any and ok_all:
            found.append(fact.id)
    return found


# -- salutation --------------------------------------------------------------------------
GREETINGS = (
    "sehr geehrte", "sehr geehrter", "liebe", "lieber", "hallo", "guten tag", "guten morgen",
    "guten abend", "moin", "servus", "gruess gott", "gruezi", "hi", "hey", "dear", "hello",
    "good morning", "good afternoon", "good evening",
)
_GREETING_RX = re.compile(r"^(?:" + "|".join(re.escape(g) for g in GREETINGS) + r")(?!\w)")
_SALUTATION_LINES = 5


# a social reply starts with the @mentions of the thread: "@anna @shop Hallo Anna, ..."
_MENTIONS_RX = re.compile(r"^\s*(?:@[\w.@-]+[\s,:]*)+")


def personal_salutation(text: str, persona: Persona) -> bool:
    """Whether a reply greets the persona by name.

    Salutation rule: among the first five non-empty, non-quoted lines, the first line that
    starts with a greeting (Sehr geehrte/r, Liebe/r, Hallo, Guten Tag, Moin, Dear, Hi,
    Hello, Good morning ...) must contain the persona's first or last name as a whole word
    (case- and umlaut-tolerant). "Sehr geehrte Frau Berger", "Liebe Lena", "Dear Ms Berger" and
    "Hi Lena" count; "Sehr geehrte Damen und Herren", "Dear customer" or a reply without a
    greeting line do not.
    """
    names = [normalize(n) for n in (persona.first_name, persona.last_name) if n]
    if not names:
        return False
    lines = [_MENTIONS_RX.sub("", ln) for ln in (text or "").splitlines()
             if ln.strip() and not ln.lstrip().startswith(">")]
    lines = [ln for ln in lines if ln.strip()][:_SALUTATION_LINES]
    for line in lines:
        norm = normalize(line)
        if _GREETING_RX.match(norm):
            return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", norm) for n in names)
    return False
