"""Waves and monitor mode against the sandbox's real SMTP/IMAP servers; alerts to a local
webhook."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_COMPANIES, make_clock, sandbox_study_yaml

from servicebench import runner
from servicebench.cli import cli
from servicebench.clock import CLOCK_ENV, parse_utc
from servicebench.export import export_tables
from servicebench.metrics import company_table, probe_outcomes
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.store import Store
from servicebench.study import load_study


def write_study(tmp_path: Path, schedule: str, companies: list[tuple[str, str]],
                window: str) -> Path:
    folder = tmp_path / "study"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(sandbox_study_yaml(
        companies=companies, window=window, extra=f"schedule: {schedule}"))
    return folder


def test_two_waves_send_the_study_twice_with_figures_per_wave(tmp_path: Path,
                                                              sandbox: Sandbox) -> None:
    folder = write_study(tmp_path, "{waves: 2, every: 2d, seed: 5, spacing: 10m}",
                         TEST_COMPANIES, "1d")
    study = load_study(folder, environ=sandbox.env())
    store = Store(folder)
    summary = runner.watch(study, store, sandbox.clock, poll=timedelta(hours=3))
    n = len(TEST_COMPANIES)
    assert summary.sent == 2 * n and summary.exit_code() == 0
    assert len(sandbox.smtp.accepted) == 2 * n
    probes = store.probes()
    assert sorted(p["wave"] for p in probes) == [1] * n + [2] * n
    assert all(p["key"].endswith(f"|{p['wave']}") for p in probes)
    first = min(parse_utc(p["due_at"]) for p in probes if p["wave"] == 1)
    second = min(parse_utc(p["due_at"]) for p in probes if p["wave"] == 2)
    assert second - first == timedelta(days=2)
    assert all(parse_utc(p["sent_at"]) >= parse_utc(p["due_at"]) for p in probes)
    # each wave's replies are matched to that wave's probe
    for p in probes:
        for m in store.messages(probe_id=p["id"]):
            assert parse_utc(m["received_at"]) >= parse_utc(p["sent_at"])
    fast = [p for p in probes if p["company_id"] == "fastco"]
    assert all(any(m["kind"] == "human" for m in store.messages(probe_id=p["id"]))
               for p in fast)
    # figures per wave: the outcomes carry the wave, so every table can be cut by it
    outcomes = probe_outcomes(study, store, sandbox.clock.now())
    assert sorted(outcomes["wave"].unique()) == [1, 2]
    for wave in (1, 2):
        table = company_table(outcomes[outcomes["wave"] == wave])
        assert len(table[table["channel"] == "email"]) == n
    result = CliRunner().invoke(cli, ["status", str(folder), "--wave", "2", "--json"],
                               env={**sandbox.env(), CLOCK_ENV: sandbox.clock.spec()})
    assert result.exit_code == 0, result.output
    assert sum(r["sent"] for r in json.loads(result.output)) == n
    paths = export_tables(study, store, "csv", tmp_path / "out", sandbox.clock.now())
    probes_csv = next(p for p in paths if p.name == "probes.csv")
    with open(probes_csv, newline="") as fh:
        waves = {row["wave"] for row in csv.DictReader(fh)}
    assert waves == {"1", "2"}
    result = CliRunner().invoke(cli, ["export", str(folder), "--wave", "2", "--out",
                                      str(tmp_path / "w2"), "--json"],
                               env={**sandbox.env(), CLOCK_ENV: sandbox.clock.spec()})
    assert result.exit_code == 0, result.output
    with open(tmp_path / "w2" / "probes.csv", newline="") as fh:
        assert {row["wave"] for row in csv.DictReader(fh)} == {"2"}
    with open(tmp_path / "w2" / "companies.csv", newline="") as fh:
        fast = [r for r in csv.DictReader(fh) if r["company_id"] == "fastco"]
    assert fast and all(int(float(r["n_probes"])) == 1 for r in fast)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()


def test_monitor_mode_plans_a_wave_per_period_and_alerts_once(tmp_path: Path,
                                                              webhook: str) -> None:
    companies = [("fastco", "fast"), ("silentco", "never")]
    sb_companies = [SandboxCompany(c, c.capitalize(), f"{c}.sandbox.test", b)
                    for c, b in companies]
    with Sandbox(make_clock(20000.0), tmp_path / "sb", sb_companies, with_forms=False) as sb:
        folder = write_study(tmp_path, "{every: 1d, seed: 1}", companies, "2d")
        env = {**sb.env(), CLOCK_ENV: sb.clock.spec()}
        args = ["run", str(folder), "--json", "--alert", "no-human-reply=12h",
                "--alert-webhook", webhook]
        cli_runner = CliRunner()
        result = cli_runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["sent"] == 2
        store = Store(folder)
        assert {p["wave"] for p in store.probes()} == {1, 2}  # the next wave is planned
        anchor = parse_utc(store.plan_value("anchor"))
        while sb.clock.now() < anchor + timedelta(days=1, hours=2):
            time.sleep(0.1)
        result = cli_runner.invoke(cli, args, env=env)
        assert result.exit_code == 4, result.output  # an alert fired
        data = json.loads(result.output)
        assert data["sent"] == 2  # wave 2
        assert [(a["company"], a["wave"], a["rule"]) for a in data["alerts"]] == [
            ("silentco", 1, "no-human-reply")]
        assert {p["wave"] for p in store.probes()} == {1, 2, 3}
        assert len(_Hook.received) == 1
        assert _Hook.received[0]["alerts"][0]["company"] == "silentco"
        assert "no human reply within 12:00:00" in _Hook.received[0]["text"]
        lines = (folder / "alerts.log").read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["probe_id"] == data["alerts"][0][
            "probe_id"]
        # alerts can be mailed through the study's own SMTP account
        result = cli_runner.invoke(cli, ["run", str(folder), "--json", "--alert",
                                         "no-reply=6h", "--alert-email",
                                         "ops@monitor.example"], env=env)
        assert result.exit_code == 4, result.output
        mails = [m for m in sb.smtp.accepted if "ops@monitor.example" in m.rcpt_tos]
        assert len(mails) == 1 and b"no reply at all within" in mails[0].data
        assert b"silentco" in mails[0].data
        # the same probe does not alert twice (wave 2 may have crossed 12 h by now)
        first_alert = data["alerts"][0]["probe_id"]
        result = cli_runner.invoke(cli, args, env=env)
        again = json.loads(result.output)["alerts"]
        assert result.exit_code == (4 if again else 0), result.output
        assert first_alert not in [a["probe_id"] for a in again]
        assert all(a["wave"] >= 2 for a in again)
        assert len(_Hook.received) == 1 + (1 if again else 0)

        # watch mode keeps going wave after wave until stopped
        study = load_study(folder, environ=sb.env())

        def three_waves_sent() -> bool:
            return any(p["wave"] == 3 and p["state"] == "sent" for p in store.probes())

        summary = runner.watch(study, store, sb.clock, poll=timedelta(hours=4),
                               should_stop=three_waves_sent)
        assert three_waves_sent() and summary.sent >= 2


def test_alert_rule_errors_are_bad_input(tmp_path: Path) -> None:
    folder = write_study(tmp_path, "{every: 1d}", [("fastco", "fast")], "1d")
    env = {"SANDBOX_SMTP_PORT": "1", "SANDBOX_IMAP_PORT": "1", "SANDBOX_USER": "u",
           "SANDBOX_PASSWORD": "p", CLOCK_ENV: make_clock(1.0).spec()}
    result = CliRunner().invoke(cli, ["run", str(folder), "--alert", "no-answer=1d"], env=env)
    assert result.exit_code == 2 and "unknown rule" in result.output
    result = CliRunner().invoke(cli, ["run", str(folder), "--alert", "no-reply"], env=env)
    assert result.exit_code == 2 and "no-reply=24h" in result.output
