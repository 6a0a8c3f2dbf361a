"""Storing a received email: raw evidence first, then parse, match, classify, record.

Used by the email channel's IMAP sync and by ``servicebench inbox import`` alike. The raw
bytes are written before anything is parsed, so a message that breaks the parser is still
kept, byte for byte.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .budget import BudgetExceeded, time_budget
from .clock import parse_utc, utc_iso
from .mailparse import body_text, date_header, header, parse_message, received_dates
from .matching import ProbeIndex
from .store import Store
from .study import Study

#: stored among a message's reasons when the classifier's call was close (read by
#: servicebench.rating.overrides.is_uncertain until messages.uncertain exists)
UNCERTAIN_REASON = "uncertain: automated and human evidence are close; worth a look"
MESSAGE_BUDGET_SECONDS = 5.0  # parse + match + classify of one message, at most


def message_time(internaldate: datetime | None, msg: Any) -> tuple[datetime | None, str]:
    """The server's receive time: IMAP INTERNALDATE, else the newest Received header, else
    the sender's Date header (least trusted)."""
    if internaldate is not None:
        return internaldate, "imap-internaldate"
    rec = received_dates(msg)
    if rec:
        return rec[0], "received-header"
    d = date_header(msg)
    return (d, "date-header") if d else (None, "none")


def ingest_email(study: Study, store: Store, index: ProbeIndex, raw: bytes, *, source: str,
                 external_id: str, internaldate: datetime | None, now: datetime,
                 evidence_name: str, folder: str | None = None,
                 in_spam: bool = False) -> dict[str, Any] | None:
    """Store one received message. Returns the stored row, or None if it was known.

    ``folder``: the IMAP folder it was found in; ``in_spam``: that folder is the spam
    folder (the reply reached the shopper only if they looked there)."""
    if store.has_message("email", source, external_id):
        return None
    ev = store.write_evidence(f"inbox/{evidence_name}", raw)
    base = {"channel": "email", "source": source, "external_id": external_id,
            "evidence": ev.path, "fetched_at": utc_iso(now),
            "folder": folder, "in_spam": int(bool(in_spam))}
    try:
        with time_budget(MESSAGE_BUDGET_SECONDS, "processing the message"):
            row = {**base, **_process(study, store, index, raw, internaldate)}
    except (BudgetExceeded, Exception) as exc:  # noqa: BLE001 - one message never stops the rest
        row = {**base, **_fallback(raw, internaldate), "kind": None,
               "reasons": [f"not processed: {type(exc).__name__}: {exc}"[:500]],
               "problem": f"{type(exc).__name__}: {exc}"[:500]}
    store.insert_message(row)
    return row


def _process(study: Study, store: Store, index: ProbeIndex, raw: bytes,
             internaldate: datetime | None) -> dict[str, Any]:
    """Parse, match and classify one message (the part that hostile input could slow)."""
    msg = parse_message(raw)
    text = body_text(msg)
    probe_id, rule, note = index.match(msg, raw, text)
    probe_text, persona_name, sent_at = None, None, None
    when, time_source = message_time(internaldate, msg)
    if probe_id is not None:
        probe = store.probe(probe_id)
        sent_at = parse_utc(probe["sent_at"])
        detail = json.loads(probe["detail"] or "{}")
        probe_text = detail.get("body")
        try:
            persona_name = study.persona(probe["persona_id"]).name
        except StopIteration:
            persona_name = None
    from .classify import classify_message

    cls = classify_message(raw, replies_to_probe=rule in ("in-reply-to", "references", "address",
                                                          "quote"),
                           matched=probe_id is not None, probe_text=probe_text,
                           persona_name=persona_name,
                           response_seconds=(when - sent_at).total_seconds()
                           if when and sent_at else None, parsed=msg)
    reasons = list(cls.reasons)
    if cls.uncertain:
        reasons.append(UNCERTAIN_REASON)
    reasons.append(f"match: {rule or 'none'} ({note})")
    return {
        "message_id": header(msg, "Message-ID")[:500] or None,
        "probe_id": probe_id, "match_method": rule,
        "received_at": utc_iso(when) if when else None, "time_source": time_source,
        "sender": header(msg, "From")[:500], "subject": header(msg, "Subject")[:500],
        "text": text[:100_000], "kind": cls.kind, "reasons": reasons,
        "uncertain": cls.uncertain, "probabilities": cls.probabilities,
    }


def _fallback(raw: bytes, internaldate: datetime | None) -> dict[str, Any]:
    """What can be said of a message that could not be processed: its server time and the
    raw From/Subject lines (no MIME decoding), so that it can be listed and assigned."""
    head = raw[:64_000].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    fields: dict[str, str] = {}
    for line in head.splitlines()[:400]:
        name, sep, value = line.partition(b":")
        key = name.strip().lower().decode("latin-1")
        if sep and key in ("from", "subject", "message-id") and key not in fields:
            fields[key] = value.strip().decode("utf-8", "replace")[:500]
    return {"message_id": fields.get("message-id") or None, "probe_id": None,
            "match_method": None,
            "received_at": utc_iso(internaldate) if internaldate else None,
            "time_source": "imap-internaldate" if internaldate else "none",
            "sender": fields.get("from", ""), "subject": fields.get("subject", ""),
            "text": ""}
