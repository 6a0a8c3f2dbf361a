"""The sandbox IMAP server, driven by Python's imaplib (and a raw socket where imaplib
cannot say what we need to send)."""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from tlsutil import client_context, make_self_signed, server_context

from servicebench.probes.email import imap_sync
from servicebench.sandbox.imap_server import Fault, IMAPServer, MailboxError, MailStore

USER, PASSWORD = "lena@shopper.test", "s3cret pass"
T0 = datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC)


def mail(n: int, subject: str | None = None, sender: str = "support@acme.test",
         to: str = "lena@shopper.test", body: str = "Hello") -> bytes:
    return (f"From: ACME Support <{sender}>\r\nTo: {to}\r\n"
            f"Subject: {subject or f'Reply {n}'}\r\nMessage-ID: <reply-{n}@acme.test>\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n{body} {n}\r\n").encode()


def internaldate(resp: bytes) -> datetime:
    m = re.search(rb'INTERNALDATE "([^"]+)"', resp)
    assert m, resp
    return datetime.strptime(m.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")


@pytest.fixture
def store() -> MailStore:
    s = MailStore()
    s.add_user(USER, PASSWORD)
    return s


@pytest.fixture
def server(store: MailStore) -> Iterator[IMAPServer]:
    srv = IMAPServer(store)
    srv.start()
    yield srv
    srv.stop()


def connect(server: IMAPServer, login: bool = True) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    if login:
        conn.login(USER, PASSWORD)
    return conn


@pytest.fixture
def conn(server: IMAPServer) -> Iterator[imaplib.IMAP4]:
    c = connect(server)
    yield c
    try:
        c.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


class Raw:
    """A line-level IMAP client for what imaplib will not send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline()

    def command(self, tag: str, text: bytes) -> list[bytes]:
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.until(tag)

    def until(self, tag: str) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            assert line, f"connection closed; got {lines!r}"
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def raw(server: IMAPServer) -> Iterator[Raw]:
    r = Raw(server.port)
    yield r
    r.close()


# ---------------------------------------------------------------- authentication


def test_login_plain_and_capabilities(server: IMAPServer) -> None:
    c = connect(server, login=False)
    assert "IMAP4REV1" in c.capabilities
    assert "AUTH=PLAIN" in c.capabilities
    assert "STARTTLS" not in c.capabilities  # no starttls_context given
    typ, _ = c.login(USER, PASSWORD)
    assert typ == "OK" and c.state == "AUTH"
    c.logout()


def test_login_with_synchronizing_and_nonsync_literals(raw: Raw) -> None:
    user, password = USER.encode(), PASSWORD.encode()
    raw.send(b"a1 LOGIN {%d}\r\n" % len(user))
    assert raw.line().startswith(b"+")
    raw.send(user + b" {%d}\r\n" % len(password))
    assert raw.line().startswith(b"+")
    raw.send(password + b"\r\n")
    assert raw.until("a1")[-1].startswith(b"a1 OK")
    # LITERAL+ : no continuation requested, the literal follows at once
    assert raw.command("a2", b"SELECT {5+}\r\nINBOX")[-1].startswith(b"a2 OK [READ-WRITE]")


def test_authenticate_plain_with_continuation(server: IMAPServer) -> None:
    c = connect(server, login=False)
    typ, _ = c.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
    assert typ == "OK" and c.state == "AUTH"
    assert c.select("INBOX")[0] == "OK"
    c.logout()


def test_authenticate_plain_with_initial_response(server: IMAPServer, raw: Raw) -> None:
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    assert raw.command("a1", b"AUTHENTICATE PLAIN " + token)[-1].startswith(b"a1 OK")
    bad = base64.b64encode(f"\0{USER}\0nope".encode())
    raw2 = Raw(server.port)
    assert raw2.command("b1", b"AUTHENTICATE PLAIN " + bad)[-1].startswith(
        b"b1 NO [AUTHENTICATIONFAILED]")
    raw2.send(b"b2 AUTHENTICATE PLAIN\r\n")
    assert raw2.line().startswith(b"+")
    raw2.send(b"*\r\n")
    assert raw2.until("b2")[-1].startswith(b"b2 BAD")
    raw2.close()


def test_wrong_password_is_refused(server: IMAPServer) -> None:
    c = connect(server, login=False)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login(USER, "wrong")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("nobody@shopper.test", PASSWORD)
    assert c.state == "NONAUTH"
    c.logout()


def test_wrong_state_and_unknown_commands(raw: Raw) -> None:
    assert raw.command("a1", b"SELECT INBOX")[-1].startswith(b"a1 BAD")
    assert raw.command("a2", b"FETCH 1 (UID)")[-1].startswith(b"a2 BAD")
    assert raw.command("a3", b"FROBNICATE")[-1].startswith(b"a3 BAD")
    assert raw.command("a4", b'LOGIN "unterminated')[-1].startswith(b"a4 BAD")
    login = b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode())
    assert raw.command("a5", login)[-1].startswith(b"a5 OK")
    assert raw.command("a6", login)[-1].startswith(b"a6 BAD")
    assert raw.command("a7", b"UID FETCH 1 (UID)")[-1].startswith(b"a7 BAD")
    assert raw.command("a8", b"SELECT Nowhere")[-1].startswith(b"a8 NO")
    assert raw.command("a9", b"SELECT INBOX")[-1].startswith(b"a9 OK")
    assert raw.command("b1", b"FETCH 5 (UID)")[-1].startswith(b"b1 BAD")  # no message 5
    assert raw.command("b2", b"FETCH 1:* (NOSUCHITEM)")[-1].startswith(b"b2 BAD")


# ---------------------------------------------------------------- mailbox state and sync


def test_select_and_examine_report_mailbox_state(store: MailStore,
                                                  conn: imaplib.IMAP4) -> None:
    for n in range(3):
        store.deliver(USER, mail(n), T0)
    typ, data = conn.select("INBOX")
    assert (typ, data) == ("OK", [b"3"])
    assert conn.response("UIDVALIDITY")[1] == [str(store.uidvalidity(USER)).encode()]
    assert conn.response("UIDNEXT")[1] == [b"4"]
    assert conn.response("RECENT")[1] == [b"3"]
    assert conn.response("PERMANENTFLAGS")[1][0].startswith(b"(\\Answered")
    assert conn.response("READ-WRITE")[1] == [b""]  # present ([None] when absent)
    typ, data = conn.select("INBOX", readonly=True)
    assert typ == "OK" and conn.response("READ-ONLY")[1] == [b""]
    assert conn.response("RECENT")[1] == [b"0"]  # claimed by the SELECT before


def test_incremental_uid_sync_with_the_product_client(store: MailStore,
                                                      server: IMAPServer) -> None:
    for n in range(3):
        store.deliver(USER, mail(n), T0 + timedelta(hours=n))
    settings = imap_sync.ImapSettings("127.0.0.1", server.port, security="none",
                                      username=USER, password=PASSWORD, timeout=10)
    c = imap_sync.connect(settings)
    uidvalidity = imap_sync.select(c, "INBOX")
    assert uidvalidity == store.uidvalidity(USER)
    uids = imap_sync.new_uids(c, 0)
    got = list(imap_sync.fetch(c, uids))
    assert [m.uid for m in got] == [1, 2, 3]
    assert [m.internaldate for m in got] == [T0 + timedelta(hours=n) for n in range(3)]
    assert [m.raw for m in got] == [mail(n) for n in range(3)]
    # second run: the server answers n:* with the last message, the client filters it out
    assert c.uid("SEARCH", None, "UID 4:*") == ("OK", [b"3"])
    assert imap_sync.new_uids(c, 3) == []
    store.deliver(USER, mail(3), T0 + timedelta(days=3))
    c.noop()
    assert imap_sync.new_uids(c, 3) == [4]
    imap_sync.logout(c)


def test_internaldate_round_trip_is_exact(store: MailStore, conn: imaplib.IMAP4) -> None:
    berlin = timezone(timedelta(hours=1))
    wanted = [datetime(2026, 11, 27, 10, 0, 5, tzinfo=UTC),
              datetime(2026, 1, 3, 23, 59, 59, 999999, tzinfo=berlin),  # seconds resolution
              datetime(2027, 2, 28, 0, 0, 0, tzinfo=UTC)]
    for n, when in enumerate(wanted):
        store.deliver(USER, mail(n), when)
    conn.select("INBOX")
    typ, data = conn.uid("FETCH", "1:*", "(UID INTERNALDATE)")
    assert typ == "OK"
    got = [internaldate(line) for line in data]
    assert got == [w.replace(microsecond=0) for w in wanted]
    assert b'INTERNALDATE "27-Nov-2026 10:00:05 +0000"' in data[0]
    assert b'"03-Jan-2026 22:59:59 +0000"' in data[1]
    assert [m.internaldate for m in store.messages(USER)] == got
    assert all(m.internaldate.tzinfo == UTC for m in store.messages(USER))


def test_append_with_date_time_then_search_message_id(store: MailStore,
                                                      conn: imaplib.IMAP4) -> None:
    store.deliver(USER, mail(1), T0)
    store.deliver(USER, mail(10), T0)  # <reply-10@...> contains "reply-1" but not "<reply-1@"
    sent = (b"From: lena@shopper.test\r\nTo: support@acme.test\r\nSubject: Frage\r\n"
            b"Message-ID: <probe-77@shopper.test>\r\n\r\nWie lange dauert der Versand?\r\n")
    typ, data = conn.append("Sent", "(\\Seen)", '"24-Nov-2026 11:34:56 +0100"', sent)
    assert typ == "OK"
    assert data == [f"[APPENDUID {store.uidvalidity(USER, 'Sent')} 1] APPEND completed"
                    .encode()]
    [stored] = store.messages(USER, "Sent")
    assert stored.raw == sent and stored.flags == {"\\Seen"}
    assert stored.internaldate == datetime(2026, 11, 24, 10, 34, 56, tzinfo=UTC)
    conn.select('"Sent"')
    assert conn.uid("SEARCH", None, "HEADER", "Message-ID", '"<probe-77@shopper.test>"') \
        == ("OK", [b"1"])
    assert conn.uid("SEARCH", None, "HEADER", "message-id", '"<PROBE-77@"') == ("OK", [b"1"])
    assert conn.uid("SEARCH", None, "HEADER", "Message-ID", '"<nope@x>"') == ("OK", [b""])
    conn.select("INBOX")
    assert conn.uid("SEARCH", None, "HEADER", "Message-ID", '"<reply-1@acme.test>"') \
        == ("OK", [b"1"])
    found = imap_sync.find_by_message_id(conn, "Sent", "<probe-77@shopper.test>")
    assert found is not None and found.raw == sent
    assert found.internaldate == datetime(2026, 11, 24, 10, 34, 56, tzinfo=UTC)


def test_append_to_missing_mailbox_asks_to_create(conn: imaplib.IMAP4) -> None:
    typ, data = conn.append("Archive", None, None, b"Subject: x\r\n\r\ny\r\n")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    assert conn.create("Archive")[0] == "OK"
    assert conn.create("Archive")[0] == "NO"
    assert conn.append("Archive", None, None, b"Subject: x\r\n\r\ny\r\n")[0] == "OK"


def test_peek_does_not_set_seen_but_body_does(store: MailStore, conn: imaplib.IMAP4) -> None:
    store.deliver(USER, mail(1), T0)
    conn.select("INBOX", readonly=True)
    conn.fetch("1", "(BODY[])")  # EXAMINE: never sets \Seen
    assert store.messages(USER)[0].flags == frozenset()
    conn.select("INBOX")
    typ, data = conn.uid("FETCH", "1", "(UID BODY.PEEK[])")
    assert typ == "OK" and b"FLAGS" not in data[0][0]
    assert store.messages(USER)[0].flags == frozenset()
    typ, data = conn.uid("FETCH", "1", "(BODY[])")
    assert b"\\Seen" in data[0][0]  # FLAGS added to the response because they changed
    assert store.messages(USER)[0].flags == {"\\Seen"}
    assert conn.search(None, "UNSEEN") == ("OK", [b""])


def test_uidvalidity_reset_forces_resync(store: MailStore, server: IMAPServer,
                                         conn: imaplib.IMAP4) -> None:
    for n in range(3):
        store.deliver(USER, mail(n), T0)
    conn.select("INBOX")
    old = int(conn.response("UIDVALIDITY")[1][0])
    conn.store("2", "+FLAGS", "(\\Deleted)")
    conn.expunge()
    assert conn.uid("SEARCH", None, "ALL") == ("OK", [b"1 3"])
    new = store.reset_uidvalidity(USER, "INBOX")
    assert new > old
    assert [m.uid for m in store.messages(USER)] == [1, 2]
    with pytest.raises(imaplib.IMAP4.abort):
        conn.noop()  # the selected session is told BYE: its UIDs are void
    c2 = connect(server)
    c2.select("INBOX")
    assert int(c2.response("UIDVALIDITY")[1][0]) == new
    assert c2.response("UIDNEXT")[1] == [b"3"]
    assert c2.uid("SEARCH", None, "ALL") == ("OK", [b"1 2"])
    c2.logout()


def test_store_persists_across_restart(tmp_path: Path) -> None:
    s1 = MailStore(tmp_path / "imap")
    s1.add_user(USER, PASSWORD)
    for n in range(3):
        s1.deliver(USER, mail(n), T0 + timedelta(days=n), flags=["\\Flagged"] if n else [])
    s1.deliver(USER, mail(9), T0, mailbox="Replies/ACME")
    with IMAPServer(s1) as srv:
        c = connect(srv)
        c.select("INBOX")
        c.store("1", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.logout()
    before = {b: s1.messages(USER, b) for b in s1.mailboxes(USER)}
    validity = s1.uidvalidity(USER)
    assert len(list((tmp_path / "imap" / "messages").glob("*.eml"))) == 3  # expunged one gone

    s2 = MailStore(tmp_path / "imap")
    assert {b: s2.messages(USER, b) for b in s2.mailboxes(USER)} == before
    assert s2.uidvalidity(USER) == validity
    s2.add_user(USER, PASSWORD)  # idempotent at sandbox start: keeps the mail
    assert s2.deliver(USER, mail(5), T0) == 4
    with IMAPServer(s2) as srv:
        c = connect(srv)
        c.select("INBOX")
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE)")
        assert [int(re.search(rb"UID (\d+)", d).group(1)) for d in data] == [2, 3, 4]
        assert internaldate(data[0]) == T0 + timedelta(days=1)
        assert b"\\Flagged" in data[0]
        c.logout()


def test_store_api_contract(store: MailStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.deliver(USER, mail(1), datetime(2026, 1, 1))
    with pytest.raises(KeyError):
        store.deliver("stranger@x.test", mail(1), T0)
    with pytest.raises(MailboxError):
        store.messages(USER, "Nowhere")
    assert store.deliver(USER, mail(1), T0, mailbox="Replies") == 1
    assert "Replies" in store.mailboxes(USER)
    assert store.deliver(USER, mail(2), T0, mailbox="inbox") == 1  # INBOX in any case
    assert len(store.messages(USER, "INBOX")) == 1


# ---------------------------------------------------------------- TLS


def test_starttls(tmp_path: Path, store: MailStore) -> None:
    cert, key = make_self_signed(tmp_path)
    store.deliver(USER, mail(1), T0)
    with IMAPServer(store, starttls_context=server_context(cert, key)) as srv:
        c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert "STARTTLS" in c.capabilities
        assert c.starttls(ssl_context=client_context(cert))[0] == "OK"
        assert isinstance(c.sock, ssl.SSLSocket)
        assert "STARTTLS" not in c.capabilities
        c.login(USER, PASSWORD)
        c.select("INBOX")
        assert c.uid("FETCH", "1", "(BODY.PEEK[])")[1][0][1] == mail(1)
        c.logout()
        # and through the product's client, which verifies against the CA file
        settings = imap_sync.ImapSettings("localhost", srv.port, security="starttls",
                                          username=USER, password=PASSWORD,
                                          ca_file=str(cert), timeout=10)
        c = imap_sync.connect(settings)
        assert imap_sync.select(c, "INBOX") == store.uidvalidity(USER)
        imap_sync.logout(c)


def test_implicit_tls(tmp_path: Path, store: MailStore) -> None:
    cert, key = make_self_signed(tmp_path)
    store.deliver(USER, mail(1), T0)
    with IMAPServer(store, ssl_context=server_context(cert, key)) as srv:
        settings = imap_sync.ImapSettings("127.0.0.1", srv.port, security="tls",
                                          username=USER, password=PASSWORD,
                                          ca_file=str(cert), timeout=10)
        c = imap_sync.connect(settings)
        assert isinstance(c.sock, ssl.SSLSocket)
        imap_sync.select(c, "INBOX")
        [got] = imap_sync.fetch(c, imap_sync.new_uids(c, 0))
        assert got.raw == mail(1) and got.internaldate == T0
        imap_sync.logout(c)
        with pytest.raises((ssl.SSLError, OSError, imaplib.IMAP4.abort)):
            imaplib.IMAP4("127.0.0.1", srv.port, timeout=3)  # plaintext client gets nothing
        c = imaplib.IMAP4_SSL("127.0.0.1", srv.port, ssl_context=client_context(cert),
                              timeout=10)  # the server survived the plaintext attempt
        c.logout()


# ---------------------------------------------------------------- faults and robustness


def test_fault_drops_connection_mid_fetch(store: MailStore) -> None:
    for n in range(5):
        store.deliver(USER, mail(n), T0)
    fault = Fault(drop_connection_after_fetch_items=2)
    with IMAPServer(store, fault=fault) as srv:
        c = connect(srv)
        c.select("INBOX")
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            c.uid("FETCH", "1:*", "(UID INTERNALDATE BODY.PEEK[])")
        c.shutdown()
        fault.drop_connection_after_fetch_items = None
        c = connect(srv)  # the server is still up and serves the whole mailbox
        c.select("INBOX")
        typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK" and len([d for d in data if isinstance(d, tuple)]) == 5
        c.logout()


def test_fault_response_delay_trips_client_timeout(store: MailStore) -> None:
    with IMAPServer(store, fault=Fault(response_delay=2.0)) as srv:
        started = time.monotonic()
        with pytest.raises((TimeoutError, OSError, imaplib.IMAP4.abort)):
            imaplib.IMAP4("127.0.0.1", srv.port, timeout=0.5)  # waits for CAPABILITY's OK
        assert time.monotonic() - started < 1.9


def test_abrupt_disconnects_and_limits(server: IMAPServer) -> None:
    r = Raw(server.port)
    r.send(b"a1 LOGIN {5}\r\n")
    assert r.line().startswith(b"+")
    r.send(b"ab")  # hang up inside a literal
    r.close()
    r = Raw(server.port)
    r.send(b"a1 NOOP")  # hang up mid-line
    r.close()
    r = Raw(server.port)
    assert r.command("a1", b"APPEND INBOX {60000000}")[-1] == b"a1 BAD Literal too large\r\n"
    r.send(b"x" * 70000)  # a line longer than the bound: BYE and hang up
    assert r.line().startswith(b"* BYE")
    assert r.line() == b""
    r.close()
    c = connect(server)  # still serving
    assert c.noop()[0] == "OK"
    c.logout()


# ---------------------------------------------------------------- commands in detail


def test_search_criteria(store: MailStore, conn: imaplib.IMAP4) -> None:
    store.deliver(USER, mail(1, "Lieferzeit", sender="a@acme.test"), T0)
    store.deliver(USER, mail(2, "Rückfrage", to="other@shopper.test"), T0 + timedelta(days=1))
    store.deliver(USER, mail(3, "Lieferzeit Antwort"), T0 + timedelta(days=3), flags=["\\Seen"])
    conn.select("INBOX")

    def uids(*criteria: str) -> str:
        typ, data = conn.uid("SEARCH", None, *criteria)
        assert typ == "OK"
        return data[0].decode()

    assert uids("ALL") == "1 2 3"
    assert uids("SINCE", "25-Nov-2026") == "2 3"
    assert uids("BEFORE", "25-Nov-2026") == "1"
    assert uids("ON", "27-Nov-2026") == "3"
    assert uids("SUBJECT", "lieferzeit") == "1 3"
    assert uids("FROM", "a@acme") == "1"
    assert uids("TO", "other@") == "2"
    assert uids("UNSEEN") == "1 2" and uids("SEEN") == "3"
    assert uids("NOT", "SEEN", "SUBJECT", "Lieferzeit") == "1"
    assert uids("OR", "UID", "1", "ON", "27-Nov-2026") == "1 3"
    assert uids("UID", "2:*") == "2 3" and uids("UID", "7:*") == "3"
    assert uids("2:3", "UNSEEN") == "2"
    assert uids("TEXT", "hello 2") == "2" and uids("BODY", "Reply") == ""
    assert conn.search(None, "2:*") == ("OK", [b"2 3"])
    typ, data = conn.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT", '"Rückfrage"'.encode())
    assert (typ, data) == ("OK", [b"2"])
    with pytest.raises(imaplib.IMAP4.error, match="BOGUS"):
        conn.uid("SEARCH", None, "BOGUS")


def test_fetch_items_and_sections(store: MailStore, conn: imaplib.IMAP4) -> None:
    raw = mail(1)
    store.deliver(USER, raw, T0)
    header, body = raw.split(b"\r\n\r\n", 1)
    conn.select("INBOX")
    typ, data = conn.fetch("1", "(RFC822.SIZE FLAGS BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert f"RFC822.SIZE {len(raw)}".encode() in data[0][0]
    assert data[0][1] == header + b"\r\n\r\n" and data[1][1] == body
    typ, data = conn.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT message-id)])")
    assert data[0][1] == b"Subject: Reply 1\r\nMessage-ID: <reply-1@acme.test>\r\n\r\n"
    typ, data = conn.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (Subject)] BODY.PEEK[]<0.4>)")
    assert b"Subject" not in data[0][1] and b"From:" in data[0][1]
    assert data[1][0].endswith(b"BODY[]<0> {4}") and data[1][1] == b"From"
    typ, data = conn.fetch("1", "(RFC822.HEADER)")
    assert data[0][1] == header + b"\r\n\r\n"
    assert store.messages(USER)[0].flags == frozenset()  # RFC822.HEADER does not mark read
    typ, data = conn.fetch("1", "(ENVELOPE)")
    assert b'"Reply 1"' in data[0] and b'("ACME Support" NIL "support" "acme.test")' in data[0]
    typ, data = conn.fetch("1", "RFC822")
    assert data[0][1] == raw and store.messages(USER)[0].flags == {"\\Seen"}


def test_fetch_body_parts_of_multipart(store: MailStore, conn: imaplib.IMAP4) -> None:
    raw = (b"From: a@acme.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/alternative; boundary="XYZ"\r\n\r\npreamble\r\n'
           b"--XYZ\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
           b"--XYZ\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--XYZ--\r\n")
    store.deliver(USER, raw, T0)
    conn.select("INBOX")
    typ, data = conn.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME])")
    assert typ == "OK"
    assert [d[1] for d in data if isinstance(d, tuple)] == [
        b"plain text", b"<p>html</p>", b"Content-Type: text/html\r\n\r\n"]


def test_store_flags(store: MailStore, conn: imaplib.IMAP4) -> None:
    store.deliver(USER, mail(1), T0)
    store.deliver(USER, mail(2), T0)
    conn.select("INBOX")
    typ, data = conn.uid("STORE", "1:2", "+FLAGS", "(\\Flagged $Answered-By-Bot)")
    assert typ == "OK" and len(data) == 2 and b"UID 1" in data[0] and b"\\Flagged" in data[0]
    assert conn.store("1", "-FLAGS", "(\\Flagged)")[1][0].count(b"\\Flagged") == 0
    typ, data = conn.store("2", "FLAGS.SILENT", "(\\Answered)")
    assert typ == "OK" and data == [None]  # no untagged FETCH when silent
    assert [m.flags for m in store.messages(USER)] == [{"$Answered-By-Bot"}, {"\\Answered"}]
    conn.select("INBOX", readonly=True)
    assert conn.store("1", "+FLAGS", "(\\Seen)")[0] == "NO"


def test_list_lsub_status_create(store: MailStore, conn: imaplib.IMAP4) -> None:
    store.deliver(USER, mail(1), T0)
    store.deliver(USER, mail(2), T0, flags=["\\Seen"])
    assert conn.create("Archive/2026")[0] == "OK"
    typ, data = conn.list()
    assert typ == "OK"
    names = [d.rsplit(b'"/" ', 1)[1] for d in data]
    assert names == [b'"INBOX"', b'"Sent"', b'"Archive/2026"']
    assert conn.list('""', "%")[1] == [b'(\\HasNoChildren) "/" "INBOX"',
                                     b'(\\HasNoChildren \\Sent) "/" "Sent"']
    assert conn.list('""', "inbox")[1] == [b'(\\HasNoChildren) "/" "INBOX"']
    assert len(conn.lsub()[1]) == 3
    typ, data = conn.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
    assert data == [f'"INBOX" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY {store.uidvalidity(USER)} '
                    f'UNSEEN 1 RECENT 2)'.encode()]
    assert conn.status("Nowhere", "(MESSAGES)")[0] == "NO"


def test_expunge_close_unselect_copy(store: MailStore, conn: imaplib.IMAP4) -> None:
    for n in range(4):
        store.deliver(USER, mail(n), T0, flags=["\\Deleted"] if n in (1, 2) else [])
    conn.select("INBOX")
    assert conn.uid("COPY", "1:2", "Sent")[0] == "OK"
    sent_validity = store.uidvalidity(USER, "Sent")
    assert conn.response("COPYUID")[1] == [f"{sent_validity} 1,2 1,2".encode()]
    assert [m.internaldate for m in store.messages(USER, "Sent")] == [T0, T0]
    assert conn.uid("EXPUNGE", "1:2")[0] == "OK"  # UIDPLUS: only \Deleted among UIDs 1-2
    assert [m.uid for m in store.messages(USER)] == [1, 3, 4]
    conn.unselect()
    assert [m.uid for m in store.messages(USER)] == [1, 3, 4]  # UNSELECT does not expunge
    conn.select("INBOX")
    conn.close()
    assert [m.uid for m in store.messages(USER)] == [1, 4]  # CLOSE does
    assert conn.state == "AUTH"


def test_idle_reports_new_mail(store: MailStore, raw: Raw) -> None:
    raw.command("a1", b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
    raw.command("a2", b"SELECT INBOX")
    raw.send(b"a3 IDLE\r\n")
    assert raw.line().startswith(b"+")
    threading.Timer(0.2, store.deliver, (USER, mail(1), T0)).start()
    started = time.monotonic()
    assert raw.line() == b"* 1 EXISTS\r\n"
    assert time.monotonic() - started < 5
    assert raw.line() == b"* 1 RECENT\r\n"
    raw.send(b"DONE\r\n")
    assert raw.until("a3") == [b"a3 OK IDLE terminated\r\n"]


def test_stop_with_clients_connected_and_restart_on_same_port(store: MailStore) -> None:
    srv = IMAPServer(store)
    srv.start()
    port = srv.port
    idler = Raw(port)
    idler.command("a1", b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
    idler.command("a2", b"SELECT INBOX")
    idler.send(b"a3 IDLE\r\n")
    assert idler.line().startswith(b"+")
    c = connect(srv)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 5
    assert idler.line() == b""  # the server hung up
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        c.noop()
    c.shutdown()
    idler.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    srv.start()  # start again: same port, same mailbox
    try:
        assert srv.port == port
        c = connect(srv)
        assert c.select("INBOX")[0] == "OK"
        c.logout()
    finally:
        srv.stop()
