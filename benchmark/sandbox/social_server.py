"""Local stand-ins for the social networks' APIs, for tests and the sandbox.

:class:`MastodonAPIServer` implements the documented Mastodon REST endpoints the Mastodon
channel uses (and a few neighbours), :class:`XAPIServer` the X API v2 endpoints the X channel
uses. Both run on loopback in a thread, keep everything in memory, and let a test or the
sandbox act as a company: create accounts and tokens, post replies as a company account at a
given server ``created_at``, delete posts, and inject rate limits and failures.

Every answer carries the network's rate-limit headers (Mastodon ``X-RateLimit-Limit/
Remaining/Reset`` with an ISO 8601 reset time; X ``x-rate-limit-limit/remaining/reset`` with a
Unix time). :meth:`rate_limit_next` makes the next requests fail with 429 and headers saying
when to retry; :meth:`fail_next` makes a request be processed but its answer lost (``drop``)
or late (``hang``), or fail with a 5xx before processing.

Nothing here talks to the outside world; the servers bind to the address they are given
(127.0.0.1 by default).

Each server tells its ``listeners`` about every post and direct message it creates
(:class:`PostEvent`); the sandbox uses that to let its simulated companies answer.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Json = Any
log = logging.getLogger(__name__)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.astimezone(UTC).microsecond // 1000:03d}Z"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    token: str | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default

    def qs(self, name: str) -> list[str]:
        return self.query.get(name, []) + self.query.get(name + "[]", [])

    def params(self) -> dict[str, Any]:
        """The request's parameters: JSON body, form body, then query string."""
        ctype = self.headers.get("content-type", "")
        if self.body and "json" in ctype:
            try:
                data = json.loads(self.body.decode("utf-8"))
                return data if isinstance(data, dict) else {}
            except (UnicodeDecodeError, json.JSONDecodeError):
                return {}
        if self.body:
            form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                         keep_blank_values=True)
            return {k.removesuffix("[]"): (v if k.endswith("[]") else v[-1])
                    for k, v in form.items()}
        return {k.removesuffix("[]"): (v if k.endswith("[]") else v[-1])
                for k, v in self.query.items()}


class HttpError(Exception):
    def __init__(self, status: int, payload: Json, headers: dict[str, str] | None = None):
        self.status, self.payload, self.headers = status, payload, headers or {}
        super().__init__(f"{status}")


def whole_ms(dt: datetime) -> datetime:
    """``dt`` cut to whole milliseconds: the finest time these APIs show."""
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


@dataclass
class PostEvent:
    """A post or direct message a server has just created, as its listeners see it."""

    network: str  # mastodon | x | bluesky
    id: str  # status id, tweet id, DM event id, post URI or chat message id
    author: str  # the author's handle (Mastodon: user@domain; X: username; Bluesky: handle)
    text: str
    created_at: datetime  # the server's time as its API shows it (whole milliseconds)
    to: list[str]  # handles mentioned or addressed
    direct: bool = False
    in_reply_to: str | None = None


@dataclass
class _Fault:
    method: str
    path_re: re.Pattern[str]
    mode: str  # drop | hang | an HTTP status such as 400, 500, 503
    delay: float
    count: int


@dataclass
class _RateRule:
    path_re: re.Pattern[str] | None
    count: int
    reset_in: float


@dataclass
class _Window:
    start: float
    used: int = 0


class _BaseServer:
    """A threaded loopback HTTP server with request log, rate limits and faults."""

    limit = 300
    period = 300.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Any = None) -> None:
        self.host = host
        self._port = port
        self.clock = clock
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._rate_rules: list[_RateRule] = []
        self._windows: dict[str, _Window] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.listeners: list[Callable[[PostEvent], None]] = []

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> _BaseServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _do(self) -> None:
                server._handle(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _do

        self._httpd = ThreadingHTTPServer((self.host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"{type(self).__name__}:{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> _BaseServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._port
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    # -- test controls ------------------------------------------------------------------
    def rate_limit_next(self, count: int = 1, reset_in: float = 1.0, path: str | None = None
                        ) -> None:
        """The next ``count`` requests (to paths matching regex ``path``) get 429, with
        headers saying the limit resets in ``reset_in`` seconds."""
        with self.lock:
            self._rate_rules.append(_RateRule(re.compile(path) if path else None, count,
                                              reset_in))

    def fail_next(self, method: str, path: str, mode: str = "drop", delay: float = 5.0,
                  count: int = 1) -> None:
        """Make the next ``count`` ``method`` requests to paths matching regex ``path`` fail:
        ``drop`` processes the request and closes the connection without an answer, ``hang``
        processes it and answers only after ``delay`` seconds; an HTTP status (``"400"``,
        ``"503"``...) answers that status without processing."""
        with self.lock:
            self._faults.append(_Fault(method.upper(), re.compile(path), mode, delay, count))

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests
                    if r.method == method.upper() and re.search(path_regex, r.path)]

    def _emit(self, event: PostEvent) -> None:
        """Tell the listeners; a failing listener must not fail the API call."""
        for fn in list(self.listeners):
            try:
                fn(event)
            except Exception:  # noqa: BLE001
                log.exception("listener failed for %s %s", event.network, event.id)

    # -- plumbing ----------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        req = Request(h.command, parsed.path, urllib.parse.parse_qs(parsed.query,
                                                                    keep_blank_values=True),
                      headers, body, token)
        with self.lock:
            self.requests.append(req)
            fault = self._take_fault(req)
            limited = self._take_rate_rule(req)
        if fault is not None and fault.mode.isdigit():
            self._send(h, int(fault.mode), {"error": f"injected {fault.mode}"}, {})
            return
        if limited is not None:
            self._send(h, 429, self.too_many_payload(),
                       self.rate_headers(req, 0, time.time() + limited))
            return
        remaining, reset_at = self._count(req)
        if remaining < 0:
            self._send(h, 429, self.too_many_payload(), self.rate_headers(req, 0, reset_at))
            return
        try:
            with self.lock:
                status, payload, extra = self.route(req)
        except HttpError as exc:
            status, payload, extra = exc.status, exc.payload, exc.headers
        except Exception as exc:  # noqa: BLE001 - a bug here must show as a 500, not hang
            status, payload, extra = 500, {"error": f"{type(exc).__name__}: {exc}"}, {}
        hdrs = {**self.rate_headers(req, max(remaining, 0), reset_at), **extra}
        if fault is not None and fault.mode == "drop":
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault is not None and fault.mode == "hang":
            time.sleep(fault.delay)
        self._send(h, status, payload, hdrs)

    def _take_fault(self, req: Request) -> _Fault | None:
        for f in self._faults:
            if f.count > 0 and f.method == req.method and f.path_re.search(req.path):
                f.count -= 1
                return f
        return None

    def _take_rate_rule(self, req: Request) -> float | None:
        for r in self._rate_rules:
            if r.count > 0 and (r.path_re is None or r.path_re.search(req.path)):
                r.count -= 1
                return r.reset_in
        return None

    def _bucket(self, req: Request) -> str:
        return req.token or "anonymous"

    def _count(self, req: Request) -> tuple[int, float]:
        key = self._bucket(req)
        now = time.time()
        with self.lock:
            w = self._windows.get(key)
            if w is None or now >= w.start + self.period:
                w = self._windows[key] = _Window(now)
            w.used += 1
            return self.limit - w.used, w.start + self.period

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: Json,
              headers: dict[str, str]) -> None:
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass

    # -- to override ----------------------------------------------------------------
    def route(self, req: Request) -> tuple[int, Json, dict[str, str]]:
        raise HttpError(404, {"error": "Not Found"})

    def rate_headers(self, req: Request, remaining: int, reset_at: float) -> dict[str, str]:
        return {}

    def too_many_payload(self) -> Json:
        return {"error": "Too many requests"}


# ======================================================================== Mastodon
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
        self.revoked: set[str] = set()
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

    def create_token(self, handle: str) -> str:
        with self.lock:
            acct = self._find_account(handle, required=True)
            token = secrets.token_urlsafe(32)
            self.tokens[token] = acct.id  # type: ignore[union-attr]
            return token

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
        return self.tokens[req.token]

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
                "source_url": "https://github.com/mastodon/mastodon", "description": "",
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
            base = f"{self.url}{req.path}"
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


# ============================================================================== X
X_EPOCH_MS = 1288834974657


def snowflake(dt: datetime, seq: int) -> str:
    # integer arithmetic: float timestamps can lose the last millisecond
    ms = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) - X_EPOCH_MS
    return str((ms << 22) | (seq & 0x3FFFFF))


@dataclass
class _XUser:
    id: str
    username: str
    name: str
    created_at: datetime


@dataclass
class _XTweet:
    id: str
    author_id: str
    text: str
    created_at: datetime
    conversation_id: str
    in_reply_to_user_id: str | None
    replied_to: str | None
    mentions: list[str]
    deleted: bool = False


@dataclass
class _XDm:
    id: str
    sender_id: str
    text: str
    created_at: datetime
    conversation_id: str
    participants: list[str]


class XAPIServer(_BaseServer):
    """The X API v2 endpoints the X channel uses, from docs.x.com.

    ``GET /2/users/me``, ``GET /2/users/by/username/:username``, ``GET /2/users/:id``,
    ``POST /2/tweets`` (with ``reply.in_reply_to_tweet_id``), ``GET /2/tweets/:id``,
    ``GET /2/tweets?ids=``, ``DELETE /2/tweets/:id``, ``GET /2/users/:id/mentions``,
    ``GET /2/users/:id/tweets``, ``GET /2/tweets/search/recent`` (queries made of
    ``conversation_id:``, ``from:``, ``to:`` terms), ``POST /2/dm_conversations/with/:id/
    messages``, ``GET /2/dm_events`` and ``GET /2/dm_conversations/with/:id/dm_events``; each
    answer with ``x-rate-limit-*`` headers (15-minute windows per endpoint and token).
    """

    limit = 900
    period = 900.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Any = None) -> None:
        super().__init__(host, port, clock)
        self.users: dict[str, _XUser] = {}
        self.tokens: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.tweets: dict[str, _XTweet] = {}
        self.dms: dict[str, _XDm] = {}
        self._seq = itertools.count(1)

    def _id(self, dt: datetime) -> str:
        return snowflake(dt, next(self._seq))

    # -- controls --------------------------------------------------------------------
    def create_user(self, username: str, name: str = "") -> dict[str, Any]:
        with self.lock:
            u = _XUser(self._id(self.now()), username.lstrip("@"), name or username,
                       self.now())
            self.users[u.id] = u
            return self._user_json(u, ["created_at"])

    def create_token(self, username: str) -> str:
        with self.lock:
            u = self._user(username)
            token = secrets.token_urlsafe(32)
            self.tokens[token] = u.id
            return token

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def post(self, username: str, text: str, *, in_reply_to: str | None = None,
             created_at: datetime | None = None) -> dict[str, Any]:
        """Tweet as ``username`` (e.g. a company) with server time ``created_at``."""
        with self.lock:
            t = self._create_tweet(self._user(username), text, in_reply_to,
                                   created_at or self.now())
            return self._tweet_json(t, ["created_at", "author_id", "conversation_id",
                                        "in_reply_to_user_id", "referenced_tweets"])

    def send_dm(self, username: str, to: str, text: str, *,
                created_at: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            ev = self._create_dm(self._user(username), self._user(to), text,
                                 created_at or self.now())
            return {"dm_conversation_id": ev.conversation_id, "dm_event_id": ev.id}

    def delete(self, tweet_id: str) -> None:
        with self.lock:
            self.tweets[tweet_id].deleted = True

    def mentions_of(self, username: str, since_id: str | None = None) -> list[dict[str, Any]]:
        """Posts mentioning ``username`` (what a company would see), oldest first."""
        with self.lock:
            u = self._user(username)
            return [self._tweet_json(t, ["created_at", "author_id", "conversation_id"])
                    for t in sorted(self.tweets.values(), key=lambda t: int(t.id))
                    if u.id in t.mentions and not t.deleted
                    and (since_id is None or int(t.id) > int(since_id))]

    def dms_to(self, username: str) -> list[dict[str, Any]]:
        """Direct messages received by ``username``, oldest first."""
        with self.lock:
            u = self._user(username)
            return [self._dm_json(e, ["created_at", "sender_id", "dm_conversation_id"])
                    for e in sorted(self.dms.values(), key=lambda e: int(e.id))
                    if u.id in e.participants and e.sender_id != u.id]

    def tweets_of(self, username: str) -> list[dict[str, Any]]:
        with self.lock:
            u = self._user(username)
            return [self._tweet_json(t, ["created_at"]) for t in self.tweets.values()
                    if t.author_id == u.id and not t.deleted]

    # -- model -------------------------------------------------------------------------
    def _user(self, username: str) -> _XUser:
        name = username.lstrip("@").lower()
        for u in self.users.values():
            if u.username.lower() == name:
                return u
        raise KeyError(f"no user {username}")

    def _create_tweet(self, author: _XUser, text: str, in_reply_to: str | None,
                      created_at: datetime) -> _XTweet:
        parent = self.tweets.get(in_reply_to) if in_reply_to else None
        tid = self._id(created_at)
        mentions = []
        for m in re.finditer(r"(?<![\w@])@(\w{1,15})", text):
            try:
                u = self._user(m.group(1))
            except KeyError:
                continue
            if u.id not in mentions:
                mentions.append(u.id)
        t = _XTweet(tid, author.id, text, created_at,
                    parent.conversation_id if parent else tid,
                    parent.author_id if parent else None, parent.id if parent else None,
                    mentions)
        self.tweets[tid] = t
        self._emit(PostEvent("x", tid, author.username, text, whole_ms(created_at),
                             [self.users[m].username for m in mentions], False, t.replied_to))
        return t

    def _create_dm(self, sender: _XUser, to: _XUser, text: str, created_at: datetime) -> _XDm:
        a, b = sorted([sender.id, to.id], key=int)
        ev = _XDm(self._id(created_at), sender.id, text, created_at, f"{a}-{b}", [a, b])
        self.dms[ev.id] = ev
        self._emit(PostEvent("x", ev.id, sender.username, text, whole_ms(created_at),
                             [to.username], True))
        return ev

    def _user_json(self, u: _XUser, fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": u.id, "name": u.name, "username": u.username}
        if "created_at" in fields:
            out["created_at"] = _iso(u.created_at)
        if "verified" in fields:
            out["verified"] = False
        if "protected" in fields:
            out["protected"] = False
        return out

    def _tweet_json(self, t: _XTweet, fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}
        if "created_at" in fields:
            out["created_at"] = _iso(t.created_at)
        if "author_id" in fields:
            out["author_id"] = t.author_id
        if "conversation_id" in fields:
            out["conversation_id"] = t.conversation_id
        if "in_reply_to_user_id" in fields and t.in_reply_to_user_id:
            out["in_reply_to_user_id"] = t.in_reply_to_user_id
        if "referenced_tweets" in fields and t.replied_to:
            out["referenced_tweets"] = [{"type": "replied_to", "id": t.replied_to}]
        if "entities" in fields and t.mentions:
            ents = []
            for m in re.finditer(r"(?<![\w@])@(\w{1,15})", t.text):
                try:
                    u = self._user(m.group(1))
                except KeyError:
                    continue
                ents.append({"start": m.start(), "end": m.end(), "username": u.username,
                             "id": u.id})
            out["entities"] = {"mentions": ents}
        return out

    def _dm_json(self, e: _XDm, fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": e.id, "event_type": "MessageCreate", "text": e.text}
        if "created_at" in fields:
            out["created_at"] = _iso(e.created_at)
        if "sender_id" in fields:
            out["sender_id"] = e.sender_id
        if "dm_conversation_id" in fields:
            out["dm_conversation_id"] = e.conversation_id
        if "participant_ids" in fields:
            out["participant_ids"] = list(e.participants)
        return out

    # -- auth / headers --------------------------------------------------------------
    def _viewer(self, req: Request) -> str:
        if req.token is None or req.token in self.revoked or req.token not in self.tokens:
            raise HttpError(401, {"title": "Unauthorized", "type": "about:blank",
                                  "status": 401, "detail": "Unauthorized"})
        return self.tokens[req.token]

    def _bucket(self, req: Request) -> str:
        path = re.sub(r"/\d+", "/:id", req.path)
        return f"{req.token}|{req.method} {path}"

    def rate_headers(self, req: Request, remaining: int, reset_at: float) -> dict[str, str]:
        return {"x-rate-limit-limit": str(self.limit), "x-rate-limit-remaining": str(remaining),
                "x-rate-limit-reset": str(int(reset_at + 0.999))}

    def too_many_payload(self) -> Json:
        return {"title": "Too Many Requests", "detail": "Too Many Requests",
                "type": "about:blank", "status": 429}

    # -- routes ------------------------------------------------------------------------
    def _fields(self, req: Request, name: str) -> list[str]:
        return [f for v in req.qs(name) for f in v.split(",") if f]

    def _expand(self, req: Request, user_ids: list[str]) -> dict[str, Any]:
        exp = self._fields(req, "expansions")
        if not ({"author_id", "sender_id"} & set(exp)) or not user_ids:
            return {}
        uf = self._fields(req, "user.fields")
        seen: list[str] = []
        for uid in user_ids:
            if uid not in seen and uid in self.users:
                seen.append(uid)
        return {"includes": {"users": [self._user_json(self.users[u], uf) for u in seen]}}

    def _page(self, req: Request, items: list[Any], default: int, lo: int, hi: int,
              token_param: str = "pagination_token") -> tuple[list[Any], dict[str, Any]]:
        try:
            n = int(req.q("max_results") or default)
        except ValueError:
            n = default
        if not lo <= n <= hi:
            raise HttpError(400, {"errors": [{"parameters": {"max_results": [str(n)]},
                                              "message": f"The `max_results` query parameter "
                                                         f"value [{n}] is not between {lo} "
                                                         f"and {hi}"}],
                                  "title": "Invalid Request", "detail": "One or more "
                                  "parameters to your request was invalid.",
                                  "type": "https://api.twitter.com/2/problems/invalid-request"})
        items = sorted(items, key=lambda x: int(x.id), reverse=True)
        if req.q("since_id"):
            items = [x for x in items if int(x.id) > int(req.q("since_id"))]  # type: ignore[arg-type]
        if req.q("until_id"):
            items = [x for x in items if int(x.id) < int(req.q("until_id"))]  # type: ignore[arg-type]
        tok = req.q(token_param)
        if tok:
            items = [x for x in items if int(x.id) < int(tok)]
        page = items[:n]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0].id
            meta["oldest_id"] = page[-1].id
            if len(items) > n:
                meta["next_token"] = page[-1].id
        return page, meta

    def route(self, req: Request) -> tuple[int, Json, dict[str, str]]:
        p, m = req.path.rstrip("/"), req.method
        viewer = self._viewer(req)
        if m == "GET" and p == "/2/users/me":
            return 200, {"data": self._user_json(self.users[viewer],
                                                 self._fields(req, "user.fields"))}, {}
        mm = re.fullmatch(r"/2/users/by/username/(\w+)", p)
        if m == "GET" and mm:
            try:
                u = self._user(mm.group(1))
            except KeyError:
                return 200, {"errors": [{"value": mm.group(1), "detail": "Could not find user "
                             f"with username: [{mm.group(1)}].", "title": "Not Found Error",
                             "resource_type": "user", "parameter": "username",
                             "resource_id": mm.group(1),
                             "type": "https://api.twitter.com/2/problems/resource-not-found"}]}, {}
            return 200, {"data": self._user_json(u, self._fields(req, "user.fields"))}, {}
        if m == "POST" and p == "/2/tweets":
            return self._post_tweet(req, viewer)
        mm = re.fullmatch(r"/2/tweets/(\d+)", p)
        if mm and m == "DELETE":
            t = self.tweets.get(mm.group(1))
            if t is None or t.deleted or t.author_id != viewer:
                return 200, {"data": {"deleted": False}}, {}
            t.deleted = True
            return 200, {"data": {"deleted": True}}, {}
        if mm and m == "GET":
            return 200, self._lookup(req, [mm.group(1)], single=True), {}
        if m == "GET" and p == "/2/tweets":
            ids = [i for v in req.qs("ids") for i in v.split(",") if i]
            return 200, self._lookup(req, ids, single=False), {}
        mm = re.fullmatch(r"/2/users/(\d+)/(mentions|tweets)", p)
        if m == "GET" and mm:
            uid = mm.group(1)
            if mm.group(2) == "mentions":
                items = [t for t in self.tweets.values() if not t.deleted and uid in t.mentions
                         and t.author_id != uid]
            else:
                items = [t for t in self.tweets.values() if not t.deleted and t.author_id == uid]
            return 200, self._tweets_page(req, items, 10, 5, 100), {}
        if m == "GET" and p == "/2/tweets/search/recent":
            return 200, self._search(req), {}
        mm = re.fullmatch(r"/2/dm_conversations/with/(\d+)/messages", p)
        if m == "POST" and mm:
            to = self.users.get(mm.group(1))
            if to is None:
                raise HttpError(400, {"title": "Invalid Request", "detail": "participant "
                                      "not found", "type": "about:blank", "status": 400})
            text = str(req.params().get("text") or "")
            ev = self._create_dm(self.users[viewer], to, text, self.now())
            return 201, {"data": {"dm_conversation_id": ev.conversation_id,
                                  "dm_event_id": ev.id}}, {}
        if m == "GET" and p == "/2/dm_events":
            items = [e for e in self.dms.values() if viewer in e.participants]
            return 200, self._dm_page(req, items), {}
        mm = re.fullmatch(r"/2/dm_conversations/with/(\d+)/dm_events", p)
        if m == "GET" and mm:
            items = [e for e in self.dms.values() if viewer in e.participants
                     and mm.group(1) in e.participants]
            return 200, self._dm_page(req, items), {}
        raise HttpError(404, {"title": "Not Found", "type": "about:blank", "status": 404,
                              "detail": "Not Found"})

    def _post_tweet(self, req: Request, viewer: str) -> tuple[int, Json, dict[str, str]]:
        params = req.params()
        text = str(params.get("text") or "")
        if not text.strip() or len(text) > 280:
            raise HttpError(400, {"title": "Invalid Request", "status": 400,
                                  "type": "https://api.twitter.com/2/problems/invalid-request",
                                  "detail": "text must be 1 to 280 characters"})
        for t in self.tweets.values():
            if t.author_id == viewer and t.text == text and not t.deleted:
                raise HttpError(403, {"detail": "You are not allowed to create a Tweet with "
                                                "duplicate content.", "type": "about:blank",
                                      "title": "Forbidden", "status": 403})
        reply = params.get("reply") or {}
        parent = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if parent is not None and (parent not in self.tweets or self.tweets[parent].deleted):
            raise HttpError(400, {"title": "Invalid Request", "status": 400, "type":
                                  "https://api.twitter.com/2/problems/invalid-request",
                                  "detail": "The tweet you are replying to is not visible"})
        t = self._create_tweet(self.users[viewer], text, parent, self.now())
        return 201, {"data": {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}}, {}

    def _lookup(self, req: Request, ids: list[str], single: bool) -> Json:
        fields = self._fields(req, "tweet.fields")
        data, errors = [], []
        for i in ids:
            t = self.tweets.get(i)
            if t is None or t.deleted:
                errors.append({"value": i, "detail": f"Could not find tweet with id: [{i}].",
                               "title": "Not Found Error", "resource_type": "tweet",
                               "parameter": "id" if single else "ids", "resource_id": i,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
            else:
                data.append(self._tweet_json(t, fields))
        out: dict[str, Any] = {}
        if data:
            out["data"] = data[0] if single else data
            out.update(self._expand(req, [self.tweets[d["id"]].author_id for d in data]))
        if errors:
            out["errors"] = errors
        return out

    def _tweets_page(self, req: Request, items: list[_XTweet], default: int, lo: int,
                     hi: int, token_param: str = "pagination_token") -> Json:
        page, meta = self._page(req, items, default, lo, hi, token_param)
        out: dict[str, Any] = {"meta": meta}
        if page:
            fields = self._fields(req, "tweet.fields")
            out["data"] = [self._tweet_json(t, fields) for t in page]
            out.update(self._expand(req, [t.author_id for t in page]))
        return out

    def _search(self, req: Request) -> Json:
        query = req.q("query") or ""
        items = [t for t in self.tweets.values() if not t.deleted]
        for term in query.split():
            k, _, v = term.partition(":")
            if k == "conversation_id":
                items = [t for t in items if t.conversation_id == v]
            elif k == "from":
                items = [t for t in items if self.users[t.author_id].username.lower() ==
                         v.lstrip("@").lower()]
            elif k == "to":
                items = [t for t in items if t.in_reply_to_user_id and
                         self.users[t.in_reply_to_user_id].username.lower() ==
                         v.lstrip("@").lower()]
            else:
                items = [t for t in items if term.lower() in t.text.lower()]
        week = self.now() - timedelta(days=7)
        items = [t for t in items if t.created_at >= week]
        return self._tweets_page(req, items, 10, 10, 100, token_param="next_token")

    def _dm_page(self, req: Request, items: list[_XDm]) -> Json:
        page, meta = self._page(req, items, 100, 1, 100)
        out: dict[str, Any] = {"meta": meta}
        if page:
            fields = self._fields(req, "dm_event.fields")
            out["data"] = [self._dm_json(e, fields) for e in page]
            out.update(self._expand(req, [e.sender_id for e in page]))
        return out
