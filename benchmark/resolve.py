"""Deciding by hand what happened to a probe whose outcome is unknown."""

from __future__ import annotations

from datetime import datetime

from .clock import Clock, check_date, utc_iso
from .errors import StoreError, StudyError
from .store import Store
from .study import Study


def resolve_probe(study: Study, store: Store, clock: Clock, probe_id: int, decision: str,
                  sent_at: str | None) -> str:
    probe = store.probe(probe_id)
    if probe["state"] not in ("unknown", "sending"):
        raise StoreError(f"probe {probe_id} is {probe['state']}, not unknown; nothing to resolve")
    now = clock.now()
    if decision == "not-sent":
        store.transition(probe_id, probe["state"], "planned", now,
                         error="resolved by hand: not sent")
        return f"Probe {probe_id} will be sent on the next run."
    if not sent_at:
        raise StudyError("--sent needs --sent-at TIME (ISO date-time, e.g. "
                         "2026-11-24T10:15:00+01:00), from the Sent folder or server log")
    try:
        when = datetime.fromisoformat(sent_at)
    except ValueError as exc:
        raise StudyError(f"--sent-at {sent_at!r} is not an ISO date-time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=study.tz)
    try:
        check_date(when, "--sent-at")
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    store.transition(probe_id, probe["state"], "sent", now, sent_at=utc_iso(when),
                     sent_time_source="resolved-by-hand", window_ends_at=utc_iso(
                         when + study.window), error=None)
    return f"Probe {probe_id} recorded as sent at {utc_iso(when)}."
