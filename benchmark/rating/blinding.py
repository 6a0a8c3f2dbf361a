"""Blinding replies for raters, and removing the quotes of our own inquiry.

Raters must not know which company answered. :class:`Blinder` replaces, wherever they occur
as whole words (case- and umlaut-tolerant): company names (also without the legal form and
with CamelCase split), company ids, product and brand names (``companies[].brands``), the
companies' domains, social handles and phone numbers, and any email address, URL, domain or
phone number; and, in the signature (after a closing such as "Kind regards"), every line
naming a team, department or legal entity. All companies get the same neutral label, so the
label itself tells nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..study import Study

LABELS = {
    "en": {"company": "[COMPANY]", "email": "[email]", "link": "[link]", "domain": "[domain]",
           "phone": "[phone]", "handle": "[account]"},
    "de": {"company": "[UNTERNEHMEN]", "email": "[E-Mail]", "link": "[Link]",
           "domain": "[Domain]", "phone": "[Telefon]", "handle": "[Konto]"},
}
LEGAL_FORMS = (r"GmbH & Co\.? KG|GmbH|gGmbH|AG|KG|KGaA|OHG|SE|UG|e\.\s?V\.|Ltd\.?|Limited|"
               r"Inc\.?|LLC|plc|Corp\.?|S\.A\.|B\.V\.|N\.V\.|S\.p\.A\.|Co\.")
_LEGAL_RX = re.compile(rf"\s*,?\s*(?:&\s*(?:Co\.?|Söhne|Sons)\s*)?(?:{LEGAL_FORMS})\s*$")
_LEGAL_WORD = re.compile(rf"(?<!\w)(?:{LEGAL_FORMS})(?!\w)")
GENERIC_LABELS = {"www", "mail", "mx", "smtp", "service", "support", "help", "hilfe", "info",
                  "kontakt", "contact", "kundenservice", "team", "social", "api", "app", "com",
                  "de", "net", "org", "test", "sandbox", "example", "co", "uk", "eu"}
EMAIL_RX = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
URL_RX = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
DOMAIN_RX = re.compile(r"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                       r"(?:[a-z]{2,12})(?![\w@-])", re.IGNORECASE)
PHONE_RX = re.compile(r"(?<![\w+])\+?\d[\d\s()/.-]{6,}\d(?!\w)")
HANDLE_RX = re.compile(r"(?<![\w@])@[A-Za-z0-9_.-]{2,}(?:@[\w.-]+)?")
CLOSING_RX = re.compile(
    r"^(?:(?:mit |viele |beste |liebe |herzliche |freundliche |freundlichen |besten |"
    r"herzlichen )+(?:grüße|gruß|grüßen)|grüße|gruß|mfg|(?:best |kind |warm |many |kindest )?"
    r"regards|best wishes|all the best|cheers|sincerely|yours sincerely|yours faithfully|"
    r"thanks|thank you|vielen dank|danke)\b", re.IGNORECASE)
TEAM_RX = re.compile(r"(?<!\w)(?:team|kundenservice|kundendienst|kundenbetreuung|service|"
                     r"support|customer care|customer service|abteilung|department|helpdesk|"
                     r"hotline)(?!\w)", re.IGNORECASE)
QUOTE_HEAD_RX = re.compile(
    r"^(?:On .{2,150}(?:wrote|schrieb):?|Am .{2,150}schrieb.{0,80}:?|.{2,80} (?:wrote|schrieb):"
    r"|-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht)\s*-{2,}"
    r"|(?:From|Von):\s?\S.*)$", re.IGNORECASE)
REPLY_MARKER_RX = re.compile(r"^#+-.*(?:reply above|oberhalb).*-#+$", re.IGNORECASE)
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                          "Ü": "Ue"})


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(_UMLAUTS)).strip().casefold()


def strip_inquiry_quotes(reply: str, inquiry: str = "") -> str:
    """The reply without the quoted inquiry: ``>`` lines, everything from an "On ... wrote:" /
    "Original Message" / "From:" header on, helpdesk reply markers, and lines that repeat a
    sentence of the inquiry word for word."""
    inq = _fold(inquiry)
    out: list[str] = []
    for line in (reply or "").splitlines():
        s = line.strip()
        if REPLY_MARKER_RX.match(s):
            continue
        if QUOTE_HEAD_RX.match(s) and out:
            break
        if s.startswith(">"):
            continue
        if inq and len(s) >= 25 and _fold(s) in inq:
            continue
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _name_variants(name: str) -> set[str]:
    out = {name.strip()}
    for bare in (_LEGAL_RX.sub("", name).strip(" ,"),
                 re.sub(rf"\s*,?\s*(?:{LEGAL_FORMS})\s*$", "", name).strip(" ,")):
        if len(bare) >= 3:
            out.add(bare)
    for v in list(out):
        split = re.sub(r"(?<=[a-zäöü])(?=[A-ZÄÖÜ])", " ", v)
        out |= {split, v.translate(_UMLAUTS), split.translate(_UMLAUTS),
                v.replace(" ", ""), v.replace(" ", "-")}
    return {v for v in out if len(v) >= 2}


def _hosts(value: Any) -> set[str]:
    """Domains and handles named in a channel target (address, URL, handle or mapping)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            out |= _hosts(v)
    elif isinstance(value, list):
        for v in value:
            out |= _hosts(v)
    elif isinstance(value, str):
        for part in re.split(r"[\s,]+", value):
            if "://" in part:
                host = urlparse(part).hostname or ""
                if host and not re.fullmatch(r"[\d.]+|localhost", host):
                    out.add(host)
            elif "@" in part:
                out |= {p for p in part.split("@") if "." in p}
                out |= {p for p in part.lstrip("@").split("@")[:1] if p}
            elif "." in part and not re.fullmatch(r"[\d\s()+/.-]+", part):
                out.add(part)
            elif part.startswith("@"):
                out.add(part[1:])
    return {h.strip().lower() for h in out if len(h.strip()) >= 3 and "${" not in h}


@dataclass
class Blinder:
    terms: list[str]  # names, ids, brands, handles: replaced by the company label
    domains: list[str]
    phones: list[str] = field(default_factory=list)
    language: str = "en"

    @classmethod
    def for_study(cls, study: Study) -> Blinder:
        terms: set[str] = set()
        domains: set[str] = set()
        phones: set[str] = set()
        for c in study.companies:
            terms |= _name_variants(c.name)
            for b in c.brands:
                terms |= _name_variants(b)
            terms |= {c.id, c.id.replace("-", " "), c.id.replace("_", " ")}
            hosts = set(c.domains)
            for name, target in c.channels.items():
                if name in ("phone",):
                    num = target.get("number") if isinstance(target, dict) else target
                    phones.add(re.sub(r"\D", "", str(num)))
                    continue
                hosts |= _hosts(target)
            for h in hosts:
                if "." in h:
                    domains.add(h)
                    labels = [x for x in h.split(".") if x not in GENERIC_LABELS]
                    if labels and len(labels[0]) >= 4:
                        terms.add(labels[0])
                else:
                    terms.add(h)
        terms = {t for t in terms if len(t.strip()) >= 2 and t.lower() not in GENERIC_LABELS}
        return cls(sorted(terms, key=len, reverse=True), sorted(domains, key=len, reverse=True),
                   sorted(p for p in phones if len(p) >= 5), study.language)

    @property
    def labels(self) -> dict[str, str]:
        return LABELS.get(self.language, LABELS["en"])

    def _term_rx(self) -> re.Pattern[str] | None:
        if not self.terms:
            return None
        parts = []
        for t in self.terms:
            parts.append(_umlaut_tolerant(re.escape(t).replace(r"\ ", r"[\s-]*")))
        return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)

    def blind(self, text: str) -> str:
        """``text`` with every company trace replaced by a neutral label."""
        lab = self.labels
        text = URL_RX.sub(lab["link"], text or "")
        text = EMAIL_RX.sub(lab["email"], text)
        for d in self.domains:
            text = re.sub(rf"(?<![\w.-]){re.escape(d)}(?![\w-])", lab["domain"], text,
                          flags=re.IGNORECASE)
        text = DOMAIN_RX.sub(lambda m: m.group(0) if _not_a_domain(m.group(0)) else
                             lab["domain"], text)
        text = HANDLE_RX.sub(lab["handle"], text)
        text = PHONE_RX.sub(lab["phone"], text)
        rx = self._term_rx()
        if rx is not None:
            text = rx.sub(lab["company"], text)
        return self._signature(text)

    def _signature(self, text: str) -> str:
        lines = text.splitlines()
        start = next((i for i, ln in enumerate(lines) if CLOSING_RX.match(ln.strip())), None)
        if start is None:
            start = max(0, len(lines) - 4)
        lab = self.labels["company"]
        for i in range(start + 1, len(lines)):
            s = lines[i].strip()
            if s and (TEAM_RX.search(s) or _LEGAL_WORD.search(s)) and s != lab:
                lines[i] = lab
        return "\n".join(lines)


def _umlaut_tolerant(pattern: str) -> str:
    """ä matches ae and the other way round (also ö/oe, ü/ue, ß/ss)."""
    pairs = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
    rx = re.compile("|".join([*pairs, *pairs.values()]))
    back = {v: k for k, v in pairs.items()}
    return rx.sub(lambda m: f"(?:{m.group(0)}|{pairs.get(m.group(0)) or back[m.group(0)]})",
                  pattern)


def _not_a_domain(token: str) -> bool:
    """Abbreviations such as z.B. or e.g. look like domains to the pattern."""
    labels = token.lower().split(".")
    return len(labels[-1]) < 2 or all(len(x) <= 2 for x in labels) or labels[-1] in {
        "b", "d", "h", "a", "g", "ä"}
