"""The sandbox's SMTP server (aiosmtpd): receives probes like a mail provider would.

Like Gmail it files every accepted message in the sender's Sent folder and answers
``250 2.0.0 OK <unix time of acceptance> ...``, so the tool can record the server's own
acceptance time. ``hold_seconds`` delays that answer, to test a client killed mid-send.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import socket
import ssl
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ..clock import Clock

# Plain AUTH on loopback is what a local sandbox is for; aiosmtpd warns on every session.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass
class Accepted:
    queue_id: str
    accepted_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    user: str | None


@dataclass
class SmtpFault:
    hold_seconds: float = 0.0  # wait (real time) before answering DATA
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"
    refuse_times: int = 0  # how many DATA commands to refuse that way
    store_before_hold: bool = True  # accepted (and filed in Sent) before the hold
    _refused: int = field(default=0, repr=False)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


_XOAUTH2 = re.compile(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01\Z")


@dataclass
class OAuthLogin:
    """What a successful XOAUTH2 login leaves in the session (``login`` like LoginPassword)."""

    login: bytes


class _Handler:
    def __init__(self, server: SandboxSMTPServer) -> None:
        self.server = server

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 as Gmail answers it: on refusal a base64 JSON error as a 334
        challenge, an empty line from the client, then 535."""
        tokens = self.server.oauth_tokens or {}
        if len(args) == 2:
            try:
                blob: Any = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                return AuthResult(success=False, handled=False,
                                  message="501 5.5.2 Cannot decode base64")
        else:
            blob = await smtp.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        m = _XOAUTH2.match(blob)
        if m and tokens.get(m.group(2).decode("ascii", "replace")) == m.group(1).decode(
                "utf-8", "replace"):
            return AuthResult(success=True, auth_data=OAuthLogin(m.group(1)))
        answer = await smtp.challenge_auth(b'{"status":"401","schemes":"bearer",'
                                           b'"scope":"https://mail.google.com/"}')
        if not isinstance(answer, bytes):  # the client aborted; aiosmtpd has answered
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        srv = self.server
        fault = srv.fault
        if fault and fault.refuse_with and fault._refused < fault.refuse_times:
            fault._refused += 1
            return fault.refuse_with
        user = session.auth_data.login.decode() if isinstance(
            session.auth_data, LoginPassword | OAuthLogin) else None
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        acc = Accepted(uuid.uuid4().hex[:12].upper(), srv.clock.now(), envelope.mail_from or "",
                       list(envelope.rcpt_tos), data, user)
        if fault and fault.hold_seconds and not fault.store_before_hold:
            await _sleep(fault.hold_seconds)
        srv.accepted.append(acc)
        if srv.on_accept:
            srv.on_accept(acc)
        if fault and fault.hold_seconds and fault.store_before_hold:
            await _sleep(fault.hold_seconds)
        stamp = acc.accepted_at.timestamp()
        return f"250 2.0.0 OK {stamp:.3f} queued as {acc.queue_id} - servicebench sandbox"


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


class SandboxSMTPServer:
    """SMTP on loopback with AUTH (PLAIN/LOGIN), optional STARTTLS or implicit TLS."""

    def __init__(self, clock: Clock, users: dict[str, str], host: str = "127.0.0.1",
                 port: int = 0, on_accept: Callable[[Accepted], None] | None = None,
                 starttls_context: ssl.SSLContext | None = None,
                 ssl_context: ssl.SSLContext | None = None, fault: SmtpFault | None = None,
                 oauth_tokens: dict[str, str] | None = None):
        self.clock = clock
        #: OAuth 2.0 access token -> user for AUTH XOAUTH2 (None: not offered)
        self.oauth_tokens = oauth_tokens
        self.users = users
        self.host = host
        self.port = port or free_port(host)
        self.on_accept = on_accept
        self.fault = fault
        self.accepted: list[Accepted] = []
        kwargs: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_require_tls": starttls_context is not None,
            "auth_required": bool(users) or oauth_tokens is not None,
        }
        if oauth_tokens is None:
            kwargs["auth_exclude_mechanism"] = ["XOAUTH2"]
        if starttls_context is not None:
            kwargs["tls_context"] = starttls_context
        if ssl_context is not None:
            kwargs["ssl_context"] = ssl_context
        self._controller = self._make_controller(kwargs)
        self._lock = threading.Lock()

    def _make_controller(self, kwargs: dict[str, Any]) -> Controller:
        return Controller(_Handler(self), hostname=self.host, port=self.port,
                          ready_timeout=10, **kwargs)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, pw = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == pw:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def start(self) -> None:
        for _ in range(20):
            try:
                self._controller.start()
                return
            except Exception:  # noqa: BLE001 - aiosmtpd may race on a busy port; retry
                time.sleep(0.1)
        self._controller.start()

    def stop(self) -> None:
        try:
            self._controller.stop()
        except (AssertionError, RuntimeError):
            pass
