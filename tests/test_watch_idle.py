"""``run --watch`` with IMAP IDLE: replies recorded within seconds (Dovecot, INBOX and Junk),
a fallback to polling, reconnecting after a server restart, a clean stop on SIGTERM."""

from __future__ import annotations

import imaplib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_clock
from test_email_servers import study_for

from servicebench import runner
from servicebench.clock import SystemClock
from servicebench.sandbox.imap_server import IMAPServer, MailStore
from servicebench.store import Store
from servicebench.study import load_study

MID = "<probe-watch@shopper.example>"


def reply(n: int) -> bytes:
    return (f"From: Kim <kim@acme.example>\r\nTo: pat@shopper.example\r\nSubject: Re: Opening "
            f"hours\r\nMessage-ID: <r{n}-watch@acme.example>\r\nIn-Reply-To: {MID}\r\n"
            f"\r\nDear Pat,\r\nwe are open 9-5 (answer {n}).\r\nKim\r\n").encode()


def sent_study(folder: Path, imap: str, environ: dict[str, str]) -> tuple:
    """A study whose one probe went out an hour ago (its window is open for a week)."""
    study_for(folder, imap)
    study = load_study(folder, environ=environ)
    store = Store(folder)
    now = datetime.now(UTC)
    runner.plan(study, store, now)
    probe = store.probes()[0]
    sent = now - timedelta(hours=1)
    store.transition(probe["id"], "planned", "sent", now, sent_at=sent.isoformat(),
                     external_id=MID, window_ends_at=(sent + timedelta(days=7)).isoformat(),
                     detail=json.dumps({"message_id": MID}))
    return study, store


class Watching:
    """``runner.watch`` in a thread, with the system clock and a long poll."""

    def __init__(self, study, poll: timedelta = timedelta(hours=1)) -> None:  # type: ignore[no-untyped-def]
        self.stop = threading.Event()
        self.progress: list[str] = []
        self.summary = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                store = Store(study.folder)  # SQLite: a connection per thread
                self.summary = runner.watch(study, store, SystemClock(), poll=poll,
                                            stop=self.stop, progress=self.progress.append)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finish(self, timeout: float = 10.0) -> float:
        t0 = time.monotonic()
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watch did not stop"
        assert self.error is None, self.error
        return time.monotonic() - t0


def recorded_within(folder: Path, n: int, seconds: float) -> float:
    """Wait until the reply ``n`` (see :func:`reply`) is stored; return how long it took."""
    store = Store(folder)
    mid = f"<r{n}-watch@acme.example>"
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if store.one("SELECT 1 FROM messages WHERE message_id = ?", (mid,)) is not None:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"reply {n} not recorded within {seconds}s")


def wait_for(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _idle_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("imap-idle-")]


@pytest.mark.dovecot
def test_idle_records_a_reply_within_seconds_dovecot(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    imap = (f'{{host: 127.0.0.1, port: {dovecot.tls_port}, security: tls, username: "${{U}}", '
            f'password: "${{P}}", ca_file: "{dovecot.cert}"}}')
    folder = tmp_path / "study"
    study, store = sent_study(folder, imap, {"U": dovecot.user, "P": dovecot.password})
    w = Watching(study)
    try:
        wait_for(lambda: len(_idle_threads()) == 2)  # INBOX and Junk
        time.sleep(1.0)  # the watchers are in IDLE
        ctx = ssl.create_default_context(cafile=str(dovecot.cert))
        c = imaplib.IMAP4_SSL("127.0.0.1", dovecot.tls_port, ssl_context=ctx)
        c.login(dovecot.user, dovecot.password)
        c.append("INBOX", None, None, reply(1))
        took = recorded_within(folder, 1, 5.0)
        c.append("Junk", None, None, reply(2))
        took_junk = recorded_within(folder, 2, 5.0)
        c.logout()
    finally:
        stopped_in = w.finish()
    assert took < 5.0 and took_junk < 5.0
    assert stopped_in < 5.0
    got = {m["folder"]: m["in_spam"] for m in Store(folder).messages()
           if m["message_id"] in ("<r1-watch@acme.example>", "<r2-watch@acme.example>")}
    assert got == {"INBOX": 0, "Junk": 1}
    assert not _idle_threads()


def sandbox_imap_yaml(port: int) -> str:
    return (f'{{host: 127.0.0.1, port: {port}, security: none, username: pat, '
            f'password: "${{P}}"}}')


def test_idle_survives_a_server_restart(tmp_path: Path) -> None:
    mail = MailStore()
    mail.add_user("pat", "pw")
    server = IMAPServer(mail)
    server.start()
    port = server.port
    folder = tmp_path / "study"
    study, store = sent_study(folder, sandbox_imap_yaml(port), {"P": "pw"})
    w = Watching(study)
    try:
        wait_for(lambda: len(_idle_threads()) == 1)
        time.sleep(0.5)
        mail.deliver("pat", reply(1), datetime.now(UTC))
        recorded_within(folder, 1, 5.0)
        server.stop()  # every session is cut
        time.sleep(1.5)
        server = IMAPServer(mail, port=port)
        server.start()
        time.sleep(5.0)  # backoff: reconnected by now
        mail.deliver("pat", reply(2), datetime.now(UTC))
        took = recorded_within(folder, 2, 5.0)
    finally:
        w.finish()
        server.stop()
    assert took < 5.0
    assert w.summary is not None and "stopped on request" in " ".join(w.summary.notes)


def test_without_idle_the_watch_polls(tmp_path: Path) -> None:
    mail = MailStore()
    mail.add_user("pat", "pw")
    with IMAPServer(mail, idle=False) as server:
        folder = tmp_path / "study"
        study, store = sent_study(folder, sandbox_imap_yaml(server.port), {"P": "pw"})
        w = Watching(study, poll=timedelta(seconds=1))
        try:
            wait_for(lambda: any("no IMAP IDLE" in p for p in w.progress))
            assert not _idle_threads()
            mail.deliver("pat", reply(1), datetime.now(UTC))
            recorded_within(folder, 1, 5.0)  # by the one-second poll
        finally:
            w.finish()


def test_sigterm_stops_watch_cleanly(tmp_path: Path) -> None:
    mail = MailStore()
    mail.add_user("pat", "pw")
    with IMAPServer(mail) as server:
        folder = tmp_path / "study"
        sent_study(folder, sandbox_imap_yaml(server.port), {"P": "pw"})
        env = {**os.environ, "P": "pw"}
        env.pop("SERVICEBENCH_CLOCK", None)
        proc = subprocess.Popen([sys.executable, "-m", "servicebench.cli", "run", "--watch",
                                 "--poll", "1h", str(folder)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(3.0)  # started, and waiting in IDLE
            mail.deliver("pat", reply(1), datetime.now(UTC))
            recorded_within(folder, 1, 10.0)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert took < 5.0
    assert "stopped on request" in text
    assert "Traceback" not in text


def test_accelerated_watch_still_ends_when_windows_close(tmp_path: Path) -> None:
    """With IDLE threads running, the watch still returns when every window has closed."""
    mail = MailStore()
    mail.add_user("pat", "pw")
    with IMAPServer(mail) as server:
        folder = tmp_path / "study"
        study, store = sent_study(folder, sandbox_imap_yaml(server.port), {"P": "pw"})
        store.db.execute("UPDATE probes SET window_ends_at = sent_at")
        clock = make_clock(factor=20000.0)
        t0 = time.monotonic()
        runner.watch(study, store, clock, poll=timedelta(hours=2))
        assert time.monotonic() - t0 < 30
    assert not _idle_threads()
