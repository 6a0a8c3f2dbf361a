"""The X channel against the local X API v2 server (servicebench.sandbox.social_server)."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicebench.channels import ChannelEnv
from servicebench.clock import SystemClock
from servicebench.errors import NotConfigured
from servicebench.probes.social.x import XChannel, snowflake_time
from servicebench.runner import plan, probe_context, run
from servicebench.sandbox.social_server import XAPIServer, snowflake
from servicebench.store import Store
from servicebench.study import load_study

STUDY = textwrap.dedent("""\
    study: {id: soc-x, title: X test, language: de, window: 2d}
    social:
      x: {api: "${X_API}", token: "${X_TOKEN}"}
    personas:
      - {id: anna, name: Anna Berg, email: anna@example.com}
    scenarios:
      - id: lieferung
        subject: Lieferung
        short: "Wie lange dauert die Lieferung nach Berlin?"
        body: >-
          Hallo {{ company.name }}, wie lange dauert die Lieferung nach Berlin?
          Danke, {{ persona.name }}
      - id: erstattung
        subject: Erstattung
        mode: direct
        body: >-
          Hallo, ich habe Bestellung 4711 vor zwei Wochen retourniert.
          Wann kommt mein Geld? Anna
    companies:
      - id: beispiel
        name: Beispiel AG
        channels:
          x: {handle: "@ExampleHilft", also: ["@ExampleDE"]}
    """)


class Net:
    def __init__(self, server: XAPIServer, token: str) -> None:
        self.server, self.token = server, token


@pytest.fixture
def net() -> Iterator[Net]:
    server = XAPIServer().start()
    server.create_user("AnnaBerg", "Anna Berg")
    server.create_user("ExampleHilft", "Beispiel AG Service")
    server.create_user("ExampleDE", "Beispiel AG")
    server.create_user("random_person")
    yield Net(server, server.create_token("AnnaBerg"))
    server.stop()


def make_study(tmp_path: Path, net: Net, text: str = STUDY):
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    study = load_study(tmp_path, environ={"X_API": net.server.url, "X_TOKEN": net.token})
    return study, Store(tmp_path)


def channel(study, store) -> XChannel:
    return XChannel(ChannelEnv(study, store, SystemClock(), logging.getLogger("t")))


def row_of(store: Store, scenario: str):
    return next(r for r in store.probes(channel="x") if r["scenario_id"] == scenario)


def assert_no_token(tmp_path: Path, token: str) -> None:
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert token.encode() not in f.read_bytes(), f"token found in {f}"


def test_send_public_mention_and_direct_message(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    summary = run(study, store, SystemClock(), collect=False)
    assert summary.sent == 2, summary
    pub, dm = row_of(store, "lieferung"), row_of(store, "erstattung")
    (tweet,) = net.server.tweets_of("AnnaBerg")
    assert tweet["text"] == "@ExampleHilft Wie lange dauert die Lieferung nach Berlin?"
    assert pub["external_id"] == tweet["id"]
    assert pub["sent_time_source"] == "x-created_at"
    assert pub["sent_at"].startswith(tweet["created_at"][:19])
    detail = json.loads(pub["detail"])
    assert detail["url"].endswith(f"/AnnaBerg/status/{tweet['id']}")
    ev = json.loads((tmp_path / detail["sent_evidence"]).read_text())
    assert ev["create"]["id"] == tweet["id"] and ev["lookup"]["data"]["created_at"]
    (event,) = net.server.dms.values()
    assert dm["external_id"] == event.id and "4711" in event.text
    assert dm["sent_time_source"] == "x-snowflake-id"
    assert abs(datetime.fromisoformat(dm["sent_at"]) - event.created_at) < timedelta(seconds=1)
    assert json.loads(dm["detail"])["conversation"] == f"dm:{event.conversation_id}"
    (req,) = net.server.requests_to("POST", "^/2/tweets$")
    assert req.headers["authorization"] == f"Bearer {net.token}"
    assert_no_token(tmp_path, net.token)


def test_collect_thread_second_account_dm_and_deleted_probe(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    pub, dm = row_of(store, "lieferung"), row_of(store, "erstattung")
    s = net.server
    t0 = datetime.now(UTC).replace(microsecond=0)
    canned = s.post("ExampleHilft", "@AnnaBerg Danke für deine Nachricht! Bitte schick uns eine "
                    "DM mit deiner Bestellnummer.", in_reply_to=pub["external_id"],
                    created_at=t0 + timedelta(minutes=3))
    other = s.post("ExampleDE", "@AnnaBerg Hallo Anna, ich habe nachgesehen: die Lieferung nach "
                   "Berlin dauert zwei Werktage. Viele Grüße, Jonas",
                   in_reply_to=pub["external_id"], created_at=t0 + timedelta(minutes=30))
    s.post("random_person", "@AnnaBerg @ExampleHilft bei mir auch!!",
           in_reply_to=canned["id"], created_at=t0 + timedelta(minutes=31))
    dm_answer = s.send_dm("ExampleHilft", "AnnaBerg", "Hallo Anna, die Erstattung für 4711 ist "
                          "gestern rausgegangen. Gruß, Mia", created_at=t0 + timedelta(hours=2))
    stats = channel(study, store).collect()
    msgs = {m["external_id"]: m for m in store.messages()}
    assert set(msgs) == {canned["id"], other["id"], dm_answer["dm_event_id"]}, stats
    assert msgs[other["id"]]["probe_id"] == pub["id"]
    assert msgs[other["id"]]["match_method"] == "in-reply-to"
    assert msgs[other["id"]]["kind"] == "human"
    assert msgs[other["id"]]["received_at"] == (t0 + timedelta(minutes=30)).isoformat(
        timespec="milliseconds")
    assert msgs[canned["id"]]["kind"] == "automated"
    assert msgs[dm_answer["dm_event_id"]]["probe_id"] == dm["id"]
    assert msgs[dm_answer["dm_event_id"]]["match_method"] == "thread"
    assert msgs[dm_answer["dm_event_id"]]["time_source"] == "x-created_at"
    # incremental: nothing new the second time
    assert channel(study, store).collect().fetched == 0
    mentions = s.requests_to("GET", "/mentions$")
    assert "since_id" in mentions[-1].query
    # the probe post is deleted: noted, nothing lost, no crash
    s.delete(pub["external_id"])
    stats = channel(study, store).collect()
    assert any("is gone" in n for n in stats.notes)
    assert len(store.messages(pub["id"])) == 2
    assert_no_token(tmp_path, net.token)


def test_rate_limit_429_then_success(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    run(study, store, SystemClock(), collect=False)
    ch = channel(study, store)
    ch.me()
    net.server.rate_limit_next(1, reset_in=0.5, path="/mentions$")
    ch.collect()
    assert ch.client().waited and ch.client().waited[0] <= 2.0
    assert len(net.server.requests_to("GET", "/mentions$")) == 2


def test_expired_token_disables_channel(tmp_path: Path, net: Net,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    study, store = make_study(tmp_path, net)
    net.server.revoke_token(net.token)
    summary = run(study, store, SystemClock())
    assert "x" in summary.skipped_channels
    assert net.token not in summary.skipped_channels["x"]
    with pytest.raises(NotConfigured) as exc:
        channel(study, store).collect()
    assert "social.x.token" in str(exc.value) and net.token not in str(exc.value)
    assert net.token not in caplog.text
    assert_no_token(tmp_path, net.token)


def test_lost_answer_resolved_from_own_posts(tmp_path: Path, net: Net) -> None:
    study, store = make_study(tmp_path, net)
    net.server.fail_next("POST", "^/2/tweets$", mode="drop")
    net.server.fail_next("POST", "/messages$", mode="drop")
    s1 = run(study, store, SystemClock(), collect=False)
    assert s1.unknown == 2
    s2 = run(study, store, SystemClock(), collect=False)
    pub, dm = row_of(store, "lieferung"), row_of(store, "erstattung")
    assert pub["state"] == "sent" and dm["state"] == "sent" and s2.sent == 0
    assert len(net.server.tweets_of("AnnaBerg")) == 1 and len(net.server.dms) == 1
    assert pub["external_id"] == net.server.tweets_of("AnnaBerg")[0]["id"]
    assert json.loads(dm["detail"])["resolved"].startswith("found")
    assert len(net.server.requests_to("POST", "^/2/tweets$")) == 1


def test_duplicate_content_refusal_is_taken_as_already_posted(tmp_path: Path,
                                                              net: Net) -> None:
    study, store = make_study(tmp_path, net)
    plan(study, store, SystemClock().now())
    ch = channel(study, store)
    pc = probe_context(study, row_of(store, "lieferung"))
    first = ch.send(pc)
    second = ch.send(pc)
    assert second.external_id == first.external_id
    assert len(net.server.tweets_of("AnnaBerg")) == 1


def test_snowflake_time_roundtrip() -> None:
    dt = datetime(2026, 11, 24, 9, 30, 15, 123000, tzinfo=UTC)
    assert snowflake_time(snowflake(dt, 5)) == dt
    assert snowflake_time("nope") is None
