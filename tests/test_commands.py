"""Commands through CliRunner against the sandbox: dry run, status, inbox, assign, classify,
report and export; hostile messages end to end."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from conftest import sandbox_study_yaml

from servicebench import runner
from servicebench.cli import cli
from servicebench.clock import CLOCK_ENV, parse_utc
from servicebench.sandbox.core import SHOPPER_USER, Sandbox
from servicebench.store import Store
from servicebench.study import load_study


def prepare(tmp_path: Path, sandbox: Sandbox) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "study.yaml").write_text(sandbox_study_yaml(companies=[
        ("fastco", "fast"), ("ackco", "ack-then-silence"), ("silentco", "never")]))
    env = {**sandbox.env(), CLOCK_ENV: sandbox.clock.spec()}
    return folder, env


def test_dry_run_prints_each_probe_and_sends_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    folder, env = prepare(tmp_path, sandbox)
    result = CliRunner().invoke(cli, ["run", str(folder), "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.count("Subject: Switching tariff before my contract ends") == 3
    assert "I have a contract with Fastco" in result.output
    assert "To: service@ackco.sandbox.test" in result.output
    assert "3 probe(s) would be sent. Nothing was sent." in result.output
    assert sandbox.env()["SANDBOX_PASSWORD"] not in result.output
    assert sandbox.smtp.accepted == []
    assert Store(folder).probes() == []  # a dry run leaves no state behind


def test_run_status_inbox_assign_report_export(tmp_path: Path, sandbox: Sandbox) -> None:
    folder, env = prepare(tmp_path, sandbox)
    cli_runner = CliRunner()
    result = cli_runner.invoke(cli, ["run", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert "sent (smtp-response-timestamp)" in result.output
    assert "Planned 3 new, sent 3" in result.output
    # an unrelated message arrives that matches no probe
    sandbox.mail.deliver(SHOPPER_USER, b"From: News <news@shop.example>\r\nTo: x@y.example\r\n"
                         b"Subject: Black Friday!\r\nMessage-ID: <n1@shop.example>\r\n\r\n"
                         b"50% off everything\r\n", sandbox.clock.now().replace(microsecond=0))
    time.sleep(0.3)  # ~100 simulated minutes: the fast company has answered
    result = cli_runner.invoke(cli, ["collect", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    result = cli_runner.invoke(cli, ["status", str(folder), "--json"], env=env)
    rows = {r["company"]: r for r in json.loads(result.output)}
    assert rows["Fastco"]["human"] == 1 and rows["Fastco"]["sent"] == 1
    assert rows["Ackco"]["replied"] == 1 and rows["Ackco"]["human"] == 0
    assert rows["Silentco"]["waiting"] == 1
    result = cli_runner.invoke(cli, ["inbox", str(folder), "--unmatched"], env=env)
    assert "Black Friday!" in result.output
    for m in Store(folder).messages():  # migration 4: filled at ingest
        probs = json.loads(m["probabilities"])
        assert set(probs) == {"automated", "human", "bounce", "unrelated"}, dict(m)
        assert m["uncertain"] in (0, 1)
        assert max(probs, key=probs.get) == m["kind"] or m["uncertain"] == 1
    msg_id = next(m["id"] for m in Store(folder).messages(unmatched=True))
    silent_probe = next(p["id"] for p in Store(folder).probes() if p["company_id"] == "silentco")
    result = cli_runner.invoke(cli, ["assign", str(msg_id), str(silent_probe), "--folder",
                                     str(folder)], env=env)
    assert result.exit_code == 0, result.output
    m = Store(folder).messages(probe_id=silent_probe)
    assert m and m[0]["match_method"] == "manual"
    result = cli_runner.invoke(cli, ["assign", "9999", "1", "--folder", str(folder)], env=env)
    assert result.exit_code != 0 and "no message 9999" in result.output
    for fmt in ("html", "pdf"):
        result = cli_runner.invoke(cli, ["report", str(folder), "--format", fmt], env=env)
        assert result.exit_code == 0, result.output
        assert (folder / f"report.{fmt}").stat().st_size > 1000
    html = (folder / "report.html").read_text()
    assert "Fastco" in html and env["SANDBOX_PASSWORD"] not in html
    result = cli_runner.invoke(cli, ["export", str(folder), "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    probes_csv = (folder / "exports" / "probes.csv").read_text()
    assert "first_human_reply_at" in probes_csv and "fastco" in probes_csv


HOSTILE = [
    # undeclared 8-bit junk and an unknown charset
    b"From: =?x-unknown?B?????==?= <a@fastco.sandbox.test>\r\nSubject: =?utf-8?B?broken\r\n"
    b"Content-Type: text/plain; charset=x-klingon\r\n\r\n\xff\xfe\x00junk \xe4\xf6\xfc\r\n",
    # HTML pointing at local files and remote URLs
    b"From: x@fastco.sandbox.test\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
    b"<img src=\"file:///etc/passwd\"><link rel=stylesheet href=\"http://127.0.0.1:9/x.css\">"
    b"<iframe src=\"file:///etc/shadow\"></iframe><script>alert(1)</script>Hello\r\n",
    # a huge part
    b"From: big@fastco.sandbox.test\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n"
    + b"A" * 6_000_000 + b"\r\n",
    # broken MIME: multipart without a boundary
    b"From: m@fastco.sandbox.test\r\nSubject: mime\r\nContent-Type: multipart/mixed\r\n\r\n"
    b"--nothing\r\nno parts here\r\n",
    # no headers at all
    b"\r\n\r\n",
]


def test_hostile_messages_are_stored_raw_and_never_break_anything(
        tmp_path: Path, sandbox: Sandbox) -> None:
    folder, env = prepare(tmp_path, sandbox)
    study = load_study(folder, environ=env)
    store = Store(folder)
    runner.run(study, store, sandbox.clock)
    at = sandbox.clock.now().replace(microsecond=0)
    for raw in HOSTILE:
        sandbox.mail.deliver(SHOPPER_USER, raw, at)
    summary = runner.run(study, store, sandbox.clock)
    assert summary.notes == []
    stored = {(folder / m["evidence"]).read_bytes() for m in store.messages()}
    for raw in HOSTILE:
        assert raw in stored  # byte for byte
    result = CliRunner().invoke(cli, ["report", str(folder), "--format", "pdf"], env=env)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["report", str(folder), "--format", "html"], env=env)
    html = (folder / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert 'src="file:///etc/passwd"' not in html


def test_classify_command(tmp_path: Path) -> None:
    eml = tmp_path / "ooo.eml"
    eml.write_bytes(b"From: a@b.example\r\nSubject: Automatic reply: your question\r\n"
                    b"Auto-Submitted: auto-replied\r\n\r\nI am out of the office until Monday "
                    b"with limited access to email.\r\n")
    result = CliRunner().invoke(cli, ["classify", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "automated" and data["reasons"]
    assert data["probabilities"]["automated"] > 0.5 and isinstance(data["uncertain"], bool)
    result = CliRunner().invoke(cli, ["classify", str(eml)])
    assert "automated" in result.output and "  - " in result.output
    missing = CliRunner().invoke(cli, ["classify", str(tmp_path / "nope.eml")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output


def test_watch_stops_when_windows_close(tmp_path: Path, sandbox: Sandbox) -> None:
    folder, env = prepare(tmp_path, sandbox)
    study = load_study(folder, environ=env)
    store = Store(folder)
    t0 = time.monotonic()
    runner.watch(study, store, sandbox.clock, poll=timedelta(hours=2))
    assert time.monotonic() - t0 < 30
    assert all(p["state"] == "sent" for p in store.probes())
    ends = [parse_utc(p["window_ends_at"]) for p in store.probes()]
    assert sandbox.clock.now() >= max(e for e in ends if e is not None)
