"""The IMAP commands the sandbox server answers, one handler each, and the table of them.

A handler gets the :class:`~servicebench.sandbox.imap_session.IMAPSession` (connection state and
I/O), the command's tag, its parsed arguments and whether it came as ``UID <command>``; it
sends untagged responses itself and returns the tagged result (``OK ...``, ``NO ...``,
``BAD ...``), or None when it has answered already. :data:`COMMANDS` names, per command, the
handler and the state the connection must be in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from servicebench.sandbox.imap_protocol import (
    SYSTEM_FLAGS,
    Atom,
    FetchItem,
    MsgView,
    ParseError,
    Token,
    apply_partial,
    astring,
    envelope,
    format_internaldate,
    is_valid_flag,
    literal,
    normalize_flag,
    parse_datetime,
    parse_fetch_items,
    parse_search,
    quoted,
    section_bytes,
)
from servicebench.sandbox.mailstore import DELIMITER, mailbox_key

if TYPE_CHECKING:
    from servicebench.sandbox.imap_session import IMAPSession

IDLE_POLL = 0.1  # seconds between mailbox checks during IDLE

# the state a connection must be in for a command
STATE_NOAUTH, STATE_AUTH, STATE_SELECTED, STATE_ANY = "noauth", "auth", "selected", "any"


class CloseSession(Exception):
    """End the session now (after BYE, or abruptly for a fault)."""


Handler = Callable[["IMAPSession", str, list[Token], bool], Awaitable[str | None]]


# ----------------------------------------------------------------------------- any state


async def cmd_capability(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    await session.untagged(f"CAPABILITY {session.capabilities()}")
    return "OK CAPABILITY completed"


async def cmd_noop(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    return "OK NOOP completed"


async def cmd_logout(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> None:
    await session.untagged("BYE servicebench sandbox IMAP logging out")
    await session.send(f"{tag} OK LOGOUT completed\r\n".encode())
    session.done = True


# --------------------------------------------------------------------- not authenticated


async def cmd_starttls(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str | None:
    ctx = session.server.starttls_context
    if ctx is None or session.tls:
        return "BAD STARTTLS not available"
    await session.send(f"{tag} OK Begin TLS negotiation now\r\n".encode())
    if getattr(session.reader, "_buffer", b""):  # plaintext pipelined after STARTTLS
        await session.bye("Data after STARTTLS")
        return None
    await session.writer.start_tls(ctx)
    session.tls = True
    return None


async def cmd_login(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    if len(args) != 2:
        raise ParseError("LOGIN needs user name and password")
    return _authenticated(session, astring(args[0]), astring(args[1]), "LOGIN")


async def cmd_authenticate(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    if not args or len(args) > 2 or not isinstance(args[0], Atom):
        raise ParseError("AUTHENTICATE needs a mechanism")
    mechanism = args[0].upper()
    if mechanism not in ("PLAIN", "XOAUTH2"):
        return "NO Unsupported authentication mechanism"
    if len(args) == 2:
        response = astring(args[1])
        response = "" if response == "=" else response
    else:
        await session.send(b"+ \r\n")
        line = await session.readline()
        if line is None:
            raise CloseSession
        response = line.decode("ascii", "replace").strip()
        if response == "*":
            return "BAD AUTHENTICATE cancelled"
    try:
        decoded = base64.b64decode(response, validate=True)
    except (binascii.Error, ValueError):
        return "BAD Invalid base64 in AUTHENTICATE"
    if mechanism == "XOAUTH2":
        return await _xoauth2(session, decoded)
    parts = decoded.split(b"\0")
    if len(parts) != 3:
        return "NO [AUTHENTICATIONFAILED] Malformed PLAIN response"
    authzid, authcid, password = (p.decode("utf-8", "replace") for p in parts)
    if authzid and authzid != authcid:
        return "NO [AUTHORIZATIONFAILED] Cannot act as another user"
    return _authenticated(session, authcid, password, "AUTHENTICATE")


_XOAUTH2 = re.compile(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01\Z")


async def _xoauth2(session: IMAPSession, decoded: bytes) -> str:
    """SASL XOAUTH2 (as Gmail and Microsoft 365 do it): on refusal a JSON error as a
    continuation, which the client answers with an empty line, then NO."""
    m = _XOAUTH2.match(decoded)
    tokens = session.server.oauth_tokens
    if m:
        user, token = m.group(1).decode("utf-8", "replace"), m.group(2).decode("ascii", "replace")
        if tokens.get(token) == user and session.store.has_user(user):
            session.user = user
            return f"OK [CAPABILITY {session.capabilities()}] AUTHENTICATE completed"
    error = base64.b64encode(b'{"status":"401","schemes":"Bearer",'
                             b'"scope":"https://mail.google.com/"}')
    await session.send(b"+ " + error + b"\r\n")
    line = await session.readline()
    if line is None:
        raise CloseSession
    return "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"


def _authenticated(session: IMAPSession, user: str, password: str, what: str) -> str:
    if not session.store.authenticate(user, password):
        return "NO [AUTHENTICATIONFAILED] Invalid credentials"
    session.user = user
    return f"OK [CAPABILITY {session.capabilities()}] {what} completed"


# ------------------------------------------------------------------------- authenticated


def _mailbox_arg(session: IMAPSession, args: list[Token], count: int, what: str) -> str:
    if len(args) != count:
        raise ParseError(f"wrong number of arguments for {what}")
    return mailbox_key(astring(args[0]))


async def cmd_select(session: IMAPSession, tag: str, args: list[Token], uid: bool,
                     readonly: bool = False) -> str:
    assert session.user is not None
    what = "EXAMINE" if readonly else "SELECT"
    name = _mailbox_arg(session, args, 1, what)
    session.deselect()
    st = session.store.status(session.user, name)
    session.mailbox, session.readonly, session.uidvalidity = name, readonly, st.uidvalidity
    session.uids = list(st.uids)
    session.max_uid_seen = st.uids[-1] if st.uids else 0
    session.recent = set(st.recent) if readonly else session.store.claim_recent(session.user, name)
    await session.untagged("FLAGS (" + " ".join(SYSTEM_FLAGS) + ")")
    await session.untagged(f"{len(session.uids)} EXISTS")
    await session.untagged(f"{len(session.recent)} RECENT")
    mails = session.store.get(session.user, name, session.uids)
    for seq, u in enumerate(session.uids, 1):
        if u in mails and "\\Seen" not in mails[u].flags:
            await session.untagged(f"OK [UNSEEN {seq}] First unseen")
            break
    await session.untagged(f"OK [UIDVALIDITY {st.uidvalidity}] UIDs valid")
    await session.untagged(f"OK [UIDNEXT {st.uidnext}] Predicted next UID")
    permanent = "" if readonly else " ".join(SYSTEM_FLAGS) + " \\*"
    await session.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags permitted")
    return f"OK [{'READ-ONLY' if readonly else 'READ-WRITE'}] {what} completed"


async def cmd_examine(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    return await cmd_select(session, tag, args, uid, readonly=True)


async def cmd_create(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None
    name = _mailbox_arg(session, args, 1, "CREATE")
    if name == "INBOX":
        return "NO [ALREADYEXISTS] INBOX always exists"
    session.store.create_mailbox(session.user, name)
    return "OK CREATE completed"


async def cmd_subscribe(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None
    name = _mailbox_arg(session, args, 1, "SUBSCRIBE")
    if not session.store.has_mailbox(session.user, name):
        return "NO [NONEXISTENT] No such mailbox"
    return "OK Subscribed (every mailbox is)"


async def cmd_list(session: IMAPSession, tag: str, args: list[Token], uid: bool,
                   kind: str = "LIST") -> str:
    assert session.user is not None
    if kind == "LIST" and len(args) == 4 and isinstance(args[2], Atom) and \
            args[2].upper() == "RETURN":  # RFC 6154: LIST "" "*" RETURN (SPECIAL-USE)
        args = args[:2]
    if len(args) != 2:
        raise ParseError(f"{kind} needs a reference and a mailbox pattern")
    reference, pattern = astring(args[0]), astring(args[1])
    if not pattern:
        await session.untagged(f'{kind} (\\Noselect) "{DELIMITER}" ""')
        return f"OK {kind} completed"
    regex = re.compile("".join(".*" if c == "*" else f"[^{DELIMITER}]*" if c == "%"
                               else re.escape(c) for c in reference + pattern) + r"\Z")
    inbox = re.compile(regex.pattern, re.IGNORECASE)  # INBOX matches in any case
    names = session.store.mailboxes(session.user)
    for name in names:
        if regex.match(name) or (name == "INBOX" and inbox.match(name)):
            children = any(n.startswith(name + DELIMITER) for n in names)
            attr = "\\HasChildren" if children else "\\HasNoChildren"
            if name in session.store.special_use:
                attr += " " + session.store.special_use[name]
            await session.untagged(f'{kind} ({attr}) "{DELIMITER}" '.encode() + quoted(name))
    return f"OK {kind} completed"


async def cmd_lsub(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    return await cmd_list(session, tag, args, uid, kind="LSUB")


async def cmd_status(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None
    if len(args) != 2 or not isinstance(args[1], list) or not args[1]:
        raise ParseError("STATUS needs a mailbox and a list of items")
    name = mailbox_key(astring(args[0]))
    st = session.store.status(session.user, name)
    values = {"MESSAGES": len(st.uids), "UIDNEXT": st.uidnext,
              "UIDVALIDITY": st.uidvalidity, "UNSEEN": st.unseen,
              "RECENT": len(st.recent)}
    out = []
    for item in args[1]:
        key = astring(item).upper()
        if key not in values:
            raise ParseError(f"unknown STATUS item {key}")
        out.append(f"{key} {values[key]}")
    await session.untagged(b"STATUS " + quoted(name) + f" ({' '.join(out)})".encode())
    return "OK STATUS completed"


async def cmd_append(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None
    if len(args) < 2 or not isinstance(args[-1], bytes):
        raise ParseError("APPEND needs a mailbox and a message literal")
    name = mailbox_key(astring(args[0]))
    flags: list[str] = []
    when = datetime.now(UTC)
    for extra in args[1:-1]:
        if isinstance(extra, list):
            flags = [astring(f) for f in extra]
        else:
            when = parse_datetime(astring(extra))
    flags = [normalize_flag(f) for f in flags]
    if any(not is_valid_flag(f) or f == "\\Recent" for f in flags):
        raise ParseError("invalid flag in APPEND")
    if not session.store.has_mailbox(session.user, name):
        return "NO [TRYCREATE] No such mailbox"
    new_uid = session.store.deliver(session.user, args[-1], when, name, flags)
    return f"OK [APPENDUID {session.store.uidvalidity(session.user, name)} {new_uid}] " \
           "APPEND completed"


async def cmd_idle(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str | None:
    if not session.server.idle:
        return "BAD Unknown command IDLE"
    await session.send(b"+ idling\r\n")
    reading = asyncio.ensure_future(session.readline())
    try:
        while not reading.done():
            await asyncio.wait({reading}, timeout=IDLE_POLL)
            if session.mailbox is not None and not reading.done():
                await session.send_updates(allow_expunge=True)
    finally:
        if not reading.done():
            reading.cancel()
    line = reading.result()
    if line is None:
        raise CloseSession
    if line.strip().upper() != b"DONE":
        return "BAD Expected DONE"
    return "OK IDLE terminated"


# ------------------------------------------------------------------------------ selected


async def cmd_check(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    return "OK CHECK completed"


async def cmd_close(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    if not session.readonly:
        session.store.expunge(session.user, session.mailbox)
    session.deselect()
    return "OK CLOSE completed"


async def cmd_unselect(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    session.deselect()
    return "OK UNSELECT completed"


async def cmd_expunge(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    if session.readonly:
        return "NO [READ-ONLY] Mailbox is read-only"
    among = None
    if uid:
        if len(args) != 1:
            raise ParseError("UID EXPUNGE needs a UID set")
        among = [u for _, u in session.targets(astring(args[0]), uid=True)]
    session.store.expunge(session.user, session.mailbox, among)
    return "OK EXPUNGE completed"


async def cmd_search(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    matcher = parse_search(args)
    mails = session.store.get(session.user, session.mailbox, session.uids)
    max_uid = session.uids[-1] if session.uids else 0
    found = []
    for seq, u in enumerate(session.uids, 1):
        mail = mails.get(u)
        if mail is None:
            continue
        view = MsgView(seq, u, mail.raw, mail.internaldate, mail.flags, u in session.recent,
                       len(session.uids), max_uid)
        if matcher(view):
            found.append(u if uid else seq)
    await session.untagged(" ".join(["SEARCH", *map(str, found)]))
    return f"OK {'UID ' if uid else ''}SEARCH completed"


async def cmd_fetch(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    if len(args) < 2:
        raise ParseError("FETCH needs a sequence set and data items")
    items = parse_fetch_items(args[1:])
    targets = session.targets(astring(args[0]), uid)
    if uid and not any(i.name == "UID" for i in items):
        items.insert(0, FetchItem("UID"))
    # UID first and literals last, so that clients find UID in the line before a literal
    items.sort(key=lambda i: (i.name != "UID", i.name in ("BODY", "RFC822",
                                                           "RFC822.HEADER", "RFC822.TEXT")))
    marks_seen = not session.readonly and any(i.sets_seen for i in items)
    mails = session.store.get(session.user, session.mailbox, [u for _, u in targets])
    for seq, u in targets:
        mail = mails.get(u)
        if mail is None:
            continue
        flags, show_flags = mail.flags, any(i.name == "FLAGS" for i in items)
        if marks_seen and "\\Seen" not in flags:
            flags = session.store.set_flags(session.user, session.mailbox, [u], "+",
                                            ["\\Seen"]).get(u, flags)
            show_flags = True
        parts: list[bytes] = []
        for item in items:
            if item.name == "UID":
                parts.append(b"UID %d" % u)
            elif item.name == "FLAGS":
                continue
            elif item.name == "INTERNALDATE":
                parts.append(f'INTERNALDATE "{format_internaldate(mail.internaldate)}"'
                             .encode())
            elif item.name == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE %d" % len(mail.raw))
            elif item.name == "ENVELOPE":
                parts.append(b"ENVELOPE " + envelope(mail.raw))
            else:
                data = apply_partial(item, section_bytes(item, mail.raw))
                parts.append(item.label() + b" " + literal(data))
        if show_flags:
            parts.insert(1 if uid else 0, b"FLAGS " + session.flag_list(u, flags).encode())
        await session.untagged(b"%d FETCH (" % seq + b" ".join(parts) + b")")
        await _count_fetch_response(session)
    return f"OK {'UID ' if uid else ''}FETCH completed"


async def _count_fetch_response(session: IMAPSession) -> None:
    session.fetch_responses += 1
    limit = session.server.fault.drop_connection_after_fetch_items
    if limit is not None and session.fetch_responses >= limit:
        transport = session.writer.transport
        for _ in range(100):  # let what was written reach the client, then cut
            if transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.01)
        session.abort = True
        raise CloseSession


async def cmd_store(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    if len(args) < 3 or not isinstance(args[1], Atom):
        raise ParseError("STORE needs a sequence set, an item and flags")
    if session.readonly:
        return "NO [READ-ONLY] Mailbox is read-only"
    what = args[1].upper()
    m = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", what)
    if not m:
        raise ParseError(f"unknown STORE item {what}")
    raw_flags = args[2] if len(args) == 3 and isinstance(args[2], list) else args[2:]
    if not isinstance(raw_flags, list):
        raise ParseError("flags expected")
    flags = [normalize_flag(astring(f)) for f in raw_flags]
    if any(not is_valid_flag(f) for f in flags):
        raise ParseError("invalid flag")
    targets = session.targets(astring(args[0]), uid)
    new = session.store.set_flags(session.user, session.mailbox, [u for _, u in targets],
                                  m.group(1) or "=", flags)
    if not m.group(2):
        for seq, u in targets:
            if u in new:
                shown = f"FLAGS {session.flag_list(u, new[u])}"
                await session.untagged(f"{seq} FETCH ({f'UID {u} ' if uid else ''}{shown})")
    return f"OK {'UID ' if uid else ''}STORE completed"


async def cmd_copy(session: IMAPSession, tag: str, args: list[Token], uid: bool) -> str:
    assert session.user is not None and session.mailbox is not None
    if len(args) != 2:
        raise ParseError("COPY needs a sequence set and a mailbox")
    dest = mailbox_key(astring(args[1]))
    targets = session.targets(astring(args[0]), uid)
    if not session.store.has_mailbox(session.user, dest):
        return "NO [TRYCREATE] No such mailbox"
    mails = session.store.get(session.user, session.mailbox, [u for _, u in targets])
    pairs = [(u, session.store.deliver(session.user, m.raw, m.internaldate, dest, m.flags))
             for u, m in mails.items()]
    if not pairs:
        return "OK COPY completed (nothing to copy)"
    src = ",".join(str(a) for a, _ in pairs)
    dst = ",".join(str(b) for _, b in pairs)
    return f"OK [COPYUID {session.store.uidvalidity(session.user, dest)} {src} {dst}] " \
           "COPY completed"


COMMANDS: dict[str, tuple[Handler, str]] = {
    "CAPABILITY": (cmd_capability, STATE_ANY),
    "NOOP": (cmd_noop, STATE_ANY),
    "LOGOUT": (cmd_logout, STATE_ANY),
    "STARTTLS": (cmd_starttls, STATE_NOAUTH),
    "LOGIN": (cmd_login, STATE_NOAUTH),
    "AUTHENTICATE": (cmd_authenticate, STATE_NOAUTH),
    "SELECT": (cmd_select, STATE_AUTH),
    "EXAMINE": (cmd_examine, STATE_AUTH),
    "CREATE": (cmd_create, STATE_AUTH),
    "SUBSCRIBE": (cmd_subscribe, STATE_AUTH),
    "UNSUBSCRIBE": (cmd_subscribe, STATE_AUTH),
    "LIST": (cmd_list, STATE_AUTH),
    "LSUB": (cmd_lsub, STATE_AUTH),
    "STATUS": (cmd_status, STATE_AUTH),
    "APPEND": (cmd_append, STATE_AUTH),
    "IDLE": (cmd_idle, STATE_AUTH),
    "CHECK": (cmd_check, STATE_SELECTED),
    "CLOSE": (cmd_close, STATE_SELECTED),
    "UNSELECT": (cmd_unselect, STATE_SELECTED),
    "EXPUNGE": (cmd_expunge, STATE_SELECTED),
    "SEARCH": (cmd_search, STATE_SELECTED),
    "FETCH": (cmd_fetch, STATE_SELECTED),
    "STORE": (cmd_store, STATE_SELECTED),
    "COPY": (cmd_copy, STATE_SELECTED),
}
