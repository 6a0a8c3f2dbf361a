"""Matching received messages to the probes they answer.

Rules, strongest first (the first that gives exactly one probe wins; the rule is recorded):

1. ``in-reply-to`` / ``references``: the message's In-Reply-To or References header names
   a probe's Message-ID.
2. ``address``: the message was sent to a probe's own reply address (plus addressing).
3. ``original-id``: the probe's Message-ID appears in the message (bounces quote the
   undelivered message's headers).
4. ``quote``: the message quotes a distinctive sentence of the probe's text, for helpdesks
   that open a new thread from another address; ties are broken by the sender's domain.
5. ``subject+sender``: the sender's domain is the company's and the subject contains the
   scenario's subject.

Messages that match no probe (or more than one, equally well) stay unmatched and are listed
by ``servicebench inbox --unmatched``, where they can be assigned by hand.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from email.message import Message

from .mailparse import addresses, body_text, header, message_ids
from .study import Study


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s>|]+", " ", text).strip()


def quote_keys(body: str, n: int = 4, min_len: int = 40) -> list[str]:
    """Distinctive sentences of a probe's text, normalized, used to recognise quotes."""
    sentences = re.split(r"(?<=[.!?])\s+|\n{2,}", body)
    keys = [normalize(s) for s in sentences if len(normalize(s)) >= min_len]
    keys.sort(key=len, reverse=True)
    return [k[:120] for k in keys[:n]]


_SUBJECT_PREFIX = re.compile(r"^\s*((re|aw|wg|fw|fwd|antw|sv)\s*(\[\d+\])?\s*:\s*|\[[^\]]*\]\s*)+",
                             re.I)


def clean_subject(subject: str) -> str:
    return normalize(_SUBJECT_PREFIX.sub("", subject or ""))


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().strip(">")


@dataclass
class _Probe:
    id: int
    company_id: str
    scenario_id: str
    message_id: str | None
    reply_address: str | None
    subject: str
    keys: list[str]
    domains: set[str] = field(default_factory=set)


class ProbeIndex:
    """An index of probes for matching; build once per collect run."""

    def __init__(self, study: Study, rows: list[sqlite3.Row]) -> None:
        self.probes: list[_Probe] = []
        address_count: dict[str, int] = {}
        for r in rows:
            detail = json.loads(r["detail"]) if r["detail"] else {}
            try:
                company = study.company(r["company_id"])
            except StopIteration:
                continue
            domains = {d.lower() for d in company.domains}
            for cfg in company.channels.values():
                if isinstance(cfg, str) and "@" in cfg and not cfg.startswith("@"):
                    domains.add(domain_of(cfg))
                elif isinstance(cfg, dict) and "@" in str(cfg.get("address", "")):
                    domains.add(domain_of(str(cfg["address"])))
            p = _Probe(r["id"], r["company_id"], r["scenario_id"],
                       r["external_id"] if r["channel"] == "email" else detail.get("message_id"),
                       (r["reply_address"] or "").lower() or None,
                       clean_subject(detail.get("subject", "")),
                       detail.get("quote_keys", []), domains)
            self.probes.append(p)
            if p.reply_address:
                address_count[p.reply_address] = address_count.get(p.reply_address, 0) + 1
        self.by_id = {p.message_id: p for p in self.probes if p.message_id}
        self.by_address = {p.reply_address: p for p in self.probes
                           if p.reply_address and address_count[p.reply_address] == 1}

    def match(self, msg: Message, raw: bytes) -> tuple[int | None, str | None, str]:
        """Return (probe id, rule, note) for a parsed message."""
        for hdr, rule in (("In-Reply-To", "in-reply-to"), ("References", "references")):
            for mid in reversed(message_ids(header(msg, hdr))):
                if mid in self.by_id:
                    return self.by_id[mid].id, rule, f"{hdr} names {mid}"
        rcpts = []
        for h in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
            rcpts += addresses(msg, h)
        for a in rcpts:
            if a in self.by_address:
                return self.by_address[a].id, "address", f"sent to {a}"
        own_ids = set(message_ids(header(msg, "Message-ID")))
        for mid, p in self.by_id.items():
            if mid not in own_ids and mid.encode() in raw:
                return p.id, "original-id", f"contains {mid}"
        sender = (addresses(msg, "From") or [""])[0]
        sdomain = domain_of(sender) if sender else ""
        text = normalize(body_text(msg))
        quoted = [p for p in self.probes if any(k and k in text for k in p.keys)]
        if len(quoted) > 1 and sdomain:
            quoted = [p for p in quoted if sdomain in p.domains] or quoted
        if len(quoted) == 1:
            return quoted[0].id, "quote", "quotes the probe's text"
        if len(quoted) > 1:
            ids = ", ".join(str(p.id) for p in quoted)
            return None, None, f"ambiguous: quotes the text of probes {ids}"
        subject = clean_subject(header(msg, "Subject"))
        if sdomain and subject:
            cands = [p for p in self.probes
                     if sdomain in p.domains and p.subject and p.subject in subject]
            if len(cands) == 1:
                return cands[0].id, "subject+sender", f"from {sdomain}, subject matches"
            if len(cands) > 1:
                ids = ", ".join(str(p.id) for p in cands)
                return None, None, f"ambiguous: subject and sender fit probes {ids}"
        return None, None, "no rule matched"
