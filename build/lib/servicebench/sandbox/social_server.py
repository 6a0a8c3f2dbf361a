"""Local stand-ins for the social networks' APIs, for tests and the sandbox.

Kept so existing imports work; the code lives in :mod:`.social_http` (shared HTTP plumbing,
rate limits and fault injection), :mod:`.mastodon_server` (:class:`MastodonAPIServer`) and
:mod:`.x_server` (:class:`XAPIServer`).

Nothing here talks to the outside world; the servers bind to the address they are given
(127.0.0.1 by default).
"""

from __future__ import annotations

from .mastodon_server import MENTION_RE, MastodonAPIServer
from .social_http import HttpError, Json, PostEvent, Request, _BaseServer, _iso, whole_ms
from .x_server import X_EPOCH_MS, XAPIServer, snowflake

__all__ = [
    "MENTION_RE",
    "X_EPOCH_MS",
    "HttpError",
    "Json",
    "MastodonAPIServer",
    "PostEvent",
    "Request",
    "XAPIServer",
    "_BaseServer",
    "_iso",
    "snowflake",
    "whole_ms",
]
