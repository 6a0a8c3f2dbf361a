"""A small JSON-over-HTTP client for the social networks' APIs.

What it adds over :mod:`urllib.request`:

* **Rate limits.** Each answer's limit headers are read (Mastodon ``X-RateLimit-*`` with an
  ISO 8601 reset time, X ``x-rate-limit-*`` and Bluesky ``RateLimit-*`` with Unix times,
  plus ``Retry-After``). Before a request to an endpoint whose budget is used up the client
  waits for the reset; on ``429`` it waits as the headers say and tries again. Waiting is in
  real time (``time.sleep``, not the study clock, which may run accelerated) and bounded by
  ``max_wait``: a longer wait raises ``ProbeError(temporary=True)`` instead.
* **Exactly-once hints.** A failure before the request could reach the server (DNS,
  connection refused) is ``ProbeError(temporary=True)``; a failure after a non-idempotent
  request was sent (timeout, connection dropped, 504) is :class:`MaybeSent`, which the
  channels turn into ``OutcomeUnknown``.
* **Credentials.** 401 (and an invalid/expired token error) raises ``NotConfigured``. Every
  message this module builds passes through :meth:`ApiClient.redact`, so tokens never show up
  in exceptions or logs.
* **No redirects.** A redirect would carry the ``Authorization`` header to wherever it points;
  it is reported instead.
* **One origin.** A URL the server hands back (a pagination ``Link``) that names another
  scheme or host than the configured API address is rewritten to the configured origin, so
  the token only ever goes there (a server behind a proxy may name its canonical host).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from typing import Any

from servicebench.errors import NotConfigured, ProbeError

USER_AGENT = "servicebench/0.1 (+mystery-shopping benchmark)"

Params = dict[str, Any] | Iterable[tuple[str, Any]] | None


class ApiError(ProbeError):
    """The API answered with an error status (other than 401/429)."""

    def __init__(self, message: str, *, status: int, error: str = "", payload: Any = None,
                 temporary: bool = False) -> None:
        self.status = status
        self.error = error
        self.payload = payload
        super().__init__(message, temporary=temporary)


class MaybeSent(ProbeError):
    """A non-idempotent request was sent and no answer came: it may have been accepted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False)


@dataclass
class RateLimit:
    limit: int | None = None
    remaining: int | None = None
    reset_in: float | None = None  # seconds from the response, server's view
    observed: float = 0.0  # time.monotonic() when the headers were read

    def wait_needed(self) -> float:
        if self.remaining is None or self.remaining > 0 or self.reset_in is None:
            return 0.0
        return max(0.0, self.reset_in - (time.monotonic() - self.observed))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    rate: RateLimit = field(default_factory=RateLimit)

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProbeError(f"{self.url}: answer is not JSON ({exc})", temporary=True) from exc

    def links(self) -> dict[str, str]:
        """The ``Link`` header (RFC 8288) as {rel: url}."""
        return parse_link_header(self.headers.get("link", ""))


def parse_link_header(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _split_links(value):
        part = part.strip()
        if not part.startswith("<") or ">" not in part:
            continue
        url, _, params = part[1:].partition(">")
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "rel":
                for rel in v.strip().strip('"').split():
                    out.setdefault(rel.lower(), url)
    return out


def _split_links(value: str) -> list[str]:
    parts, depth, cur = [], False, ""
    for ch in value:
        if ch == "<":
            depth = True
        elif ch == ">":
            depth = False
        if ch == "," and not depth:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _parse_reset(value: str, server_now: float) -> float | None:
    """Seconds until a rate-limit reset given as ISO 8601, Unix time or delta seconds."""
    value = value.strip()
    if not value:
        return None
    try:
        num = float(value)
    except ValueError:
        num = None
    if num is not None:
        return max(0.0, num - server_now) if num > 1e9 else max(0.0, num)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return max(0.0, dt.timestamp() - server_now)
    except ValueError:
        pass
    try:
        dt = email.utils.parsedate_to_datetime(value)
        return max(0.0, dt.timestamp() - server_now)
    except (TypeError, ValueError):
        return None


def read_rate_limit(headers: dict[str, str]) -> RateLimit:
    """Rate-limit facts from any of the three header families (names are lower-case)."""
    server_now = time.time()
    if "date" in headers:
        try:
            server_now = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
        except (TypeError, ValueError):
            pass
    rl = RateLimit(observed=time.monotonic())
    for prefix in ("x-ratelimit-", "x-rate-limit-", "ratelimit-"):
        if prefix + "remaining" in headers or prefix + "reset" in headers:
            try:
                rl.limit = int(float(headers.get(prefix + "limit", "").split(",")[0] or 0)) or None
            except ValueError:
                rl.limit = None
            try:
                rl.remaining = int(float(headers.get(prefix + "remaining", "").split(",")[0]))
            except ValueError:
                rl.remaining = None
            rl.reset_in = _parse_reset(headers.get(prefix + "reset", ""), server_now)
            break
    retry_after = headers.get("retry-after")
    if retry_after:
        ra = _parse_reset(retry_after, server_now)
        if ra is not None:
            rl.reset_in = max(rl.reset_in or 0.0, ra)
    return rl


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


AuthFn = Callable[[], dict[str, str]]


class ApiClient:
    """JSON HTTP client for one API base URL and one account."""

    def __init__(self, base_url: str, *, network: str, auth: AuthFn | None = None,
                 secrets: Iterable[str] = (), timeout: float = 30.0, max_wait: float = 120.0,
                 max_retries: int = 3, sleep: Callable[[float], None] = time.sleep,
                 log: logging.Logger | None = None, credential_hint: str = "",
                 per_endpoint_limits: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.network = network
        self.auth = auth
        self.secrets: set[str] = {s for s in secrets if s}
        self.timeout = timeout
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.sleep = sleep
        self.log = log or logging.getLogger("servicebench")
        self.credential_hint = credential_hint
        # X limits each endpoint separately; Mastodon and Bluesky count per account
        self.per_endpoint_limits = per_endpoint_limits
        self.limits: dict[str, RateLimit] = {}
        self.waited: list[float] = []  # each rate-limit wait, for tests and notes
        self.opener = urllib.request.build_opener(_NoRedirect())

    # -- helpers -------------------------------------------------------------------------
    def add_secret(self, value: str | None) -> None:
        if value:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        for s in sorted(self.secrets, key=len, reverse=True):
            if len(s) >= 3:
                text = text.replace(s, "***")
        return text

    def same_origin(self, url: str) -> str:
        """``url`` with the configured scheme and host (path and query kept)."""
        base = urllib.parse.urlsplit(self.base_url)
        u = urllib.parse.urlsplit(url)
        if (u.scheme.lower(), u.netloc.lower()) == (base.scheme.lower(), base.netloc.lower()):
            return url
        self.log.info("%s: a link names %s; following it at the configured %s",
                      self.network, u.netloc, base.netloc)
        return urllib.parse.urlunsplit((base.scheme, base.netloc, u.path, u.query, ""))

    def url_for(self, path: str, params: Params = None) -> str:
        url = self.same_origin(path) if path.startswith(("http://", "https://")) \
            else self.base_url + path
        if params:
            items = params.items() if isinstance(params, dict) else params
            flat: list[tuple[str, str]] = []
            for k, v in items:
                if v is None:
                    continue
                if isinstance(v, list | tuple):
                    flat += [(k, _qs(x)) for x in v]
                else:
                    flat.append((k, _qs(v)))
            if flat:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(flat)
        return url

    def _bucket(self, method: str, url: str) -> str:
        if not self.per_endpoint_limits:
            return "account"
        path = re.sub(r"/\d+(?=/|$)", "/:id", urllib.parse.urlsplit(url).path)
        return method + " " + path

    def _wait(self, seconds: float, why: str) -> None:
        if seconds > self.max_wait:
            raise ProbeError(self.redact(
                f"{self.network}: rate limited ({why}); the limit resets in {seconds:.0f}s, "
                f"longer than the {self.max_wait:.0f}s this run waits; try again later"),
                temporary=True)
        self.log.info("%s: rate limited (%s), waiting %.1fs", self.network, why, seconds)
        self.waited.append(seconds)
        self.sleep(seconds)

    # -- the request -------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Params = None, json_body: Any = None,
                form: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                idempotent: bool | None = None, auth: bool = True,
                ok: tuple[int, ...] = ()) -> Response:
        """Send one request; retry after 429s. ``ok`` lists error statuses to return
        instead of raising (e.g. 404 where "gone" is an answer)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        url = self.url_for(path, params)
        bucket = self._bucket(method, url)
        what = method + " " + urllib.parse.urlsplit(url).path
        body: bytes | None = None
        hdrs = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        elif form is not None:
            flat = []
            for k, v in form.items():
                if isinstance(v, list | tuple):
                    flat += [(k, _qs(x)) for x in v]
                elif v is not None:
                    flat.append((k, _qs(v)))
            body = urllib.parse.urlencode(flat).encode("utf-8")
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif method in ("POST", "PUT", "PATCH"):
            body = b""
        attempt = 0
        while True:
            attempt += 1
            known = self.limits.get(bucket)
            if known is not None and known.wait_needed() > 0:
                self._wait(known.wait_needed(), f"no requests left before {what}")
            all_headers = dict(hdrs)
            if auth and self.auth is not None:
                all_headers.update(self.auth())
            all_headers.update(headers or {})
            resp = self._send_once(method, url, body, all_headers, idempotent)
            self.limits[bucket] = resp.rate
            if resp.status == 429:
                wait = resp.rate.reset_in
                if wait is None:
                    wait = min(self.max_wait, 2.0 ** attempt)
                if attempt > self.max_retries:
                    raise ProbeError(self.redact(
                        f"{self.network}: still rate limited (429) after {attempt} tries "
                        f"at {what}"), temporary=True)
                self._wait(max(wait, 0.05), f"429 at {what}")
                continue
            if 200 <= resp.status < 300 or resp.status in ok:
                return resp
            self._raise_for(method, url, resp, idempotent)

    def _send_once(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                   idempotent: bool) -> Response:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        where = self.redact(f"{method} {_strip_query(url)}")
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                raw = r.read()
                return self._response(r.status, r.headers, raw, url)
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read()
            except (OSError, HTTPException):
                raw = b""
            return self._response(exc.code, exc.headers, raw, url)
        except urllib.error.URLError as exc:
            # raised by urlopen around connect and sending: the request did not get through
            # (for POSTs a failure while writing the body could in theory have reached the
            # server; a half-written request is not processed by HTTP servers)
            raise ProbeError(self.redact(f"{self.network}: cannot reach {where}: {exc.reason}"),
                             temporary=True) from None
        except (HTTPException, OSError) as exc:
            msg = self.redact(f"{self.network}: no answer to {where}: "
                              f"{type(exc).__name__}: {exc}")
            if idempotent:
                raise ProbeError(msg, temporary=True) from None
            raise MaybeSent(msg + " (the request was sent; it may have been accepted)") from None

    def _response(self, status: int, headers: Any, raw: bytes, url: str) -> Response:
        hdrs = {k.lower(): v for k, v in (headers.items() if headers else [])}
        return Response(status, hdrs, raw, url, read_rate_limit(hdrs))

    def _raise_for(self, method: str, url: str, resp: Response, idempotent: bool) -> None:
        payload: Any = None
        try:
            payload = json.loads(resp.body.decode("utf-8")) if resp.body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        error = _error_text(payload) or resp.body[:200].decode("utf-8", "replace")
        where = f"{method} {_strip_query(url)}"
        if resp.status in (401, 403) and _looks_like_disabled_account(error):
            raise NotConfigured(self.redact(
                f"{self.network}: the shopper account is disabled or suspended on this server "
                f"({resp.status} {error.strip()}) at {where}; a new token will not help: ask "
                "the server's moderators, or use another account"))
        if resp.status == 401 or _looks_like_bad_token(resp.status, error):
            hint = f"; {self.credential_hint}" if self.credential_hint else ""
            raise NotConfigured(self.redact(
                f"{self.network}: the credential was refused ({resp.status} {error.strip()}) "
                f"at {where}{hint}"))
        if 300 <= resp.status < 400:
            raise ApiError(self.redact(
                f"{self.network}: {where} redirected to {resp.headers.get('location', '?')}; "
                "set the API address to where it points"), status=resp.status, error=error)
        if resp.status >= 500:
            if resp.status == 504 and not idempotent:
                raise MaybeSent(self.redact(
                    f"{self.network}: {where} timed out at the gateway (504); the request "
                    "may have been accepted"))
            raise ApiError(self.redact(f"{self.network}: server error {resp.status} at {where}: "
                                       f"{error}"), status=resp.status, error=error,
                           payload=payload, temporary=True)
        raise ApiError(self.redact(f"{self.network}: {resp.status} at {where}: {error}"),
                       status=resp.status, error=error, payload=payload)


def _qs(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _error_text(payload: Any) -> str:
    """The error message from Mastodon ({error}), X ({title, detail, errors}) or XRPC
    ({error, message}) error bodies."""
    if not isinstance(payload, dict):
        return ""
    parts = []
    for k in ("error", "title", "message", "detail", "error_description"):
        v = payload.get(k)
        if isinstance(v, str) and v and v not in parts:
            parts.append(v)
    errs = payload.get("errors")
    if isinstance(errs, list):
        for e in errs[:3]:
            if isinstance(e, dict):
                m = e.get("message") or e.get("detail") or e.get("title")
                if isinstance(m, str) and m not in parts:
                    parts.append(m)
    return ": ".join(parts)


_DISABLED = re.compile(r"login is (currently )?disabled|account (is |has been )?(disabled|"
                       r"suspended|deactivated)|account suspended|accountdeactivated|"
                       r"accounttakedown", re.IGNORECASE)


def _looks_like_disabled_account(error: str) -> bool:
    return bool(_DISABLED.search(error))


def _looks_like_bad_token(status: int, error: str) -> bool:
    e = error.lower()
    if status == 400 and ("expiredtoken" in e.replace(" ", "") or "invalidtoken" in e):
        return False  # XRPC: refreshable; the Bluesky adapter handles it
    return status == 403 and ("access token" in e and ("invalid" in e or "revoked" in e))
