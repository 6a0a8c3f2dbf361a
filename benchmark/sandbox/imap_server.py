"""The sandbox's own IMAP4rev1 server (RFC 3501 subset) holding the mystery shopper's mailbox.

Simulated companies drop replies into a :class:`MailStore` with :meth:`MailStore.deliver`,
choosing the INTERNALDATE (a virtual time on the sandbox's accelerated clock); the product's
IMAP client then syncs the mailbox by UIDVALIDITY/UID through :class:`IMAPServer`.

Pure standard library: asyncio for the server (in its own thread), a lock for the store.
Messages are stored and served byte for byte as delivered; INTERNALDATE has one-second
resolution (IMAP's), so sub-second parts of a delivered time are dropped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmark.sandbox.imap_protocol import (
    SYSTEM_FLAGS,
    Atom,
    BadCharset,
    FetchItem,
    MsgView,
    ParseError,
    SeqSet,
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
    sort_flags,
    tokenize,
)

__all__ = ["Fault", "IMAPServer", "MailStore", "MailboxError", "StoredMail"]

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024  # one command line, literals excluded
MAX_LITERAL = 50 * 1024 * 1024  # one literal (an APPENDed message)
MAX_COMMAND = MAX_LITERAL + 1024 * 1024  # a whole command with all its literals
AUTOLOGOUT = 30 * 60.0  # seconds of client silence before the server hangs up
IDLE_POLL = 0.1  # seconds between mailbox checks during IDLE
DELIMITER = "/"
INDEX_FILE = "index.json"


# ============================================================================ the store


@dataclass(frozen=True)
class StoredMail:
    uid: int
    raw: bytes
    internaldate: datetime  # aware, UTC, whole seconds
    flags: frozenset[str] = frozenset()


@dataclass
class _Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    mails: dict[int, StoredMail] = field(default_factory=dict)  # in UID order
    recent: set[int] = field(default_factory=set)  # \Recent not yet claimed by a SELECT


@dataclass
class _User:
    password: str
    mailboxes: dict[str, _Mailbox] = field(default_factory=dict)


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    uidvalidity: int
    uidnext: int
    uids: tuple[int, ...]
    unseen: int
    recent: frozenset[int]


class MailboxError(Exception):
    """A mailbox operation refused; answered with ``NO [code] message``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def mailbox_key(name: str) -> str:
    """Canonical mailbox name: INBOX is case-insensitive, a trailing delimiter is dropped."""
    name = name.rstrip(DELIMITER) if name != DELIMITER else name
    return "INBOX" if name.upper() == "INBOX" else name


def _utc_seconds(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("internaldate must be timezone-aware")
    return dt.astimezone(UTC).replace(microsecond=0)


class MailStore:
    """Users and their mailboxes, in memory; saved to ``folder`` when one is given.

    Thread-safe. On disk: ``index.json`` (users, mailboxes, UIDVALIDITY, UIDNEXT and per
    message uid, flags, internaldate, file) and ``messages/<sha256>.eml`` (the raw bytes).
    Passwords are kept in clear text: this is a sandbox with made-up accounts.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._users: dict[str, _User] = {}
        self._last_uidvalidity = 0
        self._folder = Path(folder) if folder is not None else None
        if self._folder is not None:
            (self._folder / "messages").mkdir(parents=True, exist_ok=True)
            self._load()

    # ----------------------------------------------------------------- public API

    def add_user(self, user: str, password: str) -> None:
        """Create ``user`` with INBOX and Sent, or change the password of an existing one."""
        with self._lock:
            u = self._users.get(user)
            if u is None:
                u = self._users[user] = _User(password)
            u.password = password
            for name in ("INBOX", "Sent"):
                if name not in u.mailboxes:
                    u.mailboxes[name] = _Mailbox(name, self._new_uidvalidity())
            self._save()

    def users(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def deliver(self, user: str, raw: bytes, internaldate: datetime, mailbox: str = "INBOX",
                flags: Iterable[str] = ()) -> int:
        """Put a message into ``mailbox`` (created if missing) with exactly this INTERNALDATE."""
        when = _utc_seconds(internaldate)
        clean = frozenset(normalize_flag(f) for f in flags) - {"\\Recent"}
        bad = [f for f in clean if not is_valid_flag(f)]
        if bad:
            raise ValueError(f"invalid IMAP flags: {bad}")
        with self._lock:
            mbox = self._mailbox(user, mailbox, create=True)
            uid = mbox.uidnext
            mbox.uidnext += 1
            mbox.mails[uid] = StoredMail(uid, bytes(raw), when, clean)
            mbox.recent.add(uid)
            self._write_message(raw)
            self._save()
            return uid

    def messages(self, user: str, mailbox: str = "INBOX") -> list[StoredMail]:
        with self._lock:
            return list(self._mailbox(user, mailbox).mails.values())

    def uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        with self._lock:
            return self._mailbox(user, mailbox).uidvalidity

    def reset_uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        """Renumber the messages from UID 1 under a new, higher UIDVALIDITY; return it."""
        with self._lock:
            mbox = self._mailbox(user, mailbox)
            mbox.uidvalidity = self._new_uidvalidity()
            renumbered = {}
            for new_uid, mail in enumerate(mbox.mails.values(), start=1):
                renumbered[new_uid] = replace(mail, uid=new_uid)
            mbox.recent = set()
            mbox.mails = renumbered
            mbox.uidnext = len(renumbered) + 1
            self._save()
            return mbox.uidvalidity

    def create_mailbox(self, user: str, name: str) -> None:
        key = mailbox_key(name)
        if not key or any(ch in key for ch in "*%\r\n") or f"{DELIMITER}{DELIMITER}" in key:
            raise MailboxError(f"invalid mailbox name {name!r}", "CANNOT")
        with self._lock:
            u = self._user(user)
            if key in u.mailboxes:
                raise MailboxError("mailbox already exists", "ALREADYEXISTS")
            u.mailboxes[key] = _Mailbox(key, self._new_uidvalidity())
            self._save()

    def mailboxes(self, user: str) -> list[str]:
        with self._lock:
            return list(self._user(user).mailboxes)

    # ----------------------------------------------------------------- used by the server

    def authenticate(self, user: str, password: str) -> bool:
        with self._lock:
            u = self._users.get(user)
            expected = u.password if u is not None else "\0no such user"
        ok = hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))
        return ok and u is not None

    def has_mailbox(self, user: str, name: str) -> bool:
        with self._lock:
            return mailbox_key(name) in self._user(user).mailboxes

    def status(self, user: str, name: str) -> MailboxStatus:
        with self._lock:
            m = self._mailbox(user, name)
            unseen = sum(1 for x in m.mails.values() if "\\Seen" not in x.flags)
            return MailboxStatus(m.name, m.uidvalidity, m.uidnext, tuple(m.mails), unseen,
                                 frozenset(m.recent))

    def claim_recent(self, user: str, name: str) -> set[int]:
        """The \\Recent UIDs, which from now on are recent for the caller's session only."""
        with self._lock:
            m = self._mailbox(user, name)
            claimed, m.recent = m.recent, set()
            return claimed

    def get(self, user: str, name: str, uids: Iterable[int]) -> dict[int, StoredMail]:
        with self._lock:
            mails = self._mailbox(user, name).mails
            return {u: mails[u] for u in uids if u in mails}

    def set_flags(self, user: str, name: str, uids: Iterable[int], mode: str,
                  flags: Iterable[str]) -> dict[int, frozenset[str]]:
        """``mode`` ``+`` adds, ``-`` removes, ``=`` replaces; returns the new flags by UID."""
        change = frozenset(normalize_flag(f) for f in flags) - {"\\Recent"}
        out: dict[int, frozenset[str]] = {}
        with self._lock:
            mails = self._mailbox(user, name).mails
            dirty = False
            for uid in uids:
                mail = mails.get(uid)
                if mail is None:
                    continue
                new = (mail.flags | change if mode == "+" else
                       mail.flags - change if mode == "-" else change)
                if new != mail.flags:
                    mails[uid] = replace(mail, flags=new)
                    dirty = True
                out[uid] = new
            if dirty:
                self._save()
        return out

    def expunge(self, user: str, name: str, uids: Iterable[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (only among ``uids`` if given)."""
        with self._lock:
            m = self._mailbox(user, name)
            among = set(m.mails) if uids is None else set(uids)
            gone = [u for u, x in m.mails.items() if u in among and "\\Deleted" in x.flags]
            for u in gone:
                del m.mails[u]
                m.recent.discard(u)
            if gone:
                self._save(collect=True)
            return gone

    # ----------------------------------------------------------------- internals

    def _user(self, user: str) -> _User:
        u = self._users.get(user)
        if u is None:
            raise KeyError(f"no such sandbox IMAP user: {user!r}")
        return u

    def _mailbox(self, user: str, name: str, create: bool = False) -> _Mailbox:
        u = self._user(user)
        key = mailbox_key(name)
        m = u.mailboxes.get(key)
        if m is None:
            if not create:
                raise MailboxError(f"no mailbox {name!r}", "NONEXISTENT")
            self.create_mailbox(user, key)
            m = u.mailboxes[key]
        return m

    def _new_uidvalidity(self) -> int:
        value = max(int(time.time()), self._last_uidvalidity + 1) & 0xFFFFFFFF or 1
        self._last_uidvalidity = value
        return value

    @staticmethod
    def _digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()

    def _write_message(self, raw: bytes) -> None:
        if self._folder is None:
            return
        path = self._folder / "messages" / f"{self._digest(raw)}.eml"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(raw)
            os.replace(tmp, path)

    def _save(self, collect: bool = False) -> None:
        if self._folder is None:
            return
        users = {}
        for name, u in self._users.items():
            boxes = {}
            for key, m in u.mailboxes.items():
                boxes[key] = {"uidvalidity": m.uidvalidity, "uidnext": m.uidnext,
                              "messages": [{"uid": x.uid, "flags": sort_flags(x.flags),
                                            "internaldate": x.internaldate.isoformat(),
                                            "file": f"{self._digest(x.raw)}.eml"}
                                           for x in m.mails.values()]}
            users[name] = {"password": u.password, "mailboxes": boxes}
        index = {"version": 1, "last_uidvalidity": self._last_uidvalidity, "users": users}
        tmp = self._folder / (INDEX_FILE + ".tmp")
        tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
        os.replace(tmp, self._folder / INDEX_FILE)
        if collect:
            used = {msg["file"] for u in users.values() for b in u["mailboxes"].values()
                    for msg in b["messages"]}
            for path in (self._folder / "messages").glob("*.eml"):
                if path.name not in used:
                    path.unlink(missing_ok=True)

    def _load(self) -> None:
        assert self._folder is not None
        path = self._folder / INDEX_FILE
        if not path.exists():
            return
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            self._last_uidvalidity = int(index.get("last_uidvalidity", 0))
            for name, u in index["users"].items():
                user = self._users[name] = _User(u["password"])
                for key, b in u["mailboxes"].items():
                    m = user.mailboxes[key] = _Mailbox(key, int(b["uidvalidity"]),
                                                       int(b["uidnext"]))
                    for msg in b["messages"]:
                        file = self._folder / "messages" / msg["file"]
                        if not file.exists():
                            log.warning("sandbox IMAP store: %s is missing; message skipped",
                                        file)
                            continue
                        when = _utc_seconds(datetime.fromisoformat(msg["internaldate"]))
                        m.mails[int(msg["uid"])] = StoredMail(
                            int(msg["uid"]), file.read_bytes(), when, frozenset(msg["flags"]))
                    self._last_uidvalidity = max(self._last_uidvalidity, m.uidvalidity)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"sandbox IMAP store index {path} is damaged: {exc}") from exc


# ============================================================================ the server


@dataclass
class Fault:
    """Misbehaviour for tests of the client; read at the moment it applies, so tests may
    change it while the server runs."""

    drop_connection_after_fetch_items: int | None = None  # abort after N FETCH responses
    response_delay: float = 0.0  # seconds to wait before every tagged response


class _CloseSession(Exception):
    """End the session now (after BYE, or abruptly for a fault)."""


_LITERAL_END = re.compile(rb"\{(\d{1,12})(\+?)\}\r?\n\Z")
# tag: ASTRING-CHARs except "+", i.e. no ( ) { % * " \ + SP or controls
_TAG = re.compile(rb"([\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+) ")

_NOAUTH, _AUTH, _SELECTED, _ANY = "noauth", "auth", "selected", "any"


class IMAPServer:
    """An IMAP4rev1 server for one :class:`MailStore`, running in its own daemon thread.

    ``ssl_context``: implicit TLS on connect (like port 993). ``starttls_context``: STARTTLS
    is advertised and served; LOGIN is still accepted before it (a sandbox, not a policy).
    Give ``host`` as an address: a name such as ``localhost`` may bind several sockets,
    each on its own port when ``port`` is 0, and :attr:`port` names only the first.
    """

    def __init__(self, store: MailStore, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None,
                 starttls_context: ssl.SSLContext | None = None,
                 fault: Fault | None = None) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.starttls_context = starttls_context
        self.fault = fault if fault is not None else Fault()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> IMAPServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen (``port`` 0 picks a free one, stored in :attr:`port`) and serve."""
        if self._thread is not None:
            raise RuntimeError("IMAP server already started")
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_server(
                    self._handle, self.host, self.port, ssl=self.ssl_context, limit=MAX_LINE))
                self.port = self._server.sockets[0].getsockname()[1]
                self._loop = loop
            except BaseException as exc:  # noqa: BLE001 - handed to start()'s caller
                errors.append(exc)
                loop.close()
                return
            finally:
                ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"sandbox-imap-{self.host}",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]

    def stop(self) -> None:
        """Close the listener and every open session; wait for the thread to end."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            self._loop = None

    async def _shutdown(self) -> None:
        """Stop listening, then cancel every session (the loop is ours alone)."""
        assert self._server is not None
        self._server.close()
        for _ in range(5):  # a session may still be starting or closing: repeat
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            if not tasks:
                break
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        try:
            await session.run()
        except (_CloseSession, ConnectionError, asyncio.IncompleteReadError, TimeoutError,
                ssl.SSLError, OSError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("sandbox IMAP session failed")
        finally:
            if session.abort:
                writer.transport.abort()
            else:
                writer.close()
                closing = asyncio.ensure_future(writer.wait_closed())
                closing.add_done_callback(_consume_result)
                try:
                    await asyncio.wait({closing}, timeout=2)
                except asyncio.CancelledError:  # server stopping: _shutdown cancels `closing`
                    pass


def _consume_result(future: asyncio.Future[None]) -> None:
    """Retrieve a finished future's exception (a peer that vanished while closing)."""
    if not future.cancelled():
        future.exception()


Handler = Callable[["_Session", str, list[Token], bool], Awaitable[str | None]]


class _Session:
    """One client connection: states, selected mailbox view, command dispatch."""

    def __init__(self, server: IMAPServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.store = server, server.store
        self.reader, self.writer = reader, writer
        self.tls = server.ssl_context is not None
        self.user: str | None = None
        self.mailbox: str | None = None
        self.readonly = False
        self.uidvalidity = 0
        self.uids: list[int] = []  # the client's view: sequence number n is uids[n - 1]
        self.max_uid_seen = 0
        self.recent: set[int] = set()
        self.fetch_responses = 0
        self.done = False
        self.abort = False

    # ----------------------------------------------------------------- I/O

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def untagged(self, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        await self.send(b"* " + data + b"\r\n")

    async def bye(self, text: str) -> None:
        try:
            await self.untagged(f"BYE {text}")
        finally:
            self.done = True

    async def readline(self) -> bytes | None:
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\n"), AUTOLOGOUT)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            await self.bye("Command line too long")
            return None
        except TimeoutError:
            await self.bye("Autologout; idle for too long")
            return None

    async def read_command(self) -> bytes | None:
        """A whole command with its literals inlined; None at the end of the session."""
        line = await self.readline()
        if line is None:
            return None
        buf = bytearray(line)
        while m := _LITERAL_END.search(line):
            size, sync = int(m.group(1)), not m.group(2)
            if size > MAX_LITERAL or len(buf) + size > MAX_COMMAND:
                if not sync:
                    await self.bye("Literal too large")
                    return None
                tag = _TAG.match(buf)
                await self.send((tag.group(1) if tag else b"*") + b" BAD Literal too large\r\n")
                return b""
            if sync:
                await self.send(b"+ Ready for literal data\r\n")
            buf += await asyncio.wait_for(self.reader.readexactly(size), AUTOLOGOUT)
            line = await self.readline()
            if line is None:
                return None
            buf += line
        return bytes(buf)

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "UIDPLUS", "IDLE", "UNSELECT"]
        if self.user is None:
            if self.server.starttls_context is not None and not self.tls:
                caps.append("STARTTLS")
            caps.append("AUTH=PLAIN")
        return " ".join(caps)

    # ----------------------------------------------------------------- main loop

    async def run(self) -> None:
        await self.untagged(f"OK [CAPABILITY {self.capabilities()}] servicebench sandbox "
                            "IMAP ready")
        while not self.done:
            data = await self.read_command()
            if data is None:
                return
            if data:
                await self.dispatch(data)

    async def dispatch(self, data: bytes) -> None:
        m = _TAG.match(data)
        if not m:
            await self.untagged("BAD Missing or invalid tag")
            return
        tag = m.group(1).decode("ascii")
        try:
            tokens = tokenize(data[m.end():])
        except ParseError as exc:
            await self.send(f"{tag} BAD {exc}\r\n".encode())
            return
        if not tokens or not isinstance(tokens[0], Atom):
            await self.send(f"{tag} BAD Missing command\r\n".encode())
            return
        name, args, uid = tokens[0].upper(), tokens[1:], False
        if name == "UID":
            if not args or not isinstance(args[0], Atom) or \
                    args[0].upper() not in ("FETCH", "SEARCH", "STORE", "COPY", "EXPUNGE"):
                await self.send(f"{tag} BAD Unknown UID command\r\n".encode())
                return
            name, args, uid = args[0].upper(), args[1:], True
        entry = _COMMANDS.get(name)
        if entry is None:
            await self.send(f"{tag} BAD Unknown command {name}\r\n".encode())
            return
        handler, state = entry
        problem = self._state_problem(state)
        if problem:
            await self.send(f"{tag} BAD {problem}\r\n".encode())
            return
        try:
            result = await handler(self, tag, args, uid)
        except ParseError as exc:
            result = f"BAD {name}: {exc}"
        except BadCharset:
            result = "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset"
        except MailboxError as exc:
            code = f"[{exc.code}] " if exc.code else ""
            result = f"NO {code}{exc}"
        except (_CloseSession, OSError, EOFError):
            raise
        except Exception:
            log.exception("sandbox IMAP: %s failed", name)
            result = f"NO [SERVERBUG] {name} failed inside the sandbox server"
        if result is None or self.done:
            return
        if self.mailbox is not None:
            await self.send_updates(allow_expunge=name not in ("FETCH", "STORE", "SEARCH"))
        if self.server.fault.response_delay:
            await asyncio.sleep(self.server.fault.response_delay)
        await self.send(f"{tag} {result}\r\n".encode())

    def _state_problem(self, state: str) -> str | None:
        if state == _NOAUTH and self.user is not None:
            return "Already authenticated"
        if state in (_AUTH, _SELECTED) and self.user is None:
            return "Not authenticated; LOGIN first"
        if state == _SELECTED and self.mailbox is None:
            return "No mailbox selected"
        return None

    async def send_updates(self, allow_expunge: bool) -> None:
        """EXISTS / RECENT / EXPUNGE for changes made by others since the client looked."""
        assert self.user is not None and self.mailbox is not None
        st = self.store.status(self.user, self.mailbox)
        if st.uidvalidity != self.uidvalidity:
            await self.bye("Mailbox UIDVALIDITY changed; select it again")
            raise _CloseSession
        if allow_expunge:
            present = set(st.uids)
            for i in range(len(self.uids) - 1, -1, -1):
                if self.uids[i] not in present:
                    del self.uids[i]
                    await self.untagged(f"{i + 1} EXPUNGE")
        new = [u for u in st.uids if u > self.max_uid_seen]
        if new:
            self.uids.extend(new)
            self.max_uid_seen = new[-1]
            self.recent |= (self.store.claim_recent(self.user, self.mailbox) if not self.readonly
                            else set(st.recent)) & set(new)
            await self.untagged(f"{len(self.uids)} EXISTS")
            await self.untagged(f"{len(self.recent & set(self.uids))} RECENT")

    def targets(self, text: str, uid: bool) -> list[tuple[int, int]]:
        """(sequence number, UID) of the messages a sequence set or UID set names."""
        seqset = SeqSet.parse(text)
        if uid:
            star = self.uids[-1] if self.uids else 0
            return [(i, u) for i, u in enumerate(self.uids, 1) if seqset.contains(u, star)]
        if seqset.highest_explicit() > len(self.uids):
            raise ParseError("message sequence number out of range")
        return [(i, u) for i, u in enumerate(self.uids, 1) if seqset.contains(i, len(self.uids))]

    def deselect(self) -> None:
        self.mailbox, self.readonly, self.uidvalidity = None, False, 0
        self.uids, self.max_uid_seen, self.recent = [], 0, set()

    def flag_list(self, uid: int, flags: frozenset[str]) -> str:
        shown = sort_flags(flags) + (["\\Recent"] if uid in self.recent else [])
        return "(" + " ".join(shown) + ")"

    # ----------------------------------------------------------------- any state

    async def cmd_capability(self, tag: str, args: list[Token], uid: bool) -> str:
        await self.untagged(f"CAPABILITY {self.capabilities()}")
        return "OK CAPABILITY completed"

    async def cmd_noop(self, tag: str, args: list[Token], uid: bool) -> str:
        return "OK NOOP completed"

    async def cmd_logout(self, tag: str, args: list[Token], uid: bool) -> None:
        await self.untagged("BYE servicebench sandbox IMAP logging out")
        await self.send(f"{tag} OK LOGOUT completed\r\n".encode())
        self.done = True

    # ----------------------------------------------------------------- not authenticated

    async def cmd_starttls(self, tag: str, args: list[Token], uid: bool) -> str | None:
        ctx = self.server.starttls_context
        if ctx is None or self.tls:
            return "BAD STARTTLS not available"
        await self.send(f"{tag} OK Begin TLS negotiation now\r\n".encode())
        if getattr(self.reader, "_buffer", b""):  # plaintext pipelined after STARTTLS
            await self.bye("Data after STARTTLS")
            return None
        await self.writer.start_tls(ctx)
        self.tls = True
        return None

    async def cmd_login(self, tag: str, args: list[Token], uid: bool) -> str:
        if len(args) != 2:
            raise ParseError("LOGIN needs user name and password")
        return self._authenticated(astring(args[0]), astring(args[1]), "LOGIN")

    async def cmd_authenticate(self, tag: str, args: list[Token], uid: bool) -> str:
        if not args or len(args) > 2 or not isinstance(args[0], Atom):
            raise ParseError("AUTHENTICATE needs a mechanism")
        if args[0].upper() != "PLAIN":
            return "NO Unsupported authentication mechanism"
        if len(args) == 2:
            response = astring(args[1])
            response = "" if response == "=" else response
        else:
            await self.send(b"+ \r\n")
            line = await self.readline()
            if line is None:
                raise _CloseSession
            response = line.decode("ascii", "replace").strip()
            if response == "*":
                return "BAD AUTHENTICATE cancelled"
        try:
            decoded = base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            return "BAD Invalid base64 in AUTHENTICATE"
        parts = decoded.split(b"\0")
        if len(parts) != 3:
            return "NO [AUTHENTICATIONFAILED] Malformed PLAIN response"
        authzid, authcid, password = (p.decode("utf-8", "replace") for p in parts)
        if authzid and authzid != authcid:
            return "NO [AUTHORIZATIONFAILED] Cannot act as another user"
        return self._authenticated(authcid, password, "AUTHENTICATE")

    def _authenticated(self, user: str, password: str, what: str) -> str:
        if not self.store.authenticate(user, password):
            return "NO [AUTHENTICATIONFAILED] Invalid credentials"
        self.user = user
        return f"OK [CAPABILITY {self.capabilities()}] {what} completed"

    # ----------------------------------------------------------------- authenticated

    def _mailbox_arg(self, args: list[Token], count: int, what: str) -> str:
        if len(args) != count:
            raise ParseError(f"wrong number of arguments for {what}")
        return mailbox_key(astring(args[0]))

    async def cmd_select(self, tag: str, args: list[Token], uid: bool,
                         readonly: bool = False) -> str:
        assert self.user is not None
        what = "EXAMINE" if readonly else "SELECT"
        name = self._mailbox_arg(args, 1, what)
        self.deselect()
        st = self.store.status(self.user, name)
        self.mailbox, self.readonly, self.uidvalidity = name, readonly, st.uidvalidity
        self.uids = list(st.uids)
        self.max_uid_seen = st.uids[-1] if st.uids else 0
        self.recent = set(st.recent) if readonly else self.store.claim_recent(self.user, name)
        await self.untagged("FLAGS (" + " ".join(SYSTEM_FLAGS) + ")")
        await self.untagged(f"{len(self.uids)} EXISTS")
        await self.untagged(f"{len(self.recent)} RECENT")
        mails = self.store.get(self.user, name, self.uids)
        for seq, u in enumerate(self.uids, 1):
            if u in mails and "\\Seen" not in mails[u].flags:
                await self.untagged(f"OK [UNSEEN {seq}] First unseen")
                break
        await self.untagged(f"OK [UIDVALIDITY {st.uidvalidity}] UIDs valid")
        await self.untagged(f"OK [UIDNEXT {st.uidnext}] Predicted next UID")
        permanent = "" if readonly else " ".join(SYSTEM_FLAGS) + " \\*"
        await self.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags permitted")
        return f"OK [{'READ-ONLY' if readonly else 'READ-WRITE'}] {what} completed"

    async def cmd_examine(self, tag: str, args: list[Token], uid: bool) -> str:
        return await self.cmd_select(tag, args, uid, readonly=True)

    async def cmd_create(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None
        name = self._mailbox_arg(args, 1, "CREATE")
        if name == "INBOX":
            return "NO [ALREADYEXISTS] INBOX always exists"
        self.store.create_mailbox(self.user, name)
        return "OK CREATE completed"

    async def cmd_subscribe(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None
        name = self._mailbox_arg(args, 1, "SUBSCRIBE")
        if not self.store.has_mailbox(self.user, name):
            return "NO [NONEXISTENT] No such mailbox"
        return "OK Subscribed (every mailbox is)"

    async def cmd_list(self, tag: str, args: list[Token], uid: bool, kind: str = "LIST") -> str:
        assert self.user is not None
        if len(args) != 2:
            raise ParseError(f"{kind} needs a reference and a mailbox pattern")
        reference, pattern = astring(args[0]), astring(args[1])
        if not pattern:
            await self.untagged(f'{kind} (\\Noselect) "{DELIMITER}" ""')
            return f"OK {kind} completed"
        regex = re.compile("".join(".*" if c == "*" else f"[^{DELIMITER}]*" if c == "%"
                                   else re.escape(c) for c in reference + pattern) + r"\Z")
        inbox = re.compile(regex.pattern, re.IGNORECASE)  # INBOX matches in any case
        names = self.store.mailboxes(self.user)
        for name in names:
            if regex.match(name) or (name == "INBOX" and inbox.match(name)):
                children = any(n.startswith(name + DELIMITER) for n in names)
                attr = "\\HasChildren" if children else "\\HasNoChildren"
                await self.untagged(f'{kind} ({attr}) "{DELIMITER}" '.encode() + quoted(name))
        return f"OK {kind} completed"

    async def cmd_lsub(self, tag: str, args: list[Token], uid: bool) -> str:
        return await self.cmd_list(tag, args, uid, kind="LSUB")

    async def cmd_status(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None
        if len(args) != 2 or not isinstance(args[1], list) or not args[1]:
            raise ParseError("STATUS needs a mailbox and a list of items")
        name = mailbox_key(astring(args[0]))
        st = self.store.status(self.user, name)
        values = {"MESSAGES": len(st.uids), "UIDNEXT": st.uidnext,
                  "UIDVALIDITY": st.uidvalidity, "UNSEEN": st.unseen,
                  "RECENT": len(st.recent)}
        out = []
        for item in args[1]:
            key = astring(item).upper()
            if key not in values:
                raise ParseError(f"unknown STATUS item {key}")
            out.append(f"{key} {values[key]}")
        await self.untagged(b"STATUS " + quoted(name) + f" ({' '.join(out)})".encode())
        return "OK STATUS completed"

    async def cmd_append(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None
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
        if not self.store.has_mailbox(self.user, name):
            return "NO [TRYCREATE] No such mailbox"
        new_uid = self.store.deliver(self.user, args[-1], when, name, flags)
        return f"OK [APPENDUID {self.store.uidvalidity(self.user, name)} {new_uid}] " \
               "APPEND completed"

    async def cmd_idle(self, tag: str, args: list[Token], uid: bool) -> str | None:
        await self.send(b"+ idling\r\n")
        reading = asyncio.ensure_future(self.readline())
        try:
            while not reading.done():
                await asyncio.wait({reading}, timeout=IDLE_POLL)
                if self.mailbox is not None and not reading.done():
                    await self.send_updates(allow_expunge=True)
        finally:
            if not reading.done():
                reading.cancel()
        line = reading.result()
        if line is None:
            raise _CloseSession
        if line.strip().upper() != b"DONE":
            return "BAD Expected DONE"
        return "OK IDLE terminated"

    # ----------------------------------------------------------------- selected

    async def cmd_check(self, tag: str, args: list[Token], uid: bool) -> str:
        return "OK CHECK completed"

    async def cmd_close(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        if not self.readonly:
            self.store.expunge(self.user, self.mailbox)
        self.deselect()
        return "OK CLOSE completed"

    async def cmd_unselect(self, tag: str, args: list[Token], uid: bool) -> str:
        self.deselect()
        return "OK UNSELECT completed"

    async def cmd_expunge(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        if self.readonly:
            return "NO [READ-ONLY] Mailbox is read-only"
        among = None
        if uid:
            if len(args) != 1:
                raise ParseError("UID EXPUNGE needs a UID set")
            among = [u for _, u in self.targets(astring(args[0]), uid=True)]
        self.store.expunge(self.user, self.mailbox, among)
        return "OK EXPUNGE completed"

    async def cmd_search(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        matcher = parse_search(args)
        mails = self.store.get(self.user, self.mailbox, self.uids)
        max_uid = self.uids[-1] if self.uids else 0
        found = []
        for seq, u in enumerate(self.uids, 1):
            mail = mails.get(u)
            if mail is None:
                continue
            view = MsgView(seq, u, mail.raw, mail.internaldate, mail.flags, u in self.recent,
                           len(self.uids), max_uid)
            if matcher(view):
                found.append(u if uid else seq)
        await self.untagged(" ".join(["SEARCH", *map(str, found)]))
        return f"OK {'UID ' if uid else ''}SEARCH completed"

    async def cmd_fetch(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        if len(args) < 2:
            raise ParseError("FETCH needs a sequence set and data items")
        items = parse_fetch_items(args[1:])
        targets = self.targets(astring(args[0]), uid)
        if uid and not any(i.name == "UID" for i in items):
            items.insert(0, FetchItem("UID"))
        # UID first and literals last, so that clients find UID in the line before a literal
        items.sort(key=lambda i: (i.name != "UID", i.name in ("BODY", "RFC822",
                                                               "RFC822.HEADER", "RFC822.TEXT")))
        marks_seen = not self.readonly and any(i.sets_seen for i in items)
        mails = self.store.get(self.user, self.mailbox, [u for _, u in targets])
        for seq, u in targets:
            mail = mails.get(u)
            if mail is None:
                continue
            flags, show_flags = mail.flags, any(i.name == "FLAGS" for i in items)
            if marks_seen and "\\Seen" not in flags:
                flags = self.store.set_flags(self.user, self.mailbox, [u], "+",
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
                parts.insert(1 if uid else 0, b"FLAGS " + self.flag_list(u, flags).encode())
            await self.untagged(b"%d FETCH (" % seq + b" ".join(parts) + b")")
            await self._count_fetch_response()
        return f"OK {'UID ' if uid else ''}FETCH completed"

    async def _count_fetch_response(self) -> None:
        self.fetch_responses += 1
        limit = self.server.fault.drop_connection_after_fetch_items
        if limit is not None and self.fetch_responses >= limit:
            transport = self.writer.transport
            for _ in range(100):  # let what was written reach the client, then cut
                if transport.get_write_buffer_size() == 0:
                    break
                await asyncio.sleep(0.01)
            self.abort = True
            raise _CloseSession

    async def cmd_store(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        if len(args) < 3 or not isinstance(args[1], Atom):
            raise ParseError("STORE needs a sequence set, an item and flags")
        if self.readonly:
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
        targets = self.targets(astring(args[0]), uid)
        new = self.store.set_flags(self.user, self.mailbox, [u for _, u in targets],
                                   m.group(1) or "=", flags)
        if not m.group(2):
            for seq, u in targets:
                if u in new:
                    shown = f"FLAGS {self.flag_list(u, new[u])}"
                    await self.untagged(f"{seq} FETCH ({f'UID {u} ' if uid else ''}{shown})")
        return f"OK {'UID ' if uid else ''}STORE completed"

    async def cmd_copy(self, tag: str, args: list[Token], uid: bool) -> str:
        assert self.user is not None and self.mailbox is not None
        if len(args) != 2:
            raise ParseError("COPY needs a sequence set and a mailbox")
        dest = mailbox_key(astring(args[1]))
        targets = self.targets(astring(args[0]), uid)
        if not self.store.has_mailbox(self.user, dest):
            return "NO [TRYCREATE] No such mailbox"
        mails = self.store.get(self.user, self.mailbox, [u for _, u in targets])
        pairs = [(u, self.store.deliver(self.user, m.raw, m.internaldate, dest, m.flags))
                 for u, m in mails.items()]
        if not pairs:
            return "OK COPY completed (nothing to copy)"
        src = ",".join(str(a) for a, _ in pairs)
        dst = ",".join(str(b) for _, b in pairs)
        return f"OK [COPYUID {self.store.uidvalidity(self.user, dest)} {src} {dst}] " \
               "COPY completed"


_COMMANDS: dict[str, tuple[Handler, str]] = {
    "CAPABILITY": (_Session.cmd_capability, _ANY),
    "NOOP": (_Session.cmd_noop, _ANY),
    "LOGOUT": (_Session.cmd_logout, _ANY),
    "STARTTLS": (_Session.cmd_starttls, _NOAUTH),
    "LOGIN": (_Session.cmd_login, _NOAUTH),
    "AUTHENTICATE": (_Session.cmd_authenticate, _NOAUTH),
    "SELECT": (_Session.cmd_select, _AUTH),
    "EXAMINE": (_Session.cmd_examine, _AUTH),
    "CREATE": (_Session.cmd_create, _AUTH),
    "SUBSCRIBE": (_Session.cmd_subscribe, _AUTH),
    "UNSUBSCRIBE": (_Session.cmd_subscribe, _AUTH),
    "LIST": (_Session.cmd_list, _AUTH),
    "LSUB": (_Session.cmd_lsub, _AUTH),
    "STATUS": (_Session.cmd_status, _AUTH),
    "APPEND": (_Session.cmd_append, _AUTH),
    "IDLE": (_Session.cmd_idle, _AUTH),
    "CHECK": (_Session.cmd_check, _SELECTED),
    "CLOSE": (_Session.cmd_close, _SELECTED),
    "UNSELECT": (_Session.cmd_unselect, _SELECTED),
    "EXPUNGE": (_Session.cmd_expunge, _SELECTED),
    "SEARCH": (_Session.cmd_search, _SELECTED),
    "FETCH": (_Session.cmd_fetch, _SELECTED),
    "STORE": (_Session.cmd_store, _SELECTED),
    "COPY": (_Session.cmd_copy, _SELECTED),
}
