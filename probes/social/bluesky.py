"""The Bluesky channel: probes as posts with a real mention facet, replies over XRPC.

XRPC methods used (atproto.com / docs.bsky.app), all through the shopper's PDS (which proxies
``app.bsky.*`` reads to its AppView):

==========================================  ===============================================
``com.atproto.server.createSession``        log in with handle + app password; a refused
                                            password disables the channel (NotConfigured)
``com.atproto.identity.resolveHandle``      a company handle -> DID (for the mention facet)
``com.atproto.repo.createRecord``           the probe, an ``app.bsky.feed.post`` with a
                                            ``app.bsky.richtext.facet#mention`` (UTF-8 byte
                                            offsets) and a record key chosen by us
``com.atproto.repo.getRecord``              did that record key get written? (exactly once)
``app.bsky.feed.getPosts``                  the AppView's ``indexedAt`` of the probe
``app.bsky.feed.getPostThread``             replies in the probe's thread
``app.bsky.notification.listNotifications`` mentions and replies
``chat.bsky.convo.*`` (via ``atproto-proxy``)  direct messages, where the service offers them
==========================================  ===============================================

Exactly once: the record key is a TID derived from the probe (its due time and a hash of its
key), so a repeated ``createRecord`` can never make a second post, and whether the probe was
written is a ``getRecord`` away — ``resolve_unknown`` answers from that, not from a guess.

Times: the AppView's ``indexedAt`` (``time_source`` "bsky-appview-indexedAt") is preferred over
the record's ``createdAt``, which the posting client writes. The reference AppView reports
the earlier of the two as ``indexedAt``, so a back-dated ``createdAt`` shows through; where
``indexedAt`` equals ``createdAt``, the record key's TID time (assigned by the author's PDS
when it wrote the post) is used if later ("bsky-rkey-tid"), else the claim
("bsky-record-createdAt"). For the probe itself the PDS commit revision (a TID from the PDS's
clock, "bsky-pds-commit-rev") stands in when the AppView only echoes our own ``createdAt``.
Direct messages carry the chat service's ``sentAt`` ("bsky-chat-sentAt").
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from servicebench.channels import (
    Channel,
    ChannelEnv,
    CollectStats,
    OutcomeUnknown,
    ProbeContext,
    SendResult,
)
from servicebench.clock import parse_utc
from servicebench.errors import NotConfigured, ProbeError

from .common import (
    SOCIAL_SCHEMA,
    Reply,
    ReplyMatcher,
    company_schema,
    compose,
    http_options,
    in_collect_window,
    note_missing_probe,
    parse_time,
    settings,
    store_reply,
    store_sent_payload,
    target,
    with_notes,
)
from .http import ApiClient, ApiError, MaybeSent

DEFAULT_SERVICE = "https://bsky.social"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_PAGES = 10
B32 = "234567abcdefghijklmnopqrstuvwxyz"
HANDLE_RE = re.compile(r"^@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]"
                       r"([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def tid(micros: int, clock_id: int) -> str:
    """An atproto TID: 53 bits of microseconds and 10 bits of clock id, base32-sortable."""
    v = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    out = ""
    for _ in range(13):
        out = B32[v & 31] + out
        v >>= 5
    return out


def tid_time(value: str) -> datetime | None:
    if not re.fullmatch(r"[234567a-j][234567a-z]{12}", value or ""):
        return None
    v = 0
    for ch in value:
        v = v * 32 + B32.index(ch)
    return datetime.fromtimestamp((v >> 10) / 1e6, UTC)


def probe_rkey(study_id: str, key: str, due: datetime) -> str:
    """The record key of a probe's post: stable for the probe, so never posted twice."""
    h = int(hashlib.sha256(f"{study_id}|{key}".encode()).hexdigest()[:8], 16)
    micros = int(due.timestamp() * 1_000_000) + (h >> 10) % 1_000_000
    return tid(micros, h & 0x3FF)


def mention_facets(text: str, mentions: dict[str, str]) -> list[dict[str, Any]]:
    """Facets for ``@handle`` mentions (handle -> DID) and http(s) links; offsets are UTF-8
    byte positions, as the lexicon requires."""
    facets = []
    for handle, did in mentions.items():
        for m in re.finditer(re.escape("@" + handle) + r"(?![\w.-]*[\w])", text, re.IGNORECASE):
            start = len(text[:m.start()].encode("utf-8"))
            end = start + len(m.group(0).encode("utf-8"))
            facets.append({"index": {"byteStart": start, "byteEnd": end},
                           "features": [{"$type": "app.bsky.richtext.facet#mention",
                                         "did": did}]})
    for m in re.finditer(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]", text):
        start = len(text[:m.start()].encode("utf-8"))
        facets.append({"index": {"byteStart": start,
                                 "byteEnd": start + len(m.group(0).encode("utf-8"))},
                       "features": [{"$type": "app.bsky.richtext.facet#link",
                                     "uri": m.group(0)}]})
    return sorted(facets, key=lambda f: f["index"]["byteStart"])


def post_time(post: dict[str, Any], now: datetime) -> tuple[datetime | None, str]:
    """The server-side time of a post view or notification.

    The AppView's ``indexedAt`` is preferred. The reference AppView reports the earlier of its
    own index time and the record's client-written ``createdAt``, so where the two are equal
    the time may be the client's claim; then the record key, a TID the author's PDS assigns
    from its clock when it writes the post (unless the client chose a key), is used if it is
    later and not in the future."""
    rec = post.get("record") or {}
    indexed = parse_time(post.get("indexedAt"))
    claimed = parse_time(rec.get("createdAt"))
    if indexed is not None and indexed != claimed:
        return indexed, "bsky-appview-indexedAt"
    key_time = tid_time(str(post.get("uri") or "").rsplit("/", 1)[-1])
    base = indexed or claimed
    if key_time is not None and (base is None or key_time > base + timedelta(seconds=1)) \
            and key_time <= now + timedelta(minutes=5):
        return key_time, "bsky-rkey-tid"
    return base, "bsky-record-createdAt"


def _iso_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.astimezone(UTC).microsecond // 1000:03d}Z"


class BlueskyChannel(Channel):
    name = "bluesky"
    label = "Bluesky"
    kind = "automated"
    company_schema = company_schema("support.example.de")
    study_key = "social"
    credential_keys = ("social.bluesky.handle", "social.bluesky.app_password")
    study_schema = SOCIAL_SCHEMA

    def __init__(self, env: ChannelEnv) -> None:
        super().__init__(env)
        self._client: ApiClient | None = None
        self._session: dict[str, Any] | None = None
        self._dids: dict[str, str | None] = {}
        self.index_wait = float(env.options.get("bluesky_index_wait", 5.0))

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        handle = target(config).handle
        if not HANDLE_RE.match(handle) and not handle.startswith("did:"):
            return [f"{handle!r} is not a Bluesky handle such as support.example.de"]
        return []

    # -- session ---------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return settings(self.env, "bluesky", self.label, ("handle", "app_password"))

    def client(self) -> ApiClient:
        if self._client is None:
            s = self._settings()
            service = str(s.get("service") or DEFAULT_SERVICE)
            opts = http_options(self.env)
            self._client = ApiClient(
                service, network=self.label, auth=self._auth,
                secrets=(self.env.study.secrets - {service, str(s["handle"])}) |
                {str(s["app_password"])}, log=self.env.log, timeout=opts["timeout"],
                max_wait=opts["max_wait"],
                credential_hint="create a new app password and set social.bluesky.app_password")
        return self._client

    def _auth(self) -> dict[str, str]:
        if self._session is None:
            return {}
        return {"Authorization": f"Bearer {self._session['accessJwt']}"}

    def login(self) -> dict[str, Any]:
        if self._session is None:
            s = self._settings()
            c = self.client()
            try:
                r = c.request("POST", "/xrpc/com.atproto.server.createSession",
                              json_body={"identifier": str(s["handle"]).lstrip("@"),
                                         "password": str(s["app_password"])}, auth=False,
                              idempotent=True)
            except ApiError as exc:
                if exc.status in (400, 401) and exc.error:
                    raise NotConfigured(
                        f"Bluesky: login as {s['handle']} refused ({exc.error}); create a new "
                        "app password and set social.bluesky.app_password") from exc
                raise
            sess = r.json() or {}
            c.add_secret(sess.get("accessJwt"))
            c.add_secret(sess.get("refreshJwt"))
            self._session = sess
        return self._session

    def xrpc(self, method: str, nsid: str, *, params: Any = None, body: Any = None,
             headers: dict[str, str] | None = None, ok: tuple[int, ...] = (),
             idempotent: bool | None = None) -> Any:
        """Call an XRPC method, logging in first and once more if the session expired."""
        self.login()
        for attempt in (1, 2):
            try:
                r = self.client().request(method, f"/xrpc/{nsid}", params=params, json_body=body,
                                          headers=headers, ok=ok, idempotent=idempotent)
            except ApiError as exc:
                if attempt == 1 and exc.status == 400 and \
                        exc.error.split(":")[0] in ("ExpiredToken", "InvalidToken"):
                    self._session = None
                    self.login()
                    continue
                raise
            if attempt == 1 and r.status == 400 and r.body and \
                    (r.json() or {}).get("error") in ("ExpiredToken", "InvalidToken"):
                self._session = None
                self.login()
                continue
            return r
        raise AssertionError("unreachable")

    def check_configured(self) -> None:
        self.client()
        try:
            self.login()
        except NotConfigured:
            raise
        except ProbeError as exc:
            self.env.log.warning("Bluesky: cannot log in now: %s", exc)

    def resolve_did(self, handle: str) -> str | None:
        h = handle.strip().lstrip("@").lower()
        if h.startswith("did:"):
            return h
        if h not in self._dids:
            r = self.xrpc("GET", "com.atproto.identity.resolveHandle", params={"handle": h},
                          ok=(400, 404))
            self._dids[h] = (r.json() or {}).get("did") if r.status == 200 else None
        return self._dids[h]

    # -- sending ---------------------------------------------------------------------
    def _mention(self, pc: ProbeContext) -> str:
        return "@" + target(pc.target).handle.strip().lstrip("@")

    def preview(self, pc: ProbeContext) -> str:
        c = compose(self.env, pc, self._mention(pc), dm_possible=True)
        what = "direct message" if c.mode == "direct" else "public post"
        return f"Bluesky {what} to {c.mention}:\n\n{c.text}" + (
            f"\n\n({c.note})" if c.note else "")

    def _rkey(self, pc: ProbeContext) -> str:
        due = parse_utc(self.env.store.probe(pc.probe_id)["due_at"]) or datetime.now(UTC)
        return probe_rkey(self.env.study.id, pc.key, due)

    def send(self, pc: ProbeContext) -> SendResult:
        sess = self.login()
        tgt = target(pc.target)
        did = self.resolve_did(tgt.handle)
        if did is None:
            raise ProbeError(f"Bluesky: the handle {tgt.handle} does not resolve to an account")
        composed = compose(self.env, pc, self._mention(pc), dm_possible=True,
                           max_chars=MAX_GRAPHEMES)
        if composed.mode == "direct":
            try:
                return self._send_dm(pc, did, composed)
            except (ApiError, NotConfigured) as exc:
                if isinstance(exc, ApiError) and exc.temporary:
                    raise
                why = exc.error or str(exc.status) if isinstance(exc, ApiError) else str(exc)
                composed = compose(self.env, replace(pc, scenario=replace(pc.scenario,
                                                                          mode="public")),
                                   self._mention(pc), dm_possible=False,
                                   max_chars=MAX_GRAPHEMES)
                composed.note = f"direct message not possible ({why}); posted publicly"
        handle = tgt.handle.strip().lstrip("@")
        record = {"$type": POST, "text": composed.text,
                  "createdAt": _iso_z(self.env.clock.now()),
                  "facets": mention_facets(composed.text, {handle: did})}
        if self.env.study.language:
            record["langs"] = [self.env.study.language]
        rkey = self._rkey(pc)
        try:
            r = self.xrpc("POST", "com.atproto.repo.createRecord",
                          body={"repo": sess["did"], "collection": POST, "rkey": rkey,
                                "record": record}, idempotent=False)
        except MaybeSent as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except ApiError as exc:
            # a record with this key may already exist (a repeated attempt): the PDS then
            # refuses; look before calling it a failure
            existing = self._get_own(rkey)
            if existing is not None:
                return self._post_result(pc, existing["uri"], existing.get("cid"), None,
                                         composed, "the record key already existed")
            raise ProbeError(str(exc), temporary=exc.temporary) from exc
        data = r.json() or {}
        return self._post_result(pc, data.get("uri"), data.get("cid"), data, composed)

    def _get_own(self, rkey: str) -> dict[str, Any] | None:
        sess = self.login()
        r = self.xrpc("GET", "com.atproto.repo.getRecord",
                      params={"repo": sess["did"], "collection": POST, "rkey": rkey},
                      ok=(400, 404))
        if r.status != 200:
            err = (r.json() or {}).get("error", "") if r.body else ""
            if err in ("RecordNotFound", "NotFound", "") or r.status == 404:
                return None
            raise ProbeError(f"Bluesky: getRecord answered {r.status} {err}", temporary=True)
        return r.json()

    def _post_result(self, pc: ProbeContext, uri: str | None, cid: str | None,
                     created: dict[str, Any] | None, composed: Any, resolved: str = ""
                     ) -> SendResult:
        if not uri:
            raise OutcomeUnknown("Bluesky accepted the post but returned no URI")
        view = self._indexed_view(uri)
        payload = {"createRecord": created, "postView": view}
        rec = (view or {}).get("record") or {}
        indexed = parse_time((view or {}).get("indexedAt"))
        claimed = parse_time(rec.get("createdAt"))
        rev = tid_time(((created or {}).get("commit") or {}).get("rev") or "")
        when: datetime | None
        if indexed is not None and indexed != claimed:
            when, source = indexed, "bsky-appview-indexedAt"
        elif rev is not None:  # the AppView only echoes our own createdAt: the PDS's clock
            when, source = rev, "bsky-pds-commit-rev"
        else:
            when, source = indexed or claimed, "bsky-record-createdAt"
        if when is None:
            when, source = self.env.clock.now(), "local-clock"
        evidence = store_sent_payload(self.env, self.name, pc, uri.rsplit("/", 1)[-1], payload,
                                      self.client().secrets)
        me = self.login()
        detail: dict[str, Any] = {
            "uri": uri, "cid": cid, "mode": "public", "text": composed.text,
            "url": f"https://bsky.app/profile/{me.get('handle')}/post/{uri.rsplit('/', 1)[-1]}",
            "account": me.get("handle"), "sent_evidence": evidence}
        with_notes(detail, composed.note, resolved)
        return SendResult(when, source, uri, detail)

    def _indexed_view(self, uri: str) -> dict[str, Any] | None:
        """The AppView's view of a post, waiting briefly (real time) for it to be indexed."""
        deadline = time.monotonic() + self.index_wait
        while True:
            try:
                r = self.xrpc("GET", "app.bsky.feed.getPosts", params={"uris": [uri]})
                posts = (r.json() or {}).get("posts") or []
                if posts:
                    return posts[0]
            except ProbeError as exc:
                self.env.log.info("Bluesky: getPosts failed: %s", exc)
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.3)

    def _chat(self, method: str, nsid: str, **kw: Any) -> Any:
        return self.xrpc(method, nsid, headers={"atproto-proxy": CHAT_PROXY}, **kw)

    def _send_dm(self, pc: ProbeContext, did: str, composed: Any) -> SendResult:
        r = self._chat("GET", "chat.bsky.convo.getConvoForMembers", params={"members": [did]})
        convo = (r.json() or {}).get("convo") or {}
        if not convo.get("id"):
            raise ProbeError("Bluesky: no conversation with the company could be opened")
        try:
            m = self._chat("POST", "chat.bsky.convo.sendMessage",
                           body={"convoId": convo["id"], "message": {"text": composed.text}},
                           idempotent=False)
        except MaybeSent as exc:
            raise OutcomeUnknown(str(exc)) from exc
        msg = m.json() or {}
        return self._dm_result(pc, convo["id"], msg, composed)

    def _dm_result(self, pc: ProbeContext, convo_id: str, msg: dict[str, Any], composed: Any,
                   resolved: str = "") -> SendResult:
        mid = str(msg.get("id") or "")
        if not mid:
            raise OutcomeUnknown("Bluesky accepted the message but returned no id")
        when = parse_time(msg.get("sentAt"))
        source = "bsky-chat-sentAt"
        if when is None:
            when, source = self.env.clock.now(), "local-clock"
        evidence = store_sent_payload(self.env, self.name, pc, mid, msg, self.client().secrets)
        detail = {"post_id": mid, "mode": "direct", "conversation": f"convo:{convo_id}",
                  "text": composed.text, "sent_evidence": evidence,
                  "account": self.login().get("handle")}
        with_notes(detail, resolved=resolved)
        return SendResult(when, source, mid, detail)

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        composed = compose(self.env, pc, self._mention(pc), dm_possible=True)
        if composed.mode == "direct":
            return self._find_dm(pc, composed)
        rkey = self._rkey(pc)
        existing = self._get_own(rkey)
        if existing is None:
            return None  # the key is ours alone: not written means not sent
        return self._post_result(pc, existing["uri"], existing.get("cid"), None, composed,
                                 "found by its record key")

    def _find_dm(self, pc: ProbeContext, composed: Any) -> SendResult | None:
        from .common import same_text

        did = self.resolve_did(target(pc.target).handle)
        if did is None:
            raise OutcomeUnknown("Bluesky: the company's handle no longer resolves")
        r = self._chat("GET", "chat.bsky.convo.getConvoForMembers", params={"members": [did]})
        convo = (r.json() or {}).get("convo") or {}
        if not convo.get("id"):
            return None
        me = self.login()["did"]
        for msg in self._convo_messages(convo["id"]):
            if (msg.get("sender") or {}).get("did") == me and \
                    same_text(str(msg.get("text") or ""), composed.text):
                return self._dm_result(pc, convo["id"], msg, composed,
                                       "found in the conversation")
        return None

    def _convo_messages(self, convo_id: str) -> Iterator[dict[str, Any]]:
        """The messages of a chat conversation, page by page (at most MAX_PAGES)."""
        cursor = None
        for _ in range(MAX_PAGES):
            g = self._chat("GET", "chat.bsky.convo.getMessages",
                           params={"convoId": convo_id, "limit": 100, "cursor": cursor})
            body = g.json() or {}
            yield from body.get("messages") or []
            cursor = body.get("cursor")
            if not cursor:
                return
        raise OutcomeUnknown("Bluesky: the conversation is too long to search; check by hand")

    # -- collecting ------------------------------------------------------------------
    def _source(self) -> str:
        return "bluesky:" + str(self.login().get("handle"))

    def _reply(self, post: dict[str, Any]) -> Reply:
        author = post.get("author") or {}
        rec = post.get("record") or {}
        parent = ((rec.get("reply") or {}).get("parent") or {}).get("uri", "")
        root = ((rec.get("reply") or {}).get("root") or {}).get("uri", "")
        when, source = post_time(post, self.env.clock.now())
        labels = {str(lb.get("val")) for lb in author.get("labels") or [] if isinstance(lb, dict)}
        uri = str(post.get("uri"))
        return Reply(uri, str(rec.get("text") or ""), "@" + str(author.get("handle") or ""),
                     [str(author.get("did") or ""), str(author.get("handle") or "").lower()],
                     when, source, post, parents=[parent, root],
                     is_bot=bool(labels & {"bot", "automated"}),
                     url=f"https://bsky.app/profile/{author.get('handle')}/post/"
                         f"{uri.rsplit('/', 1)[-1]}")

    def collect(self) -> CollectStats:
        stats = CollectStats()
        me = self.login()
        now = self.env.clock.now()
        matcher = ReplyMatcher(self.env, self.name)
        if not matcher.probes:
            return stats  # nothing sent yet: nothing to answer
        for company in self.env.study.companies:
            cfg = company.channels.get(self.name)
            if cfg is None:
                continue
            for h in target(cfg).handles:
                matcher.add_company_account(h.strip().lstrip("@").lower(), company.id)
                try:
                    did = self.resolve_did(h)
                except ApiError as exc:
                    stats.notes.append(f"{h}: cannot resolve: {exc}")
                    continue
                if did:
                    matcher.add_company_account(did, company.id)
        source = self._source()
        secrets = self.client().secrets

        def handle(post: dict[str, Any], *, direct: bool = False) -> None:
            if (post.get("author") or {}).get("did") == me["did"]:
                rec = post.get("record") or {}
                parent = ((rec.get("reply") or {}).get("parent") or {}).get("uri", "")
                if parent and matcher.known.get(parent) is not None:
                    matcher.link(str(post.get("uri")), matcher.known[parent])
                return
            store_reply(self.env, matcher, self.name, source, self._reply(post), stats,
                        extra_secrets=secrets, stranger_ok=direct)

        # 1. the probes' threads
        for p in matcher.probes:
            if p.detail.get("mode") == "direct" or not in_collect_window(p, now):
                continue
            r = self.xrpc("GET", "app.bsky.feed.getPostThread",
                          params={"uri": p.external_id, "depth": 20, "parentHeight": 0},
                          ok=(400, 404))
            body = r.json() or {}
            thread = body.get("thread") or {}
            if r.status != 200 or str(thread.get("$type", "")).endswith("#notFoundPost"):
                if r.status == 200 or body.get("error") == "NotFound":
                    note_missing_probe(self.env, p, stats,
                                       f"Bluesky: {body.get('message') or 'not found'}")
                    continue
                raise ProbeError(f"Bluesky: getPostThread answered {r.status} "
                                 f"{body.get('error')}")
            stack = list(thread.get("replies") or [])
            while stack:
                node = stack.pop(0)
                if not isinstance(node, dict) or "post" not in node:
                    continue
                handle(node["post"])
                stack.extend(node.get("replies") or [])
        # 2. notifications (mentions, replies, quotes)
        oldest = min((p.sent_at for p in matcher.probes if p.sent_at), default=None)
        self._collect_notifications(handle, now, oldest)
        # 3. direct messages, where the service has them
        self._collect_dms(matcher, stats, source, secrets, me)
        return stats

    def _collect_notifications(self, handle: Any, now: datetime,
                               oldest_probe: datetime | None) -> None:
        key = f"{self._source()}:notifications"
        state = self.env.store.sync_state(key)
        seen = parse_time(state["cursor"]) if state and state["cursor"] else None
        if seen is not None:
            stop_before: datetime | None = seen - timedelta(minutes=5)
        else:
            stop_before = oldest_probe - timedelta(hours=1) if oldest_probe else None
        newest = seen
        cursor = None
        for _ in range(MAX_PAGES * 5):
            r = self.xrpc("GET", "app.bsky.notification.listNotifications",
                          params={"limit": 50, "cursor": cursor})
            body = r.json() or {}
            items = body.get("notifications") or []
            done = False
            for n in items:
                when = parse_time(n.get("indexedAt"))
                if when and (newest is None or when > newest):
                    newest = when
                if stop_before and when and when < stop_before:
                    done = True
                    continue
                if n.get("reason") not in ("mention", "reply", "quote"):
                    continue
                if not str(n.get("uri", "")).split("/")[-2:-1] == [POST]:
                    continue
                post = {"uri": n.get("uri"), "cid": n.get("cid"), "author": n.get("author"),
                        "record": n.get("record"), "indexedAt": n.get("indexedAt"),
                        "labels": n.get("labels"), "notification_reason": n.get("reason")}
                handle(post)
            cursor = body.get("cursor")
            if done or not items or not cursor:
                break
        if newest and newest != seen:
            self.env.store.set_sync_state(key, now, cursor=_iso_z(newest))

    def _collect_dms(self, matcher: ReplyMatcher, stats: CollectStats, source: str,
                     secrets: set[str], me: dict[str, Any]) -> None:
        try:
            r = self._chat("GET", "chat.bsky.convo.listConvos", params={"limit": 50})
        except (ApiError, NotConfigured) as exc:
            stats.notes.append(f"direct messages not available: {exc}")
            return
        for convo in (r.json() or {}).get("convos") or []:
            members = [m for m in convo.get("members") or [] if m.get("did") != me["did"]]
            if not any(matcher.company_for(m.get("did"), str(m.get("handle", "")).lower())
                       for m in members):
                continue
            last = (convo.get("lastMessage") or {}).get("id")
            if last and self.env.store.has_message(self.name, source, str(last)):
                continue
            for msg in self._convo_messages(convo["id"]):
                sender = (msg.get("sender") or {}).get("did")
                if not msg.get("id") or sender == me["did"] or "text" not in msg:
                    continue
                who = next((m for m in members if m.get("did") == sender), {})
                reply = Reply(str(msg["id"]), str(msg.get("text") or ""),
                              "@" + str(who.get("handle") or sender),
                              [str(sender), str(who.get("handle") or "").lower()],
                              parse_time(msg.get("sentAt")), "bsky-chat-sentAt",
                              {"message": msg, "convo": convo.get("id")},
                              parents=["", f"convo:{convo['id']}"], direct=True)
                store_reply(self.env, matcher, self.name, source, reply, stats,
                            extra_secrets=secrets, stranger_ok=True)

