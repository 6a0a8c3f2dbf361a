"""XOAUTH2 for IMAP and SMTP with a refresh token: a local token endpoint (http.server) and the
sandbox's IMAP and SMTP servers, which verify the XOAUTH2 string; accepted and refused."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_clock, sandbox_study_yaml

from servicebench import runner
from servicebench.cli import cli
from servicebench.errors import CredentialsRefused, NotConfigured, ProbeError
from servicebench.probes.email import imap_sync, oauth
from servicebench.probes.email.imap_sync import ImapSettings
from servicebench.probes.email.smtp_send import SmtpSettings, send_message
from servicebench.sandbox.core import SHOPPER_USER, Sandbox
from servicebench.sandbox.imap_server import IMAPServer, MailStore
from servicebench.sandbox.smtp_server import SandboxSMTPServer
from servicebench.store import Store
from servicebench.study import load_study

CLIENT_ID, CLIENT_SECRET, REFRESH = "cid-123", "csecret-456", "refresh-token-789"
USER = "pat@shopper.example"


class TokenEndpoint:
    """A token endpoint that hands out ``tokens`` in turn for the right refresh token."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.requests: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = dict(urllib.parse.parse_qsl(body))
                endpoint.requests.append(form)
                ok = (form.get("grant_type") == "refresh_token"
                      and form.get("client_id") == CLIENT_ID
                      and form.get("client_secret") == CLIENT_SECRET
                      and form.get("refresh_token") == REFRESH and endpoint.tokens)
                if ok:
                    status, data = 200, {"access_token": endpoint.tokens.pop(0),
                                         "expires_in": 3599, "token_type": "Bearer"}
                else:
                    status, data = 400, {"error": "invalid_grant",
                                         "error_description": "Token has been revoked."}
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def settings(self, refresh: str = REFRESH) -> oauth.OAuthSettings:
        return oauth.OAuthSettings(self.url, CLIENT_ID, CLIENT_SECRET, refresh, "s", 5)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    ep = TokenEndpoint(["tok-1", "tok-2", "tok-3"])
    yield ep
    ep.close()


@pytest.fixture
def imap() -> Iterator[IMAPServer]:
    store = MailStore()
    store.add_user(USER, "unused-password")
    with IMAPServer(store, oauth_tokens={}) as server:
        yield server


def test_token_is_fetched_once_and_cached_in_memory(endpoint: TokenEndpoint) -> None:
    cache = oauth.TokenCache()
    s = endpoint.settings()
    assert cache.get(s) == "tok-1"
    assert cache.get(s) == "tok-1"
    assert len(endpoint.requests) == 1
    assert endpoint.requests[0]["scope"] == "s"
    assert cache.get(s, force=True) == "tok-2"


def test_refused_refresh_token_disables_the_channel(endpoint: TokenEndpoint) -> None:
    with pytest.raises(NotConfigured, match="refused the refresh token .invalid_grant.") as exc:
        oauth.TokenCache().get(endpoint.settings("revoked-refresh"))
    assert "revoked-refresh" not in str(exc.value)


def test_unreachable_token_endpoint_is_temporary() -> None:
    from servers import free_port

    s = oauth.OAuthSettings(f"http://127.0.0.1:{free_port()}/token", "c", "s", "r", "", 3)
    with pytest.raises(ProbeError) as exc:
        oauth.TokenCache().get(s)
    assert exc.value.temporary


def test_provider_defaults() -> None:
    g = oauth.settings_from({"client_id": "c", "refresh_token": "r"})
    assert g.token_url == "https://oauth2.googleapis.com/token"
    m = oauth.settings_from({"provider": "microsoft", "client_id": "c", "refresh_token": "r"})
    assert m.token_url.startswith("https://login.microsoftonline.com/")
    assert "IMAP.AccessAsUser.All" in m.scope and "offline_access" in m.scope
    own = oauth.settings_from({"provider": "microsoft", "token_url": "http://h/t",
                               "client_id": "c", "refresh_token": "r"})
    assert own.token_url == "http://h/t"
    with pytest.raises(NotConfigured, match="refresh_token"):
        oauth.settings_from({"client_id": "c", "refresh_token": ""})


def test_imap_xoauth2_accepted_and_refreshed(endpoint: TokenEndpoint, imap: IMAPServer) -> None:
    imap.oauth_tokens["tok-2"] = USER  # tok-1 has "expired": the client refreshes once
    oauth.TOKENS.forget(endpoint.settings())
    s = ImapSettings("127.0.0.1", imap.port, "none", USER, "", auth="xoauth2",
                     oauth=endpoint.settings())
    conn = imap_sync.connect(s)
    try:
        assert imap_sync.select(conn, "INBOX") > 0
    finally:
        imap_sync.logout(conn)
    assert len(endpoint.requests) == 2
    conn = imap_sync.connect(s)  # the refreshed token is reused from memory
    imap_sync.logout(conn)
    assert len(endpoint.requests) == 2


def test_imap_xoauth2_refused(endpoint: TokenEndpoint, imap: IMAPServer) -> None:
    imap.oauth_tokens["someone-else"] = USER
    oauth.TOKENS.forget(endpoint.settings())
    s = ImapSettings("127.0.0.1", imap.port, "none", USER, "", auth="xoauth2",
                     oauth=endpoint.settings())
    with pytest.raises(CredentialsRefused, match="IMAP login refused") as exc:
        imap_sync.connect(s)
    assert "tok-" not in str(exc.value)
    # a token for another user is refused too
    imap.oauth_tokens["tok-3"] = "other@shopper.example"
    with pytest.raises(CredentialsRefused, match="IMAP login refused"):
        imap_sync.connect(s)


def test_smtp_xoauth2_accepted_and_refused(endpoint: TokenEndpoint) -> None:
    clock = make_clock(1.0)
    tokens: dict[str, str] = {}
    server = SandboxSMTPServer(clock, {}, oauth_tokens=tokens)
    server.start()
    oauth.TOKENS.forget(endpoint.settings())
    try:
        s = SmtpSettings("127.0.0.1", server.port, "none", USER, "", 10, auth="xoauth2",
                         oauth=endpoint.settings())
        data = b"From: pat@shopper.example\r\nTo: b@acme.example\r\nSubject: t\r\n\r\nhi\r\n"
        with pytest.raises(CredentialsRefused, match="SMTP login refused") as exc:
            send_message(s, USER, ["b@acme.example"], data, clock.now())
        assert exc.value.scope == "send" and "tok-" not in str(exc.value)
        assert server.accepted == []
        tokens["tok-3"] = USER
        oauth.TOKENS.forget(endpoint.settings())  # fresh process: no cached token
        endpoint.tokens = ["tok-3"]
        send_message(s, USER, ["b@acme.example"], data, clock.now())
        assert [a.user for a in server.accepted] == [USER]
    finally:
        server.stop()


def _oauth_study(tmp_path: Path, sandbox: Sandbox, endpoint: TokenEndpoint) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    text = sandbox_study_yaml([("fastco", "fast")], window="1d")
    for part in ("smtp", "imap"):
        text = text.replace(f'{part}: {{host: 127.0.0.1, port: "${{SANDBOX_{part.upper()}_PORT}}"'
                            ', security: none,',
                            f'{part}: {{host: 127.0.0.1, port: "${{SANDBOX_{part.upper()}_PORT}}"'
                            ', security: none, auth: xoauth2,')
    text = text.replace('password: "${SANDBOX_PASSWORD}"', 'password: ""')
    text = text.replace("  sent_copies: server\n", "  sent_copies: server\n"
                        f"  oauth: {{token_url: '{endpoint.url}', client_id: '${{CID}}', "
                        "client_secret: '${CSECRET}', refresh_token: '${REFRESH}'}\n")
    assert text.count("auth: xoauth2") == 2
    (folder / "study.yaml").write_text(text)
    return folder


def test_study_with_xoauth2_sends_and_collects(tmp_path: Path, sandbox: Sandbox,
                                               endpoint: TokenEndpoint) -> None:
    folder = _oauth_study(tmp_path, sandbox, endpoint)
    env = {**sandbox.env(), "CID": CLIENT_ID, "CSECRET": CLIENT_SECRET, "REFRESH": REFRESH}
    out = CliRunner().invoke(cli, ["validate", str(folder)], env=env)
    assert out.exit_code == 0, out.output
    study = load_study(folder, environ=env)
    store = Store(folder)
    for t in endpoint.tokens:
        sandbox.oauth_tokens[t] = SHOPPER_USER
    oauth.TOKENS.forget(oauth.settings_from(study.settings["mailbox"]["oauth"]))
    summary = runner.watch(study, store, sandbox.clock, poll=timedelta(hours=3))
    assert summary.sent == 1 and summary.collected >= 1, summary.notes
    assert [a.user for a in sandbox.smtp.accepted] == [SHOPPER_USER]
    # neither the refresh token nor any access token is stored anywhere in the study
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert REFRESH.encode() not in data and b"tok-" not in data, path


def test_study_with_revoked_refresh_token_keeps_probes_planned(
        tmp_path: Path, sandbox: Sandbox, endpoint: TokenEndpoint) -> None:
    folder = _oauth_study(tmp_path, sandbox, endpoint)
    env = {**sandbox.env(), "CID": CLIENT_ID, "CSECRET": CLIENT_SECRET, "REFRESH": "revoked"}
    study = load_study(folder, environ=env)
    store = Store(folder)
    summary = runner.run(study, store, sandbox.clock)
    assert summary.sent == 0
    assert "email" in summary.skipped_channels
    assert "invalid_grant" in summary.skipped_channels["email"]
    assert [p["state"] for p in store.probes()] == ["planned"]
    assert sandbox.smtp.accepted == []


def test_study_file_checks_the_new_keys(tmp_path: Path, sandbox: Sandbox,
                                        endpoint: TokenEndpoint) -> None:
    folder = _oauth_study(tmp_path, sandbox, endpoint)
    text = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(text.replace("auth: xoauth2", "auth: oauth2", 1)
                                       .replace("token_url:", "provider: yahoo, token_url:"))
    env = {**sandbox.env(), "CID": CLIENT_ID, "CSECRET": CLIENT_SECRET, "REFRESH": REFRESH}
    out = CliRunner().invoke(cli, ["validate", str(folder)], env=env)
    assert out.exit_code == 2, out.output
    assert "mailbox.smtp.auth" in out.output and "oauth2" in out.output
    assert "mailbox.oauth.provider" in out.output and "yahoo" in out.output
    assert "Traceback" not in out.output
