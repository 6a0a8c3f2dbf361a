"""Refused credentials, exit codes, JSON summaries and ``retry`` on real local servers: the
sandbox's SMTP/IMAP servers and Dovecot."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_clock, sandbox_study_yaml

from servicebench.cli import cli
from servicebench.clock import CLOCK_ENV
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.sandbox.smtp_server import SmtpFault
from servicebench.store import Store

COMPANIES = [("fastco", "fast"), ("ackco", "ack-then-silence"), ("silentco", "never")]
WRONG = "typo-in-the-password-42"


def study_folder(tmp_path: Path, yaml_text: str, dotenv: str) -> Path:
    folder = tmp_path / "study"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml_text)
    (folder / ".env").write_text(dotenv)
    return folder


def env_without_password(sb: Sandbox) -> dict[str, str | None]:
    env: dict[str, str | None] = {**sb.env(), CLOCK_ENV: sb.clock.spec()}
    env["SANDBOX_PASSWORD"] = None  # from .env only: that is what the user fixes
    return env


def test_wrong_password_disables_email_keeps_probes_planned_then_fix_sends(
        tmp_path: Path, sandbox: Sandbox) -> None:
    folder = study_folder(tmp_path, sandbox_study_yaml(companies=COMPANIES),
                          f"SANDBOX_PASSWORD={WRONG}\n")
    env = env_without_password(sandbox)
    cli_runner = CliRunner()
    result = cli_runner.invoke(cli, ["run", str(folder), "--json"], env=env)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    assert summary["exit_code"] == 1 and summary["sent"] == 0 and summary["failed"] == 0
    hint = summary["credentials_refused"]["email"]
    assert "535" in hint and "SANDBOX_PASSWORD" in hint and str(folder / ".env") in hint
    assert summary["held"] == 3
    assert WRONG not in result.output
    assert sandbox.smtp.accepted == []
    probes = Store(folder).probes()
    assert [p["state"] for p in probes] == ["planned"] * 3
    assert all(p["attempts"] == 0 for p in probes)  # a refused login is not an attempt

    # the text output names the variable and says the exit code
    result = cli_runner.invoke(cli, ["run", str(folder)], env=env)
    assert result.exit_code == 1
    assert "SANDBOX_PASSWORD" in result.output and WRONG not in result.output

    # the held probes are planned already: retry says so and changes nothing
    result = cli_runner.invoke(cli, ["retry", "--folder", str(folder), "--json",
                                     str(probes[0]["id"])], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["replanned"][0]["was"] == "already planned"

    (folder / ".env").write_text(f"SANDBOX_PASSWORD={sandbox.env()['SANDBOX_PASSWORD']}\n")
    result = cli_runner.invoke(cli, ["run", str(folder), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sent"] == 3
    assert len(sandbox.smtp.accepted) == 3
    assert [p["state"] for p in Store(folder).probes()] == ["sent"] * 3


def test_only_smtp_refused_names_the_smtp_variable_and_still_collects(
        tmp_path: Path, sandbox: Sandbox) -> None:
    text = sandbox_study_yaml(companies=COMPANIES).replace(
        'port: "${SANDBOX_SMTP_PORT}", security: none,\n'
        '         username: "${SANDBOX_USER}", password: "${SANDBOX_PASSWORD}"',
        'port: "${SANDBOX_SMTP_PORT}", security: none,\n'
        '         username: "${SANDBOX_USER}", password: "${SMTP_PASSWORD}"')
    assert "${SMTP_PASSWORD}" in text
    folder = study_folder(tmp_path, text, f"SMTP_PASSWORD={WRONG}\n")
    env = {**sandbox.env(), CLOCK_ENV: sandbox.clock.spec()}
    result = CliRunner().invoke(cli, ["run", str(folder), "--json"], env=env)
    assert result.exit_code == 1, result.output  # nothing due could be sent
    summary = json.loads(result.output)
    assert summary["collect_errors"] == {}  # replies are still collected
    hint = summary["credentials_refused"]["email"]
    assert "SMTP_PASSWORD" in hint and "SANDBOX_PASSWORD" not in hint


def test_watch_with_a_refused_smtp_login_ends_instead_of_spinning(
        tmp_path: Path, sandbox: Sandbox) -> None:
    from datetime import timedelta

    from servicebench import runner
    from servicebench.study import load_study

    folder = study_folder(tmp_path, sandbox_study_yaml(companies=COMPANIES), "")
    study = load_study(folder, environ={**sandbox.env(), "SANDBOX_PASSWORD": WRONG})
    store = Store(folder)
    summary = runner.watch(study, store, sandbox.clock, poll=timedelta(hours=3))
    assert summary.sent == 0 and summary.exit_code() == 1
    assert "email" in summary.refused and summary.held == 3
    assert [p["state"] for p in store.probes()] == ["planned"] * 3


def test_permanent_failure_then_retry_sends_and_keeps_the_failed_attempt(
        tmp_path: Path) -> None:
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast")]
    fault = SmtpFault(refuse_with="550 5.7.1 Rejected as spam", refuse_times=1)
    with Sandbox(make_clock(), tmp_path / "sb", companies, with_forms=False,
                 smtp_fault=fault) as sb:
        folder = study_folder(tmp_path, sandbox_study_yaml(companies=[("fastco", "fast")]), "")
        env = {**sb.env(), CLOCK_ENV: sb.clock.spec()}
        cli_runner = CliRunner()
        result = cli_runner.invoke(cli, ["run", str(folder), "--json"], env=env)
        assert result.exit_code == 1, result.output  # nothing could be sent
        assert json.loads(result.output)["failed"] == 1
        store = Store(folder)
        failed = store.probes()[0]
        assert failed["state"] == "failed"
        evidence_before = [e["path"] for e in store.evidence_for(failed["id"])]
        assert evidence_before

        # a second run does not resend a failed probe by itself
        result = cli_runner.invoke(cli, ["run", str(folder)], env=env)
        assert sb.smtp.accepted == []

        result = cli_runner.invoke(cli, ["retry", "--folder", str(folder), "--json",
                                         str(failed["id"])], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["replanned"][0]["was"] == "failed"
        result = cli_runner.invoke(cli, ["run", str(folder), "--json"], env=env)
        assert result.exit_code == 0, result.output
        assert len(sb.smtp.accepted) == 1
        row = store.probe(failed["id"])
        assert row["state"] == "sent"
        detail = json.loads(row["detail"])
        earlier = detail["previous_attempts"][0]
        assert "550 5.7.1 Rejected as spam" in earlier["error"]
        assert set(evidence_before) <= set(earlier["evidence"])
        for path in evidence_before:
            assert (folder / path).is_file()
        events = [e["event"] for e in store.query(
            "SELECT event FROM events WHERE probe_id = ? ORDER BY id", (failed["id"],))]
        assert events == ["planned->sending", "sending->failed", "failed->planned",
                          "planned->sending", "sending->sent"]

        # retrying a probe that is not failed is refused with exit code 2
        result = cli_runner.invoke(cli, ["retry", "--folder", str(folder), str(failed["id"])],
                                   env=env)
        assert result.exit_code == 2 and "not failed" in result.output
        result = cli_runner.invoke(cli, ["retry", "--folder", str(folder), "999"], env=env)
        assert result.exit_code == 2 and "no probe '999'" in result.output


def test_temporary_failure_says_when_the_next_try_is_due(tmp_path: Path) -> None:
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast")]
    fault = SmtpFault(refuse_with="451 4.7.1 Greylisted, try again later", refuse_times=1)
    with Sandbox(make_clock(1.0), tmp_path / "sb", companies, with_forms=False,
                 smtp_fault=fault) as sb:
        folder = study_folder(tmp_path, sandbox_study_yaml(companies=[("fastco", "fast")]), "")
        env = {**sb.env(), CLOCK_ENV: sb.clock.spec()}
        result = CliRunner().invoke(cli, ["run", str(folder)], env=env)
        assert result.exit_code == 1, result.output
        row = Store(folder).probes()[0]
        assert f"next try due at {row['next_attempt_at']}" in result.output
        result = CliRunner().invoke(cli, ["run", str(folder), "--json"], env=env)
        assert json.loads(result.output)["held"] == 0


def test_validate_and_export_json_and_exit_codes(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "study.yaml").write_text(textwrap.dedent("""\
        study: {id: v, title: V}
        schedule: {windows: {email: "mon-fri 18:00-09:00"}}
        personas: [{id: p, name: Pat Doe, email: pat@shopper.example}]
        scenarios: [{id: s, subject: Hi, body: Hello}]
        companies: [{id: a, name: A, channels: {phone: "+49 1"}}]
        """))
    result = CliRunner().invoke(cli, ["validate", str(folder), "--json"])
    assert result.exit_code == 2
    data = json.loads(result.output)
    assert data["ok"] is False and data["problems"][0]["key"] == "schedule.windows.email"
    assert data["problems"][0]["line"] == 2
    text = (folder / "study.yaml").read_text().replace("18:00-09:00", "09:00-18:00")
    (folder / "study.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(folder), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["ok"] is True
    from servicebench.runner import plan
    from servicebench.study import load_study

    result = CliRunner().invoke(cli, ["export", str(folder), "--json"])
    assert result.exit_code == 0, result.output  # nothing planned yet: empty tables
    plan(load_study(folder), Store(folder), make_clock(1.0).now())
    result = CliRunner().invoke(cli, ["export", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    files = json.loads(result.output)["files"]
    assert any(f.endswith("probes.csv") for f in files)
    assert "wave" in Path(next(f for f in files if f.endswith("probes.csv"))).read_text(
        ).splitlines()[0].split(",")


@pytest.mark.dovecot
def test_dovecot_refuses_the_password_collect_exits_1_then_fix(
        tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "dv"
    folder.mkdir()
    (folder / "study.yaml").write_text(textwrap.dedent(f"""\
        study: {{id: dv, title: Dovecot test, window: 7d}}
        mailbox:
          smtp: {{host: 127.0.0.1, port: 1, security: none}}
          imap: {{host: 127.0.0.1, port: {dovecot.tls_port}, security: tls,
                 username: "${{IMAP_USER}}", password: "${{IMAP_PASSWORD}}",
                 ca_file: "{dovecot.cert}"}}
          sent_copies: none
        personas: [{{id: p, name: Pat Doe, email: pat@shopper.example}}]
        scenarios: [{{id: s, subject: "Opening hours", body: "When are you open? Pat"}}]
        companies:
          - {{id: acme, name: ACME, channels: {{email: help@acme.example}}}}
        """))
    (folder / ".env").write_text(f"IMAP_USER={dovecot.user}\nIMAP_PASSWORD={WRONG}\n")
    env = {CLOCK_ENV: make_clock(1.0).spec()}
    result = CliRunner().invoke(cli, ["collect", str(folder), "--json"], env=env)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    hint = data["credentials_refused"]["email"]
    assert "AUTHENTICATIONFAILED" in hint and "IMAP_PASSWORD" in hint
    assert WRONG not in result.output
    (folder / ".env").write_text(f"IMAP_USER={dovecot.user}\nIMAP_PASSWORD={dovecot.password}\n")
    result = CliRunner().invoke(cli, ["collect", str(folder), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["channels_ok"] == 1
