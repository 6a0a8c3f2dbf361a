"""A minimal local stand-in for a Bluesky PDS + AppView (XRPC), for tests and the sandbox.

It answers the XRPC methods the Bluesky channel uses, shaped like the reference
implementation's answers (checked against ``@atproto/dev-env``):
``com.atproto.server.createSession``, ``com.atproto.identity.resolveHandle``,
``com.atproto.repo.createRecord`` / ``getRecord`` / ``deleteRecord``,
``app.bsky.feed.getPosts``, ``app.bsky.feed.getPostThread``,
``app.bsky.notification.listNotifications`` and, unlike the dev-env, the chat methods
``chat.bsky.convo.getConvoForMembers`` / ``sendMessage`` / ``listConvos`` / ``getMessages``.

Like the reference PDS it answers a second ``createRecord`` with an existing record key with
500, a thread of a deleted post with 400 ``NotFound``, a missing record with 400
``RecordNotFound`` and a bad token with 400 ``InvalidToken``; expired sessions give 400
``ExpiredToken``. Each answer carries ``RateLimit-Limit/Remaining/Reset`` (Unix time) headers.
Listeners hear of every post (at its ``indexedAt``) and chat message (at its ``sentAt``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .social_http import HttpError, Json, PostEvent, Request, _BaseServer, _iso, whole_ms

B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _tid(dt: datetime, clock: int) -> str:
    v = (int(dt.timestamp() * 1_000_000) << 10) | (clock & 0x3FF)
    out = ""
    for _ in range(13):
        out = B32[v & 31] + out
        v >>= 5
    return out


@dataclass
class _BAccount:
    did: str
    handle: str
    password: str
    labels: list[str] = field(default_factory=list)


@dataclass
class _BPost:
    uri: str
    cid: str
    did: str
    record: dict[str, Any]
    indexed_at: datetime
    deleted: bool = False


@dataclass
class _BNotif:
    recipient: str
    uri: str
    reason: str
    indexed_at: datetime


@dataclass
class _BMessage:
    id: str
    convo: str
    sender: str
    text: str
    sent_at: datetime


class BlueskyXRPCStub(_BaseServer):
    limit = 3000
    period = 300.0
    # the AppView indexes a record a moment after the PDS wrote it, so a post's indexedAt
    # never equals (to the millisecond) the createdAt its client wrote just before
    index_lag = timedelta(milliseconds=5)

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Any = None,
                 chat: bool = True) -> None:
        super().__init__(host, port, clock)
        self.chat = chat
        self.accounts: dict[str, _BAccount] = {}
        self.sessions: dict[str, str] = {}  # access jwt -> did
        self.expired: set[str] = set()
        self.posts: dict[str, _BPost] = {}
        self.notifications: list[_BNotif] = []
        self.convos: dict[str, list[str]] = {}
        self.messages: list[_BMessage] = []
        self._n = itertools.count(1)

    # -- controls -------------------------------------------------------------------
    def create_account(self, handle: str, password: str = "", *, labels: list[str] | None = None
                       ) -> dict[str, Any]:
        with self.lock:
            did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
            acct = _BAccount(did, handle, password or secrets.token_urlsafe(12), labels or [])
            self.accounts[did] = acct
            return {"did": did, "handle": handle, "password": acct.password}

    def expire_sessions(self) -> None:
        with self.lock:
            self.expired |= set(self.sessions)

    def change_password(self, handle: str, password: str) -> None:
        with self.lock:
            self._by_handle(handle).password = password
            self.expired |= set(self.sessions)

    def post(self, handle: str, text: str, *, reply_to: str | None = None,
             created_at: datetime | None = None, indexed_at: datetime | None = None,
             mentions: list[str] | None = None) -> dict[str, Any]:
        """Post as ``handle`` (e.g. a company). ``created_at`` is what the posting client
        claims; ``indexed_at`` the AppView's time (default: now)."""
        with self.lock:
            acct = self._by_handle(handle)
            record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text,
                                      "createdAt": _iso(created_at or self.now())}
            if reply_to:
                parent = self.posts[reply_to]
                root = (parent.record.get("reply") or {}).get("root") or \
                    {"uri": parent.uri, "cid": parent.cid}
                record["reply"] = {"root": root, "parent": {"uri": parent.uri,
                                                            "cid": parent.cid}}
            facets = []
            for h in mentions or []:
                target = self._by_handle(h)
                m = re.search(re.escape("@" + h), text)
                if m:
                    start = len(text[:m.start()].encode())
                    facets.append({"index": {"byteStart": start,
                                             "byteEnd": start + len(m.group(0).encode())},
                                   "features": [{"$type": "app.bsky.richtext.facet#mention",
                                                 "did": target.did}]})
            if facets:
                record["facets"] = facets
            p = self._write(acct.did, None, record, indexed_at or self.now())
            return self._view(p)

    def delete(self, uri: str) -> None:
        with self.lock:
            self.posts[uri].deleted = True

    def send_message(self, handle: str, to: str, text: str, *,
                     sent_at: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            a, b = self._by_handle(handle), self._by_handle(to)
            convo = self._convo([a.did, b.did])
            m = _BMessage(self._tid(), convo, a.did, text, sent_at or self.now())
            self._add_message(m)
            return self._msg_view(m)

    def posts_of(self, handle: str) -> list[dict[str, Any]]:
        with self.lock:
            did = self._by_handle(handle).did
            return [self._view(p) for p in self.posts.values() if p.did == did and not p.deleted]

    # -- model -----------------------------------------------------------------------
    def _by_handle(self, handle: str) -> _BAccount:
        h = handle.lstrip("@").lower()
        for a in self.accounts.values():
            if a.handle.lower() == h or a.did == h:
                return a
        raise HttpError(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})

    def _tid(self) -> str:
        return _tid(self.now(), next(self._n))

    def _convo(self, members: list[str]) -> str:
        key = ",".join(sorted(members))
        cid = "convo" + hashlib.sha256(key.encode()).hexdigest()[:10]
        self.convos[cid] = sorted(members)
        return cid

    def _write(self, did: str, rkey: str | None, record: dict[str, Any],
               indexed_at: datetime) -> _BPost:
        rkey = rkey or self._tid()
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        if uri in self.posts:
            raise HttpError(500, {"error": "InternalServerError",
                                  "message": "Internal Server Error"})
        cid = "bafyrei" + hashlib.sha256((uri + str(record)).encode()).hexdigest()[:52]
        p = _BPost(uri, cid, did, record, indexed_at)
        self.posts[uri] = p
        notified: set[str] = set()
        for f in record.get("facets") or []:
            for feat in f.get("features") or []:
                if feat.get("$type") == "app.bsky.richtext.facet#mention" and \
                        feat.get("did") in self.accounts and feat["did"] != did:
                    notified.add(feat["did"])
                    self.notifications.append(_BNotif(feat["did"], uri, "mention", indexed_at))
        parent_uri = ((record.get("reply") or {}).get("parent") or {}).get("uri")
        parent = self.posts.get(parent_uri) if parent_uri else None
        if parent is not None and parent.did != did and parent.did not in notified:
            self.notifications.append(_BNotif(parent.did, uri, "reply", indexed_at))
        mentioned = [feat["did"] for f in record.get("facets") or []
                     for feat in f.get("features") or []
                     if feat.get("$type") == "app.bsky.richtext.facet#mention"
                     and feat.get("did") in self.accounts]
        self._emit(PostEvent("bluesky", uri, self.accounts[did].handle,
                             str(record.get("text") or ""), whole_ms(indexed_at),
                             [self.accounts[d].handle for d in dict.fromkeys(mentioned)],
                             False, parent_uri))
        return p

    def _add_message(self, m: _BMessage) -> None:
        self.messages.append(m)
        others = [d for d in self.convos.get(m.convo, []) if d != m.sender]
        self._emit(PostEvent("bluesky", m.id, self.accounts[m.sender].handle, m.text,
                             whole_ms(m.sent_at), [self.accounts[d].handle for d in others
                                                   if d in self.accounts], True))

    def _profile(self, did: str) -> dict[str, Any]:
        a = self.accounts[did]
        return {"did": a.did, "handle": a.handle, "labels": [
            {"src": a.did, "uri": f"at://{a.did}/app.bsky.actor.profile/self", "val": v,
             "cts": "2024-01-01T00:00:00.000Z"} for v in a.labels],
            "viewer": {"muted": False, "blockedBy": False}}

    def _view(self, p: _BPost) -> dict[str, Any]:
        return {"uri": p.uri, "cid": p.cid, "author": self._profile(p.did), "record": p.record,
                "replyCount": sum(1 for q in self.posts.values() if not q.deleted and
                                  ((q.record.get("reply") or {}).get("parent") or {})
                                  .get("uri") == p.uri),
                "repostCount": 0, "likeCount": 0, "quoteCount": 0,
                "indexedAt": _iso(p.indexed_at), "labels": []}

    def _msg_view(self, m: _BMessage) -> dict[str, Any]:
        return {"$type": "chat.bsky.convo.defs#messageView", "id": m.id, "rev": m.id,
                "text": m.text, "sender": {"did": m.sender}, "sentAt": _iso(m.sent_at)}

    # -- plumbing -----------------------------------------------------------------------
    def rate_headers(self, req: Request, remaining: int, reset_at: float) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(int(reset_at + 0.999)),
                "RateLimit-Policy": f"{self.limit};w={int(self.period)}"}

    def too_many_payload(self) -> Json:
        return {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}

    def _viewer(self, req: Request) -> str:
        if req.token is None:
            raise HttpError(401, {"error": "AuthenticationRequired",
                                  "message": "Authentication Required"})
        if req.token in self.expired:
            raise HttpError(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if req.token not in self.sessions:
            raise HttpError(400, {"error": "InvalidToken",
                                  "message": "Token could not be verified"})
        return self.sessions[req.token]

    def route(self, req: Request) -> tuple[int, Json, dict[str, str]]:
        if not req.path.startswith("/xrpc/"):
            raise HttpError(404, {"error": "NotFound", "message": "Not Found"})
        nsid = req.path[len("/xrpc/"):]
        m = req.method
        if nsid == "com.atproto.server.createSession" and m == "POST":
            p = req.params()
            ident = str(p.get("identifier") or "").lstrip("@").lower()
            acct = next((a for a in self.accounts.values()
                         if ident in (a.handle.lower(), a.did)), None)
            if acct is None or acct.password != p.get("password"):
                raise HttpError(401, {"error": "AuthenticationRequired",
                                      "message": "Invalid identifier or password"})
            access = "eyJ" + secrets.token_urlsafe(40)
            self.sessions[access] = acct.did
            return 200, {"did": acct.did, "handle": acct.handle, "accessJwt": access,
                         "refreshJwt": "eyJ" + secrets.token_urlsafe(40), "active": True}, {}
        if nsid == "com.atproto.identity.resolveHandle" and m == "GET":
            return 200, {"did": self._by_handle(req.q("handle") or "").did}, {}
        viewer = self._viewer(req)
        if nsid == "com.atproto.repo.createRecord" and m == "POST":
            p = req.params()
            if p.get("repo") not in (viewer, self.accounts[viewer].handle):
                raise HttpError(401, {"error": "AuthRequired", "message": "Invalid repo"})
            rec = p.get("record") or {}
            if len(str(rec.get("text") or "")) > 300:
                raise HttpError(400, {"error": "InvalidRequest", "message":
                                      "Invalid app.bsky.feed.post record: Record/text must not "
                                      "be longer than 300 graphemes"})
            post = self._write(viewer, p.get("rkey"), rec, self.now() + self.index_lag)
            return 200, {"uri": post.uri, "cid": post.cid,
                         "commit": {"cid": "bafyreicommit", "rev": self._tid()},
                         "validationStatus": "valid"}, {}
        if nsid == "com.atproto.repo.getRecord" and m == "GET":
            uri = f"at://{req.q('repo')}/{req.q('collection')}/{req.q('rkey')}"
            p = self.posts.get(uri)
            if p is None or p.deleted:
                raise HttpError(400, {"error": "RecordNotFound",
                                      "message": f"Could not locate record: {uri}"})
            return 200, {"uri": p.uri, "cid": p.cid, "value": p.record}, {}
        if nsid == "com.atproto.repo.deleteRecord" and m == "POST":
            p = req.params()
            uri = f"at://{viewer}/{p.get('collection')}/{p.get('rkey')}"
            if uri in self.posts:
                self.posts[uri].deleted = True
            return 200, {"commit": {"cid": "bafyreicommit", "rev": self._tid()}}, {}
        if nsid == "app.bsky.feed.getPosts" and m == "GET":
            return 200, {"posts": [self._view(self.posts[u]) for u in req.qs("uris")
                                   if u in self.posts and not self.posts[u].deleted]}, {}
        if nsid == "app.bsky.feed.getPostThread" and m == "GET":
            uri = req.q("uri") or ""
            p = self.posts.get(uri)
            if p is None or p.deleted:
                raise HttpError(400, {"error": "NotFound", "message": f"Post not found: {uri}"})
            return 200, {"thread": self._thread_view(p, int(req.q("depth") or 6))}, {}
        if nsid == "app.bsky.notification.listNotifications" and m == "GET":
            return 200, self._notifications(req, viewer), {}
        if nsid.startswith("chat.bsky."):
            if req.headers.get("atproto-proxy") != "did:web:api.bsky.chat#bsky_chat" or \
                    not self.chat:
                raise HttpError(500, {"error": "InternalServerError",
                                      "message": "Internal Server Error"})
            return 200, self._chat(nsid, req, viewer), {}
        raise HttpError(501, {"error": "MethodNotImplemented",
                              "message": "Method Not Implemented"})

    def _thread_view(self, p: _BPost, depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost",
                                "post": self._view(p)}
        if depth > 0:
            kids = [q for q in self.posts.values() if not q.deleted and
                    ((q.record.get("reply") or {}).get("parent") or {}).get("uri") == p.uri]
            node["replies"] = [self._thread_view(q, depth - 1)
                               for q in sorted(kids, key=lambda q: q.indexed_at)]
        return node

    def _notifications(self, req: Request, viewer: str) -> dict[str, Any]:
        items = sorted((n for n in self.notifications if n.recipient == viewer
                        and not self.posts[n.uri].deleted),
                       key=lambda n: n.indexed_at, reverse=True)
        cursor = req.q("cursor")
        if cursor:
            items = [n for n in items if _iso(n.indexed_at) < cursor]
        limit = int(req.q("limit") or 50)
        page = items[:limit]
        out: dict[str, Any] = {"notifications": [{
            "uri": n.uri, "cid": self.posts[n.uri].cid,
            "author": self._profile(self.posts[n.uri].did), "reason": n.reason,
            "record": self.posts[n.uri].record, "isRead": False,
            "indexedAt": _iso(n.indexed_at), "labels": []} for n in page]}
        if len(items) > limit:
            out["cursor"] = _iso(page[-1].indexed_at)
        return out

    def _chat(self, nsid: str, req: Request, viewer: str) -> dict[str, Any]:
        if nsid == "chat.bsky.convo.getConvoForMembers":
            members = [viewer, *req.qs("members")]
            cid = self._convo(members)
            return {"convo": self._convo_view(cid)}
        if nsid == "chat.bsky.convo.sendMessage":
            p = req.params()
            cid = str(p.get("convoId"))
            if cid not in self.convos or viewer not in self.convos[cid]:
                raise HttpError(400, {"error": "InvalidRequest", "message": "Convo not found"})
            m = _BMessage(self._tid(), cid, viewer, str((p.get("message") or {}).get("text")),
                          self.now())
            self._add_message(m)
            return self._msg_view(m)
        if nsid == "chat.bsky.convo.listConvos":
            return {"convos": [self._convo_view(c) for c, mem in self.convos.items()
                               if viewer in mem]}
        if nsid == "chat.bsky.convo.getMessages":
            cid = req.q("convoId") or ""
            msgs = sorted((m for m in self.messages if m.convo == cid),
                          key=lambda m: m.id, reverse=True)
            return {"messages": [self._msg_view(m) for m in msgs]}
        raise HttpError(501, {"error": "MethodNotImplemented", "message": nsid})

    def _convo_view(self, cid: str) -> dict[str, Any]:
        msgs = sorted((m for m in self.messages if m.convo == cid), key=lambda m: m.id)
        return {"id": cid, "rev": msgs[-1].id if msgs else "", "members": [
            self._profile(d) for d in self.convos[cid]], "lastMessage":
            self._msg_view(msgs[-1]) if msgs else None, "muted": False, "unreadCount": 0}
