"""Robust parsing of raw email: never raises on malformed input, bounds what it decodes."""

from __future__ import annotations

import email
import email.policy
import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

MAX_PART_BYTES = 2_000_000  # text parts larger than this are truncated before decoding
MAX_PARSE_BYTES = 12_000_000  # bytes of a message handed to the MIME parser (all are stored)
MAX_HEADER_BLOCK = 256_000  # bytes of the header block parsed
MAX_HEADER_FIELDS = 400  # header fields parsed (a hostile mail may carry thousands)
MAX_HEADER_FIELD = 16_000  # bytes of one header field (with its continuation lines)
MAX_HTML_CHARS = 1_000_000  # characters of HTML turned into text
MAX_PARTS = 200  # MIME parts looked at

MAX_MULTIPARTS = 100  # multipart containers parsed (nesting makes the parser quadratic)

_EOH = re.compile(rb"\r?\n\r?\n")
_MULTIPART = re.compile(rb"(?i)content-type:[ \t]*multipart/")


def bound_multiparts(raw: bytes) -> bytes:
    """``raw`` cut before its (MAX_MULTIPARTS+1)-th multipart declaration: the stdlib parser
    slows down with the square of the nesting depth (5,000 levels: seconds)."""
    for i, m in enumerate(_MULTIPART.finditer(raw)):
        if i >= MAX_MULTIPARTS:
            return raw[:m.start()]
    return raw


def bound_headers(raw: bytes) -> bytes:
    """``raw`` with its header block cut to sane limits (fields, field size, block size);
    the body is left alone. Linear in the size of the header block."""
    m = _EOH.search(raw, 0, MAX_HEADER_BLOCK * 4)
    head, sep, body = (raw[:m.start()], raw[m.start():m.end()], raw[m.end():]) if m else (
        raw, b"", b"")
    if len(head) <= MAX_HEADER_BLOCK and head.count(b"\n") < MAX_HEADER_FIELDS and \
            len(head) <= MAX_HEADER_FIELD * max(1, head.count(b"\n")):
        return raw
    fields: list[bytes] = []
    size = 0
    for line in head[:MAX_HEADER_BLOCK * 4].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            if len(fields[-1]) + len(line) <= MAX_HEADER_FIELD:
                fields[-1] += line
            continue
        if len(fields) >= MAX_HEADER_FIELDS or size >= MAX_HEADER_BLOCK:
            break
        if len(line) > MAX_HEADER_FIELD:
            line = line[:MAX_HEADER_FIELD] + b"\r\n"
        fields.append(line)
        size += len(line)
    out = b"".join(fields)
    if not out.endswith(b"\n"):
        out += b"\r\n"
    return out + (sep or b"\r\n") + body


@functools.lru_cache(maxsize=8192)
def _parsed_header(name: str, value: str) -> Any:
    return email.policy.default.header_fetch_parse(name, value)


class _CachingPolicy(email.policy.EmailPolicy):
    """``email.policy.default``, but a header value is parsed once: the default policy
    parses a header again on every access, and matching, text extraction and the classifier
    read the same headers (Content-Type above all) many times per message, and the same
    values recur across a mailbox. Parsed headers are immutable, so sharing them is safe."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name") or not isinstance(value, str) or len(value) > 2000:
            return super().header_fetch_parse(name, value)  # long values: not kept
        return _parsed_header(name, value)


POLICY = _CachingPolicy()


def parse_message(raw: bytes) -> Message:
    """Parse bytes into a message; malformed input gives a best-effort message, not an error.
    Bounded: only the first MAX_PARSE_BYTES and a capped header block are parsed."""
    raw = bound_multiparts(bound_headers(raw[:MAX_PARSE_BYTES]))
    try:
        return email.message_from_bytes(raw, policy=POLICY)
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


def raw_header(msg: Message, name: str) -> str:
    """A header's first value as it stands in the message, unparsed: enough for ids, and
    much cheaper than :func:`header` for values that are unique to each message."""
    try:
        wanted = name.lower()
        for key, value in msg.raw_items():
            if key.lower() == wanted:
                return value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001
        return header(msg, name)
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


_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
_BREAK_TAGS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
_TAG_NAME = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9:-]{0,30})")


def scan_html(html: str, skip_tags: frozenset[str] = _SKIP_TAGS
              ) -> Iterator[tuple[str, str, bool]]:
    """One forward scan over an HTML text: yields ``(text, "", False)`` for a run of text and
    ``("", tag_name, closing)`` for a tag. Comments, ``<!...>``/``<?...?>`` and the content
    of ``skip_tags`` are left out. Linear time whatever the input: an unclosed comment, tag
    or skipped element ends the visible text rather than being searched for again and again.
    Nothing the HTML names is ever fetched or run."""
    lower = html.lower()
    i, n = 0, len(html)
    while i < n:
        lt = html.find("<", i)
        if lt < 0:
            yield html[i:], "", False
            return
        yield html[i:lt], "", False
        if html.startswith("<!--", lt):  # comments, including unclosed ones, are invisible
            end = html.find("-->", lt + 4)
            if end < 0:
                return
            i = end + 3
            continue
        m = _TAG_NAME.match(html, lt + 1)
        if not m and not html.startswith(("<!", "<?"), lt):
            yield "<", "", False  # a bare '<' is text
            i = lt + 1
            continue
        gt = html.find(">", lt + 1)
        if gt < 0:
            return  # an unclosed tag: the rest is not visible text
        i = gt + 1
        if not m:
            continue  # <!DOCTYPE>, <![CDATA[...]>, <?xml?>
        closing, name = m.group(1), m.group(2).lower()
        if name in skip_tags and not closing and html[gt - 1] != "/":
            end = lower.find("</" + name, i)
            if end < 0:
                return
            close = html.find(">", end)
            i = n if close < 0 else close + 1
            continue
        yield "", name, bool(closing)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body (see :func:`scan_html`), at most MAX_HTML_CHARS read."""
    import html as htmlmod

    out: list[str] = []
    for text, name, closing in scan_html(html[:MAX_HTML_CHARS]):
        if not name:
            out.append(text)
        else:
            out.append("\n" if name in _BREAK_TAGS and (closing or name == "br") else " ")
    text = htmlmod.unescape("".join(out))
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def body_text(msg: Message) -> str:
    """The message's readable text: the first text/plain part, else HTML turned into text."""
    plain: list[str] = []
    html: list[str] = []
    parts: list[Message] = []
    try:
        for part in msg.walk():
            parts.append(part)
            if len(parts) >= MAX_PARTS:
                break
    except Exception:  # noqa: BLE001
        parts = parts or [msg]
    for part in parts[:MAX_PARTS]:
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
