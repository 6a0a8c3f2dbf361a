"""The X channel (API v2): probes as posts that mention the company, or DMs.

Endpoints (docs.x.com, API v2), with an OAuth 2.0 user-context access token as Bearer:

=================================================  =========================================
``GET /2/users/me``                                the shopper's account; 401 disables the
                                                   channel (``NotConfigured``)
``GET /2/users/by/username/:username``             a company handle -> user id
``POST /2/tweets``                                 the probe (``text``, mention in the text)
``GET /2/tweets/:id`` / ``GET /2/tweets?ids=``     the server's ``created_at``; which probe
                                                   posts still exist
``POST /2/dm_conversations/with/:id/messages``     a direct-mode probe
``GET /2/users/:id/tweets``                        own posts, to resolve a lost answer
``GET /2/tweets/search/recent?query=conversation_id:``  replies in the probe's thread (the
                                                   last 7 days, as the API allows)
``GET /2/users/:id/mentions``                      mentions, incrementally by ``since_id``
``GET /2/dm_events``                               direct messages (needs ``dm.read``)
=================================================  =========================================

X has no idempotency key. A post whose answer was lost is looked up among the account's own
posts; X also refuses a second post with the same text (403 "duplicate content"), which is
taken as "already posted" and resolved the same way. Times are the API's ``created_at``
(``time_source`` "x-created_at"); where the API did not give one, the time encoded in the
post's Snowflake id, which X's servers assign ("x-snowflake-id").
"""

from __future__ import annotations

import re
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
    own_probe_posts,
    parse_time,
    same_text,
    settings,
    store_reply,
    store_sent_payload,
    target,
    with_notes,
)
from .http import ApiClient, ApiError, MaybeSent

DEFAULT_API = "https://api.x.com"
TIME_SOURCE = "x-created_at"
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets"
DM_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids"
MAX_CHARS = 280
CLOCK_SLACK = timedelta(minutes=10)
MAX_PAGES = 10
X_EPOCH_MS = 1288834974657


def snowflake_time(id_: str) -> datetime | None:
    """The creation time X's servers encode in a Snowflake id."""
    try:
        ms = (int(id_) >> 22) + X_EPOCH_MS
    except (TypeError, ValueError):
        return None
    if ms <= X_EPOCH_MS:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


class XChannel(Channel):
    name = "x"
    label = "X"
    kind = "automated"
    company_schema = company_schema("@ExampleHilft")
    study_key = "social"
    credential_keys = ("social.x.token",)
    study_schema = SOCIAL_SCHEMA

    def __init__(self, env: ChannelEnv) -> None:
        super().__init__(env)
        self._client: ApiClient | None = None
        self._me: dict[str, Any] | None = None
        self._users: dict[str, dict[str, Any] | None] = {}

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        handle = target(config).handle
        if not re.fullmatch(r"@?\w{1,15}", handle):
            return [f"{handle!r} is not an X handle such as @ExampleHilft"]
        return []

    # -- configuration ---------------------------------------------------------------
    def client(self) -> ApiClient:
        if self._client is None:
            s = settings(self.env, "x", self.label, ("token",))
            token = str(s["token"]).strip()
            api = str(s.get("api") or DEFAULT_API)
            opts = http_options(self.env)
            self._client = ApiClient(
                api, network=self.label, auth=lambda: {"Authorization": f"Bearer {token}"},
                secrets=(self.env.study.secrets - {api}) | {token}, log=self.env.log,
                timeout=opts["timeout"], max_wait=opts["max_wait"],
                credential_hint="create a new OAuth 2.0 user access token and set "
                                "social.x.token", per_endpoint_limits=True)
        return self._client

    def check_configured(self) -> None:
        self.client()
        try:
            self.me()
        except NotConfigured:
            raise
        except ProbeError as exc:
            self.env.log.warning("X: cannot check the account now: %s", exc)

    def me(self) -> dict[str, Any]:
        if self._me is None:
            data = self.client().request("GET", "/2/users/me").json() or {}
            if "data" not in data:
                raise NotConfigured(f"X: /2/users/me gave no account: {data.get('errors')}")
            self._me = data["data"]
        return self._me

    def user(self, handle: str) -> dict[str, Any] | None:
        name = handle.strip().lstrip("@").lower()
        if name not in self._users:
            data = self.client().request("GET", f"/2/users/by/username/{name}").json() or {}
            self._users[name] = data.get("data")
        return self._users[name]

    # -- sending ---------------------------------------------------------------------
    def _mention(self, pc: ProbeContext) -> str:
        return "@" + target(pc.target).handle.strip().lstrip("@")

    def preview(self, pc: ProbeContext) -> str:
        c = compose(self.env, pc, self._mention(pc), dm_possible=True)
        what = "direct message" if c.mode == "direct" else "public post"
        return f"X {what} to {c.mention}:\n\n{c.text}" + (f"\n\n({c.note})" if c.note else "")

    def send(self, pc: ProbeContext) -> SendResult:
        c = self.client()
        me = self.me()
        company = self.user(target(pc.target).handle)
        if company is None:
            raise ProbeError(f"X: the account {self._mention(pc)} does not exist")
        composed = compose(self.env, pc, self._mention(pc), dm_possible=True,
                           max_chars=MAX_CHARS)
        try:
            if composed.mode == "direct":
                r = c.request("POST", f"/2/dm_conversations/with/{company['id']}/messages",
                              json_body={"text": composed.text})
                data = (r.json() or {}).get("data") or {}
                return self._dm_result(pc, data, me, composed.note)
            r = c.request("POST", "/2/tweets", json_body={"text": composed.text})
        except MaybeSent as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except ApiError as exc:
            if exc.status == 403 and "duplicate" in exc.error.lower():
                found = self._find_own(pc, composed)
                if found is not None:
                    return found
            raise
        data = (r.json() or {}).get("data") or {}
        return self._tweet_result(pc, data, me, composed.note)

    def _tweet_result(self, pc: ProbeContext, data: dict[str, Any], me: dict[str, Any],
                      note: str = "", resolved: str = "") -> SendResult:
        tid = str(data.get("id") or "")
        if not tid:
            raise OutcomeUnknown("X accepted the post but returned no id")
        payload: dict[str, Any] = {"create": data}
        created = parse_time(data.get("created_at"))
        if created is None:
            try:
                look = self.client().request(
                    "GET", f"/2/tweets/{tid}", params={"tweet.fields": TWEET_FIELDS}).json()
                payload["lookup"] = look
                created = parse_time(((look or {}).get("data") or {}).get("created_at"))
            except ProbeError as exc:
                self.env.log.info("X: no created_at for %s yet: %s", tid, exc)
        source = TIME_SOURCE
        if created is None:
            created, source = snowflake_time(tid), "x-snowflake-id"
        if created is None:
            created, source = self.env.clock.now(), "local-clock"
        evidence = store_sent_payload(self.env, self.name, pc, tid, payload)
        detail = {"post_id": tid, "mode": "public", "url":
                  f"https://x.com/{me.get('username')}/status/{tid}",
                  "text": data.get("text"), "account": me.get("username"),
                  "sent_evidence": evidence}
        with_notes(detail, note, resolved)
        return SendResult(created, source, tid, detail)

    def _dm_result(self, pc: ProbeContext, data: dict[str, Any], me: dict[str, Any],
                   note: str = "", resolved: str = "", created: datetime | None = None
                   ) -> SendResult:
        eid = str(data.get("dm_event_id") or data.get("id") or "")
        conv = str(data.get("dm_conversation_id") or "")
        if not eid:
            raise OutcomeUnknown("X accepted the direct message but returned no event id")
        source = TIME_SOURCE if created else "x-snowflake-id"
        created = created or snowflake_time(eid)
        if created is None:
            created, source = self.env.clock.now(), "local-clock"
        evidence = store_sent_payload(self.env, self.name, pc, eid, data)
        detail = {"post_id": eid, "mode": "direct", "conversation": f"dm:{conv}",
                  "account": me.get("username"), "text": data.get("text"),
                  "sent_evidence": evidence}
        with_notes(detail, note, resolved)
        return SendResult(created, source, eid, detail)

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        composed = compose(self.env, pc, self._mention(pc), dm_possible=True)
        found = self._find_own(pc, composed)
        if found is None and self._not_searched_far_enough:
            raise OutcomeUnknown("X: looked through the account's recent posts without "
                                 "reaching the probe's due time; check the account by hand")
        return found

    _not_searched_far_enough = False

    def _find_own(self, pc: ProbeContext, composed: Any) -> SendResult | None:
        c = self.client()
        me = self.me()
        self._not_searched_far_enough = False
        probe = self.env.store.probe(pc.probe_id)
        due = parse_time(probe["due_at"])
        since = due - timedelta(days=1) if due else None
        taken = own_probe_posts(self.env, self.name, pc.probe_id)
        mention = self._mention(pc).lower()
        if composed.mode == "direct":
            company = self.user(target(pc.target).handle)
            if company is None:
                return None
            path = f"/2/dm_conversations/with/{company['id']}/dm_events"
            params: dict[str, Any] = {"dm_event.fields": DM_FIELDS, "max_results": 100,
                                      "event_types": "MessageCreate"}
        else:
            path = f"/2/users/{me['id']}/tweets"
            params = {"tweet.fields": TWEET_FIELDS, "max_results": 100}
        token = None
        for _ in range(MAX_PAGES):
            r = c.request("GET", path, params={**params, "pagination_token": token})
            body = r.json() or {}
            items = body.get("data") or []
            for it in items:
                if composed.mode == "direct" and str(it.get("sender_id")) != str(me["id"]):
                    continue
                created = parse_time(it.get("created_at"))
                if str(it.get("id")) in taken or (due and created and
                                                  created < due - CLOCK_SLACK):
                    continue  # another probe's post, or older than this probe
                if composed.mode == "public" and not re.search(
                        re.escape(mention) + r"\b", str(it.get("text") or "").lower()):
                    continue  # the same text to another company
                if same_text(str(it.get("text") or ""), composed.text):
                    when = parse_time(it.get("created_at"))
                    how = "found among the account's own posts"
                    if composed.mode == "direct":
                        data = {"dm_event_id": it["id"],
                                "dm_conversation_id": it.get("dm_conversation_id"),
                                "text": it.get("text")}
                        return self._dm_result(pc, data, me, composed.note, how, when)
                    return self._tweet_result(pc, it, me, composed.note, how)
            oldest = parse_time(items[-1].get("created_at")) if items else None
            token = (body.get("meta") or {}).get("next_token")
            if not items or not token or (since and oldest and oldest < since):
                return None
        self._not_searched_far_enough = True
        return None

    # -- collecting ------------------------------------------------------------------
    def _source(self) -> str:
        return "x:@" + str(self.me().get("username"))

    def collect(self) -> CollectStats:
        stats = CollectStats()
        me = self.me()
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
                    u = self.user(h)
                except ApiError as exc:
                    stats.notes.append(f"{h}: cannot look up: {exc}")
                    continue
                if u:
                    matcher.add_company_account("id:" + str(u["id"]), company.id)
        users: dict[str, dict[str, Any]] = {}
        public = [p for p in matcher.probes if p.detail.get("mode") != "direct"
                  and in_collect_window(p, now)]
        self._check_probes_exist(public, stats)
        for p in public:
            if p.sent_at and now - p.sent_at > timedelta(days=7):
                continue  # beyond search/recent; mentions still find replies
            self._pages("/2/tweets/search/recent",
                        {"query": f"conversation_id:{p.external_id}", "since_id": p.external_id,
                         "max_results": 100}, "next_token",
                        lambda t, inc: self._store_tweet(t, inc, matcher, stats, users,
                                                         str(me["id"])))
        self._collect_mentions(matcher, stats, users, str(me["id"]), now)
        self._collect_dms(matcher, stats, users, str(me["id"]), now)
        return stats

    def _check_probes_exist(self, probes: list[Any], stats: CollectStats) -> None:
        for i in range(0, len(probes), 100):
            batch = probes[i:i + 100]
            body = self.client().request(
                "GET", "/2/tweets", params={"ids": ",".join(p.external_id for p in batch),
                                            "tweet.fields": "created_at"}).json() or {}
            gone = {str(e.get("value") or e.get("resource_id")) for e in body.get("errors") or []
                    if "not-found" in str(e.get("type", "")) or "Not Found" in
                    str(e.get("title", ""))}
            for p in batch:
                if p.external_id in gone:
                    note_missing_probe(self.env, p, stats, "X: Not Found Error")

    def _pages(self, path: str, params: dict[str, Any], token_name: str, each: Any,
               stop_at: str | None = None) -> str | None:
        """Walk a paginated v2 list (newest first); returns the newest id seen."""
        c = self.client()
        base = {"tweet.fields": TWEET_FIELDS, "expansions": "author_id",
                "user.fields": "username,name", **params}
        token = None
        newest = None
        for _ in range(MAX_PAGES):
            r = c.request("GET", path, params={**base, token_name: token})
            body = r.json() or {}
            inc = {str(u["id"]): u for u in (body.get("includes") or {}).get("users") or []}
            items = body.get("data") or []
            for t in items:
                if newest is None or int(t["id"]) > int(newest):
                    newest = str(t["id"])
                each(t, inc)
            token = (body.get("meta") or {}).get("next_token")
            if not items or not token:
                break
        return newest

    def _store_tweet(self, t: dict[str, Any], inc: dict[str, Any], matcher: ReplyMatcher,
                     stats: CollectStats, users: dict[str, Any], my_id: str) -> None:
        users.update(inc)
        author_id = str(t.get("author_id") or "")
        if author_id == my_id:
            return
        u = users.get(author_id) or {}
        username = str(u.get("username") or author_id)
        parent = next((str(r["id"]) for r in t.get("referenced_tweets") or []
                       if r.get("type") == "replied_to"), "")
        reply = Reply(str(t["id"]), str(t.get("text") or ""), "@" + username,
                      ["id:" + author_id, username.lower()], *self._time(t),
                      payload={"tweet": t, "author": u},
                      parents=[parent, str(t.get("conversation_id") or "")],
                      url=f"https://x.com/{username}/status/{t['id']}")
        store_reply(self.env, matcher, self.name, self._source(), reply, stats)

    def _time(self, item: dict[str, Any]) -> tuple[datetime | None, str]:
        when = parse_time(item.get("created_at"))
        if when is not None:
            return when, TIME_SOURCE
        return snowflake_time(str(item.get("id"))), "x-snowflake-id"

    def _collect_mentions(self, matcher: ReplyMatcher, stats: CollectStats,
                          users: dict[str, Any], my_id: str, now: datetime) -> None:
        key = f"{self._source()}:mentions"
        state = self.env.store.sync_state(key)
        since = state["cursor"] if state else None
        if since is None:
            ids = [int(p.external_id) for p in matcher.probes if p.external_id.isdigit()]
            since = str(min(ids) - 1) if ids else None
        params: dict[str, Any] = {"max_results": 100}
        if since:
            params["since_id"] = since
        newest = self._pages(f"/2/users/{my_id}/mentions", params, "pagination_token",
                             lambda t, inc: self._store_tweet(t, inc, matcher, stats, users,
                                                              my_id))
        if newest:
            self.env.store.set_sync_state(key, now, cursor=newest)

    def _collect_dms(self, matcher: ReplyMatcher, stats: CollectStats, users: dict[str, Any],
                     my_id: str, now: datetime) -> None:
        key = f"{self._source()}:dm_events"
        state = self.env.store.sync_state(key)
        seen = int(state["cursor"]) if state and state["cursor"] else 0
        c = self.client()
        token = None
        newest = seen
        for _ in range(MAX_PAGES):
            try:
                r = c.request("GET", "/2/dm_events",
                              params={"dm_event.fields": DM_FIELDS, "event_types":
                                      "MessageCreate", "expansions": "sender_id",
                                      "user.fields": "username,name", "max_results": 100,
                                      "pagination_token": token})
            except ApiError as exc:
                if exc.status in (403, 404):
                    stats.notes.append(f"direct messages not readable ({exc.status}); the "
                                       "token needs the dm.read scope")
                    return
                raise
            body = r.json() or {}
            users.update({str(u["id"]): u for u in (body.get("includes") or {}).get("users")
                          or []})
            items = body.get("data") or []
            older = False
            for e in items:
                eid = int(e["id"])
                newest = max(newest, eid)
                if eid <= seen:
                    older = True
                    continue
                sender = str(e.get("sender_id") or "")
                if sender == my_id:
                    continue
                u = users.get(sender) or {}
                username = str(u.get("username") or sender)
                conv = str(e.get("dm_conversation_id") or "")
                reply = Reply(str(e["id"]), str(e.get("text") or ""), "@" + username,
                              ["id:" + sender, username.lower()], *self._time(e),
                              payload={"dm_event": e, "sender": u},
                              parents=["", f"dm:{conv}"] if conv else [], direct=True)
                store_reply(self.env, matcher, self.name, self._source(), reply, stats,
                            stranger_ok=True)
            token = (body.get("meta") or {}).get("next_token")
            if older or not items or not token:
                break
        if newest > seen:
            self.env.store.set_sync_state(key, now, cursor=str(newest))
