"""Local stand-in for the Mastodon REST API, for tests and the sandbox.

:class:`MastodonAPIServer` implements the documented Mastodon endpoints the Mastodon channel
uses (and a few neighbours). It runs on loopback in a thread, keeps everything in memory, and
lets a test or the sandbox act as a company: create accounts and tokens, post replies as a
company account at a given server ``created_at``, delete posts, and inject rate limits and
failures. Every answer carries ``X-RateLimit-Limit/Remaining/Reset`` headers with an ISO 8601
reset time.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .social_http import HttpError, Json, PostEvent, Request, _BaseServer, _iso, whole_ms

MENTION_RE = re.compile(r"(?<![\w/@])@([A-Za-z0-9_]+)(?:@([A-Za-z0-9.-]*[A-Za-z0-9]))?")


@dataclass
class _MAccount:
    id: str
    username: str
    domain: str | None  # None: local to this server
    display_name: str
    bot: bool
    created_at: datetime
    note: str = ""

    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class _MStatus:
    id: str
    account_id: str
    text: str
    visibility: str
    created_at: datetime
    in_reply_to_id: str | None
    conversation: int
    mentions: list[str] = field(default_factory=list)
    language: str | None = None
    deleted: bool = False
    spoiler_text: str = ""


@dataclass
class _MNotification:
    id: str
    account_id: str  # recipient
    type: str
    from_id: str
    status_id: str | None
    created_at: datetime


class MastodonAPIServer(_BaseServer):
    """The Mastodon REST API endpoints the channel uses, from docs.joinmastodon.org.

    Implemented: ``GET /api/v1/instance``, ``GET /api/v2/instance`` (version >= 4),
    ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/lookup``,
    ``GET /api/v1/accounts/:id``, ``GET /api/v1/accounts/:id/statuses``,
    ``GET /api/v2/search`` (``type=accounts``), ``POST /api/v1/statuses`` (with
    ``Idempotency-Key``), ``GET|DELETE /api/v1/statuses/:id``,
    ``GET /api/v1/statuses/:id/context``, ``GET /api/v1/notifications`` (``types[]``,
    ``exclude_types[]``, ``max_id``/``since_id``/``min_id``/``limit``, ``Link`` header) and
    ``GET /api/v1/conversations`` (``Link`` header).
    """

    max_characters = 500

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 domain: str = "shop.test", version: str = "4.3.0", clock: Any = None) -> None:
        super().__init__(host, port, clock)
        self.domain = domain
        self.version = version
        self.accounts: dict[str, _MAccount] = {}
        self.tokens: dict[str, str] = {}  # token -> account id
        self.scopes: dict[str, list[str]] = {}  # token -> OAuth scopes granted
        self.revoked: set[str] = set()
        self.disabled: set[str] = set()  # account ids whose login an admin disabled
        #: origin written into pagination ``Link`` URLs (a server behind a proxy may name its
        #: canonical host, or another host altogether); None: this server's own address
        self.link_origin: str | None = None
        #: answer /oauth/token/info (Doorkeeper) with the token's scopes
        self.token_info = True
        #: the instance's ``source_url`` (other software reports its own repository)
        self.source_url = "https://github.com/mastodon/mastodon"
        self.statuses: dict[str, _MStatus] = {}
        self.notifications: dict[str, _MNotification] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._base_id = 113_000_000_000_000_000
        self._convs = itertools.count(1)

    def _next_id(self) -> str:
        return str(self._base_id + next(self._ids))

    # -- sandbox / test controls -------------------------------------------------------
    def create_account(self, username: str, *, domain: str | None = None, bot: bool = False,
                       display_name: str = "", note: str = "") -> dict[str, Any]:
        """An account; ``domain`` other than this server's makes it a (simulated) remote
        account, e.g. a company's on another instance."""
        with self.lock:
            if domain == self.domain:
                domain = None
            acct = _MAccount(self._next_id(), username, domain, display_name or username, bot,
                             self.now(), note)
            self.accounts[acct.id] = acct
            return self._account_json(acct)

    def account(self, handle: str) -> dict[str, Any]:
        with self.lock:
            return self._account_json(self._find_account(handle, required=True))  # type: ignore[arg-type]

    def create_token(self, handle: str, scopes: tuple[str, ...] = ("read", "write", "follow")
                     ) -> str:
        with self.lock:
            acct = self._find_account(handle, required=True)
            token = secrets.token_urlsafe(32)
            self.tokens[token] = acct.id  # type: ignore[union-attr]
            self.scopes[token] = list(scopes)
            return token

    def disable_account(self, handle: str) -> None:
        """An admin disabled this account's login: its tokens get 401 (as GoToSocial and
        Mastodon behind some proxies answer) with a message saying so."""
        with self.lock:
            self.disabled.add(self._find_account(handle, required=True).id)  # type: ignore[union-attr]

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def post(self, handle: str, text: str, *, in_reply_to_id: str | None = None,
             visibility: str = "public", created_at: datetime | None = None,
             language: str | None = None) -> dict[str, Any]:
        """Post as ``handle`` (e.g. a company account) with server time ``created_at``."""
        with self.lock:
            acct = self._find_account(handle, required=True)
            st = self._create_status(acct, text, visibility, in_reply_to_id,  # type: ignore[arg-type]
                                     created_at or self.now(), language)
            return self._status_json(st, acct.id)  # type: ignore[union-attr]

    def delete(self, status_id: str) -> None:
        with self.lock:
            self.statuses[status_id].deleted = True

    def mentions_of(self, handle: str, since_id: str | None = None) -> list[dict[str, Any]]:
        """Statuses mentioning ``handle`` (what a company would see), oldest first."""
        with self.lock:
            acct = self._find_account(handle, required=True)
            return [self._status_json(s, acct.id) for s in sorted(  # type: ignore[union-attr]
                self.statuses.values(), key=lambda s: int(s.id))
                if acct.id in s.mentions and not s.deleted  # type: ignore[union-attr]
                and (since_id is None or int(s.id) > int(since_id))]

    def statuses_of(self, handle: str) -> list[dict[str, Any]]:
        with self.lock:
            acct = self._find_account(handle, required=True)
            return [self._status_json(s, acct.id) for s in self.statuses.values()  # type: ignore[union-attr]
                    if s.account_id == acct.id and not s.deleted]  # type: ignore[union-attr]

    # -- model ----------------------------------------------------------------------
    def _find_account(self, handle: str, required: bool = False) -> _MAccount | None:
        h = handle.strip().lstrip("@").lower()
        user, _, dom = h.partition("@")
        for a in self.accounts.values():
            if a.username.lower() != user:
                continue
            if (dom in ("", self.domain) and a.domain is None) or (a.domain or "") == dom:
                return a
        if dom == "":
            same = [a for a in self.accounts.values() if a.username.lower() == user]
            if len(same) == 1:
                return same[0]
        if required:
            raise KeyError(f"no account {handle}")
        return None

    def _create_status(self, acct: _MAccount, text: str, visibility: str,
                       in_reply_to_id: str | None, created_at: datetime,
                       language: str | None) -> _MStatus:
        parent = self.statuses.get(in_reply_to_id) if in_reply_to_id else None
        conv = parent.conversation if parent else next(self._convs)
        mentions = []
        for m in MENTION_RE.finditer(text):
            target = self._find_account(f"{m.group(1)}@{m.group(2)}" if m.group(2)
                                        else m.group(1))
            if target is not None and target.id not in mentions:
                mentions.append(target.id)
        st = _MStatus(self._next_id(), acct.id, text, visibility, created_at, in_reply_to_id,
                      conv, mentions, language)
        self.statuses[st.id] = st
        notify = [m for m in mentions if m != acct.id]
        if parent is not None and parent.account_id != acct.id and \
                parent.account_id not in notify:
            notify.append(parent.account_id)
        for rid in notify:
            n = _MNotification(self._next_id(), rid, "mention", acct.id, st.id, created_at)
            self.notifications[n.id] = n
        self._emit(PostEvent("mastodon", st.id, self._full_acct(acct), text,
                             whole_ms(created_at),
                             [self._full_acct(self.accounts[m]) for m in mentions],
                             visibility == "direct", in_reply_to_id))
        return st

    def _full_acct(self, a: _MAccount) -> str:
        return f"{a.username}@{a.domain or self.domain}"

    def _visible(self, st: _MStatus, viewer: str | None) -> bool:
        if st.deleted:
            return False
        if st.visibility in ("public", "unlisted"):
            return True
        return viewer is not None and (viewer == st.account_id or viewer in st.mentions)

    def _content(self, st: _MStatus) -> str:
        def esc_with_mentions(chunk: str) -> str:
            out, pos = [], 0
            for m in MENTION_RE.finditer(chunk):
                a = self._find_account(f"{m.group(1)}@{m.group(2)}" if m.group(2)
                                       else m.group(1))
                if a is None:
                    continue
                out.append(html.escape(chunk[pos:m.start()]))
                out.append(f'<span class="h-card" translate="no"><a href="{self._account_url(a)}"'
                           f' class="u-url mention">@<span>{html.escape(a.username)}</span></a>'
                           "</span>")
                pos = m.end()
            out.append(html.escape(chunk[pos:]))
            return "".join(out)

        paras = [p for p in re.split(r"\n\s*\n", st.text.strip()) if p.strip()]
        return "".join("<p>" + esc_with_mentions(p).replace("\n", "<br />") + "</p>"
                       for p in paras)

    def _account_url(self, a: _MAccount) -> str:
        return f"https://{a.domain or self.domain}/@{a.username}"

    def _account_json(self, a: _MAccount) -> dict[str, Any]:
        n = sum(1 for s in self.statuses.values() if s.account_id == a.id and not s.deleted)
        return {
            "id": a.id, "username": a.username, "acct": a.acct(),
            "display_name": a.display_name, "locked": False, "bot": a.bot,
            "discoverable": True, "group": False, "created_at": _iso(a.created_at),
            "note": f"<p>{html.escape(a.note)}</p>" if a.note else "", "url":
                self._account_url(a), "uri": f"https://{a.domain or self.domain}/users/"
                                             f"{a.username}",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "avatar_static": f"https://{self.domain}/avatars/original/missing.png",
            "header": "", "header_static": "", "followers_count": 0, "following_count": 0,
            "statuses_count": n, "last_status_at": None, "emojis": [], "fields": [],
        }

    def _status_json(self, st: _MStatus, viewer: str | None) -> dict[str, Any]:
        a = self.accounts[st.account_id]
        parent = self.statuses.get(st.in_reply_to_id) if st.in_reply_to_id else None
        host = a.domain or self.domain
        return {
            "id": st.id, "created_at": _iso(st.created_at),
            "in_reply_to_id": st.in_reply_to_id,
            "in_reply_to_account_id": parent.account_id if parent else None,
            "sensitive": False, "spoiler_text": st.spoiler_text, "visibility": st.visibility,
            "language": st.language, "uri": f"https://{host}/users/{a.username}/statuses/{st.id}",
            "url": f"https://{host}/@{a.username}/{st.id}",
            "replies_count": sum(1 for s in self.statuses.values()
                                 if s.in_reply_to_id == st.id and not s.deleted),
            "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
            "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "content": self._content(st), "filtered": [], "reblog": None,
            "application": {"name": "Web", "website": None} if a.domain is None else None,
            "account": self._account_json(a), "media_attachments": [],
            "mentions": [{"id": m, "username": self.accounts[m].username,
                          "url": self._account_url(self.accounts[m]),
                          "acct": self.accounts[m].acct()} for m in st.mentions],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    # -- auth --------------------------------------------------------------------------
    def _viewer(self, req: Request, required: bool = True) -> str | None:
        if req.token is None:
            if required:
                raise HttpError(401, {"error": "The access token is invalid"})
            return None
        if req.token in self.revoked:
            raise HttpError(401, {"error": "The access token was revoked"})
        if req.token not in self.tokens:
            raise HttpError(401, {"error": "The access token is invalid"})
        if self.tokens[req.token] in self.disabled:
            raise HttpError(401, {"error": "Your login is currently disabled"})
        return self.tokens[req.token]

    def _require_scope(self, req: Request, *wanted: str) -> None:
        """403 unless the token has one of ``wanted`` (e.g. write or write:statuses)."""
        granted = self.scopes.get(req.token or "", [])
        if not any(w in granted for w in wanted):
            raise HttpError(403, {"error": "This action is outside the authorized scopes"})

    def rate_headers(self, req: Request, remaining: int, reset_at: float) -> dict[str, str]:
        reset = datetime.fromtimestamp(reset_at, UTC)
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.") +
                f"{reset.microsecond:06d}Z"}

    def too_many_payload(self) -> Json:
        return {"error": "Too many requests"}

    def _major(self) -> int:
        m = re.match(r"(\d+)", self.version)
        return int(m.group(1)) if m else 0

    # -- routes ------------------------------------------------------------------------
    def route(self, req: Request) -> tuple[int, Json, dict[str, str]]:
        p, m = req.path.rstrip("/"), req.method
        if m == "GET" and p == "/api/v1/instance":
            return 200, self._instance_v1(), {}
        if m == "GET" and p == "/api/v2/instance":
            if self._major() < 4:
                raise HttpError(404, {"error": "Record not found"})
            return 200, self._instance_v2(), {}
        if m == "GET" and p == "/oauth/token/info" and self.token_info:
            viewer = self._viewer(req)
            return 200, {"resource_owner_id": viewer, "scope": self.scopes.get(req.token or "", []),
                         "expires_in": None, "application": {"uid": "servicebench-sandbox"},
                         "created_at": 1764000000}, {}
        if m == "GET" and p == "/api/v1/accounts/verify_credentials":
            viewer = self._viewer(req)
            a = self._account_json(self.accounts[viewer])  # type: ignore[index]
            a["source"] = {"privacy": "public", "sensitive": False, "language": None,
                           "note": "", "fields": []}
            return 200, a, {}
        if m == "GET" and p == "/api/v1/accounts/lookup":
            self._viewer(req, required=False)
            acct = self._find_account(req.q("acct") or "")
            if acct is None:
                raise HttpError(404, {"error": "Record not found"})
            return 200, self._account_json(acct), {}
        if m == "GET" and p == "/api/v2/search":
            self._viewer(req, required=False)
            return 200, self._search(req), {}
        mm = re.fullmatch(r"/api/v1/accounts/(\d+)(/statuses)?", p)
        if m == "GET" and mm:
            viewer = self._viewer(req, required=False)
            acct = self.accounts.get(mm.group(1))
            if acct is None:
                raise HttpError(404, {"error": "Record not found"})
            if not mm.group(2):
                return 200, self._account_json(acct), {}
            items = [s for s in self.statuses.values()
                     if s.account_id == acct.id and self._visible(s, viewer)]
            if req.q("exclude_replies") in ("true", "1"):
                items = [s for s in items if s.in_reply_to_id is None]
            page, links = self._paginate(req, items, lambda s: s.id, 20, 40)
            return 200, [self._status_json(s, viewer) for s in page], links
        if m == "POST" and p == "/api/v1/statuses":
            viewer = self._viewer(req)
            self._require_scope(req, "write", "write:statuses")
            return 200, self._post_status(req, viewer), {}  # type: ignore[arg-type]
        mm = re.fullmatch(r"/api/v1/statuses/(\d+)(/context)?", p)
        if mm and m in ("GET", "DELETE"):
            viewer = self._viewer(req, required=(m == "DELETE"))
            st = self.statuses.get(mm.group(1))
            if st is None or not self._visible(st, viewer):
                raise HttpError(404, {"error": "Record not found"})
            if m == "DELETE":
                if st.account_id != viewer:
                    raise HttpError(403, {"error": "This action is not allowed"})
                out = self._status_json(st, viewer)
                out["text"] = st.text
                st.deleted = True
                return 200, out, {}
            if mm.group(2):
                return 200, self._context(st, viewer), {}
            return 200, self._status_json(st, viewer), {}
        if m == "GET" and p == "/api/v1/notifications":
            viewer = self._viewer(req)
            self._require_scope(req, "read", "read:notifications")
            return self._notifications(req, viewer)  # type: ignore[arg-type]
        if m == "GET" and p == "/api/v1/conversations":
            viewer = self._viewer(req)
            return self._conversations(req, viewer)  # type: ignore[arg-type]
        raise HttpError(404, {"error": "Record not found"})

    def _instance_v1(self) -> Json:
        return {"uri": self.domain, "title": "servicebench sandbox", "short_description": "",
                "description": "", "email": "", "version": self.version, "urls": {},
                "stats": {"user_count": len(self.accounts), "status_count": len(self.statuses),
                          "domain_count": 1},
                "languages": ["en", "de"], "registrations": False, "approval_required": False,
                "invites_enabled": False,
                "configuration": {"statuses": {"max_characters": self.max_characters,
                                               "max_media_attachments": 4,
                                               "characters_reserved_per_url": 23}},
                "contact_account": None, "rules": []}

    def _instance_v2(self) -> Json:
        return {"domain": self.domain, "title": "servicebench sandbox", "version": self.version,
                "source_url": self.source_url, "description": "",
                "usage": {"users": {"active_month": len(self.accounts)}},
                "languages": ["en", "de"],
                "configuration": {"urls": {}, "accounts": {"max_featured_tags": 10},
                                  "statuses": {"max_characters": self.max_characters,
                                               "max_media_attachments": 4,
                                               "characters_reserved_per_url": 23}},
                "registrations": {"enabled": False, "approval_required": False,
                                  "message": None},
                "contact": {"email": "", "account": None}, "rules": []}

    def _search(self, req: Request) -> Json:
        q = (req.q("q") or "").strip()
        typ = req.q("type")
        accounts: list[Any] = []
        if typ in (None, "accounts") and q:
            a = self._find_account(q) if "@" in q.lstrip("@") or q.startswith("@") else None
            if a is None:
                ql = q.lstrip("@").lower()
                found = [x for x in self.accounts.values()
                         if ql in x.username.lower() or ql in x.display_name.lower()]
            else:
                found = [a]
            accounts = [self._account_json(x) for x in found[: int(req.q("limit") or 20)]]
        return {"accounts": accounts, "statuses": [], "hashtags": []}

    def _post_status(self, req: Request, viewer: str) -> Json:
        params = req.params()
        key = req.headers.get("idempotency-key")
        if key and (viewer, key) in self.idempotency and \
                not self.statuses[self.idempotency[(viewer, key)]].deleted:
            st = self.statuses[self.idempotency[(viewer, key)]]
            return self._status_json(st, viewer)
        text = str(params.get("status") or "")
        if not text.strip():
            raise HttpError(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > self.max_characters:
            raise HttpError(422, {"error": "Validation failed: Text character limit of "
                                           f"{self.max_characters} exceeded"})
        visibility = str(params.get("visibility") or "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            raise HttpError(422, {"error": f"Validation failed: Visibility is not included in "
                                           f"the list ({visibility})"})
        reply_to = params.get("in_reply_to_id") or None
        if reply_to is not None:
            parent = self.statuses.get(str(reply_to))
            if parent is None or not self._visible(parent, viewer):
                raise HttpError(404, {"error": "Record not found"})
        st = self._create_status(self.accounts[viewer], text, visibility,
                                 str(reply_to) if reply_to else None, self.now(),
                                 params.get("language") or None)
        if key:
            self.idempotency[(viewer, key)] = st.id
        return self._status_json(st, viewer)

    def _context(self, st: _MStatus, viewer: str | None) -> Json:
        ancestors = []
        cur = st
        while cur.in_reply_to_id and cur.in_reply_to_id in self.statuses:
            cur = self.statuses[cur.in_reply_to_id]
            if self._visible(cur, viewer):
                ancestors.append(cur)
        ancestors.reverse()
        children: dict[str, list[_MStatus]] = {}
        for s in self.statuses.values():
            if s.in_reply_to_id:
                children.setdefault(s.in_reply_to_id, []).append(s)
        descendants: list[_MStatus] = []

        def walk(sid: str) -> None:
            for c in sorted(children.get(sid, []), key=lambda s: int(s.id)):
                if self._visible(c, viewer):
                    descendants.append(c)
                    walk(c.id)

        walk(st.id)
        return {"ancestors": [self._status_json(s, viewer) for s in ancestors],
                "descendants": [self._status_json(s, viewer) for s in descendants]}

    def _paginate(self, req: Request, items: list[Any], key: Any, default: int, maximum: int,
                  extra: list[tuple[str, str]] | None = None
                  ) -> tuple[list[Any], dict[str, str]]:
        """Mastodon's max_id / since_id / min_id / limit, newest first, with Link."""
        limit = max(1, min(int(req.q("limit") or default), maximum))
        items = sorted(items, key=lambda x: int(key(x)), reverse=True)
        if req.q("max_id"):
            items = [x for x in items if int(key(x)) < int(req.q("max_id"))]  # type: ignore[arg-type]
        if req.q("since_id"):
            items = [x for x in items if int(key(x)) > int(req.q("since_id"))]  # type: ignore[arg-type]
        if req.q("min_id"):
            items = [x for x in items if int(key(x)) > int(req.q("min_id"))]  # type: ignore[arg-type]
            page = items[-limit:]  # the ones immediately newer than min_id
        else:
            page = items[:limit]
        links = {}
        if page:
            base = f"{self.link_origin or self.url}{req.path}"
            keep = [(k, v) for k, vs in req.query.items() for v in vs
                    if k not in ("max_id", "since_id", "min_id")] + (extra or [])
            nxt = urllib.parse.urlencode(keep + [("max_id", key(page[-1]))])
            prv = urllib.parse.urlencode(keep + [("min_id", key(page[0]))])
            links["Link"] = f'<{base}?{nxt}>; rel="next", <{base}?{prv}>; rel="prev"'
        return page, links

    def _notifications(self, req: Request, viewer: str) -> tuple[int, Json, dict[str, str]]:
        types = req.qs("types")
        exclude = req.qs("exclude_types")
        items = [n for n in self.notifications.values() if n.account_id == viewer
                 and (not types or n.type in types) and n.type not in exclude]
        items = [n for n in items if n.status_id is None or
                 self._visible(self.statuses[n.status_id], viewer)]
        page, links = self._paginate(req, items, lambda n: n.id, 40, 80)
        return 200, [{"id": n.id, "type": n.type, "created_at": _iso(n.created_at),
                      "account": self._account_json(self.accounts[n.from_id]),
                      "status": self._status_json(self.statuses[n.status_id], viewer)
                      if n.status_id else None} for n in page], links

    def _conversations(self, req: Request, viewer: str) -> tuple[int, Json, dict[str, str]]:
        convs: dict[int, list[_MStatus]] = {}
        for s in self.statuses.values():
            if s.visibility == "direct" and self._visible(s, viewer):
                convs.setdefault(s.conversation, []).append(s)
        rows = []
        for cid, sts in convs.items():
            last = max(sts, key=lambda s: int(s.id))
            people: list[str] = []
            for s in sts:
                for a in [s.account_id, *s.mentions]:
                    if a != viewer and a not in people:
                        people.append(a)
            rows.append((last.id, cid, people, last))
        page, links = self._paginate(req, rows, lambda r: r[0], 20, 40)
        return 200, [{"id": str(cid), "unread": False,
                      "accounts": [self._account_json(self.accounts[a]) for a in people],
                      "last_status": self._status_json(last, viewer)}
                     for _, cid, people, last in page], links
