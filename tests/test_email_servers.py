"""The email channel against other real servers: Dovecot (STARTTLS, TLS) and an SMTP
server with STARTTLS and authentication."""

from __future__ import annotations

import imaplib
import ssl
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_clock

from servicebench import runner
from servicebench.clock import parse_utc
from servicebench.errors import CredentialsRefused, ProbeError
from servicebench.probes.email.smtp_send import SmtpSettings, send_message, server_timestamp
from servicebench.sandbox.smtp_server import SandboxSMTPServer
from servicebench.store import Store
from servicebench.study import load_study


def study_for(folder: Path, imap: str, smtp: str = "{host: 127.0.0.1, port: 1, "
              "security: none}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(textwrap.dedent(f"""\
        study: {{id: dv, title: Dovecot test, window: 7d}}
        mailbox:
          smtp: {smtp}
          imap: {imap}
          sent_copies: none
        personas: [{{id: p, name: Pat Doe, email: pat@shopper.example}}]
        scenarios: [{{id: s, subject: "Opening hours", body: "When are you open? Pat"}}]
        companies:
          - {{id: acme, name: ACME, channels: {{email: help@acme.example}}}}
        """))
    return folder


def append(dv, raw: bytes, when: datetime) -> None:  # type: ignore[no-untyped-def]
    ctx = ssl.create_default_context(cafile=str(dv.cert))
    c = imaplib.IMAP4_SSL("127.0.0.1", dv.tls_port, ssl_context=ctx)
    c.login(dv.user, dv.password)
    c.append("INBOX", None, imaplib.Time2Internaldate(when.timestamp()), raw)
    c.logout()


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_collect_from_dovecot(tmp_path: Path, dovecot, security: str) -> None:  # type: ignore[no-untyped-def]
    port = dovecot.starttls_port if security == "starttls" else dovecot.tls_port
    imap = (f'{{host: 127.0.0.1, port: {port}, security: {security}, username: "${{U}}", '
            f'password: "${{P}}", ca_file: "{dovecot.cert}"}}')
    folder = study_for(tmp_path / security, imap)
    study = load_study(folder, environ={"U": dovecot.user, "P": dovecot.password})
    store = Store(folder)
    clock = make_clock(1.0)
    runner.plan(study, store, clock.now())
    # pretend the probe went out, as the runner would record it
    probe = store.probes()[0]
    mid = f"<probe-{security}@shopper.example>"
    sent = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    store.transition(probe["id"], "planned", "sent", clock.now(), sent_at=sent.isoformat(),
                     external_id=mid, window_ends_at=(sent + timedelta(days=7)).isoformat())
    reply_at = datetime(2026, 11, 20, 13, 37, 5, tzinfo=UTC)
    raw = (f"From: Kim <kim@acme.example>\r\nTo: pat@shopper.example\r\nSubject: Re: Opening "
           f"hours\r\nMessage-ID: <r-{security}@acme.example>\r\nIn-Reply-To: {mid}\r\n"
           "Date: Fri, 20 Nov 2026 13:30:00 +0000\r\n\r\nDear Pat,\r\nwe are open 9-5.\r\n"
           "Kim\r\n").encode()
    append(dovecot, raw, reply_at)
    s = runner.run(study, store, clock)
    mine = [m for m in store.messages() if m["probe_id"] == probe["id"]]
    assert len(mine) == 1, s.notes
    assert parse_utc(mine[0]["received_at"]) == reply_at
    assert mine[0]["match_method"] == "in-reply-to"
    assert (folder / mine[0]["evidence"]).read_bytes() == raw
    before = len(store.messages())
    again = runner.run(study, store, clock)
    assert again.collected == 0 and len(store.messages()) == before


@pytest.mark.dovecot
def test_wrong_imap_password_is_a_clear_error(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    imap = (f'{{host: 127.0.0.1, port: {dovecot.tls_port}, security: tls, username: u, '
            f'password: "${{P}}", ca_file: "{dovecot.cert}"}}')
    folder = study_for(tmp_path, imap)
    study = load_study(folder, environ={"P": "wrong-password-123"})
    s = runner.run(study, Store(folder), make_clock(1.0))
    assert any("IMAP login refused" in n for n in s.notes), s.notes
    assert not any("wrong-password-123" in n for n in s.notes)


def test_smtp_starttls_with_auth(tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    clock = make_clock(1.0)
    server = SandboxSMTPServer(clock, {"shopper": "pw-123"}, starttls_context=ctx)
    server.start()
    try:
        settings = SmtpSettings("127.0.0.1", server.port, "starttls", "shopper", "pw-123",
                                10, str(cert))
        data = b"From: a@shopper.example\r\nTo: b@acme.example\r\nSubject: t\r\n\r\n.dot\r\n"
        acc = send_message(settings, "a@shopper.example", ["b@acme.example"], data,
                           clock.now())
        assert acc.server_time is not None
        assert abs((acc.server_time - server.accepted[0].accepted_at).total_seconds()) < 0.002
        assert server.accepted[0].data.endswith(b".dot\r\n")  # dot-stuffing undone
        bad = SmtpSettings("127.0.0.1", server.port, "starttls", "shopper", "nope", 10,
                           str(cert))
        # a refused login is no failure of the probe: the channel's sending is disabled
        with pytest.raises(CredentialsRefused, match="SMTP login refused") as exc:
            send_message(bad, "a@shopper.example", ["b@acme.example"], data, clock.now())
        assert exc.value.scope == "send" and "mailbox.smtp.password" in exc.value.settings
        assert len(server.accepted) == 1
    finally:
        server.stop()


def test_smtp_unreachable_is_temporary() -> None:
    from servers import free_port

    with pytest.raises(ProbeError) as exc:
        send_message(SmtpSettings("127.0.0.1", free_port(), "none", timeout=3),
                     "a@b.example", ["c@d.example"], b"Subject: x\r\n\r\nx\r\n",
                     datetime.now(UTC))
    assert exc.value.temporary


def test_server_timestamp_parsing() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    gmail = f"2.0.0 OK  {int(now.timestamp())} a1-20020a17090a.12 - gsmtp"
    assert server_timestamp(gmail, now) == now
    assert server_timestamp("2.0.0 Ok: queued as 4XyZ12", now) is None
    assert server_timestamp("2.0.0 OK 1000000000 old", now) is None  # implausible
