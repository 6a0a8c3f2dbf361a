"""One client connection to the sandbox IMAP server: reading commands, state, dispatch.

:class:`IMAPSession` reads a command with its literals, checks that the connection is in the
state the command needs (not authenticated, authenticated, selected), runs its handler from
:mod:`servicebench.sandbox.imap_commands` and sends the tagged answer, after EXISTS / RECENT /
EXPUNGE for changes that others made to the selected mailbox meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from servicebench.sandbox.imap_commands import (
    COMMANDS,
    STATE_AUTH,
    STATE_NOAUTH,
    STATE_SELECTED,
    CloseSession,
)
from servicebench.sandbox.imap_protocol import (
    Atom,
    BadCharset,
    ParseError,
    SeqSet,
    sort_flags,
    tokenize,
)
from servicebench.sandbox.mailstore import MailboxError

if TYPE_CHECKING:
    from servicebench.sandbox.imap_server import IMAPServer

log = logging.getLogger(__name__)

MAX_LITERAL = 50 * 1024 * 1024  # one literal (an APPENDed message)
MAX_COMMAND = MAX_LITERAL + 1024 * 1024  # a whole command with all its literals
AUTOLOGOUT = 30 * 60.0  # seconds of client silence before the server hangs up

_LITERAL_END = re.compile(rb"\{(\d{1,12})(\+?)\}\r?\n\Z")
# tag: ASTRING-CHARs except "+", i.e. no ( ) { % * " \ + SP or controls
_TAG = re.compile(rb"([\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+) ")


class IMAPSession:
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
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "UIDPLUS", "UNSELECT", "SPECIAL-USE"]
        if self.server.idle:
            caps.append("IDLE")
        if self.user is None:
            if self.server.starttls_context is not None and not self.tls:
                caps.append("STARTTLS")
            caps.append("AUTH=PLAIN")
            if self.server.oauth_tokens:
                caps.append("AUTH=XOAUTH2")
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
        entry = COMMANDS.get(name)
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
        except (CloseSession, OSError, EOFError):
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
        if state == STATE_NOAUTH and self.user is not None:
            return "Already authenticated"
        if state in (STATE_AUTH, STATE_SELECTED) and self.user is None:
            return "Not authenticated; LOGIN first"
        if state == STATE_SELECTED and self.mailbox is None:
            return "No mailbox selected"
        return None

    async def send_updates(self, allow_expunge: bool) -> None:
        """EXISTS / RECENT / EXPUNGE for changes made by others since the client looked."""
        assert self.user is not None and self.mailbox is not None
        st = self.store.status(self.user, self.mailbox)
        if st.uidvalidity != self.uidvalidity:
            await self.bye("Mailbox UIDVALIDITY changed; select it again")
            raise CloseSession
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
