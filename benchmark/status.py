"""Per company and channel: where the probes stand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .clock import parse_utc
from .store import Store
from .study import Study

REPLY_KINDS = ("automated", "human")


def status_rows(study: Study, store: Store, now: datetime,
                wave: int | None = None) -> list[dict[str, Any]]:
    names = {c.id: c.name for c in study.companies}
    from .rating.overrides import effective_messages

    replied: dict[int, list[str]] = {}
    for m in effective_messages(store, store.query(  # a person's decision wins
            "SELECT * FROM messages WHERE probe_id IS NOT NULL")):
        replied.setdefault(m["probe_id"], []).append(m["kind"] or "")
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for p in store.probes():
        if wave is not None and p["wave"] != wave:
            continue
        key = (p["company_id"], p["channel"])
        row = table.setdefault(key, {
            "company": names.get(p["company_id"], p["company_id"]), "channel": p["channel"],
            "planned": 0, "sent": 0, "failed": 0, "blocked": 0, "unknown": 0, "replied": 0,
            "human": 0, "waiting": 0, "window_closed": 0})
        state = p["state"]
        if state in ("planned", "sending"):
            row["planned"] += 1
        elif state in row:
            row[state] += 1
        if state != "sent":
            continue
        kinds = replied.get(p["id"]) or []
        if any(k in REPLY_KINDS for k in kinds):
            row["replied"] += 1
        if "human" in kinds:
            row["human"] += 1
        end = parse_utc(p["window_ends_at"])
        if end is not None and end <= now:
            row["window_closed"] += 1
        elif "human" not in kinds:
            row["waiting"] += 1
    return [table[k] for k in sorted(table)]
