"""The email channel end to end against the sandbox's real SMTP and IMAP servers."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TEST_COMPANIES, make_clock, sandbox_study_yaml

from servicebench import runner
from servicebench.clock import CLOCK_ENV, parse_utc
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.sandbox.smtp_server import SmtpFault
from servicebench.store import Store
from servicebench.study import load_study


def setup_study(tmp_path: Path, sandbox: Sandbox, **kw: str) -> tuple:
    folder = tmp_path / "study"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(sandbox_study_yaml(**kw))
    study = load_study(folder, environ=sandbox.env())
    return study, Store(folder)


def wait_until(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_run_measures_every_company_like_the_ground_truth(tmp_path: Path,
                                                           sandbox: Sandbox) -> None:
    study, store = setup_study(tmp_path, sandbox, window="3d")
    summary = runner.watch(study, store, sandbox.clock, poll=timedelta(hours=3))
    assert summary.sent == len(TEST_COMPANIES)
    # exactly one SMTP transaction per probe
    assert len(sandbox.smtp.accepted) == len(TEST_COMPANIES)
    probes = {p["company_id"]: p for p in store.probes()}
    assert all(p["state"] == "sent" for p in probes.values())
    assert all(p["sent_time_source"] == "smtp-response-timestamp" for p in probes.values())

    kinds: dict[str, list[str]] = {}
    for m in store.messages():
        assert m["probe_id"] is not None, f"unmatched: {m['subject']} ({m['reasons']})"
        assert m["time_source"] == "imap-internaldate"
        cid = store.probe(m["probe_id"])["company_id"]
        kinds.setdefault(cid, []).append(m["kind"])
    assert kinds["fastco"] == ["human"]
    assert kinds["helpco"] == ["automated", "human"]  # helpdesk headers on the human reply
    assert kinds["ackco"] == ["automated"]
    assert kinds["goneco"] == ["bounce"]
    assert kinds["threadco"] == ["automated", "human"]  # new thread matched by quote
    assert "silentco" not in kinds
    methods = {store.probe(m["probe_id"])["company_id"]: m["match_method"]
               for m in store.messages() if m["kind"] == "human"}
    assert methods["threadco"] == "quote"

    # measured reply delays equal the sandbox's truth to well within a second
    with open(sandbox.truth_path) as fh:
        truth = {r["reply_message_id"]: r for r in csv.DictReader(fh) if r["reply_message_id"]}
    checked = 0
    for m in store.messages():
        t = truth[m["message_id"]]
        p = store.probe(m["probe_id"])
        measured = (parse_utc(m["received_at"]) - parse_utc(p["sent_at"])).total_seconds()
        assert abs(measured - float(t["true_delay_seconds"])) < 0.01
        checked += 1
    assert checked == len(truth) >= 7


def test_second_collect_fetches_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    study, store = setup_study(tmp_path, sandbox, companies=[("ackco", "ack-then-silence")])
    runner.run(study, store, sandbox.clock, collect=False)
    wait_until(lambda: sandbox.pending() == 0)
    s1 = runner.run(study, store, sandbox.clock)
    assert s1.collected == 1
    s2 = runner.run(study, store, sandbox.clock)
    assert s2.collected == 0 and s2.sent == 0
    assert len(store.messages()) == 1
    assert len(sandbox.smtp.accepted) == 1


def test_evidence_is_byte_for_byte_and_secrets_never_stored(tmp_path: Path,
                                                            sandbox: Sandbox) -> None:
    study, store = setup_study(tmp_path, sandbox, companies=[("fastco", "fast")])
    runner.watch(study, store, sandbox.clock, poll=timedelta(hours=3))
    msg = store.messages()[0]
    stored = (study.folder / msg["evidence"]).read_bytes()
    delivered = [m.raw for m in sandbox.mail.messages("shopper") if m.raw == stored]
    assert delivered, "stored evidence differs from what the server holds"
    sent_ev = store.evidence_for(store.probes()[0]["id"])
    assert sent_ev[0]["kind"] == "sent-message"
    on_disk = (study.folder / sent_ev[0]["path"]).read_bytes()
    assert on_disk.replace(b"\r\n", b"\n").rstrip() == \
        sandbox.smtp.accepted[0].data.replace(b"\r\n", b"\n").rstrip()
    password = sandbox.env()["SANDBOX_PASSWORD"]
    for path in study.folder.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_temporary_smtp_error_is_retried_and_permanent_recorded(tmp_path: Path) -> None:
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast")]
    fault = SmtpFault(refuse_with="451 4.7.1 Greylisted, try again later", refuse_times=1)
    with Sandbox(make_clock(), tmp_path / "sb", companies, with_forms=False,
                 smtp_fault=fault) as sb:
        study, store = setup_study(tmp_path, sb, companies=[("fastco", "fast")])
        s = runner.run(study, store, sb.clock)
        assert s.retry_later == 1 and s.sent == 0
        p = store.probes()[0]
        assert p["state"] == "planned" and "Greylisted" in p["error"]
        wait_until(lambda: sb.clock.now() > parse_utc(p["next_attempt_at"]))
        s = runner.run(study, store, sb.clock)
        assert s.sent == 1
        assert len(sb.smtp.accepted) == 1
    with Sandbox(make_clock(), tmp_path / "sb2", companies, with_forms=False,
                 smtp_fault=SmtpFault(refuse_with="550 5.7.1 Rejected as spam",
                                      refuse_times=5)) as sb2:
        study2, store2 = setup_study(tmp_path / "two", sb2, companies=[("fastco", "fast")])
        s = runner.run(study2, store2, sb2.clock)
        assert s.failed == 1
        p = store2.probes()[0]
        assert p["state"] == "failed" and "550 5.7.1 Rejected as spam" in p["error"]


@pytest.mark.parametrize("accepted_before_kill", [True, False])
def test_killed_while_sending_never_sends_twice(tmp_path: Path,
                                                accepted_before_kill: bool) -> None:
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast")]
    fault = SmtpFault(hold_seconds=60, store_before_hold=accepted_before_kill)
    clock = make_clock(factor=50.0)
    with Sandbox(clock, tmp_path / "sb", companies, with_forms=False, smtp_fault=fault) as sb:
        study, store = setup_study(tmp_path, sb, companies=[("fastco", "fast")])
        env = {**os.environ, **sb.env(), CLOCK_ENV: clock.spec()}
        proc = subprocess.Popen([sys.executable, "-m", "servicebench.cli", "run",
                                 str(study.folder)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: store.one("SELECT 1 FROM probes WHERE state='sending'")
                       is not None, timeout=30)
            if accepted_before_kill:
                wait_until(lambda: len(sb.smtp.accepted) == 1)
            time.sleep(0.3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert store.probes()[0]["state"] == "sending"
        sb.smtp.fault = None
        s = runner.run(study, store, clock)
        p = store.probes()[0]
        assert p["state"] == "sent"
        if accepted_before_kill:
            assert s.sent == 0, "resent a probe that had been accepted"
            assert p["sent_time_source"] == "sent-folder-internaldate"
            assert len(sb.smtp.accepted) == 1
        else:
            assert s.sent == 1
            assert len(sb.smtp.accepted) == 1
        events = [e["event"] for e in store.query("SELECT event FROM events ORDER BY id")]
        assert "sending->unknown" in events


def test_imap_drop_mid_sync_loses_nothing(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from servicebench.probes.email import imap_sync
    from servicebench.sandbox.imap_server import Fault

    monkeypatch.setattr(imap_sync, "FETCH_BATCH", 1)  # each message its own FETCH
    companies = [SandboxCompany(f"c{i}", f"C{i}", f"c{i}.sandbox.test", "ack-then-silence")
                 for i in range(5)]
    with Sandbox(make_clock(), tmp_path / "sb", companies, with_forms=False) as sb:
        study, store = setup_study(tmp_path, sb,
                                   companies=[(c.id, "ack-then-silence") for c in companies])
        runner.run(study, store, sb.clock, collect=False)
        wait_until(lambda: sb.pending() == 0 and len(sb.mail.messages("shopper")) == 5)
        sb.imap.fault = Fault(drop_connection_after_fetch_items=2)
        s = runner.run(study, store, sb.clock)
        assert any("interrupted" in n or "lost" in n for n in s.notes), s.notes
        assert len(store.messages()) == 1  # the FETCH completed before the drop is stored
        sb.imap.fault = Fault()
        s = runner.run(study, store, sb.clock)
        assert len(store.messages()) == 5, s.notes
        assert len({m["message_id"] for m in store.messages()}) == 5
