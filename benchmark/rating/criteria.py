"""Automatic answer-quality criteria, each stored per reply with the text that triggered it.

For the first human reply of every sent probe (the effective kind, see :mod:`.overrides`):

* ``template``: a near-duplicate of the same company's reply to another scenario (word-trigram
  overlap of at least 80 %) or, without a personal greeting, the same text word for word as
  its reply to another persona (97 %), or a generic reply that covers none of the
  scenario's checklist facts and points elsewhere ("help centre", "FAQ", "rufen Sie uns an");
* ``language``: the reply is in the inquiry's language (German/English function words);
* ``salutation``: greets the persona by name (the metrics' salutation rule);
* ``signed``: signed by a person (a name after the closing formula, not a team);
* ``ticket``: carries a ticket or case reference;
* ``readability``: Flesch reading ease (English) or Amstad's German adaptation, with
  syllables counted by pyphen's hyphenation dictionaries (an approximation).

:func:`refresh_checks` computes and stores them (table ``reply_checks``); :func:`checks_for`
reads them back for exports, the report and company profiles.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..clock import utc_iso
from ..store import Store
from ..study import Study
from .blinding import CLOSING_RX, TEAM_RX, strip_inquiry_quotes
from .overrides import effective_messages, message_key, select_in

CHECKS = ("template", "language", "salutation", "signed", "ticket", "readability")
DUPLICATE_THRESHOLD = 0.8  # word-trigram overlap with a reply to another scenario
SAME_TEXT = 0.97  # ... or to the same scenario for another persona, without a personal greeting
POINTERS = (
    "help centre", "help center", "help section", "help pages", "faq", "faqs",
    "frequently asked questions", "our website", "on our homepage", "self-service",
    "customer portal", "community", "by phone", "call us", "give us a call", "hotline",
    "contact form", "hilfebereich", "hilfe-center", "hilfecenter", "hilfeseiten",
    "häufige fragen", "häufig gestellte fragen", "unsere website", "unserer website",
    "unserer homepage", "kundenportal", "telefonisch", "rufen sie uns an", "rufen sie an",
    "kontaktformular", "servicebereich", "online-hilfe",
)
_POINTER_RX = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in POINTERS) + r")(?!\w)",
                         re.IGNORECASE)
STOPWORDS = {
    "de": set("der die das und ist nicht sie ich wir ihr ihre ihnen ein eine einen mit für "
              "auf den dem des zu im in es bei auch wie vom von sich gerne können kann "
              "bitte vielen dank grüße sehr geehrte".split()),
    "en": set("the and is not you we your a an to of for on in it with be can this that "
              "please thank thanks regards dear our are will have".split()),
}
_TICKET_RX = re.compile(
    r"(?:\b(?:ticket|case|request|reference|ref|vorgang|vorgangsnummer|anfrage|fall|"
    r"bearbeitungsnummer|referenz)(?:[- ]?(?:nr|no|number|nummer|id))?\.?\s*[:#]?\s*"
    r"#?[A-Z0-9][A-Z0-9-]{3,}\b|\[#\s?\d{3,}\]|(?<!\w)#\d{4,}\b)", re.IGNORECASE)
_NAME_RX = re.compile(r"^(?:[A-ZÄÖÜ][a-zäöüßéèáàç]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?\.?)"
                      r"(?:\s+(?:von|van|de|der)?\s*[A-ZÄÖÜ][a-zäöüßéèáàç]+"
                      r"(?:-[A-ZÄÖÜ][a-zäöüß]+)?){1,2}$")
_NOT_NAMES = {"ihr", "ihre", "your", "the", "kind", "best", "mit", "viele", "customer",
              "kundenservice", "team", "service", "support"}


@dataclass
class Check:
    name: str
    value: Any
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "value": self.value, "evidence": self.evidence}


# -- single checks -------------------------------------------------------------------------
def detect_language(text: str) -> tuple[str | None, list[str]]:
    words = re.findall(r"[a-zäöüß]+", (text or "").lower())
    hits = {lang: [w for w in words if w in sw] for lang, sw in STOPWORDS.items()}
    best = max(hits, key=lambda k: len(hits[k]))
    if len(hits[best]) < 2 or len(hits[best]) == min(len(v) for v in hits.values()):
        return None, []
    return best, list(dict.fromkeys(hits[best]))[:6]


def signed_by_person(text: str) -> Check:
    lines = [ln.strip() for ln in (text or "").splitlines()]
    for i, ln in enumerate(lines):
        if CLOSING_RX.match(ln):
            for cand in [x for x in lines[i + 1:i + 5] if x][:2]:
                name = re.split(r"\s[|–-]\s|,", cand)[0].strip()
                if _NAME_RX.match(name) and not TEAM_RX.search(name) and \
                        name.split()[0].lower() not in _NOT_NAMES:
                    return Check("signed", True, f"{ln} … {cand}")
            return Check("signed", False, f"no person's name after '{ln}'")
    return Check("signed", False, "no closing formula")


def ticket_reference(text: str, subject: str = "") -> Check:
    m = _TICKET_RX.search(f"{subject}\n{text}")
    return Check("ticket", bool(m), m.group(0).strip() if m else "")


@functools.lru_cache(maxsize=2)
def _hyphenator(lang: str) -> Any:
    import pyphen

    return pyphen.Pyphen(lang="de_DE" if lang == "de" else "en_US")


def _syllables(word: str, dic: Any) -> int:
    if len(word) <= 3:
        return 1
    return len(dic.positions(word)) + 1


def readability(text: str, language: str) -> Check:
    """Flesch reading ease (en): 206.835 − 1.015·words/sentence − 84.6·syllables/word;
    Amstad (de): 180 − words/sentence − 58.5·syllables/word. Higher is easier (0–100)."""
    sentences = [s for s in re.split(r"[.!?]+(?:\s|$)|\n{2,}", text or "") if
                 re.search(r"\w", s)]
    words = re.findall(r"[A-Za-zÄÖÜäöüß]+", text or "")
    if len(words) < 5 or not sentences:
        return Check("readability", None, "too short to measure")
    lang = "de" if language == "de" else "en"
    dic = _hyphenator(lang)
    syl = sum(_syllables(w, dic) for w in words)
    wps, spw = len(words) / len(sentences), syl / len(words)
    if lang == "de":
        score, name = 180 - wps - 58.5 * spw, "Amstad"
    else:
        score, name = 206.835 - 1.015 * wps - 84.6 * spw, "Flesch"
    score = max(0.0, min(100.0, score))
    return Check("readability", round(score, 1),
                 f"{name} {score:.0f}: {wps:.1f} words per sentence, {spw:.2f} syllables "
                 "per word")


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i:i + 3]) for i in range(max(0, len(words) - 2))}


def similarity(a: str | set[tuple[str, ...]], b: str | set[tuple[str, ...]]) -> float:
    """Word-trigram overlap: shared / the smaller reply's trigrams (1 = one contains the
    other). Takes texts or their trigram sets."""
    ta = _trigrams(a) if isinstance(a, str) else a
    tb = _trigrams(b) if isinstance(b, str) else b
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / min(len(ta), len(tb))


# -- all replies ---------------------------------------------------------------------------
def first_replies(study: Study, store: Store, now: datetime | None = None,
                  outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The probes' outcomes (computed unless given) with the first human reply's message row
    (``message`` column), only for probes that have one."""
    from ..metrics import probe_outcomes

    out = outcomes if outcomes is not None else probe_outcomes(study, store,
                                                               now or datetime.now(UTC))
    out = out[out["first_human_message_id"].notna()].copy()
    ids = [int(i) for i in out["first_human_message_id"]]
    rows = {}
    if ids:
        found = select_in(store, "SELECT * FROM messages WHERE id IN ({})", ids)
        rows = {r["id"]: r for r in effective_messages(store, found)}
    out["message"] = [rows.get(int(i)) for i in out["first_human_message_id"]]
    return out[out["message"].notna()]


def inquiry_text(store: Store, probe_id: int, subject: bool = False) -> str:
    """The inquiry as sent (``subject`` first if asked for)."""
    row = store.probe(probe_id)
    try:
        detail = json.loads(row["detail"] or "{}")
    except ValueError:
        detail = {}
    body = str(detail.get("body") or detail.get("text") or "")
    if subject and detail.get("subject"):
        return f"{detail['subject']}\n\n{body}"
    return body


def compute_checks(study: Study, store: Store, now: datetime | None = None,
                   replies: pd.DataFrame | None = None) -> dict[int, dict[str, Check]]:
    """The automatic criteria per first human reply (keyed by message row id)."""
    from ..channels import get_channel
    from ..metrics import personal_salutation

    if replies is None:
        replies = first_replies(study, store, now)
    texts: dict[int, str] = {}
    meta: dict[int, dict[str, Any]] = {}
    for _, r in replies.iterrows():
        m = r["message"]
        inquiry = inquiry_text(store, int(r["probe_id"]))
        texts[m["id"]] = strip_inquiry_quotes(m["text"] or "", inquiry)
        try:
            manual = get_channel(r["channel"]).kind == "manual"
        except Exception:  # noqa: BLE001 - an unknown channel is not manual
            manual = False
        meta[m["id"]] = {"row": r, "message": m, "inquiry": inquiry, "manual": manual,
                         "ids": {k: r[k] for k in ("company_id", "scenario_id", "persona_id",
                                                   "channel")}}
    grams = {mid: _trigrams(t) for mid, t in texts.items()}
    # template candidates are the same company's replies: compare within a company only
    # (quadratic per company, not over the whole study)
    peers: dict[Any, list[int]] = {}
    for mid, info in meta.items():
        if not info["manual"]:
            peers.setdefault(info["ids"]["company_id"], []).append(mid)
    out: dict[int, dict[str, Check]] = {}
    for mid, info in meta.items():
        r, m, text = info["row"], info["message"], texts[mid]
        checks: dict[str, Check] = {}
        lang, words = detect_language(text)
        inq_lang = detect_language(info["inquiry"])[0] or study.language
        checks["language"] = Check(
            "language", None if lang is None else lang == inq_lang,
            f"reply {lang or '?'} ({', '.join(words)}), inquiry {inq_lang}")
        try:
            persona = study.persona(r["persona_id"])
        except StopIteration:
            persona = None
        greet = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        checks["salutation"] = Check("salutation", bool(persona and personal_salutation(
            text, persona)), greet[:120])
        checks["template"] = _template(mid, info, text, grams, meta, study,
                                       checks["salutation"].value,
                                       peers.get(info["ids"]["company_id"], []))
        checks["signed"] = signed_by_person(text)
        checks["ticket"] = ticket_reference(text, m.get("subject") or "")
        checks["readability"] = readability(text, lang or study.language)
        if info["manual"]:
            for name in ("salutation", "signed", "ticket"):
                checks[name] = Check(name, None, "not judged for a tester's notes")
        out[mid] = checks
    return out


def _template(mid: int, info: dict[str, Any], text: str,
              grams: dict[int, set[tuple[str, ...]]], meta: dict[int, dict[str, Any]],
              study: Study, personal: bool, peers: list[int]) -> Check:
    r = info["row"]
    if info["manual"]:
        return Check("template", None, "not judged for a tester's notes")
    best, best_id = 0.0, None
    mine = info["ids"]
    for other in peers:
        orow = meta[other]["ids"]
        if other == mid:
            continue
        sim = similarity(grams[mid], grams[other])
        if orow["scenario_id"] == mine["scenario_id"]:
            # the same question may well get the same facts: only a reply copied word for
            # word, not even greeting this persona by name, counts as a template
            if orow["persona_id"] == mine["persona_id"] or sim < SAME_TEXT or personal:
                continue
        elif sim < DUPLICATE_THRESHOLD:
            continue
        rank = sim + (0.001 if orow["scenario_id"] != mine["scenario_id"] else 0.0)
        if rank > best:
            best, best_id = rank, other
    found = []
    if best_id is not None:
        o = meta[best_id]["ids"]
        found.append(f"{min(best, 1.0):.0%} the same as the reply (message #{best_id}) to "
                     f"scenario {o['scenario_id']}, persona {o['persona_id']}, channel "
                     f"{o['channel']}: '{_snippet(text)}'")
    pointer = _POINTER_RX.search(text)
    n_facts = len(study.scenario(r["scenario_id"]).expect) if r["scenario_id"] in {
        s.id for s in study.scenarios} else 0
    if pointer and n_facts and not r["checklist_found"]:
        found.append(f"points elsewhere ('{pointer.group(0)}') and covers none of the "
                     f"{n_facts} checklist facts")
    return Check("template", bool(found), "; ".join(found))


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def refresh_checks(study: Study, store: Store, now: datetime | None = None,
                   replies: pd.DataFrame | None = None) -> dict[int, dict[str, Check]]:
    """Compute the automatic criteria and store those that are new or changed (a report on
    an unchanged study writes nothing, so it does not wait for a running collect's lock)."""
    checks = compute_checks(study, store, now, replies)
    stamp = utc_iso(now or datetime.now(UTC))
    rows = {r["id"]: r for r in store.messages()}
    keys = {mid: message_key(rows[mid]) for mid in checks}
    stored = {(c["message_key"], c["check_name"]): (c["message_id"], c["value"], c["evidence"])
              for c in select_in(store, "SELECT * FROM reply_checks WHERE message_key IN ({})",
                                 list(set(keys.values())))}
    todo = [(keys[mid], mid, c) for mid, cs in checks.items() for c in cs.values()
            if stored.get((keys[mid], c.name)) != (mid, json.dumps(c.value), c.evidence)]
    if not todo:
        return checks
    with store.transaction() as db:
        for key, mid, c in todo:
            db.execute("INSERT INTO reply_checks (message_key, message_id, check_name,"
                       " value, evidence, computed_at) VALUES (?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT(message_key, check_name) DO UPDATE SET"
                       " message_id=excluded.message_id, value=excluded.value,"
                       " evidence=excluded.evidence, computed_at=excluded.computed_at",
                       (key, mid, c.name, json.dumps(c.value), c.evidence, stamp))
    return checks


def checks_for(store: Store, message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Stored automatic criteria per message id, for exports, the report and company
    profiles: ``{message_id: [{check, value, evidence}, ...]}`` in :data:`CHECKS` order."""
    ids = [int(i) for i in message_ids]
    if not ids:
        return {}
    rows = {r["id"]: r for r in select_in(store, "SELECT * FROM messages WHERE id IN ({})",
                                          ids)}
    keys = {message_key(r): mid for mid, r in rows.items()}
    out: dict[int, list[dict[str, Any]]] = {mid: [] for mid in rows}
    if not keys:
        return out
    for c in select_in(store, "SELECT * FROM reply_checks WHERE message_key IN ({})",
                       list(keys)):
        out[keys[c["message_key"]]].append({"check": c["check_name"],
                                            "value": json.loads(c["value"] or "null"),
                                            "evidence": c["evidence"]})
    for lst in out.values():
        lst.sort(key=lambda d: CHECKS.index(d["check"]) if d["check"] in CHECKS else 99)
    return out
