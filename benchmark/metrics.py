"""Per-probe outcomes, and the public face of the figures.

The docstrings of the public functions state the rules; the report's methods section
quotes them, so change rule and docstring together. Text rules live in
:mod:`.textrules`, statistics in :mod:`.intervals`, tables in :mod:`.tables`, the index in
:mod:`.scoring`; their public names are re-exported here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .channels import registry
from .clock import parse_utc
from .intervals import (  # noqa: F401  (re-exported)
    Curve,
    SurvivalCurve,
    kaplan_meier,
    km_quantile,
    km_share_within,
    km_survival,
    wilson,
)
from .rating.overrides import effective_messages
from .store import Store
from .study import Fact, Persona, Study
from .tables import (  # noqa: F401  (re-exported)
    ALL_CHANNELS,
    CHANNEL_COLUMNS,
    COMPANY_COLUMNS,
    HOUR,
    WITHIN,
    channel_table,
    company_table,
    human_curve,
    survival_curve,
)
from .textrules import (  # noqa: F401  (re-exported)
    NEGATIONS,
    checklist,
    normalize,
    personal_salutation,
    phrase_in,
)

REPLY_KINDS = ("automated", "human")
OUTCOMES = ("answered", "not_answered", "pending", "failed", "blocked", "bounced")

OUTCOME_COLUMNS = [
    "probe_id", "company_id", "company", "channel", "scenario_id", "persona_id", "wave",
    "state", "outcome", "sent_at", "sent_time_source", "window_ends_at", "first_reply_at",
    "first_reply_kind", "first_human_reply_at", "seconds_to_first_reply",
    "seconds_to_first_human_reply", "acknowledged", "bounced", "n_messages", "n_late", "kinds",
    "censored", "window_closed", "observed_seconds", "n_facts", "checklist_found",
    "checklist_coverage", "greeting_applies", "personal_salutation", "first_human_message_id",
    "message_ids", "evidence", "text_sent",
]
TIME_COLUMNS = ["sent_at", "window_ends_at", "first_reply_at", "first_human_reply_at"]


def _reasons(value: str | None) -> list[str]:
    try:
        data = json.loads(value) if value else []
    except ValueError:
        return [str(value)]
    return [str(x) for x in data] if isinstance(data, list) else [str(data)]


def _is_manual(channel: str) -> bool:
    cls = registry().get(channel)
    return cls is not None and getattr(cls, "kind", "") == "manual"


def probe_outcomes(study: Study, store: Store, now: datetime) -> pd.DataFrame:
    """One row per probe (see ``OUTCOME_COLUMNS``); ``now`` is the cut-off.

    Outcome rules: every probe has exactly one outcome. Failed (also a send whose result is
    unknown, or a skipped one), blocked (a captcha or the site refused the form) and pending
    (not yet sent at the cut-off) come from the probe's state. A sent probe's window ends at
    ``window_ends_at`` (or sent_at + the study window; for phone, chat and visit the
    abandonment limit). Only messages matched to the probe and received at or before
    min(cut-off, window end) count; later ones are counted in ``n_late`` only. A message's
    kind is the latest decision of a person (servicebench review / reclassify) where there
    is one, else the classifier's. Replies are messages of kind ``automated`` or ``human``;
    bounces and unrelated messages are not replies. Answered: a human reply in the window
    (for phone, chat and visit: a person reached within the abandonment limit). Bounced: no
    human reply but a bounce (the address does not work). Not answered: no human reply and
    the window closed at the cut-off. Pending: no human reply yet and the window still open
    at the cut-off; a phone call, chat or visit that reached nobody is not answered, never
    pending. A probe without a human reply is censored at the window end, or at the cut-off
    while the window is open, and ``observed_seconds`` is the time to that point (otherwise
    the time to the first human reply; a reply stamped before sent_at through clock skew
    counts as 0 s). ``acknowledged`` means an automated reply came before any human one.
    Checklist and salutation are judged on the first human reply's text only; the salutation
    does not apply (None) to phone, chat and visit unless the tester logged it.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    companies = {c.id: c.name for c in study.companies}
    manual: dict[str, bool] = {}
    rows: list[dict[str, Any]] = []
    for p in store.probes():
        ch = p["channel"]
        if ch not in manual:
            manual[ch] = _is_manual(ch)
        rows.append(_outcome(study, store, dict(p), companies, now, manual[ch]))
    df = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    for col in TIME_COLUMNS:
        df[col] = pd.to_datetime(df[col], utc=True)
    df["first_human_message_id"] = df["first_human_message_id"].astype("Int64")
    return df


_STATE_OUTCOME = {"failed": "failed", "unknown": "failed", "skipped": "failed",
                  "blocked": "blocked", "planned": "pending", "sending": "pending"}


def _outcome(study: Study, store: Store, p: dict[str, Any], companies: dict[str, str],
             now: datetime, manual: bool) -> dict[str, Any]:
    evidence = [e["path"] for e in store.evidence_for(p["id"])]
    facts = _scenario_facts(study, p["scenario_id"])
    detail = _detail(p.get("detail"))
    logged_greeting = _logged_greeting(detail)
    row: dict[str, Any] = {
        "probe_id": p["id"], "company_id": p["company_id"],
        "company": companies.get(p["company_id"], p["company_id"]), "channel": p["channel"],
        "scenario_id": p["scenario_id"], "persona_id": p["persona_id"], "wave": p["wave"],
        "state": p["state"], "outcome": _STATE_OUTCOME.get(p["state"], "failed"),
        "sent_at": None, "sent_time_source": p["sent_time_source"],
        "window_ends_at": None, "first_reply_at": None, "first_reply_kind": None,
        "first_human_reply_at": None, "seconds_to_first_reply": None,
        "seconds_to_first_human_reply": None, "acknowledged": None, "bounced": None,
        "n_messages": 0, "n_late": 0, "kinds": "", "censored": None, "window_closed": None,
        "observed_seconds": None, "n_facts": len(facts), "checklist_found": [],
        "checklist_coverage": None,
        "greeting_applies": (not manual) or logged_greeting is not None,
        "personal_salutation": None, "first_human_message_id": None, "message_ids": [],
        "evidence": evidence,
        # which text went out where a channel may take the scenario's short one instead of
        # the body (a contact form whose message field does not take it all): full / short
        "text_sent": detail.get("message_text") if detail.get("message_text") in (
            "full", "short") else None,
    }
    sent_at = parse_utc(p["sent_at"])
    if p["state"] != "sent" or sent_at is None:
        return row
    if sent_at > now:  # sent after the cut-off: at the cut-off it was still to come
        row["outcome"] = "pending"
        return row
    window_end = parse_utc(p["window_ends_at"]) or sent_at + study.window
    cutoff = min(now, window_end)
    counted, late = [], 0
    # the effective kind: a person's decision (servicebench review/reclassify) wins
    for m in effective_messages(store, store.messages(probe_id=p["id"])):
        at = parse_utc(m["received_at"])
        if at is None or at > cutoff:
            late += 1
            continue
        counted.append((at, dict(m)))
    counted.sort(key=lambda x: (x[0], x[1]["id"]))

    def secs(at: datetime) -> float:
        return max(0.0, (at - sent_at).total_seconds())

    replies = [(at, m) for at, m in counted if m["kind"] in REPLY_KINDS]
    humans = [(at, m) for at, m in replies if m["kind"] == "human"]
    first_reply = replies[0] if replies else None
    first_human = humans[0] if humans else None
    human_at = first_human[0] if first_human else None
    closed = now >= window_end
    bounced = any(m["kind"] == "bounce" for _, m in counted)
    if first_human:
        outcome = "answered"
    elif bounced:
        outcome = "bounced"
    elif closed or manual:
        outcome = "not_answered"
    else:
        outcome = "pending"
    row.update({
        "outcome": outcome, "sent_at": sent_at, "window_ends_at": window_end,
        "acknowledged": any(m["kind"] == "automated" and (human_at is None or at < human_at)
                            for at, m in replies),
        "bounced": bounced, "n_messages": len(counted), "n_late": late,
        "kinds": ",".join(m["kind"] or "unclassified" for _, m in counted),
        "window_closed": closed or manual, "censored": first_human is None,
        "message_ids": [m["id"] for _, m in counted],
        "evidence": evidence + [m["evidence"] for _, m in counted if m["evidence"]],
    })
    if first_reply:
        row.update(first_reply_at=first_reply[0], first_reply_kind=first_reply[1]["kind"],
                   seconds_to_first_reply=secs(first_reply[0]))
    if first_human:
        at, m = first_human
        text = m["text"] or ""
        row.update(first_human_reply_at=at, seconds_to_first_human_reply=secs(at),
                   observed_seconds=secs(at), first_human_message_id=m["id"])
        row["checklist_found"] = checklist(text, facts)
        row["checklist_coverage"] = (len(row["checklist_found"]) / len(facts)) if facts else None
        if manual:
            row["personal_salutation"] = logged_greeting
        else:
            persona = _persona(study, p["persona_id"])
            row["personal_salutation"] = personal_salutation(text, persona) if persona else None
    else:
        row["observed_seconds"] = secs(cutoff)
    return row


def _detail(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _logged_greeting(data: dict[str, Any]) -> bool | None:
    """A tester's own judgement of the greeting (``greeting`` in the logged contact)."""
    log = data.get("log")
    value = log.get("greeting") if isinstance(log, dict) else None
    return value if isinstance(value, bool) else None


def _scenario_facts(study: Study, scenario_id: str) -> list[Fact]:
    try:
        return list(study.scenario(scenario_id).expect)
    except StopIteration:
        return []


def _persona(study: Study, persona_id: str) -> Persona | None:
    try:
        return study.persona(persona_id)
    except StopIteration:
        return None


def message_reasons(row: dict[str, Any]) -> list[str]:
    """The classification reasons stored with a message row."""
    return _reasons(row.get("reasons"))
