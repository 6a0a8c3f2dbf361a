"""``servicebench log``: testers record phone contacts, by options, prompts or CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from servicebench.cli import cli
from servicebench.store import Store

STUDY = textwrap.dedent("""\
    study: {id: hotline, title: Hotline test, language: de, timezone: Europe/Berlin}
    personas: [{id: p, name: Pat Doe, email: pat@shopper.example}]
    scenarios:
      - id: s
        subject: Tarif
        body: Frage
        expect: [{id: frist, label: Frist, any: ["einen Monat"]}]
    companies:
      - {id: acme, name: ACME, channels: {phone: "+49 800 1234567"}}
      - {id: beta, name: Beta, channels: {phone: "+49 800 7654321"}}
    """)


def test_log_by_options_and_by_prompts(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(STUDY)
    runner = CliRunner()
    result = runner.invoke(cli, ["log", str(tmp_path), "--probe", "acme|phone|s|p|1",
                                 "--started-at", "2026-11-24T10:00", "--person-at", "10:12",
                                 "--ended-at", "10:20", "--outcome", "answered",
                                 "--checklist", "frist", "--notes", "freundlich"])
    assert result.exit_code == 0, result.output
    store = Store(tmp_path)
    acme = next(p for p in store.probes() if p["company_id"] == "acme")
    assert acme["state"] == "sent" and acme["sent_time_source"] == "tester-log"
    (msg,) = store.messages(probe_id=acme["id"])
    assert msg["kind"] == "human"
    assert msg["received_at"].startswith("2026-11-24T09:12")  # 10:12 Berlin in UTC
    beta = next(p for p in store.probes() if p["company_id"] == "beta")
    answers = f"{beta['id']}\n2026-11-24T11:00\ngave_up\n\n\n11:45\nWarteschleife\n"
    result = runner.invoke(cli, ["log", str(tmp_path)], input=answers)
    assert result.exit_code == 0, result.output
    assert "beta|phone|s|p|1" in result.output
    beta = Store(tmp_path).probe(beta["id"])
    assert beta["state"] == "sent"
    assert Store(tmp_path).messages(probe_id=beta["id"]) == []  # censored: nobody answered
    again = runner.invoke(cli, ["log", str(tmp_path), "--probe", str(beta["id"]),
                                "--started-at", "2026-11-24T11:00", "--outcome",
                                "no_connection"])
    assert again.exit_code != 0 and "Traceback" not in again.output
