"""Robust parsing of raw email: never raises on malformed input, bounds what it decodes."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

MAX_PART_BYTES = 2_000_000  # text parts larger than this are truncated before decoding


def parse_message(raw: bytes) -> Message:
    """Parse bytes into a message; malformed input gives a best-effort message, not an error."""
    try:
        return email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # noqa: BLE001 - the stdlib parser has many failure modes on hostile input
        pass
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001 - e.g. RecursionError on absurdly deep MIME nesting
        head, _, _ = raw.partition(b"\r\n\r\n")
        return email.message_from_bytes(head + b"\r\n\r\n", policy=email.policy.compat32)


def header(msg: Message, name: str) -> str:
    """A header's decoded value, or '' if absent or undecodable."""
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001
        return ""
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:  # noqa: BLE001
        return ""


def addresses(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
        return [a.lower() for _, a in getaddresses([str(v) for v in values]) if a]
    except Exception:  # noqa: BLE001
        return []


def message_ids(value: str) -> list[str]:
    """All ``<...>`` ids in a Message-ID / In-Reply-To / References value."""
    return re.findall(r"<[^<>\s]+>", value or "")


def _decode_part(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001
        return ""
    if not isinstance(payload, bytes):
        return ""
    payload = payload[:MAX_PART_BYTES]
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """Visible text of an HTML body. Never fetches anything the HTML names."""
    html = re.sub(r"(?is)<(script|style|head|title)\b.*?</\1\s*>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</li\s*>|</h\d\s*>", "\n", html)
    html = re.sub(r"(?s)<[^>]*>", " ", html)
    import html as htmlmod

    text = htmlmod.unescape(html)
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def body_text(msg: Message) -> str:
    """The message's readable text: the first text/plain part, else HTML turned into text."""
    plain: list[str] = []
    html: list[str] = []
    try:
        parts = list(msg.walk())
    except Exception:  # noqa: BLE001
        parts = [msg]
    for part in parts[:200]:
        try:
            ctype = part.get_content_type()
            disp = (part.get("Content-Disposition") or "").lower()
        except Exception:  # noqa: BLE001
            continue
        if "attachment" in disp:
            continue
        if ctype == "text/plain":
            plain.append(_decode_part(part))
        elif ctype == "text/html":
            html.append(_decode_part(part))
    if plain and any(p.strip() for p in plain):
        return "\n".join(plain).strip()
    if html:
        return html_to_text("\n".join(html))
    return ""


def strip_quoted(text: str) -> str:
    """The new part of a reply: drop '>'-quoted lines and everything after a quote header."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(">"):
            continue
        if re.match(r"^(-{2,}\s*)?(Original Message|Urspr.ngliche Nachricht)", s, re.I):
            break
        if re.match(r"^(On|Am) .{4,120}(wrote|schrieb)( .*)?:\s*$", s):
            break
        if re.match(r"^(From|Von):\s.+", s) and out and not out[-1].strip():
            break
        out.append(line)
    return "\n".join(out).strip()


def date_header(msg: Message) -> datetime | None:
    try:
        value = header(msg, "Date")
        dt = parsedate_to_datetime(value) if value else None
    except Exception:  # noqa: BLE001
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def received_dates(msg: Message) -> list[datetime]:
    """Timestamps of the Received headers, topmost (latest hop, our server) first."""
    out = []
    try:
        values = msg.get_all("Received") or []
    except Exception:  # noqa: BLE001
        values = []
    for v in values:
        _, _, stamp = str(v).rpartition(";")
        try:
            dt = parsedate_to_datetime(stamp.strip())
        except Exception:  # noqa: BLE001
            continue
        if dt is not None:
            out.append((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC))
    return out
