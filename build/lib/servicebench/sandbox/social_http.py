"""Shared HTTP plumbing for the local social-network API servers.

:class:`_BaseServer` runs a threaded loopback HTTP server, keeps a request log, and lets a
test or the sandbox inject rate limits and failures. Subclasses (the Mastodon, X and Bluesky
stand-ins) implement :meth:`_BaseServer.route` and their network's rate-limit headers.

:meth:`_BaseServer.rate_limit_next` makes the next requests fail with 429 and headers saying
when to retry; :meth:`_BaseServer.fail_next` makes a request be processed but its answer lost
(``drop``) or late (``hang``), or fail with a 5xx before processing.

Each server tells its ``listeners`` about every post and direct message it creates
(:class:`PostEvent`); the sandbox uses that to let its simulated companies answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
