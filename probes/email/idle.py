"""Waiting for new mail with IMAP IDLE (RFC 2177), for ``run --watch``.

One background thread per folder keeps a connection in IDLE and sets an event when the
server reports new messages (``* n EXISTS``); the runner then collects at once instead of
waiting for its next poll. A dropped connection (a server restart) is reconnected with
exponential backoff, and after a reconnect the event is set too, since mail may have come
meanwhile. The IDLE is renewed well within the 29 minutes servers allow. The threads only
watch; fetching and storing stays with the collect step on the runner's thread.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import threading
from collections.abc import Callable

from servicebench.errors import ServicebenchError

from . import imap_sync

RENEW_SECONDS = 20 * 60.0
BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
_NEWS = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)

log = logging.getLogger("servicebench")


class NoIdle(Exception):
    """The server does not offer IDLE: the runner polls instead."""


class FolderWatcher(threading.Thread):
    """Keeps one folder in IDLE; sets ``wake`` when something arrives or after a reconnect."""

    def __init__(self, connect: Callable[[], imaplib.IMAP4], folder: str,
                 wake: threading.Event, renew: float = RENEW_SECONDS) -> None:
        super().__init__(name=f"imap-idle-{folder}", daemon=True)
        self.connect, self.folder, self.wake, self.renew = connect, folder, wake, renew
        self.stopping = threading.Event()
        self.supported = True
        self.reconnects = 0
        self._conn: imaplib.IMAP4 | None = None
        self._lock = threading.Lock()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            try:  # wakes the blocked read; the thread then sees ``stopping``
                conn.socket().shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(timeout)

    def run(self) -> None:
        delay, connected_before = BACKOFF_START, False
        while not self.stopping.is_set():
            try:
                conn = self.connect()
            except (ServicebenchError, OSError, imaplib.IMAP4.error) as exc:
                log.info("IMAP IDLE on %s: cannot connect (%s); retry in %.0fs",
                         self.folder, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            with self._lock:
                self._conn = conn
            try:
                if "IDLE" not in conn.capabilities:
                    raise NoIdle
                imap_sync.select(conn, self.folder)
                if connected_before:
                    self.reconnects += 1
                    self.wake.set()  # mail may have come while we were away
                connected_before, delay = True, BACKOFF_START
                self._idle(conn)
            except NoIdle:
                self.supported = False
                return
            except (ServicebenchError, OSError, EOFError, imaplib.IMAP4.error) as exc:
                if self.stopping.is_set():
                    return
                log.info("IMAP IDLE on %s: connection lost (%s); reconnecting in %.0fs",
                         self.folder, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            finally:
                with self._lock:
                    self._conn = None
                _close(conn)

    def _idle(self, conn: imaplib.IMAP4) -> None:
        """IDLE until new mail (set ``wake``, then IDLE again) or the renewal time is up."""
        sock = conn.socket()
        while not self.stopping.is_set():
            tag = conn._new_tag()  # type: ignore[attr-defined]
            conn.send(tag + b" IDLE\r\n")
            while True:
                line = conn._get_line()  # type: ignore[attr-defined]
                if line.startswith(b"+"):
                    break
                if line.startswith(tag):
                    raise NoIdle
            sock.settimeout(self.renew)
            try:
                while True:
                    line = conn._get_line()  # type: ignore[attr-defined]
                    if _NEWS.match(line):
                        self.wake.set()
                        break
                    if line.upper().startswith(b"* BYE"):
                        raise imaplib.IMAP4.abort("server said BYE")
            except TimeoutError:
                # the socket's file is unusable after a timeout: renew by reconnecting
                raise imaplib.IMAP4.abort("IDLE renewal") from None
            conn.send(b"DONE\r\n")
            while not conn._get_line().startswith(tag):  # type: ignore[attr-defined]
                pass


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except (OSError, imaplib.IMAP4.error):
        pass


class MailboxWatch:
    """IDLE watchers for a set of folders."""

    def __init__(self, connect: Callable[[], imaplib.IMAP4], folders: list[str],
                 wake: threading.Event) -> None:
        self.watchers = [FolderWatcher(connect, f, wake) for f in folders]

    def start(self) -> None:
        for w in self.watchers:
            w.start()

    def stop(self) -> None:
        for w in self.watchers:
            w.stopping.set()
        for w in self.watchers:
            w.stop()
