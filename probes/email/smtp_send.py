"""Sending one message over SMTP, step by step, so we know exactly how far it got.

``smtplib.sendmail`` hides where a failure happened. Here the DATA phase is split: a failure
before the message text was transmitted is certainly *not sent* (safe to retry); a failure
after it (a dropped connection while waiting for the final reply) is *unknown*: the server
may have accepted it, so the probe must never be resent automatically.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servicebench.channels import OutcomeUnknown
from servicebench.errors import CredentialsRefused, ProbeError

from . import oauth
from .tls import client_context

# Gmail answers "250 2.0.0 OK  1732440000 a1-20020a...gsmtp": a Unix timestamp of acceptance.
# The sandbox answers the same way with milliseconds. Other servers give no time.
_STAMP_RE = re.compile(r"(?<![\d.])(1[5-9]\d{8}(?:\.\d{1,6})?)(?![\d.])")


@dataclass
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"  # starttls | tls | none
    username: str = ""
    password: str = ""
    timeout: float = 60.0
    ca_file: str | None = None  # extra CA (self-signed sandbox/test servers)
    verify: bool = True
    auth: str = "password"  # password | xoauth2
    oauth: oauth.OAuthSettings | None = None


@dataclass
class Accepted:
    response: str
    server_time: datetime | None


def server_timestamp(response: str, around: datetime) -> datetime | None:
    """A plausible acceptance timestamp in the server's 250 reply (within a day of ``around``)."""
    for m in _STAMP_RE.finditer(response):
        t = datetime.fromtimestamp(float(m.group(1)), UTC)
        if abs(t - around) < timedelta(days=1):
            return t
    return None


def _reply_text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def _xoauth2_login(conn: smtplib.SMTP, s: SmtpSettings) -> None:
    """AUTH XOAUTH2; on refusal fetch a fresh access token once and try again."""
    assert s.oauth is not None
    for attempt in (1, 2):
        token = oauth.TOKENS.get(s.oauth, force=attempt == 2)
        calls: list[bool] = []

        def respond(challenge: bytes | None = None, token: str = token,
                    calls: list[bool] = calls) -> str:
            # after a refusal the server sends a JSON error as a 334 challenge and wants an
            # empty line before its final 535
            if calls:
                return ""
            calls.append(True)
            return oauth.xoauth2_string(s.username, token).decode("ascii")

        try:
            conn.auth("XOAUTH2", respond, initial_response_ok=True)
            return
        except smtplib.SMTPAuthenticationError:
            if attempt == 2:
                raise


def send_message(s: SmtpSettings, sender: str, recipients: list[str], data: bytes,
                 now: datetime) -> Accepted:
    """Send ``data``. Raises ProbeError(temporary=...) if certainly not accepted,
    OutcomeUnknown if it may have been."""
    data_sent = False
    try:
        if s.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                  context=client_context(s.ca_file, s.verify))
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=client_context(s.ca_file, s.verify))
                conn.ehlo()
            if s.auth == "xoauth2":
                _xoauth2_login(conn, s)
            elif s.username:
                conn.login(s.username, s.password)
            code, resp = conn.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, resp, sender)
            accepted_rcpt = 0
            refused: dict[str, tuple[int, bytes]] = {}
            for r in recipients:
                code, resp = conn.rcpt(r)
                if code in (250, 251):
                    accepted_rcpt += 1
                else:
                    refused[r] = (code, resp)
            if not accepted_rcpt:
                raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
            code, resp = conn.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, resp)
            payload = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\r|\n", b"\r\n", data))
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            data_sent = True
            conn.send(payload + b".\r\n")
            code, resp = conn.getreply()
            text = _reply_text(resp)
            if code != 250:
                raise smtplib.SMTPDataError(code, resp)
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            return Accepted(f"{code} {text}", server_timestamp(text, now))
        finally:
            try:
                conn.close()
            except OSError:
                pass
    except smtplib.SMTPAuthenticationError as exc:
        why = f"SMTP login refused by {s.host}: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:  # e.g. 454 temporary authentication failure
            raise ProbeError(why, temporary=True) from exc
        # 535 bad credentials, 534 web login/app password required: no probe can go out
        raise CredentialsRefused(why, ("mailbox.smtp.username", "mailbox.smtp.password",
                                       "mailbox.oauth.refresh_token",
                                       "mailbox.oauth.client_secret"),
                                 scope="send") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        (rcpt, (code, resp)), *_ = exc.recipients.items()
        raise ProbeError(f"recipient {rcpt} refused: {code} {_reply_text(resp)}",
                         temporary=400 <= code < 500) from exc
    except smtplib.SMTPResponseException as exc:
        # A 4xx/5xx reply means the server did not take the message.
        raise ProbeError(f"SMTP server said {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                         temporary=400 <= exc.smtp_code < 500) from exc
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        if data_sent:
            raise OutcomeUnknown(f"connection to {s.host} lost after the message was "
                                 f"transmitted ({exc}); it may have been accepted") from exc
        raise ProbeError(f"cannot reach SMTP server {s.host}:{s.port}: {exc}",
                         temporary=True) from exc
    except smtplib.SMTPException as exc:
        if data_sent:
            raise OutcomeUnknown(f"SMTP error after transmission: {exc}") from exc
        raise ProbeError(f"SMTP error: {exc}", temporary=True) from exc
