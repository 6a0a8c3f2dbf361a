"""Company profiles for the report: quotes, best/worst answer, blocked forms, and the
publication filters (anonymised company names, redacted agents' names).
"""

from __future__ import annotations

import base64
import re
import string
from pathlib import Path
from typing import Any

from .classify.rules import REPLY_MARKER
from .study import Study

QUOTE_CHARS = 480
QUOTE_CHARS_LARGE = 300   # above LARGE_STUDY companies: keeps 500 profile pages affordable
LARGE_STUDY = 100
MAX_SCREENSHOT_BYTES = 3_000_000

_QUOTE_HEADER = re.compile(
    r"^\s*(on .{3,200} wrote:|am .{3,200} schrieb .{0,120}:|-{2,}\s*original message\s*-{2,}|"
    r"-{2,}\s*ursprüngliche nachricht\s*-{2,}|(from|von|sent|gesendet|to|an|subject|betreff):"
    r"\s.*)$", re.I)
_CLOSING = re.compile(
    r"^\s*(mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|"
    r"herzliche grüße|mfg|best regards|kind regards|regards|best wishes|many thanks|"
    r"thanks again|cheers|sincerely|yours sincerely|your .{1,40} team|ihr .{1,40} team)\b.*$",
    re.I)
_SIGNATURE = re.compile(r"^\s*(--|__|—)\s*$")


def trim_quote(text: str | None, limit: int = QUOTE_CHARS) -> str:
    """A reply as a quote: without quoted earlier mail, quote headers, helpdesk markers and
    the signature (everything from the closing formula on), blank runs squeezed, cut at a
    word."""
    lines: list[str] = []
    for line in (text or "").splitlines():
        if REPLY_MARKER.match(line):  # a helpdesk's "reply above this line": not the answer
            continue
        if line.lstrip().startswith(">") or _QUOTE_HEADER.match(line) or _SIGNATURE.match(line):
            if lines:
                break
            continue
        if _CLOSING.match(line) and lines:
            break
        lines.append(line.rstrip())
    return cut_at_word("\n".join(lines), limit)


def cut_at_word(text: str, limit: int) -> str:
    """Blank runs squeezed; if longer than ``limit``, cut at a word near it with " …"."""
    body = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(body) <= limit:
        return body
    cut = body[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + " …"


class Publication:
    """Applies ``--anonymise`` and ``--redact-people`` to every text the report shows."""

    def __init__(self, study: Study, language: str, anonymise: bool, redact_people: bool):
        self.anonymise, self.redact_people = anonymise, redact_people
        self.names: dict[str, str] = {}
        patterns: list[tuple[str, str]] = []
        if anonymise:
            prefix = "Anbieter" if language == "de" else "Company"
            for i, c in enumerate(study.companies):
                alias = f"{prefix} {_letters(i)}"
                self.names[c.id] = alias
                for token in sorted({c.name, c.id, *c.domains, *_name_parts(c.name)},
                                    key=len, reverse=True):
                    if token and len(token) >= 3:
                        patterns.append((token, alias))
        self._rx = (re.compile("|".join(rf"(?<![\w]){re.escape(p)}(?![\w])"
                                        for p, _ in patterns), re.I) if patterns else None)
        self._map = {p.casefold(): a for p, a in patterns}
        self.redacted = "[Name]"
        self.quote_chars = QUOTE_CHARS if len(study.companies) <= LARGE_STUDY \
            else QUOTE_CHARS_LARGE

    def company(self, company_id: str, name: str) -> str:
        return self.names.get(company_id, name)

    def text(self, value: str | None) -> str:
        if not value:
            return ""
        if self._rx is None:
            return value
        return self._rx.sub(lambda m: self._map.get(m.group(0).casefold(), m.group(0)), value)

    def person(self, text: str | None, people: list[str]) -> str:
        """Sender lines and reasons: anonymised, and without agents' names if asked."""
        out = self.text(text)
        return redact_people(out, people, self.redacted) if self.redact_people and out else out

    def quote(self, text: str | None, people: list[str]) -> str:
        """A trimmed, anonymised and (optionally) name-redacted quote."""
        out = self.text(trim_quote(text, self.quote_chars))
        if self.redact_people:
            out = redact_people(out, people, self.redacted)
        return out


def _letters(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]


def _name_parts(name: str) -> set[str]:
    """A company name without its legal form ("Acme GmbH" -> "Acme") is anonymised too."""
    core = re.sub(r"\b(gmbh|ag|se|kg|e\.?v\.?|ltd|inc|plc|llc|co\.?)\b\.?", "", name, flags=re.I)
    core = core.strip(" ,&")
    return {core} if core and core != name else set()


_AGENT_PATTERNS = [
    re.compile(r"\b(?:I'm|I am|my name is|this is|ich bin|mein name ist|hier ist|hier spricht)"
               r"\s+([A-ZÄÖÜ][\wäöüß-]+(?:\s+[A-ZÄÖÜ][\wäöüß-]+)?)"),
    re.compile(r"\b([A-ZÄÖÜ][\wäöüß-]+)\s+(?:from|von|vom)\s+[A-ZÄÖÜ]"),
    re.compile(r"^\s*[-–]\s*([A-ZÄÖÜ][\wäöüß-]+(?:\s+[A-ZÄÖÜ][\wäöüß-]+)?)\s*$", re.M),
]
_REASON_NAME = re.compile(r"(?:signed by a person|a person's own mailbox) '([^'(]+)")


def people_in(reasons: list[str], sender: str | None) -> list[str]:
    """Agents' names the classifier saw (signature, personal mailbox) and the sender's."""
    names = [m.group(1).strip() for r in reasons for m in [_REASON_NAME.search(str(r))] if m]
    if sender and "<" in sender:
        display = sender.split("<", 1)[0].strip().strip('"')
        display = re.sub(r"\(.*?\)", "", display).strip()
        if display and " " in display:
            names.append(display)
    return names


def redact_people(text: str, names: list[str], mark: str = "[Name]") -> str:
    """Replace agents' names (given, or found by introduction patterns) with ``mark``."""
    found = set(names)
    for rx in _AGENT_PATTERNS:
        found.update(m.group(1) for m in rx.finditer(text))
    parts = {p for n in found for p in [n, *n.split()] if len(p) >= 2}
    for name in sorted(parts, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", mark, text)
    return re.sub(rf"{re.escape(mark)}(\s+{re.escape(mark)})+", mark, text)


def screenshot_uri(study: Study, evidence: list[dict[str, Any]]) -> str | None:
    """The form screenshot of a probe as a data: URI (the renderer fetches nothing else)."""
    shots = [e for e in evidence if str(e.get("kind", "")).startswith("screenshot")]
    shots.sort(key=lambda e: 0 if e["kind"] == "screenshot-after" else 1)
    for e in shots:
        path = Path(study.folder) / e["path"]
        try:
            if path.suffix.lower() != ".png" or path.stat().st_size > MAX_SCREENSHOT_BYTES:
                continue
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        except OSError:
            continue
    return None


def pick_replies(probes: list[dict[str, Any]]) -> tuple[dict[str, Any] | None,
                                                         dict[str, Any] | None]:
    """Best and worst personal answer of a company: checklist coverage first, then speed."""
    answered = [p for p in probes if p.get("human")]
    if not answered:
        return None, None

    def key(p: dict[str, Any]) -> tuple[float, float]:
        return (-(p.get("checklist_coverage") or 0.0),
                p.get("seconds_to_first_human_reply") or 0.0)
    ranked = sorted(answered, key=key)
    best, worst = ranked[0], ranked[-1]
    return best, (worst if worst is not best else None)
