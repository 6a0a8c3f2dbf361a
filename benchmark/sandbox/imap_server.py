"""The sandbox's own IMAP4rev1 server (RFC 3501 subset) holding the mystery shopper's mailbox.

Simulated companies drop replies into a :class:`MailStore` with :meth:`MailStore.deliver`,
choosing the INTERNALDATE (a virtual time on the sandbox's accelerated clock); the product's
IMAP client then syncs the mailbox by UIDVALIDITY/UID through :class:`IMAPServer`.

Pure standard library: asyncio for the server (in its own thread), a lock for the store.
Messages are stored and served byte for byte as delivered; INTERNALDATE has one-second
resolution (IMAP's), so sub-second parts of a delivered time are dropped.

This module starts and stops the server; the store is in :mod:`servicebench.sandbox.mailstore`,
a connection's state and dispatch in :mod:`servicebench.sandbox.imap_session`, the commands in
:mod:`servicebench.sandbox.imap_commands` and the protocol's syntax in
:mod:`servicebench.sandbox.imap_protocol`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from dataclasses import dataclass

from servicebench.sandbox.imap_commands import CloseSession
from servicebench.sandbox.imap_session import IMAPSession
from servicebench.sandbox.mailstore import MailboxError, MailStore, StoredMail

__all__ = ["Fault", "IMAPServer", "MailStore", "MailboxError", "StoredMail"]

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024  # one command line, literals excluded


@dataclass
class Fault:
    """Misbehaviour for tests of the client; read at the moment it applies, so tests may
    change it while the server runs."""

    drop_connection_after_fetch_items: int | None = None  # abort after N FETCH responses
    response_delay: float = 0.0  # seconds to wait before every tagged response


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
                 fault: Fault | None = None, idle: bool = True,
                 oauth_tokens: dict[str, str] | None = None) -> None:
        self.store = store
        #: offer IMAP IDLE (turn off to test a client's fallback to polling)
        self.idle = idle
        #: OAuth 2.0 access token -> user, for AUTHENTICATE XOAUTH2; tests may change it
        self.oauth_tokens: dict[str, str] = oauth_tokens if oauth_tokens is not None else {}
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
        session = IMAPSession(self, reader, writer)
        try:
            await session.run()
        except (CloseSession, ConnectionError, asyncio.IncompleteReadError, TimeoutError,
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
