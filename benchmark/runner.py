"""Planning, sending and collecting: the crash-safe core of ``servicebench run``.

A probe moves planned -> sending -> sent | failed | blocked | unknown. The move to
``sending`` is committed *before* the channel is asked to send, and the result is committed
right after. A process killed in between leaves the probe in ``sending``; the next run turns
it into ``unknown`` and asks the channel to resolve it (e.g. look in the Sent folder), never
sending it again on a guess.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from .channels import Channel, ChannelEnv, OutcomeUnknown, ProbeContext, get_channel
from .clock import Clock, parse_utc, utc_iso
from .errors import NotConfigured, ProbeBlocked, ProbeError
from .followups import recover_follow_ups, send_follow_ups
from .matching import quote_keys
from .store import Store
from .study import Study
from .summary import RunSummary, credential_hint

Progress = Callable[[str], None]
MAX_ATTEMPTS = 5
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=20),
           timedelta(hours=1)]


def _silent(_: str) -> None:
    pass


def plan(study: Study, store: Store, now: datetime) -> int:
    """Insert every probe of the study (every wave that has started or is the next one) not
    yet in the database, at the times of the send plan (:mod:`servicebench.plans`)."""
    from .plans import build_plan, is_monitor
    from .study import parse_duration

    anchor = study.schedule_start or plan_anchor(store, now)
    horizon = now + (parse_duration(study.schedule["every"]) if is_monitor(study)
                     else timedelta(0))
    new = 0
    for p in build_plan(study, anchor, horizon, since=now):
        if store.upsert_planned_probe(p.row(), now):
            new += 1
    return new


def plan_anchor(store: Store, now: datetime) -> datetime:
    """When an unscheduled study was first planned (kept, so that waves do not drift)."""
    stored = store.plan_value("anchor")
    if stored is None:
        store.set_plan_value("anchor", utc_iso(now), now)
        return now
    return parse_utc(stored)  # type: ignore[return-value]


def reply_address(study: Study, persona_email: str, key: str) -> str:
    mailbox = study.settings.get("mailbox") or {}
    if mailbox.get("plus_addressing", True) is False:
        return persona_email
    local, _, domain = persona_email.partition("@")
    return f"{local}+{study.token(key)}@{domain}"


def probe_context(study: Study, row: Any) -> ProbeContext:
    company = study.company(row["company_id"])
    scenario = study.scenario(row["scenario_id"])
    persona = study.persona(row["persona_id"])
    domain = persona.email.partition("@")[2]
    return ProbeContext(
        probe_id=row["id"], key=row["key"], company=company, scenario=scenario,
        persona=persona, target=company.channels[row["channel"]],
        subject=study.render(scenario.subject, persona, company, scenario).strip(),
        body=study.render(scenario.body, persona, company, scenario),
        reply_address=reply_address(study, persona.email, row["key"]),
        message_id=f"<{study.token(row['key'], 16)}.{study.token('mid' + row['key'], 6)}@"
                   f"{domain}>",
    )


class Runner:
    """Holds the channel instances for one run of the study."""

    def __init__(self, study: Study, store: Store, clock: Clock,
                 progress: Progress | None = None, only: list[str] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.study, self.store, self.clock = study, store, clock
        self.progress = progress or _silent
        self.env = ChannelEnv(study, store, clock, logging.getLogger("servicebench"), options)
        self.channels: dict[str, Channel] = {}
        self.skipped: dict[str, str] = {}
        #: channels that may collect but not send (e.g. the SMTP login was refused)
        self.no_send: dict[str, str] = {}
        for name in study.channels_used():
            if only and name not in only:
                continue
            ch = get_channel(name)(self.env)
            try:
                ch.check_configured()
            except NotConfigured as exc:
                self.skipped[name] = study.redact(str(exc))
                continue
            self.channels[name] = ch

    def close(self) -> None:
        for ch in self.channels.values():
            ch.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- recovery -----------------------------------------------------------------------
    def recover(self, summary: RunSummary) -> None:
        now = self.clock.now()
        recover_follow_ups(self.store, now)
        for row in self.store.probes(state="sending"):
            self.store.transition(row["id"], "sending", "unknown", now,
                                  error="interrupted while sending; outcome unknown")
            self.progress(f"probe {row['id']} ({row['key']}) was interrupted while sending: "
                          "checking whether it went out")
        for row in self.store.probes(state="unknown"):
            ch = self.channels.get(row["channel"])
            if ch is None:
                continue
            pc = probe_context(self.study, row)
            try:
                result = ch.resolve_unknown(pc)
            except NotConfigured as exc:
                self.refuse(row["channel"], exc, summary)
                continue
            except (OutcomeUnknown, ProbeError) as exc:
                summary.unknown += 1
                self.store.update_probe(row["id"], self.clock.now(),
                                        error=self.study.redact(str(exc)))
                summary.notes.append(f"probe {row['id']} ({row['key']}): outcome unknown: "
                                     f"{self.study.redact(str(exc))}")
                continue
            if result is None:
                self.store.transition(row["id"], "unknown", "planned", self.clock.now(),
                                      error="resolved: not sent")
                self.progress(f"probe {row['id']}: certainly not sent; it will be sent")
            else:
                self._mark_sent(row["id"], "unknown", pc, result)
                self.progress(f"probe {row['id']}: found it was sent at {result.sent_at}")

    # -- sending ------------------------------------------------------------------------
    def due(self, now: datetime) -> list[Any]:
        rows = []
        for row in self.store.probes(state="planned"):
            if not self.can_send(row["channel"]):
                continue
            if self.channels[row["channel"]].kind == "manual":
                continue
            if parse_utc(row["due_at"]) > now:  # type: ignore[operator]
                continue
            if row["next_attempt_at"] and parse_utc(row["next_attempt_at"]) > now:  # type: ignore[operator]
                continue
            rows.append(row)
        return rows

    def send_due(self, summary: RunSummary) -> None:
        due = self.due(self.clock.now())
        counter = {"n": 0, "of": len(due)}
        by_channel: dict[str, list[Any]] = {}
        for row in due:
            by_channel.setdefault(row["channel"], []).append(row)
        for name, rows in by_channel.items():
            ch = self.channels.get(name)
            if ch is None:
                continue
            if ch.parallel > 1 and len(rows) > 1:
                self._send_parallel(ch, rows, summary, counter)
                continue
            for row in rows:
                if not self.can_send(name):  # disabled mid-run
                    break
                counter["n"] += 1
                pc = self._begin(row)
                try:
                    result: Any = ch.send(pc)
                except Exception as exc:  # noqa: BLE001 - every outcome is recorded
                    result = exc
                self._finish(row, pc, result, summary, f"[{counter['n']}/{counter['of']}]")

    def can_send(self, name: str) -> bool:
        return name in self.channels and name not in self.no_send

    def refuse(self, name: str, exc: NotConfigured, summary: RunSummary) -> None:
        """The peer refused the credentials: disable the channel (only its sending when
        just the sending login was refused, so replies are still collected), say what to
        fix. Its probes stay planned."""
        msg = self.study.redact(str(exc))
        if name not in self.channels:
            return
        why = f"{msg}; {credential_hint(self.study, exc, name)}"
        earlier = summary.refused.get(name)
        summary.refused[name] = f"{earlier} | {why}" if earlier and why not in earlier else why
        if getattr(exc, "scope", "all") == "send":
            if name not in self.no_send:
                self.no_send[name] = why
                summary.skipped_channels[name] = why
                self.progress(f"channel {name}: sending disabled: {why}")
            return
        self.disable(name, why, summary)

    def disable(self, name: str, why: str, summary: RunSummary) -> None:
        """Stop using a channel whose credentials stopped working; the rest goes on."""
        ch = self.channels.pop(name, None)
        if ch is not None:
            ch.close()
        self.skipped[name] = why
        summary.skipped_channels[name] = why
        self.progress(f"channel {name} disabled: {why}")

    def _send_parallel(self, ch: Channel, rows: list[Any], summary: RunSummary,
                       counter: dict[str, int]) -> None:
        """Up to ``ch.parallel`` sends at once; all bookkeeping stays in this thread."""
        with ThreadPoolExecutor(max_workers=ch.parallel,
                                thread_name_prefix=f"send-{ch.name}") as pool:
            pending: dict[Future[Any], tuple[Any, ProbeContext]] = {}
            queue = list(rows)
            while queue or pending:
                while queue and len(pending) < ch.parallel and self.can_send(ch.name):
                    row = queue.pop(0)
                    pc = self._begin(row)
                    pending[pool.submit(ch.send, pc)] = (row, pc)
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    row, pc = pending.pop(fut)
                    counter["n"] += 1
                    exc = fut.exception()
                    self._finish(row, pc, exc if exc is not None else fut.result(), summary,
                                 f"[{counter['n']}/{counter['of']}]")

    def _begin(self, row: Any) -> ProbeContext:
        """Commit planned -> sending before anything leaves the machine."""
        pc = probe_context(self.study, row)
        detail = {"subject": pc.subject, "body": pc.body, "message_id": pc.message_id,
                  "quote_keys": quote_keys(pc.body)}
        earlier = json.loads(row["detail"] or "{}").get("previous_attempts")
        if earlier:  # kept from failed attempts (servicebench retry)
            detail["previous_attempts"] = earlier
        self.store.transition(row["id"], "planned", "sending", self.clock.now(),
                              attempts=row["attempts"] + 1, reply_address=pc.reply_address,
                              detail=json.dumps(detail, ensure_ascii=False))
        return pc

    def _finish(self, row: Any, pc: ProbeContext, result: Any, summary: RunSummary,
                counter: str) -> None:
        """Record what a send came to: a SendResult or the exception it raised."""
        ch = self.channels.get(row["channel"]) or get_channel(row["channel"])
        label = f"{counter} {pc.company.name} · {ch.label or ch.name} · {pc.scenario.id}"
        now = self.clock.now()
        if isinstance(result, NotConfigured):
            # e.g. a revoked token or a wrong password: the peer refused us, nothing was
            # sent, so the attempt does not count and the probe stays planned
            msg = self.study.redact(str(result))
            self.store.transition(row["id"], "sending", "planned", now, error=msg,
                                  attempts=row["attempts"])
            self.refuse(row["channel"], result, summary)
        elif isinstance(result, ProbeBlocked):
            summary.blocked += 1
            self.store.transition(row["id"], "sending", "blocked", now, error=result.reason)
            self.progress(f"{label}: blocked ({result.reason})")
        elif isinstance(result, OutcomeUnknown):
            summary.unknown += 1
            msg = self.study.redact(str(result))
            self.store.transition(row["id"], "sending", "unknown", now, error=msg)
            self.progress(f"{label}: outcome unknown: {msg}")
        elif isinstance(result, ProbeError):
            msg = self.study.redact(str(result))
            attempts = row["attempts"] + 1
            if result.temporary and attempts < MAX_ATTEMPTS:
                wait_for = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
                summary.retry_later += 1
                next_try = utc_iso(now + wait_for)
                if summary.next_try_at is None or next_try < summary.next_try_at:
                    summary.next_try_at = next_try
                self.store.transition(row["id"], "sending", "planned", now, error=msg,
                                      next_attempt_at=next_try)
                self.progress(f"{label}: temporary failure (attempt {attempts} of "
                              f"{MAX_ATTEMPTS}); next try due at {next_try} (in {wait_for}): "
                              f"{msg}")
            else:
                summary.failed += 1
                self.store.transition(row["id"], "sending", "failed", now, error=msg)
                self.progress(f"{label}: failed: {msg}")
        elif isinstance(result, BaseException):
            # We cannot know how far an unexpected error got: never guess "not sent".
            summary.unknown += 1
            msg = self.study.redact(f"{type(result).__name__}: {result}")
            self.store.transition(row["id"], "sending", "unknown", now, error=msg)
            self.progress(f"{label}: outcome unknown after an unexpected error: {msg}")
        else:
            self._mark_sent(row["id"], "sending", pc, result)
            summary.sent += 1
            self.progress(f"{label}: sent ({result.time_source})")

    def _mark_sent(self, probe_id: int, expected: str, pc: ProbeContext, result: Any) -> None:
        row = self.store.probe(probe_id)
        detail = json.loads(row["detail"] or "{}")
        detail.update(result.detail)
        detail.setdefault("message_id", pc.message_id)
        detail.setdefault("subject", pc.subject)
        detail.setdefault("body", pc.body)
        detail.setdefault("quote_keys", quote_keys(pc.body))
        self.store.transition(
            probe_id, expected, "sent", self.clock.now(), sent_at=utc_iso(result.sent_at),
            sent_time_source=result.time_source,
            window_ends_at=utc_iso(result.sent_at + self.study.window),
            external_id=result.external_id, error=None,
            detail=json.dumps(detail, ensure_ascii=False))

    # -- collecting ---------------------------------------------------------------------
    def collect(self, summary: RunSummary) -> None:
        for name, ch in list(self.channels.items()):
            try:
                stats = ch.collect()
            except NotConfigured as exc:
                msg = self.study.redact(str(exc))
                summary.notes.append(f"{name}: collect: {msg}")
                summary.collect_errors[name] = msg
                self.refuse(name, exc, summary)
                continue
            except ProbeError as exc:
                msg = self.study.redact(str(exc))
                summary.notes.append(f"{name}: collect: {msg}")
                summary.collect_errors[name] = msg
                self.progress(f"{name}: collecting failed: {msg}")
                continue
            summary.collected_ok += 1
            summary.collected += stats.fetched
            for note in stats.notes:
                summary.notes.append(f"{name}: {note}")
            if stats.fetched:
                self.progress(f"{name}: {stats.fetched} new message(s), {stats.matched} "
                              f"matched, {stats.unmatched} unmatched")

    def all_done(self) -> bool:
        """True when nothing is left to send and every sent probe's window has closed."""
        now = self.clock.now()
        for row in self.store.probes():
            if row["channel"] not in self.channels:
                continue
            if self.channels[row["channel"]].kind == "manual":
                continue
            if row["state"] == "sending" or (row["state"] == "planned"
                                             and self.can_send(row["channel"])):
                return False
            if row["state"] == "sent" and parse_utc(row["window_ends_at"]) > now:  # type: ignore[operator]
                return False
        return True

    def count_held(self, summary: RunSummary) -> None:
        """Due probes that stay planned because their channel is skipped or disabled."""
        now = self.clock.now()
        held = 0
        for row in self.store.probes(state="planned"):
            if self.can_send(row["channel"]) or (row["channel"] not in self.skipped
                                                  and row["channel"] not in self.no_send):
                continue
            if get_channel(row["channel"]).kind == "manual":
                continue
            if parse_utc(row["due_at"]) <= now:  # type: ignore[operator]
                held += 1
        summary.held = held

    def next_wakeup(self) -> datetime | None:
        """The next due time of a planned probe, if any."""
        times = [parse_utc(r["next_attempt_at"] or r["due_at"])
                 for r in self.store.probes(state="planned") if self.can_send(r["channel"])]
        return min((t for t in times if t), default=None)


def run(study: Study, store: Store, clock: Clock, *, progress: Progress | None = None,
        collect: bool = True, only: list[str] | None = None) -> RunSummary:
    """One pass: plan, recover interrupted probes, send what is due, collect replies."""
    summary = RunSummary()
    summary.planned = plan(study, store, clock.now())
    with Runner(study, store, clock, progress, only) as runner:
        summary.skipped_channels = dict(runner.skipped)
        runner.recover(summary)
        runner.send_due(summary)
        if collect:
            runner.collect(summary)
        send_follow_ups(runner, summary)
        runner.count_held(summary)
    return summary


def watch(study: Study, store: Store, clock: Clock, *, progress: Progress | None = None,
          poll: timedelta = timedelta(minutes=5), only: list[str] | None = None,
          should_stop: Callable[[], bool] | None = None,
          stop: threading.Event | None = None,
          after_collect: Callable[[RunSummary], None] | None = None) -> RunSummary:
    """Keep sending and collecting until every window has closed (or ``should_stop`` /
    ``stop``, e.g. set on SIGTERM). Channels that can push (IMAP IDLE) wake the loop early,
    so replies are recorded within seconds; the others are polled every ``poll``.
    A monitor study (``schedule.every`` without ``waves``) plans a new wave every period
    and never runs out of work: it runs until stopped. ``after_collect`` is called after
    every collection (alerts)."""
    summary = RunSummary()
    summary.planned = plan(study, store, clock.now())
    stop = stop or threading.Event()
    wake = threading.Event()
    with Runner(study, store, clock, progress, only) as runner:
        summary.skipped_channels = dict(runner.skipped)
        runner.recover(summary)
        for name, ch in list(runner.channels.items()):
            try:
                notes = ch.watch_start(wake)
            except NotConfigured as exc:  # e.g. the IMAP login was refused
                runner.refuse(name, exc, summary)
                continue
            for note in notes:
                runner.progress(f"{name}: {note}")
        while True:
            summary.planned += plan(study, store, clock.now())
            runner.send_due(summary)
            runner.collect(summary)
            send_follow_ups(runner, summary)
            if after_collect is not None:
                after_collect(summary)
            if (runner.all_done() or (should_stop and should_stop()) or stop.is_set()
                    or not runner.channels):
                break
            nxt = runner.next_wakeup()
            wait = poll.total_seconds()
            if nxt is not None:
                wait = max(0.0, min(wait, (nxt - clock.now()).total_seconds()))
            _wait(clock.real_seconds(max(wait, 1.0)), wake, stop)
        if stop.is_set():
            summary.notes.append("stopped on request; run --watch again to continue")
        else:
            runner.collect(summary)
        runner.count_held(summary)
    return summary


def _wait(real_seconds: float, wake: threading.Event, stop: threading.Event) -> None:
    """Sleep up to ``real_seconds``, less if a channel reports news or a stop is asked."""
    deadline = time.monotonic() + real_seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or wake.wait(min(left, 0.25)):
            break
    wake.clear()


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM (and SIGINT): ``watch`` then finishes its step and returns.
    Outside the main thread (where signals cannot be caught) the event is just returned."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second signal: stop now
            signal.signal(signum, previous[signum])
            signal.raise_signal(signum)
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
