"""Follow-ups: after ``scenarios[].follow_up.after`` without a human reply, the scenario's
follow-up text goes out in the same thread (email: In-Reply-To/References the probe).

A follow-up is not a probe: it lives in the ``follow_ups`` table (one per probe at most) and
is measured separately (:func:`follow_up_outcomes`: time from the follow-up to the first
human reply after it); the probe's own figures are unchanged. Crash safety follows the
runner's rule: the row is committed as ``sending`` before anything leaves the machine, and a
row found in ``sending`` later becomes ``unknown``, never sent again on a guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .channels import OutcomeUnknown, get_channel
from .clock import parse_utc, utc_iso
from .errors import NotConfigured, ProbeError
from .store import Store
from .study import Study, parse_duration

if TYPE_CHECKING:
    from .runner import Runner, RunSummary

FOLLOW_UP_CHANNELS = ("email",)


def due_follow_ups(study: Study, store: Store, now: datetime) -> list[Any]:
    """Sent probes whose scenario has a follow-up that is due now and not yet sent."""
    done = {r["probe_id"]: r["state"] for r in store.query(
        "SELECT probe_id, state FROM follow_ups")}
    human = {r["probe_id"] for r in store.query(
        "SELECT DISTINCT probe_id FROM messages WHERE kind = 'human' AND probe_id IS NOT NULL")}
    out = []
    for row in store.probes(state="sent"):
        if row["channel"] not in FOLLOW_UP_CHANNELS or row["id"] in human:
            continue
        if done.get(row["id"], "planned") != "planned":
            continue
        try:
            fu = study.scenario(row["scenario_id"]).follow_up
        except StopIteration:
            continue
        sent = parse_utc(row["sent_at"])
        end = parse_utc(row["window_ends_at"])
        if not fu or sent is None or sent + parse_duration(fu["after"]) > now:
            continue
        if end is not None and end <= now:
            continue  # too late: the probe's window has closed
        out.append(row)
    return out


def send_follow_ups(runner: Runner, summary: RunSummary) -> None:
    """Send every due follow-up through its channel (email only)."""
    from .runner import probe_context

    store, study, clock = runner.store, runner.study, runner.clock
    for row in due_follow_ups(study, store, clock.now()):
        ch = runner.channels.get(row["channel"])
        if ch is None or not runner.can_send(row["channel"]):
            continue
        pc = probe_context(study, row)
        fu = pc.scenario.follow_up or {}
        subject = study.render(fu.get("subject") or f"Re: {pc.subject}", pc.persona,
                               pc.company, pc.scenario).strip()
        body = study.render(fu["body"], pc.persona, pc.company, pc.scenario)
        now = clock.now()
        with store.transaction():
            store.db.execute(
                "INSERT INTO follow_ups (probe_id, state, due_at, updated_at) VALUES "
                "(?, 'sending', ?, ?) ON CONFLICT(probe_id) DO UPDATE SET state = 'sending', "
                "updated_at = excluded.updated_at", (row["id"], utc_iso(now), utc_iso(now)))
            store.log_event(now, "follow-up:sending", row["id"])
        try:
            result: Any = ch.send_follow_up(pc, subject, body, row["external_id"])
        except Exception as exc:  # noqa: BLE001 - every outcome is recorded
            result = exc
        _record(runner, summary, row, result)


def _record(runner: Runner, summary: RunSummary, row: Any, result: Any) -> None:
    store, study = runner.store, runner.study
    now = runner.clock.now()
    fields: dict[str, Any]
    if isinstance(result, NotConfigured):
        fields = {"state": "planned", "error": study.redact(str(result))}
        runner.refuse(row["channel"], result, summary)
    elif isinstance(result, ProbeError) and not isinstance(result, OutcomeUnknown):
        fields = {"state": "planned" if result.temporary else "failed",
                  "error": study.redact(str(result))}
    elif isinstance(result, BaseException):
        fields = {"state": "unknown", "error": study.redact(f"{type(result).__name__}: "
                                                            f"{result}")}
    else:
        fields = {"state": "sent", "sent_at": utc_iso(result.sent_at),
                  "message_id": result.external_id, "error": None}
        summary.follow_ups_sent += 1
        runner.progress(f"follow-up for probe {row['id']} ({row['key']}) sent")
    with store.transaction():
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        store.db.execute(f"UPDATE follow_ups SET {sets}, updated_at = :now WHERE probe_id = :p",
                         {**fields, "now": utc_iso(now), "p": row["id"]})
        store.log_event(now, f"follow-up:{fields['state']}", row["id"],
                        {"error": fields.get("error")})
    if fields["state"] != "sent":
        runner.progress(f"follow-up for probe {row['id']}: {fields['state']}: "
                        f"{fields.get('error')}")


def recover_follow_ups(store: Store, now: datetime) -> None:
    """A follow-up left in ``sending`` by a killed process may have gone out: unknown."""
    with store.transaction():
        store.db.execute("UPDATE follow_ups SET state = 'unknown', error = 'interrupted while "
                         "sending; outcome unknown', updated_at = ? WHERE state = 'sending'",
                         (utc_iso(now),))


def follow_up_outcomes(study: Study, store: Store, now: datetime) -> list[dict[str, Any]]:
    """One row per follow-up: when it went out and how long until a human answered after it."""
    out = []
    for f in store.query("SELECT f.*, p.key, p.company_id, p.channel, p.scenario_id, "
                         "p.persona_id, p.wave, p.sent_at AS probe_sent_at FROM follow_ups f "
                         "JOIN probes p ON p.id = f.probe_id ORDER BY f.id"):
        sent = parse_utc(f["sent_at"])
        first = None
        if sent is not None:
            for m in store.messages(probe_id=f["probe_id"]):
                at = parse_utc(m["received_at"])
                if m["kind"] == "human" and at is not None and at >= sent and at <= now:
                    first = at
                    break
        out.append({
            "probe_id": f["probe_id"], "key": f["key"], "company_id": f["company_id"],
            "channel": f["channel"], "scenario_id": f["scenario_id"],
            "persona_id": f["persona_id"], "wave": f["wave"], "state": f["state"],
            "probe_sent_at": f["probe_sent_at"], "follow_up_sent_at": f["sent_at"],
            "first_human_reply_after_follow_up_at": utc_iso(first) if first else None,
            "seconds_to_human_reply_after_follow_up":
                (first - sent).total_seconds() if first and sent else None,
            "error": f["error"],
        })
    return out


def channel_supports_follow_up(name: str) -> bool:
    return name in FOLLOW_UP_CHANNELS and hasattr(get_channel(name), "send_follow_up")
