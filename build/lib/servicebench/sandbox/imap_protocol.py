"""Parsing and formatting helpers for the sandbox IMAP server (RFC 3501 subset).

Pure functions over bytes: command tokenizing (atoms, quoted strings, literals, lists),
sequence sets, date formats, SEARCH criteria, FETCH items and message sections.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from typing import Union

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_BY_LOWER = {f.lower(): f for f in SYSTEM_FLAGS} | {"\\recent": "\\Recent"}


class ParseError(ValueError):
    """A command argument that does not follow the grammar: answered with BAD."""


class BadCharset(ValueError):
    """SEARCH CHARSET other than UTF-8 / US-ASCII: answered with NO [BADCHARSET]."""


@dataclass(frozen=True)
class Atom:
    value: str

    def upper(self) -> str:
        return self.value.upper()


# An atom, a string (quoted or literal, as bytes), or a parenthesized list.
Token = Union[Atom, bytes, list["Token"]]  # noqa: UP007 (recursive alias)

_LITERAL = re.compile(rb"\{(\d{1,12})\+?\}\r?\n")
_ATOM_STOP = b' ()\r\n"{'


def tokenize(data: bytes) -> list[Token]:
    """Split a complete command (literals already inlined as ``{n}\\r\\n<n bytes>``)."""
    pos, n = 0, len(data)
    stack: list[list[Token]] = [[]]
    while pos < n:
        c = data[pos]
        if c in b" \r\n":
            pos += 1
        elif c == 0x28:  # (
            stack.append([])
            pos += 1
        elif c == 0x29:  # )
            if len(stack) == 1:
                raise ParseError("unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == 0x22:  # "
            pos += 1
            out = bytearray()
            while True:
                if pos >= n:
                    raise ParseError("unterminated quoted string")
                ch = data[pos]
                if ch == 0x5C:  # backslash
                    if pos + 1 >= n:
                        raise ParseError("unterminated quoted string")
                    out.append(data[pos + 1])
                    pos += 2
                    continue
                if ch == 0x22:
                    pos += 1
                    break
                if ch in b"\r\n":
                    raise ParseError("CR or LF in quoted string")
                out.append(ch)
                pos += 1
            stack[-1].append(bytes(out))
        elif c == 0x7B:  # {
            m = _LITERAL.match(data, pos)
            if not m:
                raise ParseError("malformed literal")
            size, start = int(m.group(1)), m.end()
            if start + size > n:
                raise ParseError("literal shorter than announced")
            stack[-1].append(data[start:start + size])
            pos = start + size
        else:
            start = pos
            while pos < n:
                ch = data[pos]
                if ch == 0x5B:  # [ ... ] may hold spaces and parentheses (BODY[HEADER.FIELDS (A)])
                    end = data.find(b"]", pos)
                    if end < 0:
                        raise ParseError("unterminated '['")
                    pos = end + 1
                    continue
                if ch in _ATOM_STOP:
                    break
                pos += 1
            if pos == start:
                raise ParseError(f"unexpected character {chr(c)!r}")
            stack[-1].append(Atom(data[start:pos].decode("utf-8", "replace")))
    if len(stack) != 1:
        raise ParseError("unbalanced '('")
    return stack[0]


def astring(tok: Token) -> str:
    """An atom or string argument as text (UTF-8, undecodable bytes replaced)."""
    if isinstance(tok, Atom):
        return tok.value
    if isinstance(tok, bytes):
        return tok.decode("utf-8", "replace")
    raise ParseError("expected a string, got a list")


def quoted(text: str | bytes) -> bytes:
    """A string for a response: quoted when plain printable ASCII, else a literal."""
    b = text.encode("utf-8") if isinstance(text, str) else text
    if any(ch < 0x20 or ch > 0x7E for ch in b):
        return literal(b)
    return b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(b: bytes) -> bytes:
    return b"{%d}\r\n" % len(b) + b


def nstring(value: str | bytes | None) -> bytes:
    return b"NIL" if value is None else quoted(value)


# ---------------------------------------------------------------- flags and dates


def normalize_flag(flag: str) -> str:
    """System flags in canonical case; keywords as given."""
    return _SYSTEM_BY_LOWER.get(flag.lower(), flag)


def is_valid_flag(flag: str) -> bool:
    if flag.startswith("\\"):
        return flag.lower() in _SYSTEM_BY_LOWER
    return bool(flag) and not any(ch in flag for ch in ' (){%*"\\]') and flag.isprintable()


def sort_flags(flags: set[str] | frozenset[str]) -> list[str]:
    return sorted(flags, key=lambda f: (not f.startswith("\\"), f.lower()))


def format_internaldate(dt: datetime) -> str:
    """RFC 3501 date-time in UTC, e.g. ``24-Nov-2026 10:00:05 +0000``."""
    u = dt.astimezone(UTC)
    return f"{u.day:02d}-{MONTHS[u.month - 1]}-{u.year:04d} {u:%H:%M:%S} +0000"


_DATETIME_RE = re.compile(
    r"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_DATE_RE = re.compile(r"^(\d{1,2})-([A-Za-z]{3})-(\d{4})$")


def _month(name: str) -> int:
    try:
        return [m.lower() for m in MONTHS].index(name.lower()) + 1
    except ValueError:
        raise ParseError(f"bad month {name!r}") from None


def parse_datetime(text: str) -> datetime:
    """RFC 3501 date-time (APPEND) -> aware UTC datetime."""
    m = _DATETIME_RE.match(text)
    if not m:
        raise ParseError(f"bad date-time {text!r}")
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        dt = datetime(int(year), _month(mon), int(day), int(hh), int(mm), int(ss),
                      tzinfo=timezone(offset))
    except ValueError as exc:
        raise ParseError(f"bad date-time {text!r}: {exc}") from None
    return dt.astimezone(UTC)


def parse_date(text: str) -> date:
    """RFC 3501 date (SEARCH SINCE/BEFORE/ON), e.g. ``1-Feb-2026``."""
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ParseError(f"bad date {text!r}")
    try:
        return date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
    except ValueError as exc:
        raise ParseError(f"bad date {text!r}: {exc}") from None


# ---------------------------------------------------------------- sequence sets

_SEQSET_RE = re.compile(r"^(?:[0-9]+|\*)(?::(?:[0-9]+|\*))?(?:,(?:[0-9]+|\*)(?::(?:[0-9]+|\*))?)*$")


def is_seqset(text: str) -> bool:
    return bool(_SEQSET_RE.match(text))


@dataclass(frozen=True)
class SeqSet:
    """A sequence set; ``None`` stands for ``*`` (the largest number in use)."""

    ranges: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> SeqSet:
        if not is_seqset(text):
            raise ParseError(f"bad sequence set {text!r}")
        ranges: list[tuple[int | None, int | None]] = []
        for part in text.split(","):
            a, sep, b = part.partition(":")
            lo = None if a == "*" else int(a)
            hi = (None if b == "*" else int(b)) if sep else lo
            if lo == 0 or hi == 0:
                raise ParseError("0 is not a valid message number")
            ranges.append((lo, hi))
        return cls(tuple(ranges))

    def resolved(self, star: int) -> list[tuple[int, int]]:
        out = []
        for lo, hi in self.ranges:
            a = star if lo is None else lo
            b = star if hi is None else hi
            out.append((min(a, b), max(a, b)))
        return out

    def contains(self, number: int, star: int) -> bool:
        return any(a <= number <= b for a, b in self.resolved(star))

    def highest_explicit(self) -> int:
        return max((x for r in self.ranges for x in r if x is not None), default=0)


# ---------------------------------------------------------------- message structure

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line that ends it, body)."""
    if raw.startswith(b"\r\n") or raw.startswith(b"\n"):
        cut = 2 if raw.startswith(b"\r\n") else 1
        return raw[:cut], raw[cut:]
    m = _BLANK_LINE.search(raw)
    if not m:
        return raw, b""
    return raw[:m.end()], raw[m.end():]


def iter_header_fields(header: bytes) -> Iterator[tuple[str, bytes]]:
    """(field name, complete raw field including folded lines and line ends)."""
    name: str | None = None
    buf = b""
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and name is not None:
            buf += line
            continue
        if name is not None:
            yield name, buf
        key, colon, _ = line.partition(b":")
        name, buf = (key.strip().decode("ascii", "replace") if colon else None), line
    if name is not None:
        yield name, buf


def header_fields(header: bytes, names: tuple[str, ...], exclude: bool) -> bytes:
    """BODY[HEADER.FIELDS (...)] / HEADER.FIELDS.NOT: matching fields plus the blank line."""
    wanted = {n.lower() for n in names}
    out = b"".join(raw for name, raw in iter_header_fields(header)
                   if (name.lower() in wanted) != exclude)
    return out + b"\r\n"


def raw_header_values(raw: bytes, name: str) -> list[str]:
    header, _ = split_message(raw)
    out = []
    for fname, line in iter_header_fields(header):
        if fname.lower() == name.lower():
            value = line.split(b":", 1)[1]
            out.append(re.sub(rb"\r?\n(?=[ \t])", b"", value).strip().decode("utf-8", "replace"))
    return out


def decode_value(value: str) -> str:
    """RFC 2047 encoded words decoded; the raw text when they cannot be."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - malformed encoded words: keep raw text
        return value


def _content_type(header: bytes) -> tuple[str, str | None]:
    values = [raw for name, raw in iter_header_fields(header) if name.lower() == "content-type"]
    if not values:
        return "text/plain", None
    text = values[0].split(b":", 1)[1].decode("utf-8", "replace")
    text = re.sub(r"\r?\n[ \t]", " ", text)
    ctype = text.split(";", 1)[0].strip().lower() or "text/plain"
    m = re.search(r';\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))', text, re.IGNORECASE)
    return ctype, (m.group(1) if m and m.group(1) is not None else (m.group(2) if m else None))


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    delim = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode("utf-8", "replace"))
                       + rb"(--)?[ \t]*(?=\r?\n|$)\r?\n?")
    marks = list(delim.finditer(body))
    parts = []
    for a, b in zip(marks, marks[1:], strict=False):
        if a.group(1):
            break
        parts.append(body[a.end():b.start()])
    return parts


def body_part(raw: bytes, path: tuple[int, ...]) -> tuple[bytes, bytes] | None:
    """(MIME header, content) of the numbered body part, or None when there is none."""
    header, body = split_message(raw)
    for depth, number in enumerate(path):
        ctype, boundary = _content_type(header)
        if ctype == "message/rfc822" and depth > 0:  # number the enclosed message's parts
            header, body = split_message(body)
            ctype, boundary = _content_type(header)
        if ctype.startswith("multipart/") and boundary:
            parts = _split_multipart(body, boundary)
            if not 1 <= number <= len(parts):
                return None
            header, body = split_message(parts[number - 1])
        elif number != 1:  # a non-multipart entity has just part 1: its body
            return None
    return header, body


# ---------------------------------------------------------------- FETCH items

_BODY_RE = re.compile(r"^(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?$", re.IGNORECASE)
_SIMPLE_ITEMS = {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822", "RFC822.HEADER",
                 "RFC822.TEXT", "ENVELOPE"}
_MACROS = {"ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
           "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
           "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]}


@dataclass(frozen=True)
class FetchItem:
    name: str  # UID, FLAGS, ..., or BODY for BODY[...] / BODY.PEEK[...]
    section: str = ""  # "", HEADER, TEXT, MIME, HEADER.FIELDS, HEADER.FIELDS.NOT
    part: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()
    peek: bool = False
    partial: tuple[int, int | None] | None = None

    @property
    def sets_seen(self) -> bool:
        return (self.name == "BODY" and not self.peek) or self.name in ("RFC822", "RFC822.TEXT")

    def label(self) -> bytes:
        """The item name as echoed in the FETCH response."""
        if self.name != "BODY":
            return self.name.encode()
        spec = ".".join(str(p) for p in self.part)
        if self.section:
            spec = f"{spec}.{self.section}" if spec else self.section
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{spec}]{origin}".encode()


def _parse_section(spec: str) -> tuple[tuple[int, ...], str, tuple[str, ...]]:
    head, _, rest = spec.partition(" ")
    part: list[int] = []
    words = head.split(".") if head else []
    while words and words[0].isdigit():
        n = int(words.pop(0))
        if n == 0:
            raise ParseError("body part 0")
        part.append(n)
    section = ".".join(words).upper()
    if section not in ("", "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        raise ParseError(f"unsupported section {spec!r}")
    if section == "MIME" and not part:
        raise ParseError("MIME needs a part number")
    fields: tuple[str, ...] = ()
    if section.startswith("HEADER.FIELDS"):
        toks = tokenize(rest.encode())
        if len(toks) != 1 or not isinstance(toks[0], list) or not toks[0]:
            raise ParseError("HEADER.FIELDS needs a list of field names")
        fields = tuple(astring(t) for t in toks[0])
    elif rest.strip():
        raise ParseError(f"unexpected text in section {spec!r}")
    return tuple(part), section, fields


def parse_fetch_items(tokens: list[Token]) -> list[FetchItem]:
    """The data items of FETCH: one item, a macro, or a parenthesized list."""
    if len(tokens) == 1 and isinstance(tokens[0], list):
        raw_items = tokens[0]
    elif len(tokens) == 1 and isinstance(tokens[0], Atom) and tokens[0].upper() in _MACROS:
        return [FetchItem(n) for n in _MACROS[tokens[0].upper()]]
    else:
        raw_items = tokens
    if not raw_items:
        raise ParseError("no FETCH items")
    items = []
    for tok in raw_items:
        if not isinstance(tok, Atom):
            raise ParseError("FETCH items must be atoms")
        word = tok.upper()
        if word in _SIMPLE_ITEMS:
            items.append(FetchItem(word))
            continue
        m = _BODY_RE.match(tok.value)
        if not m:
            raise ParseError(f"unsupported FETCH item {tok.value!r}")
        part, section, fields = _parse_section(m.group(2).strip())
        partial = None
        if m.group(3) is not None:
            count = int(m.group(4)) if m.group(4) is not None else None
            if count == 0:
                raise ParseError("partial length 0")
            partial = (int(m.group(3)), count)
        items.append(FetchItem("BODY", section, part, fields,
                               m.group(1).upper() == "BODY.PEEK", partial))
    return items


def section_bytes(item: FetchItem, raw: bytes) -> bytes:
    """The bytes a BODY[...] / RFC822.* item returns (before any partial range)."""
    if item.name == "RFC822":
        return raw
    if item.name == "RFC822.HEADER":
        return split_message(raw)[0]
    if item.name == "RFC822.TEXT":
        return split_message(raw)[1]
    if item.part:
        found = body_part(raw, item.part)
        if found is None:
            return b""
        mime, content = found
        if item.section == "":
            return content
        if item.section == "MIME":
            return mime
        header, text = split_message(content)  # an enclosed message/rfc822
    else:
        header, text = split_message(raw)
        if item.section == "":
            return raw
    if item.section == "HEADER":
        return header
    if item.section == "TEXT":
        return text
    return header_fields(header, item.fields, exclude=item.section == "HEADER.FIELDS.NOT")


def apply_partial(item: FetchItem, data: bytes) -> bytes:
    if not item.partial:
        return data
    start, count = item.partial
    return data[start:] if count is None else data[start:start + count]


def _address_list(values: list[str]) -> bytes:
    pairs = [(n, a) for n, a in getaddresses(values) if a or n]
    if not pairs:
        return b"NIL"
    out = []
    for name, addr in pairs:
        mailbox, _, host = addr.partition("@")
        out.append(b"(" + b" ".join([nstring(name or None), b"NIL", nstring(mailbox or None),
                                     nstring(host or None)]) + b")")
    return b"(" + b"".join(out) + b")"


def envelope(raw: bytes) -> bytes:
    def first(name: str) -> str | None:
        values = raw_header_values(raw, name)
        return values[0] if values else None

    frm = raw_header_values(raw, "From")
    sender = raw_header_values(raw, "Sender") or frm
    reply_to = raw_header_values(raw, "Reply-To") or frm
    parts = [nstring(first("Date")), nstring(first("Subject")), _address_list(frm),
             _address_list(sender), _address_list(reply_to),
             _address_list(raw_header_values(raw, "To")),
             _address_list(raw_header_values(raw, "Cc")),
             _address_list(raw_header_values(raw, "Bcc")),
             nstring(first("In-Reply-To")), nstring(first("Message-ID"))]
    return b"(" + b" ".join(parts) + b")"


# ---------------------------------------------------------------- SEARCH


@dataclass
class MsgView:
    """What a SEARCH criterion sees of one message."""

    seq: int
    uid: int
    raw: bytes
    internaldate: datetime
    flags: frozenset[str]
    recent: bool
    max_seq: int
    max_uid: int
    _cache: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> list[str]:
        key = name.lower()
        if key not in self._cache:
            self._cache[key] = [decode_value(v).casefold()
                                for v in raw_header_values(self.raw, name)]
        return self._cache[key]

    @cached_property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace").casefold()

    @cached_property
    def body_text(self) -> str:
        return split_message(self.raw)[1].decode("utf-8", "replace").casefold()

    @cached_property
    def sent_date(self) -> date | None:
        values = raw_header_values(self.raw, "Date")
        try:
            return parsedate_to_datetime(values[0]).date() if values else None
        except (TypeError, ValueError, IndexError):
            return None


Matcher = Callable[[MsgView], bool]

_FLAG_KEYS = {"ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True),
              "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True),
              "DRAFT": ("\\Draft", True), "UNANSWERED": ("\\Answered", False),
              "UNDELETED": ("\\Deleted", False), "UNFLAGGED": ("\\Flagged", False),
              "UNSEEN": ("\\Seen", False), "UNDRAFT": ("\\Draft", False)}
_ADDRESS_KEYS = ("FROM", "TO", "CC", "BCC", "SUBJECT")


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.i = tokens, 0

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def next(self) -> Token:
        if self.done():
            raise ParseError("missing search argument")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def text(self) -> str:
        return astring(self.next())


def parse_search(tokens: list[Token]) -> Matcher:
    """Compile SEARCH criteria (all ANDed) into a predicate over :class:`MsgView`."""
    cur = _Cursor(tokens)
    if not cur.done() and isinstance(tokens[0], Atom) and tokens[0].upper() == "CHARSET":
        cur.next()
        charset = cur.text().upper()
        if charset not in ("UTF-8", "US-ASCII", "UTF8", "ASCII"):
            raise BadCharset(charset)
    keys = []
    while not cur.done():
        keys.append(_search_key(cur))
    if not keys:
        raise ParseError("SEARCH needs at least one criterion")
    return lambda m: all(k(m) for k in keys)


def _has_flag(flag: str, want: bool) -> Matcher:
    return lambda m: (flag in m.flags) == want


def _contains(name: str, needle: str) -> Matcher:
    n = needle.casefold()
    return lambda m: any(n in v for v in m.header(name))


def _search_key(cur: _Cursor) -> Matcher:
    tok = cur.next()
    if isinstance(tok, list):
        sub = _Cursor(tok)
        keys = []
        while not sub.done():
            keys.append(_search_key(sub))
        if not keys:
            raise ParseError("empty search group")
        return lambda m: all(k(m) for k in keys)
    if not isinstance(tok, Atom):
        raise ParseError("search key expected")
    key = tok.upper()
    if key == "ALL":
        return lambda m: True
    if key in _FLAG_KEYS:
        return _has_flag(*_FLAG_KEYS[key])
    if key == "RECENT":
        return lambda m: m.recent
    if key == "OLD":
        return lambda m: not m.recent
    if key == "NEW":
        return lambda m: m.recent and "\\Seen" not in m.flags
    if key in ("KEYWORD", "UNKEYWORD"):
        return _has_flag(normalize_flag(cur.text()), key == "KEYWORD")
    if key == "NOT":
        inner = _search_key(cur)
        return lambda m: not inner(m)
    if key == "OR":
        a, b = _search_key(cur), _search_key(cur)
        return lambda m: a(m) or b(m)
    if key in ("SINCE", "BEFORE", "ON"):
        d = parse_date(cur.text())
        ops: dict[str, Callable[[date], bool]] = {
            "SINCE": lambda x: x >= d, "BEFORE": lambda x: x < d, "ON": lambda x: x == d}
        op = ops[key]
        return lambda m: op(m.internaldate.astimezone(UTC).date())
    if key in ("SENTSINCE", "SENTBEFORE", "SENTON"):
        d = parse_date(cur.text())
        sops: dict[str, Callable[[date], bool]] = {
            "SENTSINCE": lambda x: x >= d, "SENTBEFORE": lambda x: x < d,
            "SENTON": lambda x: x == d}
        sop = sops[key]
        return lambda m: m.sent_date is not None and sop(m.sent_date)
    if key in _ADDRESS_KEYS:
        return _contains(key.capitalize(), cur.text())
    if key == "HEADER":
        name = cur.text()
        return _contains(name, cur.text())
    if key in ("BODY", "TEXT"):
        needle = cur.text().casefold()
        if key == "BODY":
            return lambda m: needle in m.body_text
        return lambda m: needle in m.text
    if key in ("LARGER", "SMALLER"):
        try:
            size = int(cur.text())
        except ValueError:
            raise ParseError(f"{key} needs a number") from None
        if key == "LARGER":
            return lambda m: len(m.raw) > size
        return lambda m: len(m.raw) < size
    if key == "UID":
        uids = SeqSet.parse(cur.text())
        return lambda m: uids.contains(m.uid, m.max_uid)
    if is_seqset(tok.value):
        seqs = SeqSet.parse(tok.value)
        return lambda m: seqs.contains(m.seq, m.max_seq)
    raise ParseError(f"unsupported search key {tok.value!r}")
