"""Incremental IMAP sync by UIDVALIDITY/UID, reading the server's INTERNALDATE.

A second run with no new mail fetches no message bodies: it asks for UIDs above the last
one stored (``UID SEARCH UID n:*``) and filters the answer itself, since RFC 3501 makes
``n:*`` return the last message even when ``n`` is above every UID.
"""

from __future__ import annotations

import base64
import imaplib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from servicebench.errors import CredentialsRefused, ProbeError

from . import oauth
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
    sent_folder: str | None = "Sent"  # None: the folder flagged \Sent (SPECIAL-USE)
    timeout: float = 60.0
    ca_file: str | None = None
    verify: bool = True
    auth: str = "password"  # password | xoauth2
    oauth: oauth.OAuthSettings | None = None


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
        if s.auth == "xoauth2":
            _xoauth2_login(conn, s)
        else:
            conn.login(s.username, s.password)
    except imaplib.IMAP4.error as exc:
        logout(conn)
        why = f"IMAP login refused by {s.host} for the configured user: {_text(exc)}"
        if "[UNAVAILABLE]" in why or "[INUSE]" in why:
            raise ProbeError(why, temporary=True) from exc
        raise CredentialsRefused(why, ("mailbox.imap.username", "mailbox.imap.password",
                                       "mailbox.oauth.refresh_token",
                                       "mailbox.oauth.client_secret")) from exc
    except ProbeError:
        logout(conn)
        raise
    _refresh_capabilities(conn)
    return conn


def _refresh_capabilities(conn: imaplib.IMAP4) -> None:
    """Servers announce more after login (Dovecot: SPECIAL-USE); imaplib keeps the first list."""
    try:
        typ, data = conn.capability()
    except (imaplib.IMAP4.error, OSError):
        return
    if typ == "OK" and data and data[-1]:
        conn.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())


def _xoauth2_login(conn: imaplib.IMAP4, s: ImapSettings) -> None:
    """AUTHENTICATE XOAUTH2; on refusal fetch a fresh access token once and try again."""
    assert s.oauth is not None
    for attempt in (1, 2):
        token = oauth.TOKENS.get(s.oauth, force=attempt == 2)
        sent: list[bool] = []

        def respond(_challenge: bytes, token: str = token, sent: list[bool] = sent) -> bytes:
            # the first call answers the empty challenge; after a refusal the server sends
            # an error description and wants an empty response before it says NO
            if sent:
                return b""
            sent.append(True)
            return oauth.xoauth2_string(s.username, token)

        try:
            conn.authenticate("XOAUTH2", respond)
            return
        except imaplib.IMAP4.error:
            if attempt == 2:
                raise


def _text(exc: BaseException) -> str:
    return str(exc.args[0] if exc.args else exc).strip("b'\"")


def quote(folder: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    folder = utf7_encode(folder)
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def utf7_encode(name: str) -> str:
    """``Entwürfe`` -> ``Entw&APw-rfe`` (IMAP's modified UTF-7 for mailbox names)."""
    out, run = [], ""

    def flush() -> None:
        nonlocal run
        if run:
            b64 = base64.b64encode(run.encode("utf-16-be")).decode("ascii").rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            run = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run += ch
    flush()
    return "".join(out)


def utf7_decode(name: str) -> str:
    """The reverse of :func:`utf7_encode`; a malformed part is kept as it is."""
    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        if not body:
            return "&"
        raw = body.replace(",", "/")
        try:
            return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return m.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", one, name)


def select(conn: imaplib.IMAP4, folder: str, readonly: bool = True) -> int:
    """Select ``folder``; return its UIDVALIDITY."""
    typ, data = conn.select(quote(folder), readonly=readonly)
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
    typ, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", quote(message_id))
    if typ != "OK":
        return None
    uids = [int(x) for x in (data[0] or b"").split()]
    for mail in fetch(conn, uids[:1]):
        return mail
    return None


_LIST_RE = re.compile(rb'^\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.*)$', re.IGNORECASE)


def list_folders(conn: imaplib.IMAP4) -> list[tuple[str, set[str]]]:
    """Every folder with its attributes (lower case, e.g. ``\\junk``, ``\\sent``).

    Asks for the RFC 6154 special-use attributes where the server offers SPECIAL-USE; many
    servers (Dovecot among them) also include them in a plain LIST."""
    typ, data = "NO", []
    if "SPECIAL-USE" in conn.capabilities:
        typ, data = conn._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        if typ == "OK":
            typ, data = conn._untagged_response(typ, data, "LIST")
    if typ != "OK":
        typ, data = conn.list('""', '"*"')
    if typ != "OK":
        raise ProbeError(f"IMAP LIST failed: {data!r}")
    out: list[tuple[str, set[str]]] = []
    items = list(data)
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        if item is None:
            continue
        if isinstance(item, tuple):  # the name came as a literal
            head, name_raw = item[0], item[1]
            m = _LIST_RE.match(head.rsplit(b" {", 1)[0] + b" x")
            if not m:
                continue
            out.append((utf7_decode(name_raw.decode("utf-8", "replace")),
                        _attrs(m.group(1))))
            continue
        m = _LIST_RE.match(item)
        if not m:
            continue
        out.append((utf7_decode(_unquote(m.group(2))), _attrs(m.group(1))))
    return out


def _attrs(raw: bytes) -> set[str]:
    return {a.decode("ascii", "replace").lower() for a in raw.split()}


def _unquote(raw: bytes) -> str:
    raw = raw.strip()
    if raw.startswith(b'"') and raw.endswith(b'"'):
        raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    return raw.decode("utf-8", "replace")


#: folder names that are the spam folder by custom when a server marks none \Junk
SPAM_NAMES = {"junk", "spam", "junk e-mail", "junk email", "[gmail]/spam", "inbox.junk",
              "inbox.spam", "inbox/junk", "inbox/spam", "bulk mail", "spamverdacht"}


def special_folder(folders: list[tuple[str, set[str]]], use: str) -> str | None:
    """The first folder carrying the special-use attribute ``use`` (e.g. ``\\Junk``)."""
    want = use.lower()
    for name, attrs in folders:
        if want in attrs:
            return name
    return None


def logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        pass
