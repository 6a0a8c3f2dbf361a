"""Replies filed as spam: INBOX plus the Junk folder (SPECIAL-USE or configured), each folder
synced on its own, replies found in spam marked so; the Sent folder found by \\Sent."""

from __future__ import annotations

import csv
import imaplib
import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_clock, sandbox_study_yaml
from test_email_servers import study_for

from servicebench import runner
from servicebench.cli import cli
from servicebench.export import export_tables
from servicebench.probes.email import EmailChannel, imap_sync
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import SHOPPER_USER, Sandbox
from servicebench.store import Store
from servicebench.study import load_study

COMPANIES = [("fastco", "fast"), ("junkco", "fast")]


@pytest.fixture
def spam_sandbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast"),
                 SandboxCompany("junkco", "Junkco", "junkco.sandbox.test", "fast", spam=True)]
    sb = Sandbox(make_clock(), tmp_path / "sandbox", companies, with_forms=False)
    sb.start()
    yield sb
    sb.stop()


def make_study(tmp_path: Path, sb: Sandbox, imap_extra: str = "") -> tuple:
    folder = tmp_path / "study"
    folder.mkdir(exist_ok=True)
    text = sandbox_study_yaml(COMPANIES, window="1d")
    if imap_extra:
        text = text.replace('password: "${SANDBOX_PASSWORD}"}\n  sent_copies',
                            f'password: "${{SANDBOX_PASSWORD}}", {imap_extra}}}\n  sent_copies')
        assert imap_extra in text
    (folder / "study.yaml").write_text(text)
    return load_study(folder, environ=sb.env()), Store(folder), folder


def test_reply_in_junk_is_collected_and_marked(tmp_path: Path, spam_sandbox: Sandbox) -> None:
    study, store, folder = make_study(tmp_path, spam_sandbox)
    summary = runner.watch(study, store, spam_sandbox.clock, poll=timedelta(hours=3))
    assert summary.sent == 2
    by_company = {}
    for m in store.messages():
        assert m["probe_id"] is not None, m["subject"]
        by_company.setdefault(store.probe(m["probe_id"])["company_id"], []).append(m)
    assert [(m["folder"], m["in_spam"]) for m in by_company["fastco"]] == [("INBOX", 0)]
    assert [(m["folder"], m["in_spam"]) for m in by_company["junkco"]] == [("Junk", 1)]
    assert any("spam folder 'Junk'" in n for n in summary.notes), summary.notes
    # each folder has its own UIDVALIDITY/UID state
    sources = {r["source"]: r for r in store.query("SELECT * FROM sync_state")}
    inbox, junk = (f"imap:{SHOPPER_USER}@127.0.0.1/{f}" for f in ("INBOX", "Junk"))
    assert sources[junk]["uidvalidity"] == spam_sandbox.mail.uidvalidity(SHOPPER_USER, "Junk")
    assert sources[junk]["last_uid"] == 1
    assert sources[inbox]["uidvalidity"] == spam_sandbox.mail.uidvalidity(SHOPPER_USER)

    # inbox output and exports show it
    env = {**spam_sandbox.env()}
    out = CliRunner().invoke(cli, ["inbox", str(folder)], env=env)
    assert out.exit_code == 0, out.output
    assert out.output.count("[found in spam: Junk]") == 1
    out = CliRunner().invoke(cli, ["inbox", str(folder), "--json"], env=env)
    rows = json.loads(out.output)
    assert sorted((r["folder"], r["in_spam"]) for r in rows) == [("INBOX", 0), ("Junk", 1)]
    [path] = [p for p in export_tables(study, store, "csv", tmp_path / "out")
              if p.name == "messages.csv"]
    with open(path, encoding="utf-8") as fh:
        exported = {r["company"]: r for r in csv.DictReader(fh)}
    assert exported["junkco"]["in_spam"] == "True" and exported["junkco"]["folder"] == "Junk"
    assert exported["fastco"]["in_spam"] == "False"

    # a second collect reads nothing; a reply moved from Junk to INBOX is not counted twice
    [junk_mail] = spam_sandbox.mail.messages(SHOPPER_USER, "Junk")
    spam_sandbox.mail.deliver(SHOPPER_USER, junk_mail.raw, junk_mail.internaldate)
    again = runner.run(study, store, spam_sandbox.clock)
    assert again.collected == 0
    assert len(store.messages()) == 2


def test_configured_folders_replace_the_default(tmp_path: Path, spam_sandbox: Sandbox) -> None:
    mail = spam_sandbox.mail
    mail.create_mailbox(SHOPPER_USER, "Werbung")
    study, store, _ = make_study(tmp_path, spam_sandbox, "folders: [INBOX, Werbung]")
    now = spam_sandbox.clock.now().replace(microsecond=0)
    raw = (b"From: a@x.example\r\nTo: alex.morgan@shopper.sandbox.test\r\n"
           b"Subject: offer\r\nMessage-ID: <w1@x.example>\r\n\r\nBuy now\r\n")
    mail.deliver(SHOPPER_USER, raw, now, mailbox="Werbung")
    mail.deliver(SHOPPER_USER, raw.replace(b"w1@", b"j1@"), now, mailbox="Junk")
    summary = runner.run(study, store, spam_sandbox.clock)
    got = {(m["folder"], m["in_spam"]) for m in store.messages()}
    assert ("Werbung", 0) in got
    assert not any(f == "Junk" for f, _ in got), "Junk is not among the configured folders"
    assert summary.sent == 2


def test_configured_missing_folder_is_a_note_not_a_failure(tmp_path: Path,
                                                           spam_sandbox: Sandbox) -> None:
    study, store, _ = make_study(tmp_path, spam_sandbox, "folders: [INBOX, Nowhere]")
    summary = runner.run(study, store, spam_sandbox.clock)
    assert summary.sent == 2
    assert any("Nowhere" in n and "mailbox.imap.folders" in n for n in summary.notes)


def test_spam_named_folder_without_special_use(tmp_path: Path, spam_sandbox: Sandbox) -> None:
    mail = spam_sandbox.mail
    mail.special_use.pop("Junk")
    mail.special_use.pop("Spam")
    mail.create_mailbox(SHOPPER_USER, "Spam")
    study, store, _ = make_study(tmp_path, spam_sandbox)
    ch = EmailChannel(runner.ChannelEnv(study, store, spam_sandbox.clock))
    s = ch.imap_settings()
    conn = imap_sync.connect(s)
    try:
        # no \\Junk anywhere: the first folder named like spam
        assert ch.reply_folders(conn, s) == [("INBOX", False), ("Junk", True)]
        mail.special_use["Spam"] = "\\Junk"
        assert ch.reply_folders(conn, s) == [("INBOX", False), ("Spam", True)]
    finally:
        imap_sync.logout(conn)


def test_sent_folder_found_by_special_use(tmp_path: Path, spam_sandbox: Sandbox) -> None:
    mail = spam_sandbox.mail
    mail.create_mailbox(SHOPPER_USER, "Gesendete Objekte")
    mail.special_use.pop("Sent")
    mail.special_use["Gesendete Objekte"] = "\\Sent"
    study, store, _ = make_study(tmp_path, spam_sandbox)
    ch = EmailChannel(runner.ChannelEnv(study, store, spam_sandbox.clock))
    s = ch.imap_settings()
    assert s.sent_folder is None
    conn = imap_sync.connect(s)
    try:
        assert ch.sent_folder(conn, s) == "Gesendete Objekte"
    finally:
        imap_sync.logout(conn)
    ch._append_sent(b"Subject: copy\r\nMessage-ID: <c@x>\r\n\r\nx\r\n",
                    datetime.now(UTC))
    assert len(mail.messages(SHOPPER_USER, "Gesendete Objekte")) == 1


def _dovecot_append(dv, folder: str, raw: bytes, when: datetime) -> None:  # type: ignore[no-untyped-def]
    ctx = ssl.create_default_context(cafile=str(dv.cert))
    c = imaplib.IMAP4_SSL("127.0.0.1", dv.tls_port, ssl_context=ctx)
    c.login(dv.user, dv.password)
    assert c.append(folder, None, imaplib.Time2Internaldate(when.timestamp()), raw)[0] == "OK"
    c.logout()


@pytest.mark.dovecot
def test_dovecot_junk_folder_by_special_use(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    imap = (f'{{host: 127.0.0.1, port: {dovecot.tls_port}, security: tls, username: "${{U}}", '
            f'password: "${{P}}", ca_file: "{dovecot.cert}"}}')
    folder = study_for(tmp_path / "junk", imap)
    study = load_study(folder, environ={"U": dovecot.user, "P": dovecot.password})
    store = Store(folder)
    clock = make_clock(1.0)
    runner.plan(study, store, clock.now())
    probe = store.probes()[0]
    mid = "<probe-junk@shopper.example>"
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    store.transition(probe["id"], "planned", "sent", clock.now(), sent_at=sent.isoformat(),
                     external_id=mid, window_ends_at=(sent + timedelta(days=7)).isoformat(),
                     detail=json.dumps({"message_id": mid}))
    reply_at = sent + timedelta(hours=2)
    raw = (f"From: Kim <kim@acme.example>\r\nTo: pat@shopper.example\r\nSubject: Re: Opening "
           f"hours\r\nMessage-ID: <r-junk@acme.example>\r\nIn-Reply-To: {mid}\r\n"
           "\r\nDear Pat,\r\nwe are open 9-5.\r\nKim\r\n").encode()
    _dovecot_append(dovecot, "Junk", raw, reply_at)
    s = runner.run(study, store, clock)
    [m] = [m for m in store.messages() if m["probe_id"] == probe["id"]]
    assert (m["folder"], m["in_spam"]) == ("Junk", 1), s.notes
    assert m["match_method"] == "in-reply-to"
    assert m["evidence"].startswith("evidence/inbox/Junk-")
    assert (folder / m["evidence"]).read_bytes() == raw
    assert runner.run(study, store, clock).collected == 0


@pytest.mark.dovecot
def test_dovecot_configured_folder_with_non_ascii_name(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    ctx = ssl.create_default_context(cafile=str(dovecot.cert))
    c = imaplib.IMAP4_SSL("127.0.0.1", dovecot.tls_port, ssl_context=ctx)
    c.login(dovecot.user, dovecot.password)
    c.create(imap_sync.quote("Unerwünscht"))
    c.logout()
    assert imap_sync.utf7_encode("Unerwünscht") == "Unerw&APw-nscht"
    imap = (f'{{host: 127.0.0.1, port: {dovecot.tls_port}, security: tls, username: "${{U}}", '
            f'password: "${{P}}", ca_file: "{dovecot.cert}", folders: [INBOX, "Unerwünscht"]}}')
    folder = study_for(tmp_path / "utf7", imap)
    study = load_study(folder, environ={"U": dovecot.user, "P": dovecot.password})
    store = Store(folder)
    raw = (b"From: Kim <kim@acme.example>\r\nTo: pat@shopper.example\r\nSubject: Hallo\r\n"
           b"Message-ID: <utf7@acme.example>\r\n\r\nGuten Tag\r\n")
    _dovecot_append(dovecot, imap_sync.quote("Unerwünscht"), raw, datetime.now(UTC))
    runner.run(study, store, make_clock(1.0))
    [m] = [m for m in store.messages() if m["message_id"] == "<utf7@acme.example>"]
    assert m["folder"] == "Unerwünscht" and m["in_spam"] == 0
