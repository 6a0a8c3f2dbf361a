"""Classify received messages as ``automated``, ``human``, ``bounce`` or ``unrelated``.

Evidence is collected from four sources and weighed, never taken alone:

* headers (Auto-Submitted, X-Autoreply, Precedence, Return-Path <>, multipart/report, List-*),
* the sender (no-reply, mailer-daemon, postmaster) and the subject line,
* the helpdesk platform (Zendesk, Freshdesk, Salesforce...), whose automation headers sit on
  every mail including agents' replies, so they count for little once the platform is known,
* the text, in German and English: acknowledgement, out-of-office, survey and bounce phrases
  against first-person agent language, a signature with a person's name, and answers that
  take up the specifics of the inquiry.

Each piece of evidence adds a weight to one kind and a readable reason. Decisions, in order:

1. mail-system output (needs a DSN structure, a mailer-daemon sender, an NDR header or a bounce
   subject, plus failure text): ``bounce``; a delay warning or delivery report is ``automated``;
2. bulk mail (List-* / mass-mailer headers plus newsletter or promotional text) that does not
   reply to the probe: ``unrelated``;
3. otherwise ``automated`` or ``human``, whichever collected more weight (ties: automated).

In helpdesk threads only the newest comment is read, and text that repeats the probe is
ignored. The phrase lists live in :mod:`benchmark.classify_rules`. Nothing named in a message
is ever fetched, and no input makes these functions raise (except :func:`classify_file` on a
file that cannot be read); unreadable input is counted as automated and flagged.
"""

from __future__ import annotations

import email.parser
import email.policy
import html as htmlmod
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from . import classify_rules as R
from .errors import ClassifyError
from .mailparse import addresses, header, parse_message, strip_quoted

Kind = Literal["automated", "human", "bounce", "unrelated"]
KINDS: tuple[Kind, ...] = ("automated", "human", "bounce", "unrelated")

MAX_RAW_BYTES = 10_000_000  # bytes of a message that are parsed at all
MAX_PART_BYTES = 2_000_000  # bytes decoded per text part
MAX_HTML_CHARS = 400_000  # characters of HTML turned into text
MAX_TEXT_CHARS = 100_000  # characters of text searched for phrases
MAX_PARTS = 200
MAX_REASONS = 40
PLATFORM_DISCOUNT = 0.2  # what a helpdesk's blanket automation headers still count

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2028\u2029\u2060\ufeff\u034f]")
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2007\u202f]+")


@dataclass
class Classification:
    kind: Kind
    subkind: str  # auto-reply, out-of-office, ticket-acknowledgement, survey, delivery-failure...
    reasons: list[str] = field(default_factory=list)
    score: dict[str, float] = field(default_factory=dict)  # evidence weight per kind

    @property
    def uncertain(self) -> bool:
        """True when automated and human evidence are close: worth a look by a person."""
        if self.kind not in ("automated", "human"):
            return False
        return abs(self.score.get("automated", 0.0) - self.score.get("human", 0.0)) < 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "subkind": self.subkind,
            "reasons": list(self.reasons),
            "score": dict(self.score),
            "uncertain": self.uncertain,
        }


class _Evidence:
    """Weights per kind plus the reasons that produced them."""

    def __init__(self) -> None:
        self.score: dict[str, float] = {k: 0.0 for k in KINDS}
        self.categories: dict[str, float] = {}
        self.reasons: list[str] = []

    def add(self, kind: Kind, weight: float, reason: str, category: str = "") -> None:
        if weight <= 0:
            return
        self.score[kind] += weight
        if category:
            self.categories[category] = self.categories.get(category, 0.0) + weight
        self.reasons.append(f"{reason} [{kind} +{weight:.2g}]")

    def note(self, reason: str) -> None:
        self.reasons.append(reason)

    def cat(self, *names: str) -> float:
        return sum(self.categories.get(n, 0.0) for n in names)

    def result(self, kind: Kind, subkind: str) -> Classification:
        reasons = list(dict.fromkeys(self.reasons))
        if len(reasons) > MAX_REASONS:
            reasons = reasons[: MAX_REASONS - 1] + [f"... {len(reasons) - MAX_REASONS + 1} more"]
        score = {k: round(v, 2) for k, v in self.score.items()}
        return Classification(kind=kind, subkind=subkind, reasons=reasons, score=score)


def _snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _match(rules: list[R.Rule], text: str, ev: _Evidence, kind: Kind, where: str = "text",
           scale: float = 1.0) -> None:
    """Add the weight of every rule found in ``text``, capped per category."""
    used: dict[str, float] = {}
    for rule in rules:
        m = rule.pattern.search(text)
        if not m:
            continue
        room = R.CATEGORY_CAP.get(rule.category, 99.0) - used.get(rule.category, 0.0)
        weight = min(rule.weight * scale, room)
        if weight <= 0:
            continue
        used[rule.category] = used.get(rule.category, 0.0) + weight
        ev.add(kind, weight, f"{where}: {rule.label} '{_snippet(m.group(0))}'", rule.category)


# ------------------------------------------------------------------------- extraction


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
    return _tidy(htmlmod.unescape("".join(out)))


def _tidy(text: str) -> str:
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
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    dsn: list[str] = field(default_factory=list)  # message/delivery-status bodies
    notes: list[str] = field(default_factory=list)


def _content_type(part: Message) -> str:
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


def _extract(msg: Message) -> _Parts:
    """Walk the MIME tree without recursion; do not descend into attached messages."""
    parts = _Parts()
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        ctype = _content_type(part)
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


def _parse(raw: bytes, ev: _Evidence) -> tuple[Message, str | None]:
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


def _body(parts: _Parts) -> str:
    plain = _tidy("\n".join(parts.plain))
    if parts.html and len(plain) < 40:  # "please view this mail in an HTML client" stubs
        html = html_text("\n".join(parts.html))
        if len(html) > len(plain):
            return html[:MAX_TEXT_CHARS]
    return plain[:MAX_TEXT_CHARS]


# ---------------------------------------------------------------------- text helpers

_ORIGINAL = re.compile(R.de(r"^[-_=* ]{0,12}(?:Original Message|Ursprüngliche Nachricht|"
                            r"Originalnachricht|Weitergeleitete Nachricht|Forwarded message|"
                            r"Begin forwarded message)"), R.FLAGS)
_WROTE_START = re.compile(r"^(?:On|Am|Le|El|Il) \S.{2,150}$")
_WROTE = re.compile(r"\b(?:wrote|schrieb|a écrit|escribió|ha scritto)\b", re.IGNORECASE)
_HEADER_LINE = re.compile(R.de(r"^\*?(?:Sent|Gesendet|Date|Datum|To|An|Subject|Betreff|Cc):"),
                          R.FLAGS)


def _cut_quotes(text: str) -> tuple[str, str]:
    """The new part of a reply, and how the rest was recognised as quoted ('' if not)."""
    lines = text.splitlines()
    out: list[str] = []
    how = ""
    for i, line in enumerate(lines):
        s = line.strip()
        if R.REPLY_MARKER.match(s):
            continue
        if s.startswith(">"):
            how = how or "quote"
            continue
        if _ORIGINAL.match(s):
            how = "quote"
            break
        if _WROTE_START.match(s) and (_WROTE.search(s) or (
                i + 1 < len(lines) and _WROTE.search(lines[i + 1]) and len(lines[i + 1]) < 120)):
            how = "quote"
            break
        following = [x.strip() for x in lines[i + 1:i + 5] if x.strip()]
        if re.match(R.de(r"^\*?(?:From|Von):\s?\S"), s, re.IGNORECASE) and any(
                _HEADER_LINE.match(x) for x in following[:3]):
            how = "quote"
            break
        if re.match(r"^_{8,}$", s) and following and re.match(
                r"^\*?(?:From|Von):", following[0], re.IGNORECASE):
            how = "quote"
            break
        out.append(line)
    new = "\n".join(out)
    try:
        stripped = strip_quoted(new)
    except Exception:  # noqa: BLE001
        stripped = new
    if len(stripped) < len(new.strip()):
        how = how or "quote"
    return stripped.strip(), how


def _looks_like_junk(text: str) -> bool:
    """True for decoded binary data: too few of the tokens look like words."""
    tokens = text[:20_000].split()
    if len(tokens) < 8:
        return False
    wordlike = sum(1 for t in tokens if re.fullmatch(r"[(\"'„“]?[^\W\d_]{1,24}[-.,!?:;)\"'“”]{0,3}",
                                                      t))
    return wordlike / len(tokens) < 0.4


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _stem(word: str) -> str:
    return word[:7] if len(word) > 7 else word


def _content_words(text: str, exclude: set[str]) -> set[str]:
    words = re.findall(r"[^\W\d_]{5,}", text.lower())
    return {_stem(w) for w in words if w not in R.STOPWORDS and w not in exclude}


def _ngrams(words: list[str], n: int = 8) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}


def _name_tokens(name: str | None) -> set[str]:
    return {t for t in re.findall(r"[^\W\d_]{2,}", (name or "").lower())}


_CLOSING = re.compile(
    R.de(r"^(?:(?:mit |viele |beste |liebe |herzliche |freundliche |schöne |sonnige |"
         r"freundlichen |besten |herzlichen |lieben |schönen |sonnigen |kollegialen )+"
         r"(?:grüße|gruß|grüßen)|grüße|gruß|mfg|lg|vg|bg|beste grüße|"
         r"(?:best |kind |warm |warmest |many |with kind |kindest )?regards|best wishes|"
         r"all the best|cheers|thanks(?: again| a lot| and regards)?|thank you|many thanks|"
         r"sincerely(?: yours)?|yours (?:sincerely|faithfully|truly)|best|danke(?: und grüße)?|"
         r"vielen dank|servus|ciao|tschüss|have a (?:lovely|nice|great|good|wonderful) "
         r"(?:day|weekend|week)|(?:einen )?schönen (?:Tag|Abend)|schönes Wochenende)\b[,!.]?"),
    R.FLAGS,
)
_NAME_TOKEN = re.compile(r"^(?:(?:Mc|Mac|O['’])?[A-ZÄÖÜ][a-zäöüßéèáàçñ]{1,25}(?:['’-][A-ZÄÖÜ]?"
                         r"[a-zäöüßéèáàçñ]{1,25}){0,2}|[A-ZÄÖÜ]\.|von|van|de|der|zu|del|da|di|le|"
                         r"la|Dr\.|Prof\.)$")


def _person_name(line: str, persona: set[str]) -> tuple[str, str]:
    """('person'|'team'|'', cleaned name) for a candidate signature line."""
    line = re.sub(r"\([^()]{0,80}\)|<[^<>]{0,120}>", " ", line)
    line = re.sub(r"^(?:i\.\s?A\.|i\.\s?V\.|ppa\.|--|–|—|-)\s*", "", line.strip())
    first = re.split(r"\s(?:\||–|—|-)\s|[|,/]|\s{3,}", line)[0].strip(" .")
    m = re.match(r"^(.{2,40}?) (?:from|von|vom|at|@) \S.*$", first)
    if m:
        first = m.group(1)
    tokens = first.split()
    if not tokens or len(tokens) > 5 or not tokens[0][:1].isupper():
        return "", ""
    lowered = [t.lower().strip(".,") for t in tokens]
    if lowered[0] in ("ihr", "ihre", "your", "the", "dein", "deine", "euer", "eure", "das", "die"):
        return "team", first
    if any(t in R.TEAM_WORDS or t.endswith(R.NON_NAME_SUFFIXES) for t in lowered):
        return "team", first
    if not all(_NAME_TOKEN.match(t) for t in tokens):
        return "", ""
    if not any(len(t) > 2 and not t.endswith(".") for t in tokens):
        return "", ""
    if persona and set(lowered) & persona and (len(tokens) == 1 or set(lowered) <= persona):
        return "persona", first
    return "person", first


def _signature(lines: list[str], persona: set[str], company: str = "") -> tuple[str, str]:
    """Find a closing formula and the name that follows it (a person's name wins over a team's
    within the next three lines; a single word that is the sender's domain is the company)."""
    team = ""
    for i, line in enumerate(lines):
        s = line.strip()
        m = _CLOSING.match(s)
        if not m or len(s) > 60:
            continue
        rest = s[m.end():].strip(" ,.!-")
        candidates = [rest] if rest else []
        candidates += [x.strip() for x in lines[i + 1:i + 6] if x.strip()][:3]
        next_line = 1 if rest else 0  # position of the line right below the closing
        for pos, cand in enumerate(candidates):
            if _CLOSING.match(cand) or _GREETING.match(cand):
                continue
            kind, name = _person_name(cand, persona)
            if kind == "person":
                tokens = _name_tokens(name)
                if company and tokens and all(t in company for t in tokens):
                    kind = "team"
                elif pos > next_line and len(name.split()) < 2:
                    continue  # a lone word further down is more likely a company or a town
                else:
                    return "person", name
            if kind == "team" and not team:
                team = name
        if team:
            return "team", team
    return "", ""


_GREETING = re.compile(
    R.de(r"^(?:hallo|hi|hey|liebe[rs]?|sehr geehrte[rs]?|guten (?:tag|morgen|abend)|dear|hello|"
         r"moin|servus|grüß gott|good (?:morning|afternoon|evening))\b[ ,]*"
         r"(?:frau|herr|ms\.?|mrs\.?|mr\.?|miss|dr\.?)?\s*(?P<name>[^,\n!:]{2,40})"),
    R.FLAGS,
)
_DIRECT_ANSWER = re.compile(
    r"^(?:ja|nein|yes|no|genau|richtig|correct|absolutely|certainly|sure|leider nein|"
    r"leider nicht|unfortunately not|selbstverständlich|natürlich|of course)\b[,!. ]",
    re.IGNORECASE,
)


@dataclass
class _Context:
    persona: set[str]
    probe_norm: str
    probe_words: set[str]
    probe_grams: set[tuple[str, ...]]


def _context(probe_text: str | None, persona_name: str | None) -> _Context:
    persona = _name_tokens(persona_name)
    probe = (probe_text or "")[:20_000]
    words = _norm(probe).split()
    return _Context(persona, " ".join(words), _content_words(probe, persona), _ngrams(words))


def _drop_echo(lines: list[str], ctx: _Context) -> list[str]:
    """Remove lines that repeat the probe (acknowledgements and ticket threads quote it)."""
    if not ctx.probe_norm:
        return lines
    out = []
    for line in lines:
        n = _norm(line)
        if len(n.split()) >= 3 and n in ctx.probe_norm:
            continue
        out.append(line)
    return out


def _content_evidence(text: str, ev: _Evidence, ctx: _Context, *, social: bool = False,
                      company: str = "") -> None:
    """Phrase, signature, greeting and topic evidence from the new text of a message."""
    lines = _drop_echo(text.splitlines(), ctx)
    own = "\n".join(lines)
    flat = " ".join(own.split())
    _match(R.AUTOMATED_RULES, flat, ev, "automated")
    _match(R.HUMAN_RULES, flat, ev, "human")
    if social:
        _match(R.DM_RULES, flat, ev, "automated")
    nonblank = [x.strip() for x in lines if x.strip()]
    words = len(flat.split())

    kind, name = _signature(nonblank, ctx.persona, company)
    if kind == "person":
        weight = 1.5 if " " in name else 1.0
        ev.add("human", weight, f"text: signed by a person '{_snippet(name, 40)}'", "signature")
    elif kind == "team":
        ev.add("automated", 0.4, f"text: signed by a team, not a person '{_snippet(name, 40)}'",
               "canned")

    start = 0
    if nonblank:
        g = _GREETING.match(nonblank[0])
        if g:
            start = 1
            greeted = _name_tokens(g.group("name"))
            if ctx.persona and greeted & ctx.persona:
                ev.add("human", 0.3, f"text: greets the persona by name '{_snippet(nonblank[0])}'")
    if len(nonblank) > start and _DIRECT_ANSWER.match(nonblank[start]):
        ev.add("human", 1.0, f"text: opens with a direct answer '{_snippet(nonblank[start], 40)}'",
               "answer")

    if ctx.probe_words:
        shared = sorted(ctx.probe_words & _content_words(own, ctx.persona))
        if len(shared) >= 3:
            weight = 2.0 if len(shared) >= 6 else 1.0
            ev.add("human", weight, f"text: takes up {len(shared)} specifics of the inquiry "
                   f"({', '.join(shared[:6])})", "answer")

    if social:
        if re.search(r"(?:^|\s)[\^/~*–—-]\s?(?:[A-Z]{2,3}|[A-ZÄÖÜ][a-zäöüß]{2,15})\s*$",
                     own.strip()):
            ev.add("human", 1.0, "text: signed with an agent's initials or name", "signature")

    auto_content = ev.cat("ack", "ooo", "survey", "contact-form", "auto-notice", "dm-request")
    if words >= 5:
        ev.add("human", 0.5, "prior: a reply with text is taken as human unless evidence says not")
    if words >= 60 and auto_content < 1.0:
        ev.add("human", 0.5, f"text: {words} words of free text without template phrases")


# --------------------------------------------------------------------- header evidence


def _header_names(msg: Message) -> list[str]:
    try:
        return [str(k).lower() for k in msg.keys()][:500]
    except Exception:  # noqa: BLE001
        return []


def _h(msg: Message, name: str) -> str:
    return header(msg, name)[:2000]


def _all_values(msg: Message, name: str) -> list[str]:
    try:
        return [str(v)[:3000] for v in (msg.get_all(name) or [])][:40]
    except Exception:  # noqa: BLE001
        return []


def _display_name(msg: Message, name: str) -> tuple[str, str]:
    try:
        pairs = getaddresses([str(v) for v in (msg.get_all(name) or [])][:5])
    except Exception:  # noqa: BLE001
        return "", ""
    for display, addr in pairs:
        if addr or display:
            return display.strip(), addr.strip().lower()
    return "", ""


def _platforms(msg: Message, names: list[str], text: str) -> list[str]:
    values = " ".join(v for n in R.PLATFORM_VALUE_HEADERS for v in _all_values(msg, n))[:30_000]
    found = []
    for p in R.PLATFORMS:
        if (any(n.startswith(p.header_prefixes) for n in names)
                or (p.value_pattern and p.value_pattern.search(values))
                or (p.body_pattern and p.body_pattern.search(text[:MAX_TEXT_CHARS]))):
            found.append(p.name)
    return found


def _header_evidence(msg: Message, names: list[str], ev: _Evidence, platform: str) -> list[str]:
    """Automation headers; returns the ones a helpdesk platform puts on every mail."""
    discount = PLATFORM_DISCOUNT if platform else 1.0
    blanket: list[str] = []
    via = f" (weight reduced: {platform} sets it on every mail)" if platform else ""

    auto = _h(msg, "Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        ev.add("automated", 3.0 if not platform else 2.0, "header Auto-Submitted: auto-replied",
               "header")
    elif auto.startswith(("auto-generated", "auto-notified")):
        ev.add("automated", 1.5 * discount, f"header Auto-Submitted: {auto[:30]}{via}", "header")
        blanket.append(f"Auto-Submitted: {auto[:30]}")
    elif auto.startswith("no"):
        ev.note("header Auto-Submitted: no (the sender says it was not automatic)")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply",
                 "X-Autogenerated", "X-Mail-Autoreply", "X-Autoreply-From", "X-SFDC-AutoResponse"):
        value = _h(msg, name)
        if (value or name.lower() in names) and value.lower() not in ("no", "false", "0"):
            ev.add("automated", 3.0, f"header {name}: {value[:30] or '(set)'}", "header")
    precedence = (_h(msg, "Precedence") or _h(msg, "X-Precedence")).lower()
    if precedence.startswith("auto"):
        ev.add("automated", 3.0, f"header Precedence: {precedence[:20]}", "header")
    elif precedence in ("bulk", "junk", "list"):
        ev.add("automated", 0.75 * discount, f"header Precedence: {precedence}{via}", "header")
        ev.add("unrelated", 0.5, f"header Precedence: {precedence}")
        blanket.append(f"Precedence: {precedence}")
    if "x-auto-response-suppress" in names:
        ev.add("automated", 0.5 * discount, f"header X-Auto-Response-Suppress{via}", "header")
        blanket.append("X-Auto-Response-Suppress")
    if "x-loop" in names or "x-otrs-loop" in names:
        ev.add("automated", 0.5 * discount, f"header X-Loop{via}", "header")
        blanket.append("X-Loop")
    if "x-ms-exchange-inbox-rules-loop" in names:
        ev.add("automated", 2.0, "header X-MS-Exchange-Inbox-Rules-Loop (sent by an Outlook rule)",
               "header")
    if _h(msg, "Return-Path").replace(" ", "") == "<>":
        ev.add("automated", 1.0, "header Return-Path: <> (null sender, as for automatic mail)",
               "header")
    category = _h(msg, "X-SFDC-EmailCategory")
    if category:
        low = category.lower()
        if "autoresponse" in low or "workflow" in low or "alert" in low:
            ev.add("automated", 1.5, f"platform: Salesforce email category {category[:40]}", "ack")
        elif "publisher" in low or "casefeed" in low:
            ev.add("human", 1.0, f"platform: Salesforce email category {category[:40]} "
                   "(sent from a case by an agent)")
    mailer = _h(msg, "X-Mailer") or _h(msg, "User-Agent")
    if mailer and R.AUTOMATION_MAILERS.search(mailer):
        ev.add("automated", 0.75, f"header X-Mailer: {_snippet(mailer, 40)} (application mail)",
               "header")
    elif mailer and R.MAIL_CLIENTS.search(mailer) and not platform:
        ev.add("human", 0.4, f"header X-Mailer: {_snippet(mailer, 40)} (a mail program)")
    return blanket


# --------------------------------------------------------------------- bounce evidence


@dataclass
class _Bounce:
    gate: bool = False  # structural or sender evidence that this is mail-system output
    actions: set[str] = field(default_factory=set)
    report_type: str = ""
    delay: float = 0.0
    hard: bool = False


def _bounce_evidence(msg: Message, names: list[str], parts: _Parts, text: str, subject: str,
                     sender: tuple[str, str], ev: _Evidence) -> _Bounce:
    b = _Bounce()
    if _content_type(msg) == "multipart/report":
        try:
            b.report_type = str(msg.get_param("report-type") or "").lower()
        except Exception:  # noqa: BLE001
            b.report_type = ""
    if b.report_type in ("delivery-status", "global-delivery-status") or parts.dsn:
        b.gate = True
        ev.add("bounce", 3.0, "structure: multipart/report delivery-status notification (DSN)")
    dsn = "\n".join(parts.dsn)[:MAX_TEXT_CHARS]
    b.actions = {a.lower() for a in re.findall(r"(?im)^\s*Action:\s*([a-z]+)", dsn)}
    if b.actions:
        ev.note(f"structure: DSN action {', '.join(sorted(b.actions))}")
    display, addr = sender
    local = addr.split("@", 1)[0]
    if R.DAEMON_LOCAL.match(local) or R.DAEMON_DISPLAY.search(display):
        b.gate = True
        ev.add("bounce", 2.0, f"sender: mail system '{_snippet(display or addr, 50)}'")
    if "x-failed-recipients" in names:
        b.gate = True
        ev.add("bounce", 3.0, "header X-Failed-Recipients (Exim bounce)")
    if "x-ms-exchange-message-is-ndr" in names:
        b.gate = True
        ev.add("bounce", 3.0, "header X-MS-Exchange-Message-Is-Ndr (Exchange non-delivery report)")
    m = R.BOUNCE_SUBJECT.search(subject)
    if m:  # a person answering about a bounce writes "AW: Unzustellbar: ..."
        b.gate = b.gate or not re.match(r"(?i)\s*(?:re|aw|antw|wg|fwd?)\s?:", subject)
        ev.add("bounce", 2.0, f"subject: mail-system notice '{_snippet(m.group(0))}'")
    if not b.gate:
        return b
    scan = " ".join(f"{subject}\n{text[:20_000]}\n{dsn[:20_000]}".split())
    before = ev.score["bounce"]
    _match(R.DELAY_RULES, scan, ev, "bounce")
    b.delay = ev.score["bounce"] - before
    _match(R.FAILURE_RULES, scan, ev, "bounce")
    b.hard = bool(R.HARD_FAILURE.search(scan)) or bool(
        re.search(r"(?im)^\s*Status:\s*5\.", dsn))
    return b


# ----------------------------------------------------------------- newsletter evidence


def _newsletter_evidence(msg: Message, names: list[str], text: str, subject: str,
                         ev: _Evidence) -> float:
    """Bulk-mail headers and promotional text; returns the weight from the text alone."""
    if "list-unsubscribe" in names:
        ev.add("unrelated", 1.0, "header List-Unsubscribe")
    if "list-id" in names:
        ev.add("unrelated", 1.0, "header List-Id")
    esp = [n for n in names if n.startswith(R.ESP_HEADER_PREFIXES)]
    mailer = _h(msg, "X-Mailer")
    if esp:
        ev.add("unrelated", 1.5, f"header {esp[0]} (mass-mailing service)")
    elif mailer and R.ESP_MAILERS.search(mailer):
        ev.add("unrelated", 1.5, f"header X-Mailer: {_snippet(mailer, 40)} (mass-mailing service)")
    before = ev.score["unrelated"]
    _match(R.NEWSLETTER_RULES, " ".join(f"{subject}\n{text[:30_000]}".split()), ev, "unrelated")
    return ev.score["unrelated"] - before


# ------------------------------------------------------------------ helpdesk threads

_COMMENT_HEAD = re.compile(
    r"^(?P<name>[A-ZÄÖÜ][\w'’.-]{1,30}(?: [A-ZÄÖÜ][\w'’.-]{0,30}){0,3})"
    r"(?: \((?P<org>[^()\n]{2,60})\))?(?:,\s?(?P<date>\S.{5,40}))?$")
_DATE = re.compile(r"^(?=.{0,45}?\b\d{1,2}:\d{2}\b)(?:\w{2,10}\.?,? )?(?:\d{1,2}\.? ?\w{3,10}\.?|"
                   r"\w{3,10}\.? \d{1,2}\b|\d{1,2}[./]\d{1,2}[./]?|\d{4}-\d{2}-\d{2})")


def _thread_split(text: str, persona: set[str]) -> tuple[str, str, bool] | None:
    """For helpdesk mails listing comments ('Name (Company)' + date), return the text up to the
    end of the newest comment, its author and whether that author is the persona."""
    lines = text.splitlines()
    heads: list[tuple[int, str]] = []
    for i, line in enumerate(lines[:2000]):
        m = _COMMENT_HEAD.match(line.strip())
        if not m:
            continue
        nxt = next((x.strip() for x in lines[i + 1:i + 4] if x.strip()), "")
        if (m.group("date") and _DATE.match(m.group("date"))) or _DATE.match(nxt):
            heads.append((i, m.group("name")))
    if not heads:
        return None
    first, name = heads[0]
    end = heads[1][0] if len(heads) > 1 else len(lines)
    is_persona = bool(persona) and _person_name(name, persona)[0] == "persona"
    preamble = "\n".join(lines[:first])
    probe = _Evidence()
    _match(R.AUTOMATED_RULES, " ".join(preamble.split()), probe, "automated")
    if probe.cat("ack", "survey", "ooo", "contact-form") >= 2.5:
        return preamble, name, True  # a notification quoting the thread: the quote is context
    kept = lines[:first] if is_persona else lines[:end]
    return "\n".join(kept), name, is_persona


# ---------------------------------------------------------------------------- decision


def _reply_link(msg: Message, names: list[str], text: str, ctx: _Context,
                replies_to_probe: bool) -> str:
    if replies_to_probe:
        return "reply: In-Reply-To/References point to the probe"
    if "in-reply-to" in names or "references" in names:
        return "reply: the message carries In-Reply-To/References headers"
    if ctx.probe_grams:
        grams = _ngrams(_norm(text[:MAX_TEXT_CHARS]).split())
        if grams & ctx.probe_grams:
            return "reply: it quotes the probe text"
    if ctx.persona and ctx.probe_words:  # strict: personalised newsletters name the persona too
        opening = set(re.findall(r"\w+", text[:300].lower()))
        shared = ctx.probe_words & _content_words(text[:MAX_TEXT_CHARS], ctx.persona)
        if ctx.persona & opening and len(shared) >= 5:
            return "reply: it names the persona and talks about the inquiry"
    return ""


def _automated_subkind(ev: _Evidence) -> str:
    """The most specific kind of automation with real evidence, else a generic auto-reply."""
    for order in (["receipt", "ooo", "survey", "contact-form", "dm-request", "bot", "ack"],
                  ["auto-notice", "header", "timing", "canned"]):
        best = max(order, key=lambda c: (ev.categories.get(c, 0.0), -order.index(c)))
        if ev.categories.get(best, 0.0) >= 1.5:
            return R.AUTOMATED_SUBKIND.get(best, "auto-reply")
    return "auto-reply"


def _looks_personal(display: str, addr: str) -> bool:
    """A sender display name that is a person's, not the company's: its name also appears in the
    mailbox part of the address (t.weber@, mark@) and not merely in the domain."""
    if not display or _person_name(display, set())[0] != "person":
        return False
    local, _, domain = addr.partition("@")
    tokens = [t for t in _name_tokens(display) if len(t) >= 3]
    in_local = any(t in local.lower() for t in tokens)
    in_domain = tokens and all(t in domain.lower() for t in tokens)
    return in_local and not in_domain


def _decide(ev: _Evidence, platform: str, blanket: list[str]) -> Classification:
    auto, human = ev.score["automated"], ev.score["human"]
    if human > auto:
        if platform:
            overridden = f" (automation headers overridden: {', '.join(blanket)})" * bool(blanket)
            ev.note(f"platform: {platform} agent reply{overridden}")
            return ev.result("human", "agent-reply")
        if blanket or ev.cat("header"):
            ev.note("decision: the text outweighs the automation headers")
        return ev.result("human", "personal-reply")
    if platform:
        ev.note(f"platform: {platform} automatic notification")
    if auto == 0 and human == 0:
        ev.note("decision: no readable text and no evidence; counted as automated, not as an "
                "answer; check it by hand")
        return ev.result("automated", "unreadable")
    return ev.result("automated", _automated_subkind(ev))


def _fallback(reason: str) -> Classification:
    return Classification(
        kind="automated", subkind="unclassifiable",
        reasons=[reason, "fallback: counted as automated so it is not taken for a human answer; "
                 "check it by hand"],
        score={k: 0.0 for k in KINDS},
    )


def classify_message(raw: bytes, *, replies_to_probe: bool = False, probe_text: str | None = None,
                     persona_name: str | None = None,
                     response_seconds: float | None = None) -> Classification:
    """Classify one received email. Never raises: unreadable input gives a flagged fallback.

    ``replies_to_probe``: the caller matched In-Reply-To/References to the probe's Message-ID.
    ``probe_text``/``persona_name``: the inquiry sent and the persona's name, used to recognise
    quoting, answers on the specifics and the persona's own text in helpdesk threads.
    ``response_seconds``: time since the probe was sent, if known (seconds-fast is automatic).
    """
    try:
        return _classify_message(raw, replies_to_probe, probe_text, persona_name, response_seconds)
    except Exception as exc:  # noqa: BLE001 - hostile input must never crash a run
        return _fallback(f"error: the message could not be analysed ({type(exc).__name__})")


def _classify_message(raw: bytes, replies_to_probe: bool, probe_text: str | None,
                      persona_name: str | None, response_seconds: float | None) -> Classification:
    ev = _Evidence()
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
        ev.note("input: text given instead of bytes, encoded as UTF-8")
    if not isinstance(raw, bytes | bytearray | memoryview):
        return _fallback(f"error: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        return _fallback("error: the message is empty")
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return _fallback("error: this is an Outlook .msg file, not an RFC 822 message (.eml)")
    if len(raw) > MAX_RAW_BYTES:
        ev.note(f"input: only the first {MAX_RAW_BYTES // 1_000_000} MB were analysed")
        raw = raw[:MAX_RAW_BYTES]
    if b"\x00" in raw[:65536]:
        ev.note("input: NUL bytes found (binary junk?); parsed best-effort")
        raw = raw.replace(b"\x00", b"")

    msg, flat_body = _parse(raw, ev)
    names = _header_names(msg)
    defects = len(getattr(msg, "defects", []) or [])
    if defects:
        ev.note(f"input: {defects} MIME defect(s); parsed best-effort")
    if not names:
        ev.note("input: no headers recognised; judged on the text alone")
    parts = _extract(msg)
    for note in dict.fromkeys(parts.notes):
        ev.note(f"input: {note}")
    text = _body(parts) if flat_body is None else _tidy(flat_body)[:MAX_TEXT_CHARS]
    if not text and not parts.dsn:
        ev.note("input: no readable text part")
    subject = _h(msg, "Subject")
    sender = _display_name(msg, "From")
    if not sender[1]:
        found = addresses(msg, "From")
        sender = (sender[0], found[0] if found else "")
    if not persona_name:
        to_name = _display_name(msg, "To")[0]
        if len(to_name.split()) >= 2 and "@" not in to_name:
            persona_name = to_name
    ctx = _context(probe_text, persona_name)

    # 1. mail-system output: bounces, delay warnings, delivery and read receipts
    bounce = _bounce_evidence(msg, names, parts, text, subject, sender, ev)
    if bounce.report_type == "disposition-notification":
        ev.add("automated", 4.0, "structure: multipart/report disposition-notification (read "
               "receipt)", "header")
        return ev.result("automated", "read-receipt")
    if bounce.gate and ev.score["bounce"] >= 3.0:
        if "failed" in bounce.actions:
            return ev.result("bounce", "delivery-failure")
        notice = ""
        if "delayed" in bounce.actions or (not bounce.actions and bounce.delay >= 2.0
                                           and not bounce.hard):
            notice = "delivery-delay"
            ev.note("decision: a delayed-delivery warning, not a final bounce; the mail server "
                    "keeps trying, so it counts as automated")
        elif bounce.actions & {"delivered", "relayed", "expanded"}:
            notice = "delivery-report"
            ev.note("decision: a successful-delivery report, counted as automated")
        if notice:
            ev.score["automated"] = max(ev.score["automated"], ev.score["bounce"])
            return ev.result("automated", notice)
        return ev.result("bounce", "delivery-failure")

    # 2. helpdesk platform and thread structure
    platforms = _platforms(msg, names, text)
    platform = platforms[0] if platforms else ""
    if platforms:
        ev.note(f"platform: {', '.join(platforms)} detected")
    new_text, quoted = _cut_quotes(text)
    analysed = new_text
    helpdesk = bool(platform) or "##-" in text[:20_000]
    split = _thread_split(new_text, ctx.persona) if helpdesk else None
    if split:
        analysed, author, is_persona = split
        if is_persona:
            ev.add("automated", 1.5, f"platform: a notification; the comment it shows is not an "
                   f"answer (newest comment by {_snippet(author, 30)})", "ack")
        else:
            ev.add("human", 2.0, f"platform: newest comment written by {_snippet(author, 30)}",
                   "agent")
    if quoted and not split:
        ev.add("human", 0.5, "text: quotes the earlier mail the way mail programs do")

    # 3. headers, sender, subject, timing
    blanket = _header_evidence(msg, names, ev, platform)
    display, addr = sender
    local = addr.split("@", 1)[0]
    if R.NOREPLY_LOCAL.match(local):
        weight = 1.0 * (PLATFORM_DISCOUNT if platform else 1.0)
        ev.add("automated", weight, f"sender: no-reply address '{addr[:60]}'", "header")
        if platform:
            blanket.append("no-reply sender")
    elif _looks_personal(display, addr):
        ev.add("human", 0.5, f"sender: a person's own mailbox '{_snippet(display, 40)}'")
    _match(R.SUBJECT_RULES, subject, ev, "automated", where="subject")
    if response_seconds is not None and response_seconds >= 0:
        if response_seconds < 60:
            ev.add("automated", 2.0, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing")
        elif response_seconds < 180:
            ev.add("automated", 0.75, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing")

    # 4. newsletters: only when the message does not answer the probe
    news_text = _newsletter_evidence(msg, names, text, subject, ev)

    # 5. the text itself
    if _looks_like_junk(analysed):
        ev.note("input: the text does not look like language (binary junk?); not judged")
    else:
        _content_evidence(analysed, ev, ctx, company=addr.partition("@")[2])
    link = _reply_link(msg, names, text, ctx, replies_to_probe)
    if not link and ev.cat("ack", "ooo") >= 2.0:
        link = "reply: it is an automatic answer to a message (acknowledgement or absence note)"
    unrelated = ev.score["unrelated"]
    if unrelated >= 3.0 and news_text >= 1.0:
        if link:
            ev.note(f"decision: looks like bulk mail, but not unrelated ({link})")
        elif unrelated > max(ev.score["automated"], ev.score["human"]):
            ev.note("decision: bulk mail that does not refer to the inquiry")
            promo = ev.categories.get("promo", 0.0) > ev.categories.get("newsletter", 0.0)
            return ev.result("unrelated", "marketing" if promo else "newsletter")
    if link:
        ev.note(link)
    return _decide(ev, platform, blanket)


def classify_text(text: str, *, author: str = "", is_bot_account: bool = False,
                  replies_to_probe: bool = True, persona_name: str | None = None,
                  probe_text: str | None = None) -> Classification:
    """Classify a social-network reply (Mastodon, Bluesky, X...). Never raises."""
    try:
        return _classify_text(text, author, is_bot_account, replies_to_probe, persona_name,
                              probe_text)
    except Exception as exc:  # noqa: BLE001
        return _fallback(f"error: the text could not be analysed ({type(exc).__name__})")


def _classify_text(text: str, author: str, is_bot_account: bool, replies_to_probe: bool,
                   persona_name: str | None, probe_text: str | None) -> Classification:
    ev = _Evidence()
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", errors="replace") if isinstance(
            text, bytes | bytearray) else str(text)
    if "<" in text and re.search(r"</?(?:p|br|span|a|div)\b", text[:5000], re.IGNORECASE):
        text = html_text(text)  # Mastodon delivers HTML
    text = _tidy(text[:MAX_TEXT_CHARS])
    text = re.sub(r"^(?:\s*@[\w.@-]{1,80})+\s*", "", text)  # leading @mentions of a reply
    author = str(author or "")[:200]
    if is_bot_account:
        ev.add("automated", 5.0, "account: flagged as a bot account", "bot")
    elif re.search(r"(?:^|[\W_])bot(?:$|[\W_\d])", author, re.IGNORECASE) or re.search(
            r"[a-z]Bot(?:$|[\W_\d])", author):
        ev.add("automated", 2.0, f"account: name suggests a bot '{_snippet(author, 40)}'", "bot")
    ctx = _context(probe_text, persona_name)
    _content_evidence(text, ev, ctx, social=True)
    if not replies_to_probe:
        before = ev.score["unrelated"]
        _match(R.NEWSLETTER_RULES, " ".join(text.split()), ev, "unrelated")
        if ev.score["unrelated"] - before >= 2.0 and ev.score["unrelated"] > max(
                ev.score["automated"], ev.score["human"]):
            return ev.result("unrelated", "marketing")
    elif ev.categories.get("dm-request"):
        ev.note("decision: a 'send us a direct message' answer is canned unless it also answers")
    return _decide(ev, "", [])


def classify_file(path: Path, **kwargs: object) -> Classification:
    """Classify an .eml file. Raises :class:`ClassifyError` if it cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ClassifyError(f"{p}: is a folder, not a message file")
        with p.open("rb") as fh:
            raw = fh.read(MAX_RAW_BYTES + 1)
    except ClassifyError:
        raise
    except FileNotFoundError:
        raise ClassifyError(f"{p}: no such message file") from None
    except PermissionError:
        raise ClassifyError(f"{p}: no permission to read the message file") from None
    except OSError as exc:
        raise ClassifyError(f"{p}: cannot read the message file ({exc.strerror or exc})") from None
    if not raw.strip():
        raise ClassifyError(f"{p}: the file is empty")
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ClassifyError(f"{p}: an Outlook .msg file; save the message as .eml instead")
    return classify_message(raw, **kwargs)  # type: ignore[arg-type]
