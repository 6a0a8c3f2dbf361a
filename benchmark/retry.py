"""``servicebench retry``: plan failed probes again after the cause was fixed.

The failed attempt stays on record: its error, attempts and detail are copied into the
probe's ``detail.previous_attempts`` and the ``failed->planned`` event, and its evidence
files (e.g. the sent message it tried) are never removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import utc_iso
from .errors import StoreError, StudyError
from .plans import next_slot
from .store import Store
from .study import Study

#: states ``retry`` takes back to planned
RETRYABLE = ("failed",)


@dataclass
class RetryResult:
    replanned: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"replanned": self.replanned, "refused": self.refused}


def _find(store: Store, ref: str) -> Any:
    if ref.isdigit():
        try:
            return store.probe(int(ref))
        except (StoreError, OverflowError):
            return None
    return store.one("SELECT * FROM probes WHERE key = ?", (ref,))


def retry_probes(study: Study, store: Store, now: datetime, refs: list[str],
                 failed: bool) -> RetryResult:
    """Move the named (or all failed) probes back to planned, due at the next allowed slot.
    A planned probe waiting for a temporary-failure retry is made due now as well."""
    if not refs and not failed:
        raise StudyError("name the probes to retry (ids or keys), or use --failed")
    rows: list[Any] = []
    result = RetryResult()
    for ref in refs:
        row = _find(store, ref)
        if row is None:
            raise StudyError(f"no probe {ref!r}; see: servicebench status")
        rows.append(row)
    if failed:
        rows += [r for r in store.probes(state="failed") if r["id"] not in
                 {x["id"] for x in rows}]
    for row in rows:
        if row["state"] == "planned" and row["next_attempt_at"]:
            store.update_probe(row["id"], now, event="retry", next_attempt_at=None)
            result.replanned.append({"id": row["id"], "key": row["key"],
                                     "due_at": row["due_at"], "was": "waiting to retry"})
            continue
        if row["state"] == "planned":  # e.g. held back by refused credentials
            result.replanned.append({"id": row["id"], "key": row["key"],
                                     "due_at": row["due_at"], "was": "already planned"})
            continue
        if row["state"] not in RETRYABLE:
            result.refused.append(f"probe {row['id']} ({row['key']}) is {row['state']}, "
                                  "not failed: nothing to retry")
            continue
        detail = json.loads(row["detail"] or "{}")
        history = detail.pop("previous_attempts", [])
        history.append({"failed_at": row["updated_at"], "error": row["error"],
                        "attempts": row["attempts"],
                        "message_id": detail.get("message_id"),
                        "evidence": [e["path"] for e in store.evidence_for(row["id"])]})
        detail = {"previous_attempts": history}
        due = next_slot(study, row["company_id"], row["channel"], now)
        store.transition(row["id"], "failed", "planned", now, due_at=utc_iso(due), attempts=0,
                         next_attempt_at=None, error=f"retry after: {row['error']}",
                         detail=json.dumps(detail, ensure_ascii=False))
        result.replanned.append({"id": row["id"], "key": row["key"], "due_at": utc_iso(due),
                                 "was": "failed"})
    return result
