"""The Mastodon channel against the local Mastodon API server (servicebench.sandbox)."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicebench.channels import ChannelEnv, OutcomeUnknown
from servicebench.clock import SystemClock
from servicebench.errors import NotConfigured, ProbeError, StudyError
from servicebench.probes.social.http import parse_link_header, read_rate_limit
from servicebench.probes.social.mastodon import MastodonChannel, parse_version
from servicebench.runner import Runner, RunSummary, plan, probe_context, run
from servicebench.sandbox.social_server import MastodonAPIServer
from servicebench.store import Store
from servicebench.study import load_study

STUDY = textwrap.dedent("""\
    study: {id: soc, title: Social test, language: en, window: 2d}
    social:
      mastodon: {instance: "${MASTODON_URL}", token: "${MASTODON_TOKEN}"}
      max_wait: 30s
    personas:
      - {id: anna, name: Anna Berg, email: anna@example.com}
    scenarios:
      - id: delivery
        subject: Delivery
        short: "How long does delivery to Berlin take? I would like to order today."
        body: >-
          Hello, how long does delivery to Berlin take with {{ company.name }}?
          Thanks, {{ persona.name }}
        channels: [mastodon]
    companies:
      - id: exampleco
        name: Example Co
        channels:
          mastodon: {handle: "@support@social.example", also: ["@hilfe@social.example"]}
    """)

DIRECT = (
    "  - id: refund\n"
    "    subject: Refund\n"
    "    mode: direct\n"
    '    body: "Hello {{ company.name }}, I returned my order 4711 two weeks ago. When will I '
    'get my refund? {{ persona.name }}"\n'
    "    channels: [mastodon]\n"
)


class Net:
    def __init__(self, server: MastodonAPIServer, token: str) -> None:
        self.server = server
        self.token = token


@pytest.fixture
def net() -> Iterator[Net]:
    server = MastodonAPIServer(domain="shop.test").start()
    server.create_account("anna", display_name="Anna Berg")
    server.create_account("support", domain="social.example", display_name="Example Co")
    server.create_account("hilfe", domain="social.example", display_name="Example Co Hilfe")
    server.create_account("stranger", domain="elsewhere.example")
    token = server.create_token("anna")
    yield Net(server, token)
    server.stop()


def make_study(tmp_path: Path, net: Net, *, direct: bool = False, text: str = STUDY,
               token: str | None = None):
    y = text
    if direct:
        y = y.replace("companies:\n", DIRECT + "companies:\n")
    (tmp_path / "study.yaml").write_text(y, encoding="utf-8")
    env = {"MASTODON_URL": net.server.url, "MASTODON_TOKEN": token or net.token}
    study = load_study(tmp_path, environ=env)
    store = Store(tmp_path)
    return study, store


def channel(study, store) -> MastodonChannel:
    return MastodonChannel(ChannelEnv(study, store, SystemClock(), logging.getLogger("t")))


def probe_rows(store: Store, scenario: str = "delivery") -> list:
    return [r for r in store.probes(channel="mastodon") if r["scenario_id"] == scenario]


def assert_no_token(tmp_path: Path, token: str) -> None:
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert token.encode() not in f.read_bytes(), f"token found in {f}"


# ------------------------------------------------------------------------------- sending
def test_send_posts_a_real_mention_and_stores_the_server_record(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    summary = run(study, store, SystemClock())
    assert summary.sent == 1, summary
    (row,) = probe_rows(store)
    assert row["state"] == "sent"
    assert row["sent_time_source"] == "mastodon-created_at"
    posted = net.server.statuses_of("anna")
    assert len(posted) == 1
    st = posted[0]
    assert row["external_id"] == st["id"]
    assert row["sent_at"].startswith(st["created_at"][:19])
    assert st["visibility"] == "public"
    assert [m["acct"] for m in st["mentions"]] == ["support@social.example"]
    assert "How long does delivery to Berlin take?" in st["content"]
    detail = json.loads(row["detail"])
    assert detail["uri"] == st["uri"] and detail["url"] == st["url"]
    assert detail["mention_resolved"] is True
    evidence = json.loads((tmp_path / detail["sent_evidence"]).read_text())
    assert evidence["id"] == st["id"] and evidence["created_at"] == st["created_at"]
    # the documented request: Bearer token, form fields, idempotency key
    (req,) = net.server.requests_to("POST", r"^/api/v1/statuses$")
    assert req.headers["authorization"] == f"Bearer {net.token}"
    assert req.headers["idempotency-key"].startswith("servicebench-")
    assert req.params()["visibility"] == "public" and req.params()["language"] == "en"
    assert_no_token(tmp_path, net.token)


def test_direct_scenario_is_sent_as_direct_message(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net, direct=True)
    run(study, store, SystemClock())
    (row,) = probe_rows(store, "refund")
    st = next(s for s in net.server.statuses_of("anna") if s["id"] == row["external_id"])
    assert st["visibility"] == "direct"
    assert "order 4711" in st["content"]
    assert json.loads(row["detail"])["mode"] == "direct"


def test_direct_scenario_goes_public_when_company_takes_no_dms(tmp_path: Path,
                                                               net: Net) -> None:
    text = STUDY.replace('also: ["@hilfe@social.example"]}', 'dm: false}')
    study, store = make_study(tmp_path, net, direct=True, text=text)
    run(study, store, SystemClock())
    (row,) = probe_rows(store, "refund")
    detail = json.loads(row["detail"])
    assert detail["visibility"] == "public" and "no direct messages" in detail["note"]


# ------------------------------------------------------------------------------ collecting
def test_replies_from_second_account_dm_follow_up_and_bot(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    probe_post = row["external_id"]
    t0 = datetime.now(UTC).replace(microsecond=0)
    s = net.server
    # a canned "DM us" from the main account, a human answer from the second account
    canned = s.post("support@social.example",
                    "@anna Thank you for your message! Please send us a DM with your order "
                    "number so we can help you.", in_reply_to_id=probe_post,
                    created_at=t0 + timedelta(minutes=7))
    human = s.post("hilfe@social.example",
                   "@anna Hi Anna, I just checked for you: delivery to Berlin takes two "
                   "working days if you order before 2 pm. Best, Tom",
                   in_reply_to_id=probe_post, created_at=t0 + timedelta(minutes=42))
    # the shopper follows up by DM; the company answers in that DM thread
    own_dm = s.post("anna", "@support@social.example Hello, my order number is 4711.",
                    in_reply_to_id=canned["id"], visibility="direct",
                    created_at=t0 + timedelta(hours=1))
    dm_answer = s.post("support@social.example",
                       "@anna Thanks Anna, I can see order 4711 ships tomorrow. Kind regards, "
                       "Lisa", in_reply_to_id=own_dm["id"], visibility="direct",
                       created_at=t0 + timedelta(hours=2))
    # a DM from the company outside any thread, and noise from a stranger
    fresh_dm = s.post("support@social.example", "@anna One more thing: you get a voucher "
                      "for the delay. Lisa", visibility="direct",
                      created_at=t0 + timedelta(hours=3))
    s.post("stranger@elsewhere.example", "@anna buy followers now", created_at=t0)
    s.create_account("shopbot", domain="social.example", bot=True)
    bot = s.post("shopbot@social.example", "@anna Hi! I am the Example Co assistant. How can I "
                 "help?", in_reply_to_id=probe_post, created_at=t0 + timedelta(minutes=1))
    text = STUDY.replace('also: ["@hilfe@social.example"]',
                         'also: ["@hilfe@social.example", "@shopbot@social.example"]')
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    study = load_study(tmp_path, environ={"MASTODON_URL": s.url, "MASTODON_TOKEN": net.token})

    stats = channel(study, store).collect()
    msgs = {m["external_id"]: m for m in store.messages()}
    assert set(msgs) == {canned["id"], human["id"], dm_answer["id"], fresh_dm["id"],
                         bot["id"]}, stats
    assert all(m["probe_id"] == row["id"] for m in msgs.values())
    assert msgs[human["id"]]["match_method"] == "in-reply-to"
    assert msgs[human["id"]]["kind"] == "human"
    assert msgs[human["id"]]["sender"] == "@hilfe@social.example"
    assert msgs[human["id"]]["received_at"] == (t0 + timedelta(minutes=42)).isoformat(
        timespec="milliseconds")
    assert msgs[human["id"]]["time_source"] == "mastodon-created_at"
    assert msgs[canned["id"]]["kind"] == "automated"
    assert "asks to continue by direct message" in json.loads(msgs[canned["id"]]["reasons"])
    assert msgs[dm_answer["id"]]["match_method"] == "thread"
    assert msgs[dm_answer["id"]]["kind"] == "human"
    assert "direct message" in json.loads(msgs[dm_answer["id"]]["reasons"])
    assert msgs[fresh_dm["id"]]["match_method"] == "account"
    assert msgs[bot["id"]]["kind"] == "automated"
    # raw payload as evidence
    ev = json.loads((tmp_path / msgs[human["id"]]["evidence"]).read_text())
    assert ev["id"] == human["id"] and ev["created_at"] == human["created_at"]
    # a second collect finds nothing new and asks for newer notifications only
    before = len(s.requests_to("GET", "^/api/v1/notifications$"))
    stats2 = channel(study, store).collect()
    assert stats2.fetched == 0
    later = s.requests_to("GET", "^/api/v1/notifications$")[before:]
    assert later and all("min_id" in r.query for r in later)
    assert_no_token(tmp_path, net.token)


def test_reply_from_stranger_in_thread_is_kept_unmatched(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    st = net.server.post("stranger@elsewhere.example", "@anna they never answer, sorry",
                         in_reply_to_id=row["external_id"])
    channel(study, store).collect()
    (m,) = store.messages()
    assert m["external_id"] == st["id"] and m["probe_id"] is None
    assert any("not a configured account" in r for r in json.loads(m["reasons"]))


def test_notification_pages_are_followed_by_link_header(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    base = datetime.now(UTC)
    for i in range(95):  # more than two pages of 40, outside the probe's thread
        net.server.post("support@social.example", f"@anna Update number {i} on your question.",
                        created_at=base + timedelta(seconds=i))
    stats = channel(study, store).collect()
    assert stats.fetched == 95 and stats.matched == 95
    reqs = net.server.requests_to("GET", "^/api/v1/notifications$")
    assert len(reqs) >= 3 and any("max_id" in r.query for r in reqs)
    assert all(r.query.get("types[]") == ["mention"] for r in reqs)
    for i in range(50):
        net.server.post("hilfe@social.example", f"@anna Follow-up {i}.",
                        created_at=base + timedelta(minutes=5, seconds=i))
    assert channel(study, store).collect().fetched == 50


def test_deleted_probe_post_does_not_break_collection(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    net.server.post("hilfe@social.example", "@anna Hello Anna, two days. Tom",
                    in_reply_to_id=row["external_id"])
    assert channel(study, store).collect().matched == 1
    net.server.delete(row["external_id"])
    stats = channel(study, store).collect()
    assert any("is gone" in n for n in stats.notes)
    assert len(store.messages(row["id"])) == 1  # kept
    ev = store.query("SELECT * FROM events WHERE event = 'probe-post-missing'")
    assert len(ev) == 1 and ev[0]["probe_id"] == row["id"]
    channel(study, store).collect()  # noted once, no crash
    assert len(store.query("SELECT * FROM events WHERE event = 'probe-post-missing'")) == 1


# ------------------------------------------------------------------------------- limits
def test_rate_limit_429_then_success_honours_headers(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    net.server.post("hilfe@social.example", "@anna Two days. Tom",
                    in_reply_to_id=row["external_id"])
    ch = channel(study, store)
    ch.me()
    net.server.rate_limit_next(1, reset_in=0.6, path="/context$")
    stats = ch.collect()
    assert stats.matched == 1
    waited = ch.client().waited
    assert waited and 0.2 <= waited[0] <= 2.0  # from X-RateLimit-Reset, not a blind guess
    assert len(net.server.requests_to("GET", f"/{row['external_id']}/context$")) == 2


def test_rate_limit_longer_than_max_wait_is_temporary(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.rate_limit_next(1, reset_in=3600, path="/api/v1/statuses$")
    summary = run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    assert summary.retry_later == 1 and row["state"] == "planned"
    assert "rate limited" in row["error"]


def test_rate_limit_headers_are_read() -> None:
    rl = read_rate_limit({"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0",
                          "x-ratelimit-reset": (datetime.now(UTC) + timedelta(seconds=30))
                          .isoformat().replace("+00:00", "Z")})
    assert rl.limit == 300 and rl.remaining == 0 and 25 < rl.reset_in <= 31
    links = parse_link_header('<https://m.example/api/v1/notifications?max_id=7>; rel="next",'
                              ' <https://m.example/api/v1/notifications?min_id=9>; rel="prev"')
    assert links == {"next": "https://m.example/api/v1/notifications?max_id=7",
                     "prev": "https://m.example/api/v1/notifications?min_id=9"}


# --------------------------------------------------------------------------- credentials
def test_revoked_token_disables_the_channel(tmp_path: Path, net: Net,
                                            caplog: pytest.LogCaptureFixture) -> None:
    study, store = make_study(tmp_path, net)
    net.server.revoke_token(net.token)
    caplog.set_level(logging.DEBUG)
    summary = run(study, store, SystemClock())
    assert "mastodon" in summary.skipped_channels
    assert "revoked" in summary.skipped_channels["mastodon"]
    assert net.token not in summary.skipped_channels["mastodon"]
    with pytest.raises(NotConfigured) as exc:
        channel(study, store).collect()
    assert "social.mastodon.token" in str(exc.value) and net.token not in str(exc.value)
    assert net.token not in caplog.text
    assert_no_token(tmp_path, net.token)


def test_revoked_token_keeps_probes_planned_and_the_run_fails(tmp_path: Path,
                                                               net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.revoke_token(net.token)
    summary = run(study, store, SystemClock())
    rows = probe_rows(store)
    assert rows and all(r["state"] == "planned" and r["attempts"] == 0 for r in rows)
    assert summary.held >= len(rows) and summary.exit_code() == 1
    assert net.server.statuses_of("anna") == []


def test_token_expiring_mid_run_raises_not_configured(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    plan(study, store, SystemClock().now())
    ch = channel(study, store)
    ch.check_configured()
    net.server.revoke_token(net.token)
    pc = probe_context(study, probe_rows(store)[0])
    with pytest.raises(NotConfigured):
        ch.send(pc)
    assert net.server.statuses_of("anna") == []


def test_unset_variable_is_not_configured(tmp_path: Path, net: Net) -> None:
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    with pytest.raises(StudyError):
        load_study(tmp_path, environ={"MASTODON_URL": net.server.url})
    study = load_study(tmp_path, environ={"MASTODON_URL": net.server.url},
                       require_secrets=False)
    with pytest.raises(NotConfigured) as exc:
        channel(study, Store(tmp_path)).check_configured()
    assert "social.mastodon.token is empty" in str(exc.value)


# ------------------------------------------------------------------------- exactly once
def test_lost_answer_is_resolved_from_own_posts_exactly_once(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.fail_next("POST", "^/api/v1/statuses$", mode="drop")
    s1 = run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    assert s1.unknown == 1 and row["state"] == "unknown"
    assert net.token not in (row["error"] or "")
    assert len(net.server.statuses_of("anna")) == 1  # the server did accept it
    s2 = run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    assert row["state"] == "sent" and s2.sent == 0
    assert row["external_id"] == net.server.statuses_of("anna")[0]["id"]
    assert json.loads(row["detail"])["resolved"].startswith("found")
    assert len(net.server.statuses_of("anna")) == 1
    assert len(net.server.requests_to("POST", "^/api/v1/statuses$")) == 1


def test_timeout_after_sending_is_outcome_unknown(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    plan(study, store, SystemClock().now())
    net.server.fail_next("POST", "^/api/v1/statuses$", mode="hang", delay=1.5)
    runner = Runner(study, store, SystemClock(), options={"social_timeout": 0.5})
    summary = RunSummary()
    runner.send_due(summary)
    (row,) = probe_rows(store)
    assert row["state"] == "unknown"
    ch = runner.channels["mastodon"]
    result = ch.resolve_unknown(probe_context(study, row))
    assert result is not None and result.external_id == net.server.statuses_of("anna")[0]["id"]


def test_not_found_among_own_posts_means_not_sent(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.fail_next("POST", "^/api/v1/statuses$", mode="drop")
    run(study, store, SystemClock(), collect=False)
    for st in net.server.statuses_of("anna"):
        net.server.delete(st["id"])  # as if the server had dropped it
    ch = channel(study, store)
    (row,) = probe_rows(store)
    assert ch.resolve_unknown(probe_context(study, row)) is None
    run(study, store, SystemClock(), collect=False)  # back to planned, then sent again
    run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    assert row["state"] == "sent" and len(net.server.statuses_of("anna")) == 1


def test_server_error_before_acceptance_is_temporary(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.fail_next("POST", "^/api/v1/statuses$", mode="503")
    summary = run(study, store, SystemClock(), collect=False)
    (row,) = probe_rows(store)
    assert summary.retry_later == 1 and row["state"] == "planned" and row["next_attempt_at"]
    assert net.server.statuses_of("anna") == []


def test_unknown_outcome_when_own_posts_cannot_be_read(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    plan(study, store, SystemClock().now())
    ch = channel(study, store)
    pc = probe_context(study, probe_rows(store)[0])
    ch.me()
    net.server.fail_next("GET", "/statuses$", mode="503", count=5)
    with pytest.raises(ProbeError) as exc:  # the runner keeps the probe 'unknown'
        ch.resolve_unknown(pc)
    assert exc.value.temporary and not isinstance(exc.value, OutcomeUnknown)


# ----------------------------------------------------------------------------- versions
def test_old_server_versions_avoid_missing_endpoints(tmp_path: Path) -> None:
    server = MastodonAPIServer(domain="old.test", version="3.3.0").start()
    try:
        server.create_account("anna")
        server.create_account("support", domain="social.example")
        net = Net(server, server.create_token("anna"))
        study, store = make_study(tmp_path, net)
        run(study, store, SystemClock())
        assert not server.requests_to("GET", "^/api/v1/accounts/lookup$")
        assert server.requests_to("GET", "^/api/v2/search$")
        notif = server.requests_to("GET", "^/api/v1/notifications$")
        assert notif and all("types[]" not in r.query for r in notif)
        assert probe_rows(store)[0]["state"] == "sent"
    finally:
        server.stop()


def test_version_parsing() -> None:
    assert parse_version("4.3.0+glitch") == (4, 3, 0)
    assert parse_version("4.2") == (4, 2, 0)
    assert parse_version("2.7.2 (compatible; Pleroma 2.5.0)") is None
    assert parse_version("nonsense") is None


# ------------------------------------------------------------------------------- schema
def test_social_section_schema_is_merged_once(tmp_path: Path, net: Net) -> None:
    from servicebench.schema import study_schema

    props = study_schema()["properties"]
    assert set(props["social"]["properties"]) >= {"mastodon", "bluesky", "x"}
    bad = STUDY.replace("max_wait: 30s", "max_wait: 30s\n  myspace: {}")
    (tmp_path / "study.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(StudyError) as exc:
        load_study(tmp_path, environ={"MASTODON_URL": "http://x", "MASTODON_TOKEN": "t"})
    assert "myspace" in str(exc.value)
    plain = STUDY.replace('{handle: "@support@social.example", also: ["@hilfe@social.example"]}',
                          '"@support@social.example"')
    (tmp_path / "study.yaml").write_text(plain, encoding="utf-8")
    load_study(tmp_path, environ={"MASTODON_URL": "http://x", "MASTODON_TOKEN": "t"})
    wrong = STUDY.replace('"@support@social.example", also', '"not a handle!", also')
    (tmp_path / "study.yaml").write_text(wrong, encoding="utf-8")
    with pytest.raises(StudyError) as exc:
        load_study(tmp_path, environ={"MASTODON_URL": "http://x", "MASTODON_TOKEN": "t"})
    assert "not a Mastodon handle" in str(exc.value)


def test_resolve_never_takes_the_same_text_sent_to_another_company(tmp_path: Path,
                                                                    net: Net) -> None:
    net.server.create_account("care", domain="other.example")
    text = STUDY + textwrap.indent(textwrap.dedent("""\
        - id: otherco
          name: Other Co
          channels: {mastodon: "@care@other.example"}
        """), "  ")
    study, store = make_study(tmp_path, net, text=text)
    plan(study, store, SystemClock().now())
    ch = channel(study, store)
    by_company = {r["company_id"]: r for r in probe_rows(store)}
    sent = ch.send(probe_context(study, by_company["exampleco"]))
    store.update_probe(by_company["exampleco"]["id"], SystemClock().now(), state="sent",
                       external_id=sent.external_id)
    assert ch.resolve_unknown(probe_context(study, by_company["otherco"])) is None
    found = ch.resolve_unknown(probe_context(study, by_company["exampleco"]))
    assert found is not None and found.external_id == sent.external_id
