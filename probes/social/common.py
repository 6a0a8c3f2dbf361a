"""What the Mastodon, Bluesky and X channels share.

* the ``social:`` study section (its JSON Schema, owned by all three channel classes so that
  :mod:`servicebench.schema` adds it once whichever is registered first) and the per-company
  channel config (a handle, or ``{handle, also, dm}``);
* composing the text of a probe (a real mention of the company plus the scenario's ``short``
  text in public, the full body in a direct message);
* matching a reply to a probe (:class:`ReplyMatcher`) and storing it (:func:`store_reply`):
  raw API payload as evidence first, then a classified message row;
* small helpers for notes and events (e.g. a deleted probe post).

Reply matching, strongest first (the rule goes into ``messages.match_method``):

``in-reply-to``
    the reply's parent is the probe post itself;
``thread``
    the reply's parent (or an ancestor) is a stored reply to the probe, or the probe's DM
    conversation;
``account``
    a company account (``handle`` or one of ``also``) wrote to the shopper outside the
    thread, e.g. a DM after "please send us a DM": the company's most recent probe on this
    channel sent before the reply.

Posts by accounts that are not the company's and that answer the probe's thread directly
are stored unmatched (``probe_id`` NULL) for a person to assign; other strangers' posts are
skipped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from servicebench.channels import CollectStats, ProbeContext
from servicebench.clock import parse_utc, utc_iso
from servicebench.errors import NotConfigured

if TYPE_CHECKING:
    from servicebench.channels import ChannelEnv

SECRET = {"type": "string", "description": "write it as ${VARIABLE}; never the value itself"}
URL = {"type": "string", "pattern": r"^https?://", "description": "an http(s) URL"}

SOCIAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "the shopper accounts on social networks",
    "properties": {
        "mastodon": {
            "type": "object",
            "additionalProperties": False,
            "required": ["instance", "token"],
            "properties": {
                "instance": {**URL, "description": "the shopper's Mastodon server, e.g. "
                                                   "https://mastodon.social"},
                "token": {**SECRET, "description": "OAuth access token with scopes read "
                                                   "write (Preferences > Development)"},
            },
        },
        "bluesky": {
            "type": "object",
            "additionalProperties": False,
            "required": ["handle", "app_password"],
            "properties": {
                "service": {**URL, "description": "the shopper's PDS; default "
                                                  "https://bsky.social"},
                "handle": {"type": "string", "description": "the shopper's handle"},
                "app_password": {**SECRET, "description": "an app password (Settings > "
                                                         "App passwords); allow DMs for "
                                                         "direct mode"},
            },
        },
        "x": {
            "type": "object",
            "additionalProperties": False,
            "required": ["token"],
            "properties": {
                "api": {**URL, "description": "default https://api.x.com"},
                "token": {**SECRET, "description": "OAuth 2.0 user-context access token "
                                                   "(tweet.read tweet.write users.read; "
                                                   "dm.read dm.write for DMs), sent as Bearer"},
            },
        },
        "max_wait": {"oneOf": [{"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[smh]\s*$"},
                               {"type": "integer", "minimum": 0}],
                     "description": "longest wait for a rate limit to reset (default 2m)"},
        "timeout": {"type": "integer", "minimum": 1,
                    "description": "seconds to wait for an API answer (default 30)"},
    },
}


def company_schema(example: str) -> dict[str, Any]:
    return {
        "description": f"the company's handle, e.g. {example!r}, or {{handle, also, dm}}",
        "oneOf": [
            {"type": "string", "minLength": 2},
            {"type": "object", "additionalProperties": False, "required": ["handle"],
             "properties": {
                 "handle": {"type": "string", "minLength": 2,
                            "description": "the account the probe addresses"},
                 "also": {"type": "array", "items": {"type": "string"},
                          "description": "other official accounts whose replies count"},
                 "dm": {"type": "boolean",
                        "description": "false if the company takes no direct messages "
                                       "(direct scenarios are then posted publicly)"},
             }},
        ],
    }


@dataclass
class Target:
    handle: str
    also: list[str] = field(default_factory=list)
    dm: bool = True

    @property
    def handles(self) -> list[str]:
        return [self.handle, *self.also]


def target(config: Any) -> Target:
    if isinstance(config, dict):
        also = config.get("also") or []
        return Target(str(config.get("handle", "")).strip(),
                      [str(a).strip() for a in also if str(a).strip()],
                      bool(config.get("dm", True)))
    return Target(str(config).strip())


def settings(env: ChannelEnv, network: str, label: str, required: tuple[str, ...]
             ) -> dict[str, Any]:
    """The study's ``social.<network>`` section; NotConfigured naming what is missing."""
    social = env.study.settings.get("social") or {}
    sect = social.get(network)
    if not isinstance(sect, dict):
        raise NotConfigured(f"{label}: no shopper account configured; add social.{network} "
                            f"({', '.join(required)}) to study.yaml")
    missing = [k for k in required if not str(sect.get(k) or "").strip()
               or re.fullmatch(r"\$\{[^}]*\}", str(sect.get(k)).strip())]
    if missing:
        names = ", ".join(f"social.{network}.{k}" for k in missing)
        raise NotConfigured(f"{label}: {names} is empty (is the environment variable set? "
                            "export it or put it in .env beside study.yaml)")
    return sect


def http_options(env: ChannelEnv) -> dict[str, float]:
    from servicebench.study import parse_duration

    social = env.study.settings.get("social") or {}
    opts: dict[str, float] = {"timeout": float(social.get("timeout") or 30)}
    try:
        opts["max_wait"] = parse_duration(social.get("max_wait", "2m")).total_seconds()
    except ValueError:
        opts["max_wait"] = 120.0
    for k in ("timeout", "max_wait"):  # tests and the sandbox may tighten these
        if f"social_{k}" in env.options:
            opts[k] = float(env.options[f"social_{k}"])
    return opts


# -- composing the probe -------------------------------------------------------------------
@dataclass
class Composed:
    mode: str  # public | direct
    text: str
    mention: str  # the mention as written in the text, e.g. "@support@social.example"
    note: str = ""


def compose(env: ChannelEnv, pc: ProbeContext, mention: str, *, dm_possible: bool,
            max_chars: int | None = None, length: Callable[[str], int] = len) -> Composed:
    """The text of a probe: public = mention + the scenario's short text (or the body);
    direct = the full body (mention first where the network needs it)."""
    tgt = target(pc.target)
    want_direct = pc.scenario.mode == "direct"
    note = ""
    if want_direct and not tgt.dm:
        note = "the company takes no direct messages; posted publicly"
    elif want_direct and not dm_possible:
        note = "direct messages are not possible here; posted publicly"
    if want_direct and tgt.dm and dm_possible:
        return Composed("direct", pc.body.strip(), mention)
    text = env.short_text(pc) or pc.body.strip()
    if mention.lower() not in text.lower():
        text = f"{mention} {text}"
    if max_chars is not None and length(text) > max_chars:
        from servicebench.errors import ProbeError

        raise ProbeError(f"the public text for {pc.company.name} is {length(text)} characters, "
                         f"more than the {max_chars} allowed here; give scenario "
                         f"{pc.scenario.id} a shorter 'short' text")
    return Composed("public", text, mention, note)


def norm_text(text: str) -> str:
    """Text compared when looking for a probe among the account's own posts: NFKC, lower
    case, mentions, URLs and whitespace removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"(?<![\w])@[\w.@-]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def same_text(posted: str, expected: str) -> bool:
    a, b = norm_text(posted), norm_text(expected)
    return bool(a) and (a == b or (len(b) >= 20 and (a.startswith(b[:200]) or b in a)))


# -- matching ---------------------------------------------------------------------------
@dataclass
class ProbeRef:
    id: int
    key: str
    company_id: str
    persona_id: str
    external_id: str
    sent_at: datetime | None
    window_ends_at: datetime | None
    detail: dict[str, Any]


class ReplyMatcher:
    """Probes of one channel, their stored replies and the companies' accounts."""

    def __init__(self, env: ChannelEnv, channel: str) -> None:
        self.env = env
        self.channel = channel
        self.probes: list[ProbeRef] = []
        self.by_post: dict[str, ProbeRef] = {}  # probe post id / uri / conversation -> probe
        for r in env.store.probes(channel=channel):
            if r["state"] != "sent" or not r["external_id"]:
                continue
            detail = json.loads(r["detail"] or "{}")
            p = ProbeRef(r["id"], r["key"], r["company_id"], r["persona_id"], r["external_id"],
                         parse_utc(r["sent_at"]), parse_utc(r["window_ends_at"]), detail)
            self.probes.append(p)
            for k in {r["external_id"], detail.get("post_id"), detail.get("uri"),
                      detail.get("conversation")}:
                if k:
                    self.by_post[str(k)] = p
        self.probe_by_id = {p.id: p for p in self.probes}
        self.known: dict[str, int | None] = {}  # stored message external id -> probe id
        for m in env.store.query("SELECT external_id, probe_id FROM messages WHERE channel = ?",
                                 (channel,)):
            self.known[m["external_id"]] = m["probe_id"]
        self.company_of_account: dict[str, str] = {}  # normalized handle/id -> company id

    def add_company_account(self, key: str, company_id: str) -> None:
        if key:
            self.company_of_account[key.lower()] = company_id

    def company_for(self, *keys: str | None) -> str | None:
        for k in keys:
            if k and k.lower() in self.company_of_account:
                return self.company_of_account[k.lower()]
        return None

    def link(self, post_id: str, probe_id: int | None) -> None:
        """Remember a post (e.g. the shopper's own follow-up) as part of a probe's thread."""
        if post_id and probe_id is not None and post_id not in self.known:
            self.known[post_id] = probe_id

    def match(self, *, parents: list[str], company_id: str | None, when: datetime | None,
              text: str = "") -> tuple[ProbeRef | None, str | None, str]:
        """``parents``: the post's parent first, then further ancestors / the conversation.
        ``text``: the reply's text, to tell apart probes of different scenarios to one
        company when the reply is not in a probe's thread."""
        for i, pid in enumerate(parents):
            if not pid:
                continue
            if pid in self.by_post:
                if i == 0:
                    return self.by_post[pid], "in-reply-to", f"replies to probe post {pid}"
                return self.by_post[pid], "thread", f"in the thread of probe post {pid}"
            if self.known.get(pid) is not None:
                probe = self.probe_by_id.get(self.known[pid])  # type: ignore[arg-type]
                if probe is not None:
                    return probe, "thread", f"in the thread of stored reply {pid}"
        if company_id is not None:
            cands = [p for p in self.probes if p.company_id == company_id]
            if when is not None:
                before = [p for p in cands if p.sent_at is None or p.sent_at <= when]
                cands = before or cands
                open_ = [p for p in cands if p.window_ends_at is None or when <= p.window_ends_at]
                cands = open_ or cands
            cands.sort(key=lambda p: p.sent_at or datetime.min.replace(tzinfo=UTC))
            scenarios = {scenario_of(p) for p in cands}
            if len(scenarios) > 1:
                return self._by_content(cands, text)
            if cands:
                p = cands[-1]
                extra = f" (latest of {len(cands)} probes to it)" if len(cands) > 1 else ""
                return p, "account", f"from a company account{extra}"
        return None, None, "no probe matched"

    def _by_content(self, cands: list[ProbeRef], text: str
                    ) -> tuple[ProbeRef | None, str | None, str]:
        """Probes of several scenarios to one company are open: the reply's quoted text and
        the words only one scenario's probe used decide; when they do not, say so."""
        by_scenario: dict[str, list[ProbeRef]] = {}
        for p in cands:
            by_scenario.setdefault(scenario_of(p), []).append(p)
        names = set()  # the persona's and company's names are in every probe's text
        for person in self.env.study.personas:
            names |= content_words(person.name)
        for company in self.env.study.companies:
            names |= content_words(company.name)
        words = {sid: content_words(" ".join(probe_text(p) for p in ps)) - names
                 for sid, ps in by_scenario.items()}
        reply_words = content_words(text)
        reply_norm = norm_text(text)
        scores: dict[str, float] = {}
        for sid, ws in words.items():
            others = set().union(*(w for o, w in words.items() if o != sid))
            score = float(len(reply_words & (ws - others)))
            for p in by_scenario[sid]:
                quoted = norm_text(probe_text(p))
                if len(quoted) >= 30 and quoted[:60] in reply_norm:
                    score += 10  # the reply quotes the probe
            scores[sid] = score
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        (best, top), (_, second) = ranked[0], ranked[1]
        scored = ", ".join(f"{sid} ({score:g})" for sid, score in ranked)
        if (top >= 1 and second == 0) or (top >= 2 and top >= 2 * second):
            p = by_scenario[best][-1]
            return p, "content", (f"from a company account; its words fit scenario {best} "
                                  f"among the open probes to it: {scored}")
        ids = ", ".join(str(p.id) for p in cands)
        return None, None, (f"ambiguous: from a company account with open probes of several "
                            f"scenarios (probes {ids}; word matches {scored}); assign by hand")


def scenario_of(p: ProbeRef) -> str:
    """The scenario id in a probe key ``company|channel|scenario|persona|wave``."""
    parts = p.key.split("|")
    return parts[2] if len(parts) > 2 else p.key


def probe_text(p: ProbeRef) -> str:
    return str(p.detail.get("text") or p.detail.get("body") or "")


#: frequent words that tell no scenario from another (English and German)
STOP_WORDS = set("""
about after again also andere auch been bitte could dank danke dass deine diese does dort
eine einen einer from gerne gibt haben habe have hallo hello hier ihre ihren just kann
kind know like mein meine mich more much need nicht noch oder please regards sehr sind
some take team than thank thanks that their them then there these they this thus very
viele want weil well wenn were what when where which will wird with would your yours
gruss grüße freundlichen best dear
""".split())


def content_words(text: str) -> set[str]:
    """Words (and numbers) of four characters or more, lower case, without mentions, URLs
    and frequent words."""
    return {w for w in re.findall(r"[^\W_]{4,}", norm_text(text)) if w not in STOP_WORDS}


# -- storing ------------------------------------------------------------------------------
def redacted_json(env: ChannelEnv, payload: Any, extra_secrets: set[str] | None = None) -> bytes:
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    for s in sorted((env.study.secrets | (extra_secrets or set())), key=len, reverse=True):
        if s and len(s) >= 3:
            text = text.replace(s, "***")
    return text.encode("utf-8")


def store_sent_payload(env: ChannelEnv, channel: str, pc: ProbeContext, post_id: str,
                       payload: Any, extra_secrets: set[str] | None = None) -> str:
    now = env.clock.now()
    ev = env.store.write_evidence(f"social/{channel}/sent/{pc.probe_id}-{_safe(post_id)}.json",
                                  redacted_json(env, payload, extra_secrets),
                                  probe_id=pc.probe_id, kind="api-payload", now=now)
    return ev.path


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)[-120:]


@dataclass
class Reply:
    """One post / message from a network, in network-neutral form."""

    external_id: str
    text: str
    author: str  # handle as shown
    author_keys: list[str]  # handle forms and ids used to find the company
    received_at: datetime | None
    time_source: str
    payload: Any
    parents: list[str] = field(default_factory=list)
    is_bot: bool = False
    direct: bool = False
    url: str = ""


def store_reply(env: ChannelEnv, matcher: ReplyMatcher, channel: str, source: str, reply: Reply,
                stats: CollectStats, *, extra_secrets: set[str] | None = None,
                stranger_ok: bool = False) -> dict[str, Any] | None:
    """Match, keep the raw payload as evidence, classify and insert one reply.

    Returns the stored row, or None if it was stored before or skipped (a stranger's post
    that does not answer a probe thread)."""
    if env.store.has_message(channel, source, reply.external_id):
        return None
    company_id = matcher.company_for(*reply.author_keys)
    probe, rule, note = matcher.match(parents=reply.parents, company_id=company_id,
                                      when=reply.received_at, text=reply.text)
    extra_reasons: list[str] = []
    if company_id is None:
        if probe is None and not stranger_ok:
            return None
        if probe is None:
            extra_reasons.append(f"from {reply.author}, not a configured account of any company")
        else:
            if rule != "in-reply-to" and not stranger_ok:
                return None
            extra_reasons.append(
                f"from {reply.author}, not a configured account of the company; "
                f"{note}; assign by hand if it speaks for the company")
            probe, rule = None, None
            note = "not from a company account"
    now = env.clock.now()
    sub = probe.key.replace("|", "_") if probe else "unmatched"
    ev = env.store.write_evidence(f"social/{channel}/{sub}/{_safe(reply.external_id)}.json",
                                  redacted_json(env, reply.payload, extra_secrets),
                                  probe_id=probe.id if probe else None, kind="api-payload",
                                  now=now)
    persona_name = None
    probe_text = None
    if probe is not None:
        try:
            persona_name = env.study.persona(probe.persona_id).name
        except StopIteration:
            persona_name = None
        probe_text = probe.detail.get("text") or probe.detail.get("body")
    from servicebench.classify import classify_text

    cls = classify_text(reply.text, author=reply.author, is_bot_account=reply.is_bot,
                        replies_to_probe=probe is not None or rule is not None,
                        persona_name=persona_name, probe_text=probe_text)
    reasons = list(cls.reasons)
    if reply.is_bot and cls.kind != "automated":
        reasons.append("account: flagged as a bot account; counted as automated")
        kind = "automated"
    else:
        kind = cls.kind
        if cls.uncertain:
            from servicebench.inbox import UNCERTAIN_REASON

            reasons.append(UNCERTAIN_REASON)
    if "dm-request" in cls.subkind or any("send us a DM" in r for r in cls.reasons):
        reasons.append("asks to continue by direct message")
    if reply.direct:
        reasons.append("direct message")
    reasons += extra_reasons
    reasons.append(f"match: {rule or 'none'} ({note})")
    reasons.append(f"time: {reply.time_source}")
    row = {
        "channel": channel, "source": source, "external_id": reply.external_id,
        "message_id": reply.url or reply.external_id,  # a post's URL, else the DM's id
        "probe_id": probe.id if probe else None, "match_method": rule,
        "received_at": utc_iso(reply.received_at) if reply.received_at else None,
        "time_source": reply.time_source, "sender": reply.author[:500],
        "subject": "", "text": reply.text[:100_000], "kind": kind, "reasons": reasons,
        "uncertain": cls.uncertain and kind == cls.kind, "probabilities": cls.probabilities,
        "evidence": ev.path, "fetched_at": utc_iso(now),
    }
    if env.store.insert_message(row) is None:
        return None
    matcher.known[reply.external_id] = row["probe_id"]
    stats.fetched += 1
    if probe is not None:
        stats.matched += 1
    else:
        stats.unmatched += 1
    return row


def own_probe_posts(env: ChannelEnv, channel: str, except_probe: int) -> set[str]:
    """Post ids already recorded for other probes of the channel (never another's post)."""
    return {str(r["external_id"]) for r in env.store.probes(channel=channel)
            if r["external_id"] and r["id"] != except_probe}


def note_missing_probe(env: ChannelEnv, probe: ProbeRef, stats: CollectStats, why: str) -> None:
    """Record once that a probe post is gone (deleted); stored replies are kept."""
    event = "probe-post-missing"
    if env.store.one("SELECT 1 FROM events WHERE probe_id = ? AND event = ?",
                     (probe.id, event)) is None:
        env.store.log_event(env.clock.now(), event, probe.id,
                            {"post": probe.external_id, "why": why})
    stats.notes.append(f"probe {probe.id}: the probe post {probe.external_id} is gone ({why}); "
                       "replies already stored are kept")


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_utc(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def in_collect_window(p: ProbeRef, now: datetime, grace_days: int = 2) -> bool:
    """Whether a probe's thread is still worth polling (window not long over)."""
    from datetime import timedelta

    return p.window_ends_at is None or now <= p.window_ends_at + timedelta(days=grace_days)


def with_notes(detail: dict[str, Any], note: str = "", resolved: str = "") -> dict[str, Any]:
    """A send result's detail with its optional facts: a ``note`` (e.g. a DM posted
    publicly) and how an interrupted send was ``resolved``."""
    if note:
        detail["note"] = note
    if resolved:
        detail["resolved"] = resolved
    return detail
