"""Local stand-in for the X API v2, for tests and the sandbox.

:class:`XAPIServer` implements the X API v2 endpoints the X channel uses. It runs on loopback
in a thread, keeps everything in memory, and lets a test or the sandbox act as a company:
create users and tokens, tweet and send direct messages at a given server ``created_at``,
delete tweets, and inject rate limits and failures. Every answer carries
``x-rate-limit-limit/remaining/reset`` headers with a Unix reset time.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .social_http import HttpError, Json, PostEvent, Request, _BaseServer, _iso, whole_ms

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
