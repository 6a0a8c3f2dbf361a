"""Evidence from the text of a reply: phrases, signature, greeting, answers on the inquiry.

Also the text helpers it needs: cutting quoted earlier mails, recognising a person's name,
comparing with the probe, and finding the newest comment in a helpdesk thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..mailparse import strip_quoted
from . import rules as R
from .evidence import Evidence, match_rules, snippet

_ORIGINAL = re.compile(R.de(r"^[-_=* ]{0,12}(?:Original Message|Ursprüngliche Nachricht|"
                            r"Originalnachricht|Weitergeleitete Nachricht|Forwarded message|"
                            r"Begin forwarded message)"), R.FLAGS)
_WROTE_START = re.compile(r"^(?:On|Am|Le|El|Il) \S.{2,150}$")
_WROTE = re.compile(r"\b(?:wrote|schrieb|a écrit|escribió|ha scritto)\b", re.IGNORECASE)
_HEADER_LINE = re.compile(R.de(r"^\*?(?:Sent|Gesendet|Date|Datum|To|An|Subject|Betreff|Cc):"),
                          R.FLAGS)


def cut_quotes(text: str) -> tuple[str, str]:
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


def looks_like_junk(text: str) -> bool:
    """True for decoded binary data: too few of the tokens look like words."""
    tokens = text[:20_000].split()
    if len(tokens) < 8:
        return False
    sample = "".join(tokens)[:5000]
    wide = sum(1 for ch in sample if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    if wide >= 0.3 * len(sample):  # Chinese, Japanese, Korean: words are not space-separated
        return False
    wordlike = sum(1 for t in tokens if re.fullmatch(r"[(\"'„“]?[^\W\d_]{1,24}[-.,!?:;)\"'“”]{0,3}",
                                                      t))
    return wordlike / len(tokens) < 0.4


def normalize_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _stem(word: str) -> str:
    return word[:7] if len(word) > 7 else word


def content_words(text: str, exclude: set[str]) -> set[str]:
    words = re.findall(r"[^\W\d_]{5,}", text.lower())
    return {_stem(w) for w in words if w not in R.STOPWORDS and w not in exclude}


def words_by_stem(text: str, exclude: set[str]) -> dict[str, str]:
    """Like :func:`content_words`, with the first word of the text behind each stem: the
    reason a reader sees names "contract", not the stem "contrac"."""
    out: dict[str, str] = {}
    for w in re.findall(r"[^\W\d_]{5,}", text.lower()):
        if w not in R.STOPWORDS and w not in exclude:
            out.setdefault(_stem(w), w)
    return out


def ngrams(words: list[str], n: int = 8) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}


def name_tokens(name: str | None) -> set[str]:
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


def person_name(line: str, persona: set[str]) -> tuple[str, str]:
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
            kind, name = person_name(cand, persona)
            if kind == "person":
                tokens = name_tokens(name)
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
    r"leider nicht|unfortunately not|selbstverständlich|natürlich|of course|oui|non|si|sì|"
    r"nee|jawohl|klar)(?:[,!. ]|$)",
    re.IGNORECASE,
)


@dataclass
class ProbeContext:
    persona: set[str]
    probe_norm: str
    probe_words: set[str]
    probe_grams: set[tuple[str, ...]]


def probe_context(probe_text: str | None, persona_name: str | None) -> ProbeContext:
    persona = name_tokens(persona_name)
    probe = (probe_text or "")[:20_000]
    words = normalize_words(probe).split()
    return ProbeContext(persona, " ".join(words), content_words(probe, persona), ngrams(words))


def _drop_echo(lines: list[str], ctx: ProbeContext) -> list[str]:
    """Remove lines that repeat the probe (acknowledgements and ticket threads quote it)."""
    if not ctx.probe_norm:
        return lines
    out = []
    for line in lines:
        n = normalize_words(line)
        if len(n.split()) >= 3 and n in ctx.probe_norm:
            continue
        out.append(line)
    return out


def content_evidence(text: str, ev: Evidence, ctx: ProbeContext, *, social: bool = False,
                     company: str = "") -> int:
    """Phrase, signature, greeting and topic evidence from the new text of a message; returns
    the number of words read."""
    lines = _drop_echo(text.splitlines(), ctx)
    own = "\n".join(lines)
    flat = " ".join(own.split())
    match_rules(R.AUTOMATED_RULES, flat, ev, "automated")
    match_rules(R.HUMAN_RULES, flat, ev, "human")
    if social:
        match_rules(R.DM_RULES, flat, ev, "automated")
    nonblank = [x.strip() for x in lines if x.strip()]
    words = len(flat.split())

    kind, name = _signature(nonblank, ctx.persona, company)
    if kind == "person":
        weight = 1.5 if " " in name else 1.0
        ev.add("human", weight, f"text: signed by a person '{snippet(name, 40)}'", "signature",
               "text:signed-by-person")
    elif kind == "team":
        ev.add("automated", 0.4, f"text: signed by a team, not a person '{snippet(name, 40)}'",
               "canned", "text:signed-by-team")

    start = 0
    if nonblank:
        g = _GREETING.match(nonblank[0])
        if g:
            start = 1
            greeted = name_tokens(g.group("name"))
            if ctx.persona and greeted & ctx.persona:
                ev.add("human", 0.3, f"text: greets the persona by name '{snippet(nonblank[0])}'",
                       feature="text:greets-persona")
    if len(nonblank) > start and _DIRECT_ANSWER.match(nonblank[start]):
        ev.add("human", 1.0, f"text: opens with a direct answer '{snippet(nonblank[start], 40)}'",
               "answer", "text:direct-answer")

    if ctx.probe_words:
        found = words_by_stem(own, ctx.persona)
        shared = sorted(ctx.probe_words & found.keys())
        if len(shared) >= 3:
            weight = 2.0 if len(shared) >= 6 else 1.0
            ev.add("human", weight, f"text: takes up {len(shared)} specifics of the inquiry "
                   f"({', '.join(found[s] for s in shared[:6])})", "answer",
                   "text:specifics-of-inquiry")

    if social:
        if re.search(r"(?:^|\s)[\^/~*–—-]\s?(?:[A-Z]{2,3}|[A-ZÄÖÜ][a-zäöüß]{2,15})\s*$",
                     own.strip()):
            ev.add("human", 1.0, "text: signed with an agent's initials or name", "signature",
                   "text:signed-by-person")

    auto_content = ev.cat("ack", "ooo", "survey", "contact-form", "auto-notice", "dm-request")
    if words >= 60 and auto_content < 1.0:
        ev.add("human", 0.5, f"text: {words} words of free text without template phrases",
               feature="text:free-text")
    return words


# -------------------------------------------------------------------- helpdesk threads

_COMMENT_HEAD = re.compile(
    r"^(?P<name>[A-ZÄÖÜ][\w'’.-]{1,30}(?: [A-ZÄÖÜ][\w'’.-]{0,30}){0,3})"
    r"(?: \((?P<org>[^()\n]{2,60})\))?(?:,\s?(?P<date>\S.{5,40}))?$")
_DATE = re.compile(r"^(?=.{0,45}?\b\d{1,2}:\d{2}\b)(?:\w{2,10}\.?,? )?(?:\d{1,2}\.? ?\w{3,10}\.?|"
                   r"\w{3,10}\.? \d{1,2}\b|\d{1,2}[./]\d{1,2}[./]?|\d{4}-\d{2}-\d{2})")


def thread_split(text: str, persona: set[str]) -> tuple[str, str, bool] | None:
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
    is_persona = bool(persona) and person_name(name, persona)[0] == "persona"
    preamble = "\n".join(lines[:first])
    probe = Evidence()
    match_rules(R.AUTOMATED_RULES, " ".join(preamble.split()), probe, "automated")
    if probe.cat("ack", "survey", "ooo", "contact-form") >= 2.5:
        return preamble, name, True  # a notification quoting the thread: the quote is context
    kept = lines[:first] if is_persona else lines[:end]
    return "\n".join(kept), name, is_persona
