"""Classify received messages as ``automated``, ``human``, ``bounce`` or ``unrelated``.

Evidence is collected from four sources and weighed, never taken alone:

* headers (Auto-Submitted, X-Autoreply, Precedence, Return-Path <>, multipart/report, List-*),
* the sender (no-reply, mailer-daemon, postmaster) and the subject line,
* the helpdesk platform (Zendesk, Freshdesk, Salesforce...), whose automation headers sit on
  every mail including agents' replies, so they count for little once the platform is known,
* the text, in German and English: acknowledgement, out-of-office, survey and bounce phrases
  against first-person agent language, a signature with a person's name, and answers that
  take up the specifics of the inquiry.

Each piece of evidence is a clue: a named feature with a value and a readable reason. Weights
fitted on labelled real-world mail (:mod:`servicebench.classify.model`, fitted by
:mod:`servicebench.classify.calibrate`) turn the clues into a probability per kind; the most
probable kind wins, and a top probability below the calibrated threshold flags the decision as
uncertain. The matching context counts: a message that matches no probe and replies to nothing
is weighed differently from an answer (the leaning toward ``human`` for a message with text
applies only to answers), and a message that the matcher tied to a probe by its headers is never
``unrelated``.

In helpdesk threads only the newest comment is read, and text that repeats the probe is
ignored. This module weighs and decides; the parts live beside it: text extraction in
:mod:`servicebench.classify.extract`, header, bounce and bulk-mail evidence in
:mod:`servicebench.classify.headers`, text evidence in :mod:`servicebench.classify.content`, the
evidence ledger in :mod:`servicebench.classify.evidence`, the decision in
:mod:`servicebench.classify.decide`, the rules in
:mod:`servicebench.classify.rules` and :mod:`servicebench.classify.phrases`. Nothing named
in a message is ever fetched, and no input makes these functions raise (except
:func:`classify_file` on a file that cannot be read); unreadable input is counted as
automated and flagged.
"""

from __future__ import annotations

import re
from email.message import Message
from pathlib import Path

from ..errors import ClassifyError
from ..mailparse import addresses
from . import rules as R
from .content import (
    ProbeContext,
    content_evidence,
    content_words,
    cut_quotes,
    looks_like_junk,
    name_tokens,
    ngrams,
    normalize_words,
    person_name,
    probe_context,
    thread_split,
)
from .decide import (
    BULK_FEATURES,
    Facts,
    decide,
    decide_by_hand,
    fallback,
    hand_result,
)
from .evidence import (
    KINDS,
    MAX_REASONS,
    Classification,
    Evidence,
    Kind,
    match_rules,
    snippet,
)
from .extract import (
    MAX_HTML_CHARS,
    MAX_PART_BYTES,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    MessageParts,
    body_text,
    content_type,
    extract_parts,
    html_text,
    parse_raw_message,
    raw_fallback_parts,
    tidy,
)
from .headers import (
    PLATFORM_DISCOUNT,
    bounce_evidence,
    detect_platforms,
    display_name,
    header_evidence,
    header_names,
    header_value,
    newsletter_evidence,
)

__all__ = [
    "KINDS", "MAX_HTML_CHARS", "MAX_PARTS", "MAX_PART_BYTES", "MAX_RAW_BYTES", "MAX_REASONS",
    "MAX_TEXT_CHARS", "PLATFORM_DISCOUNT", "Classification", "Kind", "classify_file",
    "classify_message", "classify_text", "html_text",
]

MAX_RAW_BYTES = 10_000_000  # bytes of a message that are parsed at all


_REPLY_SUBJECT = re.compile(r"(?i)^\s*(?:re|aw|antw|antwort|sv|vs|odp|r|rif|res|ynt)\s?:")
# ---------------------------------------------------------------------------- evidence


def _reply_signals(msg: Message, names: list[str], subject: str, text: str, quoted: str,
                   ctx: ProbeContext, ev: Evidence) -> str:
    """Flag every sign that the message answers an earlier mail; return the strongest one."""
    found = ""
    if "in-reply-to" in names or "references" in names:
        ev.flag("reply:headers", "reply: the message carries In-Reply-To/References headers")
        found = found or "reply: the message carries In-Reply-To/References headers"
    if ctx.probe_grams:
        grams = ngrams(normalize_words(text[:MAX_TEXT_CHARS]).split())
        if grams & ctx.probe_grams:
            ev.flag("reply:quotes-probe", "reply: it quotes the probe text")
            found = "reply: it quotes the probe text"
    if ctx.persona and ctx.probe_words:  # strict: personalised newsletters name the persona too
        opening = set(re.findall(r"\w+", text[:300].lower()))
        shared = ctx.probe_words & content_words(text[:MAX_TEXT_CHARS], ctx.persona)
        if ctx.persona & opening and len(shared) >= 5:
            ev.flag("reply:persona-and-topic",
                    "reply: it names the persona and talks about the inquiry")
            found = found or "reply: it names the persona and talks about the inquiry"
    if quoted:
        found = found or "reply: it quotes an earlier mail"
    if _REPLY_SUBJECT.match(subject):
        ev.flag("reply:subject", f"reply: the subject answers a mail '{snippet(subject, 40)}'")
        found = found or "reply: the subject marks a reply"
    return found


def extract_evidence(raw: bytes, *, replies_to_probe: bool = False, matched: bool | None = None,
                     probe_text: str | None = None, persona_name: str | None = None,
                     response_seconds: float | None = None,
                     parsed: Message | None = None) -> Facts | Classification:
    """All clues of one message (a :class:`Classification` for input that cannot be read).
    ``parsed``: the same bytes already parsed by :func:`servicebench.mailparse.parse_message`
    (used unless the bytes have to be cleaned first)."""
    ev = Evidence()
    original = raw
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
        ev.note("input: text given instead of bytes, encoded as UTF-8")
    if not isinstance(raw, bytes | bytearray | memoryview):
        return fallback(f"error: expected bytes, got {type(raw).__name__}")
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    if not raw.strip():
        return fallback("error: the message is empty")
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return fallback("error: this is an Outlook .msg file, not an RFC 822 message (.eml)")
    if len(raw) > MAX_RAW_BYTES:
        ev.note(f"input: only the first {MAX_RAW_BYTES // 1_000_000} MB were analysed")
        raw = raw[:MAX_RAW_BYTES]
    if b"\x00" in raw[:65536] and not _looks_utf16(raw):
        ev.note("input: NUL bytes found (binary junk?); parsed best-effort")
        raw = raw.replace(b"\x00", b"")

    facts = Facts(ev)
    if parsed is not None and raw is original and raw.count(b"boundary=") <= 500:
        msg, flat_body = parsed, None
    else:
        msg, flat_body = parse_raw_message(raw, ev)
    names = header_names(msg)
    defects = len(getattr(msg, "defects", []) or [])
    if defects:
        ev.note(f"input: {defects} MIME defect(s); parsed best-effort")
    if not names:
        ev.note("input: no headers recognised; judged on the text alone")
    parts = extract_parts(msg)
    text = body_text(parts) if flat_body is None else tidy(flat_body)[:MAX_TEXT_CHARS]
    if not text and not parts.dsn and flat_body is None and (
            defects or content_type(msg).startswith("multipart/")):
        raw_parts = raw_fallback_parts(raw)
        raw_text = body_text(raw_parts)
        if raw_text:
            ev.note("input: the MIME structure gave no readable text; the raw body was read")
            parts.notes.extend(raw_parts.notes)
            text = raw_text
    for note in dict.fromkeys(parts.notes):
        ev.note(f"input: {note}")
    if not text and not parts.dsn:
        ev.note("input: no readable text part")
        ev.flag("text:none", "input: no readable text")
        facts.readable = False
    subject = header_value(msg, "Subject")
    sender = display_name(msg, "From")
    if not sender[1]:
        found = addresses(msg, "From")
        sender = (sender[0], found[0] if found else "")
    if not persona_name:
        to_name = display_name(msg, "To")[0]
        if len(to_name.split()) >= 2 and "@" not in to_name:
            persona_name = to_name
    ctx = probe_context(probe_text, persona_name)

    # 1. mail-system output: bounces, delay warnings, delivery and read receipts
    facts.bounce = bounce_evidence(msg, names, parts, text, subject, sender, ev)

    # 2. helpdesk platform and thread structure
    platforms = detect_platforms(msg, names, text)
    platform = facts.platform = platforms[0] if platforms else ""
    if platforms:
        ev.note(f"platform: {', '.join(platforms)} detected")
        ev.flag("platform:helpdesk", f"platform: {platform} (helpdesk software)")
    new_text, quoted = cut_quotes(text)
    analysed = new_text
    helpdesk = bool(platform) or "##-" in text[:20_000]
    split = thread_split(new_text, ctx.persona) if helpdesk else None
    if split:
        analysed, author, is_persona = split
        if is_persona:
            ev.add("automated", 1.5, f"platform: a notification; the comment it shows is not an "
                   f"answer (newest comment by {snippet(author, 30)})", "ack",
                   "platform:shows-customer-comment")
        else:
            ev.add("human", 2.0, f"platform: newest comment written by {snippet(author, 30)}",
                   "agent", "platform:agent-comment")
    if quoted and not split:
        ev.add("human", 0.5, "text: quotes the earlier mail the way mail programs do",
               feature="text:quotes-earlier-mail")

    # 3. headers, sender, subject, timing
    facts.blanket = header_evidence(msg, names, ev, platform)
    display, addr = sender
    local = addr.split("@", 1)[0]
    if R.NOREPLY_LOCAL.match(local) and not R.DAEMON_LOCAL.match(local):
        weight = 1.0 * (PLATFORM_DISCOUNT if platform else 1.0)
        ev.add("automated", weight, f"sender: no-reply address '{addr[:60]}'", "header",
               "sender:no-reply")
        if platform:
            facts.blanket.append("no-reply sender")
    elif _looks_personal(display, addr):
        ev.add("human", 0.5, f"sender: a person's own mailbox '{snippet(display, 40)}'",
               feature="sender:personal")
    match_rules(R.SUBJECT_RULES, subject, ev, "automated", where="subject")
    if response_seconds is not None and response_seconds >= 0:
        if response_seconds < 60:
            ev.add("automated", 2.0, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing", "timing:seconds")
        elif response_seconds < 180:
            ev.add("automated", 0.75, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing", "timing:minutes")

    # 4. bulk mail
    newsletter_evidence(msg, names, text, subject, ev)

    # 5. the text itself
    words = 0
    if looks_like_junk(analysed):
        ev.note("input: the text does not look like language (binary junk?); not judged")
        ev.flag("text:junk", "input: the text does not look like language")
        facts.readable = False
    else:
        words = content_evidence(analysed, ev, ctx, company=addr.partition("@")[2])

    _shape_evidence(msg, parts, text, analysed, words, ev)

    # 6. context: does it answer anything?
    answers = _reply_signals(msg, names, subject, text, quoted, ctx, ev)
    if replies_to_probe:
        facts.tied_to_probe = True
        answers = "reply: In-Reply-To/References point to the probe"
        ev.flag("context:replies-to-probe", answers)
    elif matched:
        answers = answers or "reply: the matcher tied it to a probe"
        ev.flag("context:matched", "context: the matcher tied it to a probe")
    elif matched is False:
        ev.add("unrelated", 1.0, "context: it matches no probe", feature="context:no-probe")
    facts.answers = answers
    if answers:
        if words >= 5:
            ev.add("human", 0.5, "prior: an answer with text is taken as human unless evidence "
                   "says not", feature="prior:answer-with-text")
        elif words:
            ev.flag("text:short-answer", f"text: a short answer ({words} word(s))")
    else:
        if words >= 5:
            ev.flag("prior:text-replying-to-nothing", "context: text that replies to nothing")
        bulk = sum(ev.features.get(f, 0.0) for f in BULK_FEATURES)
        if bulk:
            ev.flag("bulk:replying-to-nothing", "context: bulk-mail signs, and it replies to "
                    "nothing", bulk)
    return facts


_SPAM_TLD = re.compile(r"\.(?:top|xyz|click|loan|work|bid|win|date|racing|review|stream|gdn|men|"
                       r"icu|buzz|cyou|rest|fit|surf|monster)$")


def _org(domain: str) -> str:
    """The organisation part of a domain (last two labels: support.shop.example -> shop.example)."""
    return ".".join(domain.lower().split(".")[-2:])


_URL = re.compile(r"(?i)\bhttps?://|\bwww\.")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_ASCII_UPPER = re.compile(r"[A-Z]")


def _shape_evidence(msg: Message, parts: MessageParts, text: str, analysed: str, words: int,
                    ev: Evidence) -> None:
    """Clues from the shape of a message: HTML only, links, shouting, who it is addressed to."""
    if parts.html and not tidy("\n".join(parts.plain)):
        ev.flag("structure:html-only", "structure: HTML only, no plain-text part")
    links = len(_URL.findall(text[:MAX_TEXT_CHARS]))
    if links >= 3:
        ev.flag("text:many-links", f"text: {links} links", min(links, 20) / 5)
    head = analysed[:20_000]
    letters = len(_ASCII_LETTER.findall(head))  # counted in C: this runs on every message
    if letters >= 100 and len(_ASCII_UPPER.findall(head)) / letters > 0.3:
        ev.flag("text:shouting", "text: mostly capital letters")
    if analysed.count("!") >= 4:
        ev.flag("text:exclamations", f"text: {analysed.count('!')} exclamation marks")
    if 5 <= words < 40:
        ev.flag("text:short", f"text: short ({words} words)")
    elif words >= 300:
        ev.flag("text:long", f"text: long ({words} words)")
    sender = addresses(msg, "From")
    sender_domain = sender[0].rpartition("@")[2] if sender else ""
    reply_to = addresses(msg, "Reply-To")
    if sender_domain and reply_to and not any(
            _org(a.rpartition("@")[2]) == _org(sender_domain) for a in reply_to):
        ev.flag("header:reply-to-elsewhere", f"header Reply-To: another domain than the sender "
                f"({snippet(reply_to[0].rpartition('@')[2], 40)})")
    if _SPAM_TLD.search(sender_domain):
        ev.flag("sender:bulk-domain", f"sender: a top-level domain used mostly for bulk mail "
                f"({snippet(sender_domain, 40)})")
    to = header_value(msg, "To")
    if not to.strip() or "undisclosed" in to.lower() or re.search(r":\s*;", to):
        ev.flag("header:no-named-recipient", "header To: missing or undisclosed recipients")


def _looks_utf16(raw: bytes) -> bool:
    return raw[:2] in (b"\xff\xfe", b"\xfe\xff") or bool(re.search(
        rb"(?i)charset=\"?utf-16", raw[:200_000]))


# ---------------------------------------------------------------------------- entry points


def _looks_personal(display: str, addr: str) -> bool:
    """A sender display name that is a person's, not the company's: its name also appears in the
    mailbox part of the address (t.weber@, mark@) and not merely in the domain."""
    if not display or person_name(display, set())[0] != "person":
        return False
    local, _, domain = addr.partition("@")
    tokens = [t for t in name_tokens(display) if len(t) >= 3]
    in_local = any(t in local.lower() for t in tokens)
    in_domain = tokens and all(t in domain.lower() for t in tokens)
    return in_local and not in_domain


def classify_message(raw: bytes, *, replies_to_probe: bool = False, matched: bool | None = None,
                     probe_text: str | None = None, persona_name: str | None = None,
                     response_seconds: float | None = None,
                     parsed: Message | None = None) -> Classification:
    """Classify one received email. Never raises: unreadable input gives a flagged fallback.

    ``replies_to_probe``: the caller matched In-Reply-To/References to the probe's Message-ID.
    ``matched``: whether the matcher tied the message to any probe (None: not known, as for a
    loose file; then In-Reply-To/References, a reply subject and quoted text are the signs of an
    answer). ``probe_text``/``persona_name``: the inquiry sent and the persona's name, used to
    recognise quoting, answers on the specifics and the persona's own text in helpdesk threads.
    ``response_seconds``: time since the probe was sent, if known (seconds-fast is automatic).
    """
    try:
        facts = extract_evidence(raw, replies_to_probe=replies_to_probe, matched=matched,
                                 probe_text=probe_text, persona_name=persona_name,
                                 response_seconds=response_seconds, parsed=parsed)
        if isinstance(facts, Classification):
            return facts
        return decide(facts)
    except Exception as exc:  # noqa: BLE001 - hostile input must never crash a run
        return fallback(f"error: the message could not be analysed ({type(exc).__name__})")


def classify_text(text: str, *, author: str = "", is_bot_account: bool = False,
                  replies_to_probe: bool = True, persona_name: str | None = None,
                  probe_text: str | None = None) -> Classification:
    """Classify a social-network reply (Mastodon, Bluesky, X...). Never raises.

    No labelled social replies exist to fit weights on, so the hand-set weights decide here and
    the probabilities are only their softmax."""
    try:
        return _classify_text(text, author, is_bot_account, replies_to_probe, persona_name,
                              probe_text)
    except Exception as exc:  # noqa: BLE001
        return fallback(f"error: the text could not be analysed ({type(exc).__name__})")


def _classify_text(text: str, author: str, is_bot_account: bool, replies_to_probe: bool,
                   persona_name: str | None, probe_text: str | None) -> Classification:
    ev = Evidence()
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", errors="replace") if isinstance(
            text, bytes | bytearray) else str(text)
    if "<" in text and re.search(r"</?(?:p|br|span|a|div)\b", text[:5000], re.IGNORECASE):
        text = html_text(text)  # Mastodon delivers HTML
    text = tidy(text[:MAX_TEXT_CHARS])
    text = re.sub(r"^(?:\s*@[\w.@-]{1,80})+\s*", "", text)  # leading @mentions of a reply
    author = str(author or "")[:200]
    if is_bot_account:
        ev.add("automated", 5.0, "account: flagged as a bot account", "bot")
    elif re.search(r"(?:^|[\W_])bot(?:$|[\W_\d])", author, re.IGNORECASE) or re.search(
            r"[a-z]Bot(?:$|[\W_\d])", author):
        ev.add("automated", 2.0, f"account: name suggests a bot '{snippet(author, 40)}'", "bot")
    ctx = probe_context(probe_text, persona_name)
    words = content_evidence(text, ev, ctx, social=True)
    if words >= 5:
        ev.add("human", 0.5, "prior: a reply with text is taken as human unless evidence says not")
    if not replies_to_probe:
        before = ev.score["unrelated"]
        match_rules(R.NEWSLETTER_RULES, " ".join(text.split()), ev, "unrelated")
        if ev.score["unrelated"] - before >= 2.0 and ev.score["unrelated"] > max(
                ev.score["automated"], ev.score["human"]):
            return hand_result(ev, "unrelated", "marketing")
    elif ev.categories.get("dm-request"):
        ev.note("decision: a 'send us a direct message' answer is canned unless it also answers")
    return decide_by_hand(ev, "", [])


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
