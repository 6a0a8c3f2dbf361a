"""The Bluesky channel: against a small XRPC stub (always), and against the reference
implementation's local network, ``@atproto/dev-env`` (tests marked ``bluesky``; skipped with
the reason when ``tests/bluesky/start-devenv.sh`` cannot start it)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import signal
import subprocess
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from servicebench.channels import ChannelEnv
from servicebench.clock import SystemClock
from servicebench.errors import NotConfigured
from servicebench.probes.social.bluesky import (
    BlueskyChannel,
    mention_facets,
    probe_rkey,
    tid,
    tid_time,
)
from servicebench.runner import plan, probe_context, run
from servicebench.sandbox.bsky_stub import BlueskyXRPCStub
from servicebench.store import Store
from servicebench.study import load_study

HERE = Path(__file__).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def study_yaml(shop: str, help_: str, *, short: str = "", direct: bool = False) -> str:
    short = short or f"Grüße aus Köln! @{shop} wie lange dauert die Lieferung nach Berlin?"
    direct_sc = textwrap.indent(textwrap.dedent("""\
        - id: refund
          subject: Refund
          mode: direct
          body: "Hallo, ich habe Bestellung 4711 retourniert. Wann kommt mein Geld? Anna"
        """), "  ") if direct else ""
    return textwrap.dedent(f"""\
        study: {{id: soc-bsky, title: Bluesky test, language: de, window: 2d}}
        social:
          bluesky: {{service: "${{BSKY_SERVICE}}", handle: "${{BSKY_HANDLE}}",
                     app_password: "${{BSKY_APP_PASSWORD}}"}}
        personas:
          - {{id: anna, name: Anna Berg, email: anna@example.com}}
        scenarios:
          - id: lieferung
            subject: Lieferung
            short: "{short}"
            body: "Hallo, wie lange dauert die Lieferung? Anna"
        """) + direct_sc + textwrap.dedent(f"""\
        companies:
          - id: beispiel
            name: Beispiel AG
            channels:
              bluesky: {{handle: "{shop}", also: ["{help_}"]}}
        """)


def make(tmp_path: Path, service: str, handle: str, password: str, text: str):
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    study = load_study(tmp_path, environ={"BSKY_SERVICE": service, "BSKY_HANDLE": handle,
                                          "BSKY_APP_PASSWORD": password})
    return study, Store(tmp_path)


def channel(study, store, **options: Any) -> BlueskyChannel:
    return BlueskyChannel(ChannelEnv(study, store, SystemClock(), logging.getLogger("t"),
                                     {"bluesky_index_wait": 2.0, **options}))


def rows(store: Store) -> dict[str, Any]:
    return {r["scenario_id"]: r for r in store.probes(channel="bluesky")}


def assert_clean(tmp_path: Path, *values: str) -> None:
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for v in values:
                assert v.encode() not in data, f"secret found in {f}"


# ------------------------------------------------------------------------------ helpers
def test_tid_and_facets() -> None:
    t = tid(1_700_000_000_000_000, 7)
    assert len(t) == 13 and t[0] in "234567abcdefghij"
    assert tid_time(t) == datetime.fromtimestamp(1_700_000_000, UTC)
    due = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert probe_rkey("s", "k", due) == probe_rkey("s", "k", due) != probe_rkey("s", "k2", due)
    text = "Grüße! @shop.test ✓ https://example.com/x."
    (mention, link) = mention_facets(text, {"shop.test": "did:plc:abc"})
    b = text.encode()
    assert b[mention["index"]["byteStart"]:mention["index"]["byteEnd"]] == b"@shop.test"
    assert b[link["index"]["byteStart"]:link["index"]["byteEnd"]] == b"https://example.com/x"
    assert mention["features"][0] == {"$type": "app.bsky.richtext.facet#mention",
                                      "did": "did:plc:abc"}


# ------------------------------------------------------------------------------- stub
class Stub:
    def __init__(self) -> None:
        self.server = BlueskyXRPCStub().start()
        self.anna = self.server.create_account("anna.bsky.test", "app-pw-0123-4567")
        self.shop = self.server.create_account("shop.example.de")
        self.help = self.server.create_account("hilfe.example.de")
        self.stranger = self.server.create_account("someone.bsky.test")
        self.bot = self.server.create_account("shopbot.example.de", labels=["bot"])


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.server.stop()


def stub_study(tmp_path: Path, s: Stub, **kw: Any):
    return make(tmp_path, s.server.url, "anna.bsky.test", "app-pw-0123-4567",
                study_yaml("shop.example.de", "hilfe.example.de", **kw))


def test_stub_send_mention_with_byte_offsets_and_indexed_time(tmp_path: Path,
                                                              stub: Stub) -> None:
    study, store = stub_study(tmp_path, stub, direct=True)
    summary = run(study, store, SystemClock(), collect=False)
    assert summary.sent == 2, summary
    pub, dm = rows(store)["lieferung"], rows(store)["refund"]
    (post,) = stub.server.posts_of("anna.bsky.test")
    rec = post["record"]
    b = rec["text"].encode()
    (facet,) = rec["facets"]
    assert b[facet["index"]["byteStart"]:facet["index"]["byteEnd"]] == b"@shop.example.de"
    assert facet["features"][0]["did"] == stub.shop["did"]
    assert rec["langs"] == ["de"]
    assert pub["external_id"] == post["uri"]
    assert post["uri"].endswith("/" + probe_rkey("soc-bsky", pub["key"],
                                                 datetime.fromisoformat(pub["due_at"])))
    assert pub["sent_time_source"] == "bsky-appview-indexedAt"
    assert pub["sent_at"].startswith(post["indexedAt"][:19])
    assert dm["sent_time_source"] == "bsky-chat-sentAt"
    (msg,) = stub.server.messages
    assert dm["external_id"] == msg.id and "4711" in msg.text
    assert json.loads(dm["detail"])["conversation"] == f"convo:{msg.convo}"
    tokens = list(stub.server.sessions)
    assert_clean(tmp_path, "app-pw-0123-4567", *tokens)


def test_stub_collect_thread_accounts_dm_bot_and_deleted(tmp_path: Path, stub: Stub) -> None:
    study, store = stub_study(tmp_path, stub, direct=True)
    run(study, store, SystemClock(), collect=False)
    pub, dm = rows(store)["lieferung"], rows(store)["refund"]
    s = stub.server
    t0 = datetime.now(UTC).replace(microsecond=0)
    claimed = datetime(2020, 1, 1, tzinfo=UTC)  # a client-written createdAt, not trusted
    canned = s.post("shop.example.de", "@anna.bsky.test Danke für deine Nachricht! Bitte "
                    "schick uns eine DM mit deiner Bestellnummer.", reply_to=pub["external_id"],
                    created_at=claimed, indexed_at=t0 + timedelta(minutes=5),
                    mentions=["anna.bsky.test"])
    human = s.post("hilfe.example.de", "Hallo Anna, ich habe nachgesehen: die Lieferung nach "
                   "Berlin dauert zwei Werktage. Viele Grüße, Jonas", reply_to=canned["uri"],
                   created_at=claimed, indexed_at=t0 + timedelta(minutes=20))
    s.post("someone.bsky.test", "same question here", reply_to=pub["external_id"])
    bot = s.post("shopbot.example.de", "@anna.bsky.test Hi! Ich bin der Beispiel-Bot.",
                 mentions=["anna.bsky.test"], indexed_at=t0 + timedelta(minutes=1))
    s.send_message("anna.bsky.test", "shop.example.de", "Meine Bestellnummer ist 4711")
    dm_answer = s.send_message("shop.example.de", "anna.bsky.test", "Hallo Anna, dein Geld für "
                               "4711 ist unterwegs. Gruß, Mia", sent_at=t0 + timedelta(hours=1))
    text = (tmp_path / "study.yaml").read_text().replace(
        'also: ["hilfe.example.de"]', 'also: ["hilfe.example.de", "shopbot.example.de"]')
    (tmp_path / "study.yaml").write_text(text)
    study = load_study(tmp_path, environ={"BSKY_SERVICE": s.url, "BSKY_HANDLE":
                                          "anna.bsky.test", "BSKY_APP_PASSWORD":
                                          "app-pw-0123-4567"})
    stats = channel(study, store).collect()
    msgs = {m["external_id"]: m for m in store.messages()}
    assert set(msgs) == {canned["uri"], human["uri"], bot["uri"], dm_answer["id"],
                         next(u for u, p in s.posts.items() if p.did == stub.stranger["did"])
                         }, stats
    assert msgs[human["uri"]]["probe_id"] == pub["id"]
    assert msgs[human["uri"]]["match_method"] == "thread"
    assert msgs[human["uri"]]["kind"] == "human"
    assert msgs[human["uri"]]["time_source"] == "bsky-appview-indexedAt"
    assert msgs[human["uri"]]["received_at"] == (t0 + timedelta(minutes=20)).isoformat(
        timespec="milliseconds")
    assert msgs[canned["uri"]]["match_method"] == "in-reply-to"
    assert msgs[canned["uri"]]["kind"] == "automated"
    assert msgs[bot["uri"]]["kind"] == "automated"
    assert msgs[dm_answer["id"]]["probe_id"] == dm["id"]
    assert msgs[dm_answer["id"]]["time_source"] == "bsky-chat-sentAt"
    strangers = [m for m in msgs.values() if m["sender"] == "@someone.bsky.test"]
    assert strangers and strangers[0]["probe_id"] is None
    assert channel(study, store).collect().fetched == 0
    kept = len(store.messages(pub["id"]))
    s.delete(pub["external_id"])
    stats = channel(study, store).collect()
    assert any("is gone" in n for n in stats.notes)
    assert len(store.messages(pub["id"])) == kept >= 2
    assert_clean(tmp_path, "app-pw-0123-4567", *s.sessions)


def test_stub_rate_limit_and_expired_session(tmp_path: Path, stub: Stub) -> None:
    study, store = stub_study(tmp_path, stub)
    run(study, store, SystemClock(), collect=False)
    ch = channel(study, store)
    ch.login()
    before = len(stub.server.requests_to("POST", "createSession"))
    stub.server.rate_limit_next(1, reset_in=0.5, path="getPostThread")
    stub.server.expire_sessions()
    ch.collect()
    assert ch.client().waited and ch.client().waited[0] <= 2.0
    logins = stub.server.requests_to("POST", "createSession")
    assert len(logins) == before + 1  # logged in again after ExpiredToken


def test_stub_refused_app_password_disables_channel(tmp_path: Path, stub: Stub,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    study, store = stub_study(tmp_path, stub)
    stub.server.change_password("anna.bsky.test", "new-password-1")
    summary = run(study, store, SystemClock())
    assert "bluesky" in summary.skipped_channels
    assert "app-pw-0123-4567" not in summary.skipped_channels["bluesky"]
    with pytest.raises(NotConfigured) as exc:
        channel(study, store).collect()
    assert "social.bluesky.app_password" in str(exc.value)
    assert "app-pw-0123-4567" not in str(exc.value) + caplog.text
    assert_clean(tmp_path, "app-pw-0123-4567")


def test_stub_exactly_once_by_record_key(tmp_path: Path, stub: Stub) -> None:
    study, store = stub_study(tmp_path, stub)
    stub.server.fail_next("POST", "createRecord", mode="drop")
    s1 = run(study, store, SystemClock(), collect=False)
    assert s1.unknown == 1
    s2 = run(study, store, SystemClock(), collect=False)
    pub = rows(store)["lieferung"]
    assert pub["state"] == "sent" and s2.sent == 0
    assert json.loads(pub["detail"])["resolved"] == "found by its record key"
    assert len(stub.server.posts_of("anna.bsky.test")) == 1
    # a repeated send with the same record key never makes a second post
    ch = channel(study, store)
    again = ch.send(probe_context(study, pub))
    assert again.external_id == pub["external_id"]
    assert len(stub.server.posts_of("anna.bsky.test")) == 1


def test_stub_not_written_means_not_sent(tmp_path: Path, stub: Stub) -> None:
    study, store = stub_study(tmp_path, stub)
    plan(study, store, SystemClock().now())
    pub = rows(store)["lieferung"]
    assert channel(study, store).resolve_unknown(probe_context(study, pub)) is None


def test_stub_without_chat_service(tmp_path: Path) -> None:
    """Like the dev-env: no chat service behind the PDS (500 from the proxy)."""
    server = BlueskyXRPCStub(chat=False).start()
    try:
        server.create_account("anna.bsky.test", "app-pw-0123-4567")
        server.create_account("shop.example.de")
        server.create_account("hilfe.example.de")
        study, store = make(tmp_path, server.url, "anna.bsky.test", "app-pw-0123-4567",
                            study_yaml("shop.example.de", "hilfe.example.de", direct=True))
        summary = run(study, store, SystemClock())
        r = rows(store)
        assert r["lieferung"]["state"] == "sent"
        # a server error is not a refusal: the direct probe waits for a retry, not posted
        assert r["refund"]["state"] == "planned" and summary.retry_later == 1
        assert any("direct messages not available" in n for n in summary.notes)
    finally:
        server.stop()


def test_stub_dm_refused_goes_public(tmp_path: Path, stub: Stub) -> None:
    stub.server.fail_next("GET", "getConvoForMembers", mode="400")
    study, store = stub_study(tmp_path, stub, direct=True)
    run(study, store, SystemClock(), collect=False)
    refund = rows(store)["refund"]
    detail = json.loads(refund["detail"])
    assert refund["state"] == "sent" and detail["mode"] == "public"
    assert "direct message not possible" in detail["note"]


# --------------------------------------------------------------------------- dev-env
class DevEnv:
    def __init__(self, info: dict[str, Any], proc: subprocess.Popen) -> None:
        self.info = info
        self.proc = proc
        self.pds = info["pds"]

    def xrpc(self, method: str, nsid: str, body: Any = None, token: str | None = None,
             params: str = "") -> Any:
        req = urllib.request.Request(
            f"{self.pds}/xrpc/{nsid}{params}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def account(self, name: str) -> dict[str, Any]:
        handle = f"{name}{secrets.token_hex(3)}.test"
        pw = secrets.token_urlsafe(12)
        a = self.xrpc("POST", "com.atproto.server.createAccount",
                      {"handle": handle, "email": f"{handle}@example.com", "password": pw})
        return {"handle": handle, "did": a["did"], "password": pw, "jwt": a["accessJwt"]}

    def post(self, who: dict[str, Any], text: str, reply_to: dict[str, Any] | None = None,
             created_at: str = "2020-01-01T00:00:00.000Z") -> dict[str, Any]:
        rec: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text,
                               "createdAt": created_at}
        if reply_to:
            ref = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            rec["reply"] = {"root": ref, "parent": ref}
        return self.xrpc("POST", "com.atproto.repo.createRecord",
                         {"repo": who["did"], "collection": "app.bsky.feed.post", "record": rec},
                         who["jwt"])


@pytest.fixture(scope="module")
def devenv() -> Iterator[DevEnv]:
    script = HERE / "bluesky" / "start-devenv.sh"
    if os.environ.get("SERVICEBENCH_BSKY", "") == "0":
        pytest.skip("SERVICEBENCH_BSKY=0: Bluesky dev-env tests turned off")
    proc = subprocess.Popen(["bash", str(script), "start"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + float(os.environ.get("SERVICEBENCH_BSKY_TIMEOUT", "840"))
    info = None
    assert proc.stdout is not None and proc.stderr is not None
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                info = json.loads(line[6:])
                break
    if info is None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        err = ""
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        tail = "\n".join((err or "").strip().splitlines()[-8:])
        pytest.skip(f"the Bluesky dev-env (tests/bluesky/start-devenv.sh) did not start: {tail}")
    yield DevEnv(info, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.bluesky
@pytest.mark.timeout(900)
def test_devenv_probe_replies_deleted_and_exactly_once(tmp_path: Path, devenv: DevEnv) -> None:
    anna = devenv.account("anna")
    shop = devenv.account("shop")
    help_ = devenv.account("hilfe")
    app_pw = devenv.xrpc("POST", "com.atproto.server.createAppPassword", {"name": "sb"},
                         anna["jwt"])["password"]
    short = f"Grüße aus Köln! @{shop['handle']} wie lange dauert die Lieferung nach Berlin?"
    study, store = make(tmp_path, devenv.pds, anna["handle"], app_pw,
                        study_yaml(shop["handle"], help_["handle"], short=short))
    summary = run(study, store, SystemClock(), collect=False)
    assert summary.sent == 1, summary
    pub = rows(store)["lieferung"]
    # the post as the AppView sees it: a real mention facet at the right UTF-8 bytes
    view = devenv.xrpc("GET", "app.bsky.feed.getPosts", token=anna["jwt"],
                       params=f"?uris={pub['external_id']}")["posts"][0]
    b = view["record"]["text"].encode()
    (facet,) = view["record"]["facets"]
    assert b[facet["index"]["byteStart"]:facet["index"]["byteEnd"]] == \
        f"@{shop['handle']}".encode()
    assert facet["features"][0]["did"] == shop["did"]
    assert pub["sent_time_source"] in ("bsky-appview-indexedAt", "bsky-pds-commit-rev")
    # replies: the company, then its second account deeper in the thread
    probe_ref = {"uri": pub["external_id"], "cid": view["cid"]}
    first = devenv.post(shop, "Danke für deine Nachricht! Bitte schick uns eine DM mit "
                        "deiner Bestellnummer.", probe_ref)
    second = devenv.post(help_, "Hallo Anna, ich habe nachgesehen: die Lieferung nach Berlin "
                         "dauert zwei Werktage. Viele Grüße, Jonas", probe_ref)
    msgs: dict[str, Any] = {}
    for _ in range(20):  # the AppView indexes asynchronously
        stats = channel(study, store).collect()
        msgs = {m["external_id"]: m for m in store.messages()}
        if {first["uri"], second["uri"]} <= set(msgs):
            break
        time.sleep(0.5)
    assert {first["uri"], second["uri"]} <= set(msgs), stats
    m2 = msgs[second["uri"]]
    assert m2["probe_id"] == pub["id"] and m2["kind"] == "human"
    # the reply claims createdAt 2020; the AppView echoes that as indexedAt (it reports the
    # earlier of the two), so the PDS-assigned record key's time is used instead
    assert m2["time_source"] in ("bsky-appview-indexedAt", "bsky-rkey-tid")
    assert not m2["received_at"].startswith("2020")
    assert msgs[first["uri"]]["kind"] == "automated"
    assert any("direct messages not available" in n for n in stats.notes)
    # exactly once: a repeated send finds the record key taken and returns the same post
    again = channel(study, store).send(probe_context(study, pub))
    assert again.external_id == pub["external_id"]
    assert channel(study, store).resolve_unknown(probe_context(study, pub)) is not None
    # the probe post deleted: noted, replies kept
    rkey = pub["external_id"].rsplit("/", 1)[1]
    devenv.xrpc("POST", "com.atproto.repo.deleteRecord",
                {"repo": anna["did"], "collection": "app.bsky.feed.post", "rkey": rkey},
                anna["jwt"])
    for _ in range(20):
        stats = channel(study, store).collect()
        if any("is gone" in n for n in stats.notes):
            break
        time.sleep(0.5)
    assert any("is gone" in n for n in stats.notes)
    assert len(store.messages(pub["id"])) >= 2
    assert_clean(tmp_path, app_pw, anna["password"], anna["jwt"])
