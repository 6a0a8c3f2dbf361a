"""The Mastodon channel against servers as they are in the wild (local Mastodon API server):
tokens without the write scope, pagination links naming another host, servers reporting their
own version, a disabled account, two scenarios to one company answered outside the thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_social_mastodon import STUDY, Net, assert_no_token, channel, make_study

from servicebench.clock import SystemClock
from servicebench.probes.social.http import ApiClient
from servicebench.probes.social.mastodon import parse_version
from servicebench.runner import run
from servicebench.sandbox.social_server import MastodonAPIServer

SECOND = (
    "  - id: refund\n"
    "    subject: Refund\n"
    '    short: "I returned my order 4711 two weeks ago. When will I get my refund?"\n'
    '    body: "I returned my order 4711 two weeks ago. When will I get my refund?"\n'
    "    channels: [mastodon]\n"
)
TWO = STUDY.replace("companies:\n", SECOND + "companies:\n")


@pytest.fixture
def net() -> Iterator[Net]:
    server = MastodonAPIServer(domain="shop.test").start()
    server.create_account("anna", display_name="Anna Berg")
    server.create_account("support", domain="social.example", display_name="Example Co")
    server.create_account("hilfe", domain="social.example", display_name="Example Co Hilfe")
    yield Net(server, server.create_token("anna"))
    server.stop()


# ------------------------------------------------------------------------------ scopes
def test_token_without_write_scope_is_refused_before_any_probe(tmp_path: Path, net: Net) -> None:
    token = net.server.create_token("anna", scopes=("read",))
    study, store = make_study(tmp_path, net, text=TWO, token=token)
    summary = run(study, store, SystemClock())
    why = summary.skipped_channels.get("mastodon", "")
    assert "not write" in why and "read and write" in why, summary
    assert net.server.requests_to("POST", r"^/api/v1/statuses$") == []
    assert {p["state"] for p in store.probes()} == {"planned"}
    assert token not in why
    assert_no_token(tmp_path, token)


def test_scopes_unknown_then_403_on_posting_disables_the_channel(tmp_path: Path,
                                                                 net: Net) -> None:
    net.server.token_info = False  # a server that does not tell a token's scopes
    token = net.server.create_token("anna", scopes=("read",))
    study, store = make_study(tmp_path, net, text=TWO, token=token)
    summary = run(study, store, SystemClock())
    assert "outside the authorized scopes" in summary.skipped_channels.get("mastodon", "")
    # one attempt, refused; nothing burned: both probes stay planned for after the fix
    assert len(net.server.requests_to("POST", r"^/api/v1/statuses$")) == 1
    assert summary.failed == 0 and summary.sent == 0
    assert {p["state"] for p in store.probes()} == {"planned"}
    good = net.server.create_token("anna")
    study, store = make_study(tmp_path, net, text=TWO, token=good)
    assert run(study, store, SystemClock()).sent == 2


def test_write_statuses_scope_is_enough(tmp_path: Path, net: Net) -> None:
    token = net.server.create_token("anna", scopes=("read", "write:statuses"))
    study, store = make_study(tmp_path, net, token=token)
    assert run(study, store, SystemClock()).sent == 1


# ------------------------------------------------------------------------ pagination host
def test_link_to_another_host_never_receives_the_token(tmp_path: Path, net: Net) -> None:
    other = MastodonAPIServer(domain="elsewhere.test").start()
    try:
        net.server.link_origin = other.url  # the server names another origin in Link
        study, store = make_study(tmp_path, net)
        run(study, store, SystemClock(), collect=False)
        t0 = datetime.now(UTC).replace(microsecond=0)
        for i in range(95):  # three pages of mentions
            net.server.post("support@social.example", f"@anna note {i}: delivery takes two "
                            "days to Berlin", created_at=t0 + timedelta(seconds=i))
        stats = channel(study, store).collect()
        assert stats.fetched == 95, stats
        assert other.requests == [], "a request (with the token) went to the other host"
        pages = net.server.requests_to("GET", r"^/api/v1/notifications$")
        assert len(pages) >= 3
    finally:
        other.stop()


def test_same_origin_rewrites_only_foreign_origins() -> None:
    c = ApiClient("https://social.example", network="t")
    assert c.url_for("https://social.example/api/v1/x?max_id=1") == \
        "https://social.example/api/v1/x?max_id=1"
    assert c.url_for("https://canonical.example/api/v1/x?max_id=1") == \
        "https://social.example/api/v1/x?max_id=1"
    assert c.url_for("http://social.example:8080/api/v1/x") == "https://social.example/api/v1/x"


# ---------------------------------------------------------------------------- versions
def test_servers_reporting_their_own_version_are_not_old_mastodon(tmp_path: Path) -> None:
    assert parse_version("0.20.0-rc1") is None
    assert parse_version("4.2.0 (compatible; GoToSocial 0.20.0-rc1)") is None
    assert parse_version("3.3.0", "https://github.com/superseriousbusiness/gotosocial") is None
    assert parse_version("4.3.0", "https://github.com/mastodon/mastodon") == (4, 3, 0)
    assert parse_version("v4.1.2") == (4, 1, 2)
    server = MastodonAPIServer(domain="gts.test", version="0.20.0-rc1").start()
    try:
        server.create_account("anna")
        server.create_account("support", domain="social.example")
        server.create_account("hilfe", domain="social.example")
        n = Net(server, server.create_token("anna"))
        study, store = make_study(tmp_path, n)
        ch = channel(study, store)
        assert ch.version() is None and ch.supports((3, 5, 0))
        assert run(study, store, SystemClock()).sent == 1
        # endpoints an ancient Mastodon lacks are still used
        assert server.requests_to("GET", r"^/api/v1/accounts/lookup$")
        assert any("mention" in r.qs("types[]") for r in
                   server.requests_to("GET", r"^/api/v1/notifications$"))
    finally:
        server.stop()


# ---------------------------------------------------------------------- disabled account
def test_disabled_account_401_gets_its_own_hint(tmp_path: Path, net: Net) -> None:
    net.server.disable_account("anna")
    study, store = make_study(tmp_path, net)
    summary = run(study, store, SystemClock())
    why = summary.skipped_channels.get("mastodon", "")
    assert "disabled or suspended" in why and "new token will not help" in why, why
    assert "create a new access token" not in why
    assert net.token not in why
    assert {p["state"] for p in store.probes()} == {"planned"}


# ------------------------------------------------------------- two scenarios, one company
def test_two_scenarios_to_one_company_matched_by_content(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net, text=TWO)
    assert run(study, store, SystemClock(), collect=False).sent == 2
    probes = {p["scenario_id"]: p for p in store.probes()}
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    s = net.server
    # top-level posts and DMs, in no probe's thread
    s.post("support@social.example", "@anna Hello Anna, delivery to Berlin takes two "
           "working days. Tom", created_at=t0)
    s.post("support@social.example", "@anna Hi Anna, the refund for order 4711 is on its "
           "way. Lisa", visibility="direct", created_at=t0 + timedelta(minutes=1))
    s.post("support@social.example", "@anna Hi! We answered your question, see our FAQ.",
           created_at=t0 + timedelta(minutes=2))
    # a reply in a probe's thread is matched by the thread, whatever its words
    s.post("hilfe@social.example", "@anna About Berlin: please see the refund page.",
           in_reply_to_id=probes["refund"]["external_id"], created_at=t0 + timedelta(minutes=3))
    channel(study, store).collect()
    rows = {m["text"].split(",")[0].split(":")[0].strip(): m for m in store.messages()}
    got = {k: (m["probe_id"], m["match_method"]) for k, m in rows.items()}
    assert got["@anna Hello Anna"] == (probes["delivery"]["id"], "content")
    assert got["@anna Hi Anna"] == (probes["refund"]["id"], "content")
    assert got["@anna About Berlin"] == (probes["refund"]["id"], "in-reply-to")
    faq = rows["@anna Hi! We answered your question"]
    assert faq["probe_id"] is None
    assert any("ambiguous" in r for r in json.loads(faq["reasons"]))
