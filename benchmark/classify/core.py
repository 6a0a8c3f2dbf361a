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
ignored. This module weighs and decides; the parts live beside it: text extraction in
:mod:`servicebench.classify.extract`, header, bounce and bulk-mail evidence in
:mod:`servicebench.classify.headers`, text evidence in :mod:`servicebench.classify.content`, the
evidence ledger in :mod:`servicebench.classify.evidence`, the rules in
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
    body_text,
    extract_parts,
    html_text,
    parse_raw_message,
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


# ---------------------------------------------------------------------------- decision


def _reply_link(msg: Message, names: list[str], text: str, ctx: ProbeContext,
                replies_to_probe: bool) -> str:
    if replies_to_probe:
        return "reply: In-Reply-To/References point to the probe"
    if "in-reply-to" in names or "references" in names:
        return "reply: the message carries In-Reply-To/References headers"
    if ctx.probe_grams:
        grams = ngrams(normalize_words(text[:MAX_TEXT_CHARS]).split())
        if grams & ctx.probe_grams:
            return "reply: it quotes the probe text"
    if ctx.persona and ctx.probe_words:  # strict: personalised newsletters name the persona too
        opening = set(re.findall(r"\w+", text[:300].lower()))
        shared = ctx.probe_words & content_words(text[:MAX_TEXT_CHARS], ctx.persona)
        if ctx.persona & opening and len(shared) >= 5:
            return "reply: it names the persona and talks about the inquiry"
    return ""


def _automated_subkind(ev: Evidence) -> str:
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
    if not display or person_name(display, set())[0] != "person":
        return False
    local, _, domain = addr.partition("@")
    tokens = [t for t in name_tokens(display) if len(t) >= 3]
    in_local = any(t in local.lower() for t in tokens)
    in_domain = tokens and all(t in domain.lower() for t in tokens)
    return in_local and not in_domain


def _decide(ev: Evidence, platform: str, blanket: list[str]) -> Classification:
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
    ev = Evidence()
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

    msg, flat_body = parse_raw_message(raw, ev)
    names = header_names(msg)
    defects = len(getattr(msg, "defects", []) or [])
    if defects:
        ev.note(f"input: {defects} MIME defect(s); parsed best-effort")
    if not names:
        ev.note("input: no headers recognised; judged on the text alone")
    parts = extract_parts(msg)
    for note in dict.fromkeys(parts.notes):
        ev.note(f"input: {note}")
    text = body_text(parts) if flat_body is None else tidy(flat_body)[:MAX_TEXT_CHARS]
    if not text and not parts.dsn:
        ev.note("input: no readable text part")
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
    bounce = bounce_evidence(msg, names, parts, text, subject, sender, ev)
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
    platforms = detect_platforms(msg, names, text)
    platform = platforms[0] if platforms else ""
    if platforms:
        ev.note(f"platform: {', '.join(platforms)} detected")
    new_text, quoted = cut_quotes(text)
    analysed = new_text
    helpdesk = bool(platform) or "##-" in text[:20_000]
    split = thread_split(new_text, ctx.persona) if helpdesk else None
    if split:
        analysed, author, is_persona = split
        if is_persona:
            ev.add("automated", 1.5, f"platform: a notification; the comment it shows is not an "
                   f"answer (newest comment by {snippet(author, 30)})", "ack")
        else:
            ev.add("human", 2.0, f"platform: newest comment written by {snippet(author, 30)}",
                   "agent")
    if quoted and not split:
        ev.add("human", 0.5, "text: quotes the earlier mail the way mail programs do")

    # 3. headers, sender, subject, timing
    blanket = header_evidence(msg, names, ev, platform)
    display, addr = sender
    local = addr.split("@", 1)[0]
    if R.NOREPLY_LOCAL.match(local):
        weight = 1.0 * (PLATFORM_DISCOUNT if platform else 1.0)
        ev.add("automated", weight, f"sender: no-reply address '{addr[:60]}'", "header")
        if platform:
            blanket.append("no-reply sender")
    elif _looks_personal(display, addr):
        ev.add("human", 0.5, f"sender: a person's own mailbox '{snippet(display, 40)}'")
    match_rules(R.SUBJECT_RULES, subject, ev, "automated", where="subject")
    if response_seconds is not None and response_seconds >= 0:
        if response_seconds < 60:
            ev.add("automated", 2.0, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing")
        elif response_seconds < 180:
            ev.add("automated", 0.75, f"timing: arrived {response_seconds:.0f} s after the probe",
                   "timing")

    # 4. newsletters: only when the message does not answer the probe
    news_text = newsletter_evidence(msg, names, text, subject, ev)

    # 5. the text itself
    if looks_like_junk(analysed):
        ev.note("input: the text does not look like language (binary junk?); not judged")
    else:
        content_evidence(analysed, ev, ctx, company=addr.partition("@")[2])
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
    content_evidence(text, ev, ctx, social=True)
    if not replies_to_probe:
        before = ev.score["unrelated"]
        match_rules(R.NEWSLETTER_RULES, " ".join(text.split()), ev, "unrelated")
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
