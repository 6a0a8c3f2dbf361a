"""The Mastodon channel: probes as posts that mention the company, replies from the API.

Only documented endpoints of the Mastodon REST API are used (docs.joinmastodon.org), with the
shopper's OAuth access token as ``Authorization: Bearer``:

=============================================  ============================================
``GET /api/v2/instance`` (else ``/api/v1``)    server version, local domain, character limit
``GET /api/v1/accounts/verify_credentials``    the shopper's account; a 401 disables the
                                               channel (``NotConfigured``)
``GET /api/v1/accounts/lookup?acct=``          a company handle -> account (Mastodon >= 3.4)
``GET /api/v2/search?type=accounts&resolve``   the same through WebFinger for accounts the
                                               server has not seen yet
``POST /api/v1/statuses``                      the probe: ``status``, ``visibility`` (public
                                               or direct), ``language``; ``Idempotency-Key``
``GET /api/v1/accounts/:id/statuses``          the shopper's own posts, to resolve a send
                                               whose answer was lost
``GET /api/v1/statuses/:id/context``           replies in the probe's thread
``GET /api/v1/notifications?types[]=mention``  mentions, incrementally with ``min_id`` and
                                               the ``Link`` header (``rel="prev"``)
``GET /api/v1/conversations``                  direct-message conversations (>= 2.6)
=============================================  ============================================

Like Mastodon.py's ``version_check_mode="none"``, an unknown or non-Mastodon version string
is not refused; only endpoints a *known* older version lacks are avoided (lookup before 3.4,
``types[]`` before 3.5, conversations before 2.6). Notification types are also filtered on
our side, so a server that ignores ``types[]`` does no harm.

Times are the server's ``created_at`` of each status (``time_source`` "mastodon-created_at").
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
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

TIME_SOURCE = "mastodon-created_at"
CLOCK_SLACK = timedelta(minutes=10)
MAX_PAGES = 20


def html_to_text(content: str) -> str:
    from servicebench.classify import html_text

    return html_text(content or "")


def parse_version(v: str | None, source_url: str | None = None
                  ) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a Mastodon version string, None if it is not Mastodon's:
    "2.7.2 (compatible; Pleroma 2.5.0)" (other software imitating an old version), a server
    reporting its own version ("0.20.0-rc1": GoToSocial; Mastodon's API began at 1.x), or
    an instance whose ``source_url`` names other software."""
    if not v or "compatible" in v.lower():
        return None
    if source_url and "mastodon" not in source_url.lower():
        return None
    m = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", v)
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


#: scopes that allow posting a status, and reading the replies
WRITE_SCOPES = {"write", "write:statuses"}
READ_SCOPES = {"read", "read:notifications"}
SCOPE_HINT = ("create a new access token with the scopes read and write (Preferences > "
              "Development > New application) and set social.mastodon.token")


def status_length(text: str) -> int:
    """Characters as Mastodon counts them: a URL is 23, a remote mention counts only its
    ``@username`` part."""
    text = re.sub(r"https?://\S+", "x" * 23, text)
    text = re.sub(r"(?<![\w/])@(\w+)@[\w.-]+\w", r"@\1", text)
    return len(text)


def normalize_handle(handle: str, local_domain: str) -> str:
    """``@user@host`` / ``user@host`` / ``@user`` -> ``user@host`` (lower case)."""
    h = handle.strip().lstrip("@").lower()
    if "@" not in h:
        h = f"{h}@{local_domain.lower()}"
    return h


class MastodonChannel(Channel):
    name = "mastodon"
    label = "Mastodon"
    kind = "automated"
    company_schema = company_schema("@support@social.example")
    study_key = "social"
    credential_keys = ("social.mastodon.token",)
    study_schema = SOCIAL_SCHEMA

    def __init__(self, env: ChannelEnv) -> None:
        super().__init__(env)
        self._client: ApiClient | None = None
        self._me: dict[str, Any] | None = None
        self._instance: dict[str, Any] | None = None
        self._accounts: dict[str, dict[str, Any] | None] = {}

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        handle = target(config).handle
        if not re.fullmatch(r"@?[A-Za-z0-9_]+(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?", handle):
            return [f"{handle!r} is not a Mastodon handle such as @support@social.example"]
        return []

    def _settings(self) -> dict[str, Any]:
        return settings(self.env, "mastodon", self.label, ("instance", "token"))

    def client(self) -> ApiClient:
        if self._client is None:
            s = self._settings()
            token = str(s["token"]).strip()
            opts = http_options(self.env)
            self._client = ApiClient(
                str(s["instance"]), network=self.label,
                auth=lambda: {"Authorization": f"Bearer {token}"},
                secrets=(self.env.study.secrets - {str(s["instance"])}) | {token},
                log=self.env.log,
                timeout=opts["timeout"], max_wait=opts["max_wait"],
                credential_hint="create a new access token (scopes: read write) and set "
                                "social.mastodon.token")
        return self._client

    def check_configured(self) -> None:
        self.client()
        try:
            self.me()
            self.check_scopes()
        except NotConfigured:
            raise
        except ApiError as exc:
            if exc.status in (403, 422):  # login disabled, e-mail not confirmed, suspended
                raise NotConfigured(f"Mastodon: the shopper account cannot be used: {exc}") \
                    from exc
            self.env.log.warning("%s: cannot check the account now: %s", self.label, exc)
        except ProbeError as exc:  # unreachable now: try again when sending
            self.env.log.warning("%s: cannot check the account now: %s", self.label, exc)

    def me(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self.client().request("GET", "/api/v1/accounts/verify_credentials").json()
        return self._me

    def instance(self) -> dict[str, Any]:
        if self._instance is None:
            c = self.client()
            r = c.request("GET", "/api/v2/instance", ok=(404, 410))
            data = r.json() if r.status == 200 else None
            if not isinstance(data, dict):
                data = c.request("GET", "/api/v1/instance").json() or {}
                data.setdefault("domain", data.get("uri", ""))
            self._instance = data
        return self._instance

    def version(self) -> tuple[int, int, int] | None:
        inst = self.instance()
        source = inst.get("source_url")
        return parse_version(str(inst.get("version") or ""),
                             source if isinstance(source, str) else None)

    def token_scopes(self) -> set[str] | None:
        """The access token's scopes, where the server tells (Doorkeeper's token info, else
        the app's scopes on Mastodon >= 4.3); None if it does not."""
        c = self.client()
        for path, key in (("/oauth/token/info", "scope"),
                          ("/api/v1/apps/verify_credentials", "scopes")):
            try:
                r = c.request("GET", path, ok=(400, 403, 404, 405, 410))
            except ApiError:
                continue
            data = r.json() if r.status == 200 else None
            scopes = data.get(key) if isinstance(data, dict) else None
            if isinstance(scopes, str):
                scopes = scopes.split()
            if isinstance(scopes, list) and scopes:
                return {str(x) for x in scopes}
        return None

    def check_scopes(self) -> None:
        """Refuse a token that cannot post before any probe is burned."""
        scopes = self.token_scopes()
        if scopes is None:
            return  # unknown: a 403 on the first post disables the channel instead
        if not scopes & WRITE_SCOPES:
            raise NotConfigured(f"Mastodon: the access token has the scopes "
                                f"{' '.join(sorted(scopes))} but not write, so it cannot "
                                f"post; {SCOPE_HINT}")
        if not scopes & READ_SCOPES:
            self.env.log.warning("%s: the access token lacks the read scope: replies cannot "
                                 "be collected; %s", self.label, SCOPE_HINT)

    def supports(self, minimum: tuple[int, int, int]) -> bool:
        v = self.version()
        return v is None or v >= minimum

    def local_domain(self) -> str:
        inst = self.instance()
        dom = str(inst.get("domain") or inst.get("uri") or "")
        return re.sub(r"^https?://", "", dom).strip("/").lower()

    def max_chars(self) -> int:
        conf = self.instance().get("configuration") or {}
        try:
            return int((conf.get("statuses") or {}).get("max_characters") or 500)
        except (TypeError, ValueError):
            return 500

    def full_acct(self, account: dict[str, Any]) -> str:
        return normalize_handle(str(account.get("acct") or ""), self.local_domain())

    def resolve_account(self, handle: str) -> dict[str, Any] | None:
        """The account behind a handle, via lookup, else search with WebFinger."""
        key = normalize_handle(handle, self.local_domain())
        if key in self._accounts:
            return self._accounts[key]
        c = self.client()
        found = None
        if self.supports((3, 4, 0)):
            r = c.request("GET", "/api/v1/accounts/lookup", params={"acct": key},
                          ok=(404, 410))
            if r.status == 200:
                found = r.json()
        if found is None:
            r = c.request("GET", "/api/v2/search",
                          params={"q": "@" + key, "type": "accounts", "resolve": "true",
                                  "limit": 5}, ok=(404,))
            accounts = (r.json() or {}).get("accounts", []) if r.status == 200 else []
            for a in accounts:
                if self.full_acct(a) == key:
                    found = a
                    break
        self._accounts[key] = found
        return found

    # -- sending ---------------------------------------------------------------------
    def _mention(self, pc: ProbeContext) -> str:
        h = target(pc.target).handle.strip()
        return h if h.startswith("@") else "@" + h

    def _compose(self, pc: ProbeContext, check_length: bool = True) -> Any:
        return compose(self.env, pc, self._mention(pc), dm_possible=True,
                       max_chars=self.max_chars() if check_length else None,
                       length=status_length)

    def preview(self, pc: ProbeContext) -> str:
        c = compose(self.env, pc, self._mention(pc), dm_possible=True)
        vis = "direct" if c.mode == "direct" else "public"
        text = c.text if c.mode == "public" else f"{c.mention} {c.text}"
        return f"Mastodon {vis} post to {c.mention}:\n\n{text}" + (
            f"\n\n({c.note})" if c.note else "")

    def idempotency_key(self, pc: ProbeContext) -> str:
        return "servicebench-" + hashlib.sha256(
            f"{self.env.study.id}|{pc.key}".encode()).hexdigest()[:32]

    def _status_text(self, pc: ProbeContext) -> tuple[str, str, Any]:
        c = self._compose(pc)
        if c.mode == "direct":
            text = f"{c.mention} {c.text}"
            if status_length(text) > self.max_chars():
                raise ProbeError(f"Mastodon: the direct message to {c.mention} is "
                                 f"{status_length(text)} "
                                 f"characters, more than the server's {self.max_chars()}; "
                                 f"shorten scenario {pc.scenario.id}'s body")
            return text, "direct", c
        return c.text, "public", c

    def send(self, pc: ProbeContext) -> SendResult:
        c = self.client()
        me = self.me()
        company = self.resolve_account(target(pc.target).handle)
        if company is None:
            raise ProbeError(f"Mastodon: the account {target(pc.target).handle} was not found "
                             f"from {self.local_domain()} (lookup and search)")
        text, visibility, composed = self._status_text(pc)
        form = {"status": text, "visibility": visibility}
        if self.env.study.language:
            form["language"] = self.env.study.language
        try:
            r = c.request("POST", "/api/v1/statuses", form=form,
                          headers={"Idempotency-Key": self.idempotency_key(pc)})
        except MaybeSent as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except ApiError as exc:
            if exc.status == 422:
                raise ProbeError(str(exc)) from exc
            if exc.status == 403 and "scope" in exc.error.lower():
                # nothing was posted: the channel is disabled, the probe stays planned
                raise NotConfigured(f"Mastodon: the access token may not post ({exc.error}); "
                                    f"{SCOPE_HINT}") from exc
            raise
        status = r.json() or {}
        return self._result(pc, status, me, company, composed.mode, composed.note)

    def _result(self, pc: ProbeContext, status: dict[str, Any], me: dict[str, Any],
                company: dict[str, Any] | None, mode: str, note: str = "",
                resolved: str = "") -> SendResult:
        sid = str(status.get("id") or "")
        if not sid:
            raise OutcomeUnknown("Mastodon accepted the post but returned no id")
        created = parse_time(status.get("created_at"))
        evidence = store_sent_payload(self.env, self.name, pc, sid, status)
        mentioned = [m.get("acct") for m in status.get("mentions") or []]
        detail: dict[str, Any] = {
            "post_id": sid, "uri": status.get("uri"), "url": status.get("url"),
            "visibility": status.get("visibility"), "mode": mode,
            "text": html_to_text(str(status.get("content") or "")),
            "account": self.full_acct(me), "mentioned": mentioned,
            "mention_resolved": bool(company and any(
                m.get("id") == company.get("id") for m in status.get("mentions") or [])),
            "sent_evidence": evidence, "server_version": self.instance().get("version"),
        }
        with_notes(detail, note, resolved)
        if not detail["mention_resolved"]:
            self.env.log.warning("Mastodon: probe %s: the server did not link the mention of %s",
                                 pc.probe_id, target(pc.target).handle)
        if created is None:
            return SendResult(self.env.clock.now(), "local-clock", sid, detail)
        return SendResult(created, TIME_SOURCE, sid, detail)

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        """Look for the probe among the shopper's own recent posts."""
        c = self.client()
        me = self.me()
        text, visibility, composed = self._status_text(pc)
        probe = self.env.store.probe(pc.probe_id)
        due = parse_time(probe["due_at"])
        since = due - timedelta(days=1) if due else None
        taken = own_probe_posts(self.env, self.name, pc.probe_id)
        want = normalize_handle(target(pc.target).handle, self.local_domain())
        url: str | None = f"/api/v1/accounts/{me['id']}/statuses"
        params: dict[str, Any] | None = {"limit": 40}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            r = c.request("GET", url, params=params)
            params = None
            items = r.json() or []
            for st in items:
                if st.get("visibility") != visibility or str(st.get("id")) in taken:
                    continue
                created = parse_time(st.get("created_at"))
                if due and created and created < due - CLOCK_SLACK:
                    continue  # older than the probe: another wave's post
                mentioned = {normalize_handle(str(m.get("acct")), self.local_domain())
                             for m in st.get("mentions") or []}
                if mentioned and want not in mentioned:
                    continue  # the same text to another company
                if same_text(html_to_text(str(st.get("content") or "")), text):
                    company = self.resolve_account(target(pc.target).handle)
                    return self._result(pc, st, me, company, composed.mode, composed.note,
                                        resolved="found among the account's own posts")
            oldest = parse_time(items[-1].get("created_at")) if items else None
            if not items or (since and oldest and oldest < since):
                return None
            url = r.links().get("next")
        raise OutcomeUnknown("Mastodon: looked through the account's recent posts without "
                             "reaching the probe's due time; check the account by hand")

    # -- collecting ------------------------------------------------------------------
    def _reply_from(self, st: dict[str, Any], parents: list[str], direct: bool) -> Reply:
        acct = st.get("account") or {}
        return Reply(
            external_id=str(st["id"]), text=html_to_text(str(st.get("content") or "")),
            author="@" + self.full_acct(acct),
            author_keys=[self.full_acct(acct), "id:" + str(acct.get("id", ""))],
            received_at=parse_time(st.get("created_at")), time_source=TIME_SOURCE,
            payload=st, parents=list(parents), is_bot=bool(acct.get("bot")),
            direct=direct or st.get("visibility") == "direct", url=str(st.get("url") or ""))

    def _source(self) -> str:
        return "mastodon:" + self.full_acct(self.me())

    def collect(self) -> CollectStats:
        stats = CollectStats()
        c = self.client()
        me = self.me()
        source = self._source()
        now = self.env.clock.now()
        matcher = ReplyMatcher(self.env, self.name)
        if not matcher.probes:
            return stats  # nothing sent yet: nothing to answer
        for company in self.env.study.companies:
            cfg = company.channels.get(self.name)
            if cfg is None:
                continue
            for h in target(cfg).handles:
                matcher.add_company_account(normalize_handle(h, self.local_domain()),
                                            company.id)
                try:
                    acc = self.resolve_account(h)
                except ApiError as exc:
                    stats.notes.append(f"{h}: cannot look up: {exc}")
                    continue
                if acc:
                    matcher.add_company_account("id:" + str(acc.get("id")), company.id)
        my_id = str(me.get("id"))

        def handle(st: dict[str, Any], ancestors: list[str], *, direct: bool = False) -> None:
            if not isinstance(st, dict) or "id" not in st:
                return
            if str((st.get("account") or {}).get("id")) == my_id:
                # the shopper's own follow-up (e.g. the DM asked for): part of the thread
                parents = [str(st.get("in_reply_to_id") or ""), *ancestors]
                for pid in parents:
                    if pid and matcher.known.get(pid) is not None:
                        matcher.link(str(st["id"]), matcher.known[pid])
                        break
                    if pid in matcher.by_post:
                        matcher.link(str(st["id"]), matcher.by_post[pid].id)
                        break
                return
            parents = [str(st.get("in_reply_to_id") or ""), *ancestors]
            store_reply(self.env, matcher, self.name, source,
                        self._reply_from(st, parents, direct), stats,
                        stranger_ok=direct)

        # 1. the probes' threads
        for p in matcher.probes:
            if not in_collect_window(p, now):
                continue
            r = c.request("GET", f"/api/v1/statuses/{p.external_id}/context", ok=(404, 410))
            if r.status in (404, 410):
                note_missing_probe(self.env, p, stats, f"Mastodon answered {r.status} for "
                                                       "its thread")
                continue
            ctx = r.json() or {}
            chain: dict[str, str] = {}
            for st in ctx.get("descendants") or []:
                sid = str(st.get("id"))
                chain[sid] = str(st.get("in_reply_to_id") or "")
                ancestors = []
                cur = chain.get(sid, "")
                while cur and cur in chain and len(ancestors) < 50:
                    cur = chain[cur]
                    ancestors.append(cur)
                handle(st, ancestors + [p.external_id])
        # 2. mentions (notifications), incrementally
        self._collect_notifications(c, handle, matcher, stats, now)
        # 3. direct-message conversations
        if self.supports((2, 6, 0)):
            self._collect_conversations(c, handle, matcher, stats)
        return stats

    def _collect_notifications(self, c: ApiClient, handle: Any, matcher: ReplyMatcher,
                               stats: CollectStats, now: datetime) -> None:
        state_key = f"{self._source()}:notifications"
        state = self.env.store.sync_state(state_key)
        cursor = state["cursor"] if state else None
        params: list[tuple[str, Any]] = [("limit", 40)]
        if self.supports((4, 3, 0)):
            # a company's DM to an account that does not follow it may be held back by the
            # shopper's notification policy (4.3+); it is an answer all the same
            params.append(("include_filtered", "true"))
        if self.supports((3, 5, 0)):
            params.append(("types[]", "mention"))
        else:
            for t in ("follow", "favourite", "reblog", "poll", "follow_request"):
                params.append(("exclude_types[]", t))
        newest = cursor
        url: str | None = "/api/v1/notifications"
        if cursor:
            params.append(("min_id", cursor))
            rel = "prev"  # newer pages
        else:
            rel = "next"  # first run: walk back to the oldest probe
        oldest_probe = min((p["sent_at"] for p in self.env.store.probes(channel=self.name)
                            if p["sent_at"]), default=None)
        oldest_dt = parse_time(oldest_probe) if oldest_probe else None
        first = True
        for _ in range(MAX_PAGES):
            if url is None:
                break
            r = c.request("GET", url, params=params if first else None)
            first = False
            items = r.json() or []
            if not items:
                break
            for n in items:
                nid = str(n.get("id"))
                if newest is None or _id_gt(nid, newest):
                    newest = nid
                if n.get("type") != "mention" or not n.get("status"):
                    continue
                st = n["status"]
                if self.env.store.has_message(self.name, self._source(), str(st.get("id"))):
                    continue
                handle(st, self._ancestors_if_needed(c, st, matcher),
                       direct=st.get("visibility") == "direct")
            if rel == "next":
                last = parse_time(items[-1].get("created_at"))
                if oldest_dt is not None and last is not None and \
                        last < oldest_dt - timedelta(hours=1):
                    break
            url = r.links().get(rel)
        if newest and newest != cursor:
            self.env.store.set_sync_state(state_key, now, cursor=newest)

    def _ancestors_if_needed(self, c: ApiClient, st: dict[str, Any], matcher: ReplyMatcher
                             ) -> list[str]:
        """Ancestors of a status whose parent is not itself a probe/stored reply."""
        parent = str(st.get("in_reply_to_id") or "")
        if not parent or parent in matcher.by_post or matcher.known.get(parent) is not None:
            return []
        r = c.request("GET", f"/api/v1/statuses/{st['id']}/context", ok=(404, 410))
        if r.status != 200:
            return []
        anc = (r.json() or {}).get("ancestors") or []
        return [str(a.get("id")) for a in reversed(anc)]

    def _collect_conversations(self, c: ApiClient, handle: Any, matcher: ReplyMatcher,
                               stats: CollectStats) -> None:
        url: str | None = "/api/v1/conversations"
        params: dict[str, Any] | None = {"limit": 40}
        oldest_probe = min((p.sent_at for p in matcher.probes if p.sent_at), default=None)
        for _ in range(MAX_PAGES):
            if url is None:
                break
            r = c.request("GET", url, params=params, ok=(404,))
            params = None
            if r.status == 404:
                stats.notes.append("this server has no conversations API; direct messages "
                                   "are read from notifications only")
                return
            convs = r.json() or []
            if not convs:
                break
            for conv in convs:
                last = conv.get("last_status")
                if not last:
                    continue
                people = [matcher.company_for(self.full_acct(a), "id:" + str(a.get("id")))
                          for a in conv.get("accounts") or []]
                if not any(people) and not matcher.known.get(str(last.get("id"))):
                    continue  # a conversation with no company in it
                if self.env.store.has_message(self.name, self._source(), str(last.get("id"))):
                    continue  # nothing new since its last stored message
                ctx = c.request("GET", f"/api/v1/statuses/{last['id']}/context", ok=(404, 410))
                if ctx.status != 200:
                    continue
                data = ctx.json() or {}
                thread = [*(data.get("ancestors") or []), last, *(data.get("descendants") or [])]
                seen_ids: list[str] = []
                for st in thread:
                    handle(st, list(reversed(seen_ids)),
                           direct=st.get("visibility") == "direct")
                    seen_ids.append(str(st.get("id")))
            last_time = parse_time((convs[-1].get("last_status") or {}).get("created_at"))
            if oldest_probe and last_time and last_time < oldest_probe:
                break
            url = r.links().get("next")


def _id_gt(a: str, b: str) -> bool:
    try:
        return int(a) > int(b)
    except ValueError:
        return (len(a), a) > (len(b), b)
