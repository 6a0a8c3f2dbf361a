"""OAuth 2.0 access tokens for IMAP and SMTP (SASL XOAUTH2), from a refresh token.

Gmail and Microsoft 365 accept XOAUTH2 instead of a password. The study names a client id,
client secret and refresh token (``${VAR}`` from the environment); an access token is fetched
from the provider's token endpoint when needed and kept in this process's memory only until
shortly before it expires. Access tokens are never written to the database, evidence or
logs, and error messages never contain them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from servicebench.errors import NotConfigured, ProbeError

#: token endpoints of the providers most shoppers' mailboxes are at
PROVIDERS: dict[str, dict[str, str]] = {
    "google": {"token_url": "https://oauth2.googleapis.com/token",
               "scope": "https://mail.google.com/"},
    "microsoft": {"token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                  "scope": "https://outlook.office.com/IMAP.AccessAsUser.All "
                           "https://outlook.office.com/SMTP.Send offline_access"},
}

#: refresh this long before the provider says the token expires
EXPIRY_MARGIN = 60.0
MAX_RESPONSE = 64 * 1024


@dataclass(frozen=True)
class OAuthSettings:
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    scope: str = ""
    timeout: float = 30.0

    def cache_key(self) -> str:
        raw = "\0".join((self.token_url, self.client_id, self.refresh_token, self.scope))
        return hashlib.sha256(raw.encode()).hexdigest()


def settings_from(config: dict, timeout: float = 30.0) -> OAuthSettings:
    """``mailbox.oauth`` of the study as settings; NotConfigured names what is missing."""
    provider = str(config.get("provider", "google"))
    defaults = PROVIDERS.get(provider, {})
    token_url = str(config.get("token_url") or defaults.get("token_url", ""))
    if not token_url:
        raise NotConfigured(f"email: mailbox.oauth.provider {provider!r} is unknown and no "
                            "token_url is set")
    missing = [k for k in ("client_id", "refresh_token") if not config.get(k)]
    if missing:
        raise NotConfigured("email: mailbox.oauth." + " and ".join(missing) + " empty; set "
                            "the variables they name in the environment or .env")
    return OAuthSettings(token_url, str(config["client_id"]),
                         str(config.get("client_secret") or ""),
                         str(config["refresh_token"]),
                         str(config.get("scope", defaults.get("scope", ""))), timeout)


class TokenCache:
    """Access tokens by settings, in memory, refreshed when (nearly) expired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, s: OAuthSettings, *, force: bool = False) -> str:
        key = s.cache_key()
        with self._lock:
            cached = self._tokens.get(key)
            if cached and not force and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = fetch_access_token(s)
            self._tokens[key] = (token, time.monotonic() + max(0.0, lifetime - EXPIRY_MARGIN))
            return token

    def forget(self, s: OAuthSettings) -> None:
        with self._lock:
            self._tokens.pop(s.cache_key(), None)


TOKENS = TokenCache()


def fetch_access_token(s: OAuthSettings) -> tuple[str, float]:
    """POST the refresh-token grant; return (access token, lifetime in seconds)."""
    form = {"grant_type": "refresh_token", "client_id": s.client_id,
            "refresh_token": s.refresh_token}
    if s.client_secret:
        form["client_secret"] = s.client_secret
    if s.scope:
        form["scope"] = s.scope
    req = urllib.request.Request(
        s.token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"})
    host = urllib.parse.urlsplit(s.token_url).netloc
    try:
        with urllib.request.urlopen(req, timeout=s.timeout) as resp:  # noqa: S310 - configured
            body = resp.read(MAX_RESPONSE)
    except urllib.error.HTTPError as exc:
        error = _oauth_error(exc.read(MAX_RESPONSE))
        if exc.code in (400, 401) and error in ("invalid_grant", "invalid_client",
                                                 "unauthorized_client"):
            # credentials refused: the channel is disabled, the probes stay planned
            raise NotConfigured(f"email: OAuth token endpoint {host} refused the refresh "
                                f"token ({error}); create a new one (README: Mailbox "
                                "providers) and set it in the environment or .env") from None
        raise ProbeError(f"OAuth token endpoint {host} answered HTTP {exc.code}"
                         + (f" ({error})" if error else ""),
                         temporary=exc.code >= 500 or exc.code == 429) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProbeError(f"cannot reach OAuth token endpoint {host}: {reason}",
                         temporary=True) from None
    try:
        data = json.loads(body)
        token = str(data["access_token"])
        lifetime = float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise ProbeError(f"OAuth token endpoint {host} gave no access_token") from None
    if not token:
        raise ProbeError(f"OAuth token endpoint {host} gave an empty access_token")
    return token, lifetime


def _oauth_error(body: bytes) -> str:
    try:
        err = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        return ""
    return err if isinstance(err, str) and err.replace("_", "").isalnum() else ""


def xoauth2_string(user: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial client response (before base64)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def xoauth2_b64(user: str, token: str) -> str:
    return base64.b64encode(xoauth2_string(user, token)).decode("ascii")
