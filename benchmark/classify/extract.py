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

from ..mailparse import parse_message
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
_TAG_NAME = re.compile(r"(/?)([a-zA-Z][a-zA-Z0-9:-]{0,30})")
_HTML_WS = re.compile(r"[ \t\r\n\f\v]+")


def html_text(html: str) -> str:
    """Visible text of an HTML body, with line breaks at block tags and '> ' in blockquotes.

    A single forward scan (linear time whatever the input); nothing the HTML references
    (images, links, file: URLs, scripts) is ever opened or run.
    """
    html = html[:MAX_HTML_CHARS]
    lower = html.lower()
    out: list[str] = []
    quote = 0
    i, n = 0, len(html)
    while i < n:
        lt = html.find("<", i)
        if lt < 0:
            out.append(_HTML_WS.sub(" ", html[i:]))
            break
        out.append(_HTML_WS.sub(" ", html[i:lt]))
        if html.startswith("<!--", lt):  # comments, including unclosed ones, are invisible
            end = html.find("-->", lt + 4)
            if end < 0:
                break
            i = end + 3
            continue
        m = _TAG_NAME.match(html, lt + 1)
        if not m and not html.startswith(("<!", "<?"), lt):
            out.append("<")  # a bare '<' is text
            i = lt + 1
            continue
        gt = html.find(">", lt + 1)
        if gt < 0:
            break  # an unclosed tag: the rest is not visible text
        i = gt + 1
        if not m:
            continue  # <!DOCTYPE>, <![CDATA[...]>, <?xml?>
        closing, name = m.group(1), m.group(2).lower()
        if name in _SKIP_TAGS and not closing and html[gt - 1] != "/":
            end = lower.find("</" + name, i)
            if end < 0:
                break
            close = html.find(">", end)
            i = n if close < 0 else close + 1
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


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    tried = [c for c in (charset, "utf-8", "cp1252") if c]
    for i, cs in enumerate(tried):
        try:
            text = data.decode(cs)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
        note = None if i == 0 or not charset else f"charset {charset!r} unusable, read as {cs}"
        return text, note
    return data.decode("utf-8", errors="replace"), "undecodable bytes replaced"


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


def body_text(parts: MessageParts) -> str:
    plain = tidy("\n".join(parts.plain))
    if parts.html and len(plain) < 40:  # "please view this mail in an HTML client" stubs
        html = html_text("\n".join(parts.html))
        if len(html) > len(plain):
            return html[:MAX_TEXT_CHARS]
    return plain[:MAX_TEXT_CHARS]
