"""Human decisions on a message's kind, and the *effective* kind the metrics use.

The effective kind of a message is the latest human decision about it, if any, else the
classifier's. Decisions are keyed by a stable message key (the RFC Message-ID, else
channel|source|external id), not the row id, so they survive re-collection.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..classify import KINDS
from ..clock import utc_iso
from ..errors import ServicebenchError
from ..store import Store

DECISION_KINDS = KINDS  # human, automated, bounce, unrelated


CHUNK = 500  # values per SQL IN (...), well below SQLite's limit on parameters


def select_in(store: Store, sql: str, values: list[Any]) -> list[sqlite3.Row]:
    """``sql`` with one ``IN ({})`` filled for ``values``, queried in chunks."""
    out: list[sqlite3.Row] = []
    for i in range(0, len(values), CHUNK):
        part = values[i:i + CHUNK]
        out += store.query(sql.format(",".join("?" * len(part))), tuple(part))
    return out


def message_key(row: dict[str, Any] | sqlite3.Row) -> str:
    """A key that stays the same when a message is fetched and stored again."""
    mid = (row["message_id"] or "").strip() if "message_id" in row.keys() else ""
    if mid:
        return f"mid:{mid}"
    return f"ext:{row['channel']}|{row['source']}|{row['external_id']}"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def decisions(store: Store) -> dict[str, sqlite3.Row]:
    """The latest human decision per message key."""
    out: dict[str, sqlite3.Row] = {}
    for r in store.query("SELECT * FROM kind_decisions ORDER BY decided_at, id"):
        out[r["message_key"]] = r
    return out


def effective_messages(store: Store, rows: Iterable[sqlite3.Row | dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """Message rows as dicts whose ``kind`` is the effective kind; ``auto_kind`` keeps the
    classifier's and ``decided_by`` names the person who decided (None if nobody did)."""
    rows = [dict(r) for r in rows]
    if not rows:
        return rows
    keys = {message_key(r): r for r in rows}
    latest: dict[str, sqlite3.Row] = {}
    found = (store.query("SELECT * FROM kind_decisions ORDER BY decided_at, id")
             if len(keys) > CHUNK else
             select_in(store, "SELECT * FROM kind_decisions WHERE message_key IN ({})",
                       list(keys)))
    for d in sorted(found, key=lambda d: (d["decided_at"], d["id"])):
        latest[d["message_key"]] = d
    for r in rows:
        d = latest.get(message_key(r))
        r["auto_kind"] = r.get("kind")
        r["decided_by"] = d["decided_by"] if d else None
        r["decided_at"] = d["decided_at"] if d else None
        if d:
            r["kind"] = d["kind"]
    return rows


def decide(store: Store, message_id: int, kind: str, now: datetime, *, by: str | None = None,
           source: str = "reclassify", note: str = "") -> dict[str, Any]:
    """Record a person's decision on a message's kind; returns the message with it."""
    if kind not in DECISION_KINDS:
        raise ServicebenchError(f"unknown kind {kind!r}; use one of {', '.join(DECISION_KINDS)}")
    row = store.one("SELECT * FROM messages WHERE id = ?", (message_id,))
    if row is None:
        raise ServicebenchError(f"no message {message_id}; see: servicebench inbox")
    auto = row["kind"]
    store.db.execute(
        "INSERT INTO kind_decisions (message_key, message_id, auto_kind, kind, decided_by,"
        " decided_at, source, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message_key(row), message_id, auto, kind, by or current_user(), utc_iso(now), source,
         note or None))
    return effective_messages(store, [row])[0]


def is_uncertain(row: dict[str, Any]) -> bool:
    """Whether the classifier flagged the message as a close call.

    Reads ``messages.uncertain`` where the database has it (branch classifier's migration 4);
    otherwise the mark ``uncertain`` among the stored reasons."""
    if row.get("uncertain") is not None:
        return bool(row["uncertain"])
    try:
        reasons = json.loads(row.get("reasons") or "[]")
    except ValueError:
        return False
    return any(isinstance(r, str) and r.startswith("uncertain") for r in reasons)


def uncertain_messages(store: Store, *, undecided_only: bool = False) -> list[dict[str, Any]]:
    """Messages the classifier was unsure about (with effective kind), oldest first."""
    rows = [r for r in effective_messages(store, store.messages()) if is_uncertain(r)]
    if undecided_only:
        rows = [r for r in rows if r["decided_by"] is None]
    return rows


def review_summary(store: Store) -> dict[str, Any]:
    """How many classifications people confirmed or changed, and how often the classifier
    agreed with them (for the report's methods section)."""
    latest = decisions(store)
    confirmed = sum(1 for d in latest.values() if d["kind"] == d["auto_kind"])
    changed = len(latest) - confirmed
    n_uncertain = len(uncertain_messages(store))
    rater_checks = store.query(
        "SELECT r.value, m.kind FROM ratings r JOIN rating_items i ON i.item_id = r.item_id"
        " JOIN messages m ON m.id = i.message_id WHERE r.current = 1 AND"
        " r.criterion = 'check_kind'")
    agree = sum(1 for r in rater_checks if r["value"] == r["kind"])
    return {"n_decided": len(latest), "n_confirmed": confirmed, "n_changed": changed,
            "agreement": confirmed / len(latest) if latest else None,
            "n_uncertain": n_uncertain, "n_rater_checks": len(rater_checks),
            "rater_check_agreement": agree / len(rater_checks) if rater_checks else None,
            "changes": sorted({(d["auto_kind"] or "?", d["kind"]) for d in latest.values()
                               if d["kind"] != d["auto_kind"]})}
