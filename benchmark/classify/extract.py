"""The readable text of a received email: MIME parts, HTML, charsets, limits.

The MIME tree is walked without recursion and without descending into attached messages;
HTML is turned into visible text by one linear scan. Nothing the message references is
fetched or opened.
"""

from __future__ import annotations

import email.parser
import email.policy
import html as htmlmod
import re
from dataclasses import dataclass, field
from email.message import Message

from ..mailparse import parse_message, scan_html
from .evidence import Evidence

MAX_PART_BYTES = 2_000_000  # bytes decoded per text part
MAX_HTML_CHARS = 400_000  # characters of HTML turned into text
MAX_TEXT_CHARS = 100_000  # characters of text searched for phrases
MAX_PARTS = 200

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff\u034f]")
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2007\u202f]+")

_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3",
                         "h4", "h5", "h6", "hr", "section", "article", "header", "footer",
                         "center", "pre", "dt", "dd", "blockquote"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "xml",
                        "object", "iframe"})
_HTML_WS = re.compile(r"[ \t\r\n\f\v]+")


def html_text(html: str) -> str:
    """Visible text of an HTML body, with line breaks at block tags and '> ' in blockquotes
    (one linear scan, :func:`servicebench.mailparse.scan_html`)."""
    out: list[str] = []
    quote = 0
    for text, name, closing in scan_html(html[:MAX_HTML_CHARS], _SKIP_TAGS):
        if not name:
            out.append(_HTML_WS.sub(" ", text))
            continue
        if name == "blockquote":
            quote = max(0, quote + (-1 if closing else 1))
        if name in _BLOCK_TAGS:
            out.append("\n> " if quote else "\n")
        elif name in ("td", "th"):
            out.append(" ")
    return tidy(htmlmod.unescape("".join(out)))


def tidy(text: str) -> str:
    text = _INVISIBLE.sub("", text.replace("\u2019", "'").replace("\u2018", "'"))
    lines = [_WS.sub(" ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# declared charsets that real mail often exceeds: decode with the superset the sender meant
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "euc-cn": "gb18030", "x-gbk": "gb18030",
    "big5": "big5hkscs", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
    "x-sjis": "cp932", "iso-2022-jp": "iso2022_jp_ext", "euc-jp": "euc_jis_2004",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "iso-8859-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "latin1": "cp1252", "iso-8859-8-i": "iso-8859-8", "tis-620": "cp874",
    "windows-874": "cp874", "unicode-1-1-utf-7": "utf-7",
}


def _sniff_charset(data: bytes) -> str | None:
    """A charset the bytes themselves show: a byte-order mark or ISO-2022 escapes."""
    if data[:3] == b"\xef\xbb\xbf":
        return "utf-8-sig"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    if b"\x1b$B" in data[:4096] or b"\x1b$@" in data[:4096] or b"\x1b(J" in data[:4096]:
        return "iso2022_jp_ext"
    if b"\x1b$)C" in data[:4096]:
        return "iso2022_kr"
    if len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return "utf-16-le"
    return None


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset (or the superset mail programs really use), then with
    what the bytes show, then UTF-8, then cp1252; strict first, never an exception."""
    declared = (charset or "").strip().strip("\"'").lower() or None
    sniffed = _sniff_charset(data)
    tried = [c for c in (declared, _SUPERSETS.get(declared or ""), sniffed, "utf-8") if c]
    for cs in dict.fromkeys(tried):
        try:
            text = data.decode(cs)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
        note = None if cs in (declared, _SUPERSETS.get(declared or "")) or not declared else (
            f"charset {charset!r} unusable, read as {cs}")
        return text, note
    for cs in dict.fromkeys(tried):  # a few broken bytes in an otherwise valid text
        try:
            text = data.decode(cs, errors="replace")
        except (LookupError, ValueError, TypeError):
            continue
        if text.count("\ufffd") <= max(3, len(text) // 200):
            return text, f"a few undecodable bytes in {cs} text replaced"
    text = data.decode("cp1252", errors="replace")
    return text, None if not declared else f"charset {charset!r} unusable, read as cp1252"


@dataclass
class MessageParts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    dsn: list[str] = field(default_factory=list)  # message/delivery-status bodies
    notes: list[str] = field(default_factory=list)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _dsn_text(part: Message) -> str:
    try:
        payload = part.get_payload()
    except Exception:  # noqa: BLE001
        return ""
    if isinstance(payload, list):
        blocks = []
        for block in payload[:50]:
            try:
                blocks.append("\n".join(f"{k}: {v}" for k, v in block.items()))
            except Exception:  # noqa: BLE001
                continue
        return "\n\n".join(blocks)
    if isinstance(payload, bytes):
        return payload[:MAX_PART_BYTES].decode("utf-8", errors="replace")
    return str(payload)[:MAX_PART_BYTES]


def extract_parts(msg: Message) -> MessageParts:
    """Walk the MIME tree without recursion; do not descend into attached messages."""
    parts = MessageParts()
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        ctype = content_type(part)
        if ctype.startswith("multipart/"):
            try:
                children = part.get_payload()
            except Exception:  # noqa: BLE001
                children = []
            if isinstance(children, list):
                stack.extend(reversed([c for c in children if isinstance(c, Message)]))
            continue
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            parts.dsn.append(_dsn_text(part))
            continue
        if ctype.startswith("message/") or ctype == "text/rfc822-headers":
            continue  # the returned original of a bounce, a forwarded mail...
        try:
            disposition = str(part.get("Content-Disposition") or "").lower()
        except Exception:  # noqa: BLE001
            disposition = ""
        if "attachment" in disposition or ctype not in ("text/plain", "text/html"):
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            parts.notes.append("a text part could not be decoded")
            continue
        if not isinstance(payload, bytes):
            continue
        if len(payload) > MAX_PART_BYTES:
            parts.notes.append(f"a {ctype} part was truncated to {MAX_PART_BYTES} bytes")
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        text, note = _decode_bytes(payload[:MAX_PART_BYTES], charset)
        if note:
            parts.notes.append(note)
        (parts.plain if ctype == "text/plain" else parts.html).append(text)
    if stack:
        parts.notes.append(f"only the first {MAX_PARTS} MIME parts were read")
    return parts


def parse_raw_message(raw: bytes, ev: Evidence) -> tuple[Message, str | None]:
    """Parse the message; when its MIME nesting is too deep for the parser, read the headers
    only and return the rest as flat text (second item, else None)."""
    if raw.count(b"boundary=") <= 500:
        try:
            return parse_message(raw), None
        except RecursionError:
            pass
    ev.note("input: MIME structure nested too deeply; headers and raw text analysed instead")
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        head + b"\n\n", headersonly=True)
    lines = [ln for ln in body[:MAX_PART_BYTES].decode("utf-8", errors="replace").splitlines()
             if not ln.startswith("--") and not re.match(r"(?i)^content-[\w-]+:", ln)]
    return msg, "\n".join(lines)


_BOUNDARY_LINE = re.compile(rb"(?m)^--[^\r\n]{1,200}\r?$")
_PART_HEAD = re.compile(rb"(?i)^\s*content-[\w-]+:")


def raw_fallback_parts(raw: bytes) -> MessageParts:
    """The text parts of a message whose MIME structure the parser could not follow (a broken
    or unquoted boundary, a boundary parameter on an unindented line): split the raw body at
    every line that looks like a boundary and read each chunk that starts with part headers; if
    none does, the whole body is text."""
    parts = MessageParts()
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        body = data
    body = body[: MAX_PART_BYTES * 2]
    chunks = _BOUNDARY_LINE.split(body)
    typed = [c for c in chunks[:MAX_PARTS] if _PART_HEAD.match(c)]
    for chunk in typed:
        try:
            part = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
                chunk.lstrip(b"\n"))
        except Exception:  # noqa: BLE001
            continue
        sub = extract_parts(part)
        parts.plain.extend(sub.plain)
        parts.html.extend(sub.html)
        parts.notes.extend(sub.notes)
    if not typed:
        charset = None
        m = re.search(rb"(?i)charset=\"?([\w.:-]{1,40})", head)
        if m:
            charset = m.group(1).decode("ascii", "replace")
        text, note = _decode_bytes(b"\n".join(chunks)[:MAX_PART_BYTES], charset)
        if note:
            parts.notes.append(note)
        (parts.html if re.search(r"(?i)<(?:html|body|div|p|br|table)\b", text[:5000])
         else parts.plain).append(text)
    return parts


def body_text(parts: MessageParts) -> str:
    plain = tidy("\n".join(parts.plain))
    if parts.html and len(plain) < 40:  # "please view this mail in an HTML client" stubs
        html = html_text("\n".join(parts.html))
        if len(html) > len(plain):
            return html[:MAX_TEXT_CHARS]
    if plain and re.search(r"(?i)^\s*<(?:!doctype|html|head|body)\b", plain[:200]):
        return html_text(plain)[:MAX_TEXT_CHARS]  # HTML sent as text/plain
    return plain[:MAX_TEXT_CHARS]
