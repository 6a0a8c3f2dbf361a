"""The sandbox's companies on Mastodon, X and Bluesky, measured against its ground truth.

Fast (accelerated clock): the runner sends real probes to the sandbox's local servers, the
simulated companies answer by their behaviour, and every answer the truth lists must be
collected, matched to its probe, classified as the truth says and timed to the millisecond.
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import make_clock

from servicebench.demo import write_accuracy
from servicebench.runner import watch
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.sandbox.social_sim import NETWORKS, study_channels
from servicebench.store import Store
from servicebench.study import load_study

BEHAVIOURS = [("fastco", "fast"), ("helpco", "helpdesk"), ("ackco", "ack-then-silence"),
              ("silentco", "never"), ("threadco", "new-thread")]


def companies(behaviours: list[tuple[str, str]]) -> list[SandboxCompany]:
    return [SandboxCompany(cid, cid.capitalize(), f"{cid}.sandbox.test", b,
                           reply_from_also=(b == "helpdesk")) for cid, b in behaviours]


def study_yaml(cos: list[SandboxCompany], mode: str = "public") -> str:
    comp = "\n".join(f"  - {{id: {c.id}, name: {c.name}, channels: "
                     f"{json.dumps(study_channels(c))}}}" for c in cos)
    return textwrap.dedent(f"""\
        study: {{id: sbsocial, title: Sandbox social test, language: en, window: 2d}}
        social:
          mastodon: {{instance: "${{SANDBOX_MASTODON}}", token: "${{SANDBOX_MASTODON_TOKEN}}"}}
          x: {{api: "${{SANDBOX_X}}", token: "${{SANDBOX_X_TOKEN}}"}}
          bluesky: {{service: "${{SANDBOX_BSKY}}", handle: "${{SANDBOX_BSKY_HANDLE}}",
                    app_password: "${{SANDBOX_BSKY_PASSWORD}}"}}
        personas:
          - {{id: alex, name: Alex Morgan, email: alex.morgan@shopper.sandbox.test}}
        scenarios:
          - id: tariff
            subject: "Switching tariff before my contract ends"
            mode: {mode}
            short: "Hi {{{{ company.name }}}}, can I switch to a bigger tariff before my
              contract ends? Does it cost anything?"
            body: "Hello {{{{ company.name }}}}, I have a contract that still runs for eight
              months. Can I switch to a bigger tariff before it ends? {{{{ persona.name }}}}"
            expect:
              - {{id: possible, label: possible, any: ["possible at any time"]}}
        companies:
        """) + comp + "\n"


def run_study(tmp_path: Path, cos: list[SandboxCompany], mode: str = "public"
              ) -> tuple[Store, list[dict[str, str]], list[dict[str, str]]]:
    clock = make_clock(30000.0)
    with Sandbox(clock, tmp_path / "sandbox", cos, with_forms=False) as sb:
        study_dir = tmp_path / "study"
        study_dir.mkdir()
        (study_dir / "study.yaml").write_text(study_yaml(cos, mode), encoding="utf-8")
        study = load_study(study_dir, environ=sb.env())
        store = Store(study_dir)
        summary = watch(study, store, clock, poll=timedelta(hours=2))
        assert summary.sent == len(cos) * len(NETWORKS), summary
        assert not summary.skipped_channels and not summary.failed, summary
        assert sb.pending() == 0
    with open(sb.truth_path, newline="") as fh:
        truth = list(csv.DictReader(fh))
    out = write_accuracy(store, sb.truth_path, tmp_path / "accuracy.csv")
    with open(out, newline="") as fh:
        accuracy = list(csv.DictReader(fh))
    return store, truth, accuracy


def assert_exact(accuracy: list[dict[str, str]]) -> None:
    unmeasured = [r for r in accuracy if not r["difference_seconds"]]
    assert unmeasured == [], unmeasured  # collected and matched to a probe
    assert all(float(r["difference_seconds"]) == 0.0 for r in accuracy), accuracy
    wrong = [r for r in accuracy if r["reply_kind"] != r["measured_kind"]]
    assert wrong == [], wrong


@pytest.fixture
def public_run(tmp_path: Path) -> Iterator[tuple[Store, list, list]]:
    yield run_study(tmp_path, companies(BEHAVIOURS))


def test_public_posts_are_answered_and_timed_exactly(public_run: tuple) -> None:
    store, truth, accuracy = public_run
    assert {r["channel"] for r in truth} == set(NETWORKS)
    # the probe's acceptance time is the server's own time of the post, as the tool saw it
    sent = {(p["company_id"], p["channel"]): p for p in store.probes()}
    for t in truth:
        assert t["accepted_at"] == sent[(t["company_id"], t["channel"])]["sent_at"], t
    silent = [t for t in truth if t["company_id"] == "silentco"]
    assert len(silent) == 3 and all(t["reply_kind"] == "none" for t in silent)
    assert_exact(accuracy)
    expected = {"fastco": ["human"], "helpco": ["automated", "human"],
                "ackco": ["automated"], "threadco": ["human"]}
    for net in NETWORKS:
        got: dict[str, list[str]] = {}
        for r in accuracy:
            if r["channel"] == net:
                got.setdefault(r["company_id"], []).append(r["reply_kind"])
        assert {k: sorted(v) for k, v in got.items()} == expected, (net, got)
    msgs = store.query("SELECT m.channel, m.sender, m.match_method, m.time_source, "
                       "p.company_id FROM messages m JOIN probes p ON p.id = m.probe_id")
    assert len(msgs) == len(accuracy)
    by = {(m["company_id"], m["channel"], m["match_method"]): m for m in msgs}
    # helpdesk: the person answers from the second account (listed under also:) by DM;
    # on Mastodon a direct reply to the post, elsewhere a DM matched by account
    assert by[("helpco", "mastodon", "in-reply-to")]["sender"] == "@team@helpco.sandbox.test"
    assert by[("helpco", "x", "account")]["sender"] == "@HelpcoTeam"
    assert by[("helpco", "bluesky", "account")]["sender"] == "@team.helpco.sandbox.test"
    for net in NETWORKS:  # a new post that is no reply: matched by the company's account
        assert (("threadco", net, "account")) in by
    assert {m["time_source"] for m in msgs} == {
        "mastodon-created_at", "x-created_at", "bsky-appview-indexedAt", "bsky-chat-sentAt"}


def test_direct_messages_are_answered_by_direct_message(tmp_path: Path) -> None:
    store, truth, accuracy = run_study(
        tmp_path, companies([("fastco", "fast"), ("helpco", "helpdesk")]), mode="direct")
    assert all(json.loads(p["detail"])["mode"] == "direct" for p in store.probes())
    assert_exact(accuracy)
    assert sorted((r["company_id"], r["channel"], r["reply_kind"]) for r in accuracy) == \
        sorted([(c, n, k) for n in NETWORKS for c, k in
                [("fastco", "human"), ("helpco", "automated"), ("helpco", "human")]])
    assert len(truth) == len(accuracy)
