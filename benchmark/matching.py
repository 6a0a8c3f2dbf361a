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

from .mailparse import addresses, body_text, header, message_ids, raw_header
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
    pos: int = 0  # position in the index: ties and ambiguity lists keep probe order


#: words per quote fingerprint (a shingle of consecutive whole words inside a key)
SHINGLE = 3
_BRACKETED_ID = re.compile(r"<[^<>\s]+>")
_RAW_IDS = re.compile(rb"<[^<>\s]+>")


def _interior(key: str) -> list[str]:
    """The words of a key that are whole words wherever the key occurs in a text: all but
    the first and last (a key may start or end inside a word of the text)."""
    return key.split(" ")[1:-1]


def _shingles(words: list[str], n: int = SHINGLE) -> list[str]:
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


class ProbeIndex:
    """An index of probes for matching; build once per collect run.

    Every rule is a dictionary lookup, so matching one message costs the same whatever the
    number of probes: Message-IDs and reply addresses are keys; a probe's Message-ID quoted
    in a message is found by looking up each ``<...>`` token of the raw bytes; quoted text
    is found by fingerprints of the quote keys (the rarest run of whole words inside each
    key, looked up among the runs of words of the message's text, then confirmed by the
    substring test); subjects are grouped per sender domain.
    """

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
                       [k for k in detail.get("quote_keys") or [] if isinstance(k, str) and k],
                       domains, len(self.probes))
            self.probes.append(p)
            if p.reply_address:
                address_count[p.reply_address] = address_count.get(p.reply_address, 0) + 1
        self.by_id = {p.message_id: p for p in self.probes if p.message_id}
        self.by_address = {p.reply_address: p for p in self.probes
                           if p.reply_address and address_count[p.reply_address] == 1}
        # rule 3: ids are found by their <...> token; any other form is searched for
        self._id_rank = {mid: i for i, mid in enumerate(self.by_id)}
        self._odd_ids = [mid for mid in self.by_id if not _BRACKETED_ID.fullmatch(mid)]
        # rule 4: quote key -> probes (and per sender domain), fingerprints -> keys
        self._key_probes: dict[str, list[_Probe]] = {}
        self._key_domain: dict[tuple[str, str], list[_Probe]] = {}
        for p in self.probes:
            for k in dict.fromkeys(p.keys):
                self._key_probes.setdefault(k, []).append(p)
                for d in p.domains:
                    self._key_domain.setdefault((k, d), []).append(p)
        self._by_shingle: dict[str, list[str]] = {}
        self._by_word: dict[str, list[str]] = {}
        self._unindexed: list[str] = []
        self._index_keys(list(self._key_probes))
        # rule 5: sender domain -> cleaned subject -> probes
        self._subjects: dict[str, dict[str, list[_Probe]]] = {}
        for p in self.probes:
            if p.subject:
                for d in p.domains:
                    self._subjects.setdefault(d, {}).setdefault(p.subject, []).append(p)

    def _index_keys(self, keys: list[str]) -> None:
        """File each key under its most distinctive fingerprint: the run of SHINGLE whole
        words shared by the fewest keys (longest on ties); a key too short for one under its
        longest whole word; a key without whole words is checked on every message."""
        freq: dict[str, int] = {}
        for k in keys:
            for s in set(_shingles(_interior(k))):
                freq[s] = freq.get(s, 0) + 1
        for k in keys:
            inner = _interior(k)
            shingles = _shingles(inner)
            if shingles:
                best = min(shingles, key=lambda s: (freq[s], -len(s)))
                self._by_shingle.setdefault(best, []).append(k)
            elif any(inner):
                self._by_word.setdefault(max(inner, key=len), []).append(k)
            else:
                self._unindexed.append(k)

    def _quoted_keys(self, text: str) -> list[str]:
        """The quote keys that occur in ``text`` (normalized)."""
        if not self._key_probes:
            return []
        words = text.split(" ")
        cands: list[str] = list(self._unindexed)
        if self._by_shingle:
            for s in set(_shingles(words)):
                cands += self._by_shingle.get(s, ())
        if self._by_word:
            for w in set(words):
                cands += self._by_word.get(w, ())
        return [k for k in dict.fromkeys(cands) if k in text]

    def _quoted_probes(self, keys: list[str], sdomain: str) -> list[_Probe]:
        """The probes whose text is quoted; more than one narrowed to the sender's domain
        where that leaves any (as a scan over all probes would decide)."""
        lists = [self._key_probes[k] for k in keys]
        first = lists[0][0] if lists else None
        if all(len(lst) == 1 and lst[0] is first for lst in lists):
            return [first] if first is not None else []
        if sdomain:
            narrowed = {p.pos: p for k in keys for p in self._key_domain.get((k, sdomain), ())}
            if narrowed:
                return [narrowed[i] for i in sorted(narrowed)]
        every = {p.pos: p for lst in lists for p in lst}
        return [every[i] for i in sorted(every)]

    def _quoted_id(self, raw: bytes, own_ids: set[str]) -> tuple[str, _Probe] | None:
        """The first probe (in index order) whose Message-ID the raw message contains."""
        found: list[str] = []
        for tok in set(_RAW_IDS.findall(raw)):
            mid = tok.decode("utf-8", errors="replace")
            if mid in self.by_id and mid not in own_ids:
                found.append(mid)
        found += [mid for mid in self._odd_ids if mid not in own_ids and mid.encode() in raw]
        if not found:
            return None
        mid = min(found, key=self._id_rank.__getitem__)
        return mid, self.by_id[mid]

    def match(self, msg: Message, raw: bytes, text: str | None = None
              ) -> tuple[int | None, str | None, str]:
        """Return (probe id, rule, note) for a parsed message (``text``: its
        :func:`body_text`, if the caller has it already)."""
        for hdr, rule in (("In-Reply-To", "in-reply-to"), ("References", "references")):
            for mid in reversed(message_ids(raw_header(msg, hdr))):
                if mid in self.by_id:
                    return self.by_id[mid].id, rule, f"{hdr} names {mid}"
        rcpts = []
        for h in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
            rcpts += addresses(msg, h)
        for a in rcpts:
            if a in self.by_address:
                return self.by_address[a].id, "address", f"sent to {a}"
        if self.by_id:
            hit = self._quoted_id(raw, set(message_ids(raw_header(msg, "Message-ID"))))
            if hit is not None:
                return hit[1].id, "original-id", f"contains {hit[0]}"
        sender = (addresses(msg, "From") or [""])[0]
        sdomain = domain_of(sender) if sender else ""
        keys = self._quoted_keys(normalize(body_text(msg) if text is None else text))
        quoted = self._quoted_probes(keys, sdomain) if keys else []
        if len(quoted) == 1:
            return quoted[0].id, "quote", "quotes the probe's text"
        if len(quoted) > 1:
            ids = ", ".join(str(p.id) for p in quoted)
            return None, None, f"ambiguous: quotes the text of probes {ids}"
        subject = clean_subject(header(msg, "Subject"))
        if sdomain and subject:
            found = {p.pos: p for s, ps in self._subjects.get(sdomain, {}).items()
                     if s in subject for p in ps}
            cands = [found[i] for i in sorted(found)]
            if len(cands) == 1:
                return cands[0].id, "subject+sender", f"from {sdomain}, subject matches"
            if len(cands) > 1:
                ids = ", ".join(str(p.id) for p in cands)
                return None, None, f"ambiguous: subject and sender fit probes {ids}"
        return None, None, "no rule matched"
