"""Incremental IMAP sync by UIDVALIDITY/UID, reading the server's INTERNALDATE.

A second run with no new mail fetches no message bodies: it asks for UIDs above the last
one stored (``UID SEARCH UID n:*``) and filters the answer itself, since RFC 3501 makes
``n:*`` return the last message even when ``n`` is above every UID.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from servicebench.errors import ProbeError

from .tls import client_context

FETCH_BATCH = 25


@dataclass
class ImapSettings:
    host: str
    port: int
    security: str = "tls"  # tls | starttls | none
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    sent_folder: str = "Sent"
    timeout: float = 60.0
    ca_file: str | None = None
    verify: bool = True


@dataclass
class FetchedMail:
    uid: int
    internaldate: datetime | None
    raw: bytes


def connect(s: ImapSettings) -> imaplib.IMAP4:
    try:
        ctx = client_context(s.ca_file, s.verify)
        if s.security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=ctx,
                                                    timeout=s.timeout)
        else:
            conn = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                conn.starttls(ssl_context=ctx)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ProbeError(f"cannot reach IMAP server {s.host}:{s.port}: {exc}",
                         temporary=True) from exc
    try:
        conn.login(s.username, s.password)
    except imaplib.IMAP4.error as exc:
        raise ProbeError(f"IMAP login refused by {s.host} for the configured user: "
                         f"{_text(exc)}; check the mailbox credentials") from exc
    return conn


def _text(exc: BaseException) -> str:
    return str(exc.args[0] if exc.args else exc).strip("b'\"")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def select(conn: imaplib.IMAP4, folder: str, readonly: bool = True) -> int:
    """Select ``folder``; return its UIDVALIDITY."""
    typ, data = conn.select(_quote(folder), readonly=readonly)
    if typ != "OK":
        raise ProbeError(f"IMAP folder {folder!r} cannot be opened: {data!r}")
    typ, data = conn.response("UIDVALIDITY")
    try:
        return int(data[0])
    except (TypeError, ValueError, IndexError):
        raise ProbeError(f"IMAP server gave no UIDVALIDITY for {folder!r}") from None


def new_uids(conn: imaplib.IMAP4, last_uid: int) -> list[int]:
    typ, data = conn.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise ProbeError(f"IMAP UID SEARCH failed: {data!r}")
    uids = sorted(int(x) for x in (data[0] or b"").split())
    return [u for u in uids if u > last_uid]


_INTERNALDATE_RE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UID_RE = re.compile(rb"UID (\d+)")


def parse_internaldate(resp: bytes) -> datetime | None:
    m = _INTERNALDATE_RE.search(resp)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(
            UTC)
    except ValueError:
        return None


def fetch(conn: imaplib.IMAP4, uids: list[int]) -> Iterator[FetchedMail]:
    """Yield each message (raw bytes and INTERNALDATE) in UID order, in small batches."""
    for i in range(0, len(uids), FETCH_BATCH):
        batch = uids[i:i + FETCH_BATCH]
        typ, data = conn.uid("FETCH", ",".join(map(str, batch)),
                             "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise ProbeError(f"IMAP FETCH failed: {data!r}")
        got: dict[int, FetchedMail] = {}
        for item in data:
            if not isinstance(item, tuple) or len(item) < 2:
                continue
            head, body = item[0], item[1]
            m = _UID_RE.search(head)
            if not m:
                continue
            uid = int(m.group(1))
            got[uid] = FetchedMail(uid, parse_internaldate(head), body)
        for uid in batch:
            if uid in got:
                yield got[uid]


def find_by_message_id(conn: imaplib.IMAP4, folder: str, message_id: str
                       ) -> FetchedMail | None:
    """The first message in ``folder`` whose Message-ID header is ``message_id``."""
    try:
        select(conn, folder)
    except ProbeError:
        return None
    typ, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", _quote(message_id))
    if typ != "OK":
        return None
    uids = [int(x) for x in (data[0] or b"").split()]
    for mail in fetch(conn, uids[:1]):
        return mail
    return None


def logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        pass
