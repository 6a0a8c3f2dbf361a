"""Follow-ups in the probe's thread after N days without a human reply, measured apart from
the probes; against the sandbox's real SMTP/IMAP servers."""

from __future__ import annotations

import csv
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import make_clock, sandbox_study_yaml

from servicebench import runner
from servicebench.clock import parse_utc
from servicebench.errors import StudyError
from servicebench.export import export_tables
from servicebench.followups import follow_up_outcomes
from servicebench.metrics import probe_outcomes
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.store import Store
from servicebench.study import load_study

FOLLOW_UP = """\
            follow_up:
              after: 1d
              body: |
                Hello again, I have not heard back yet. Could you answer my question?
                {{ persona.name }}
"""


def study_text(companies: list[tuple[str, str]], window: str = "5d") -> str:
    text = sandbox_study_yaml(companies=companies, window=window)
    marker = "        expect:\n"
    assert marker.replace("        ", "    ") in text
    return text.replace("    expect:\n", FOLLOW_UP.replace("            ", "    ") +
                        "    expect:\n", 1)


def test_follow_up_goes_in_the_thread_only_without_a_human_reply(tmp_path: Path) -> None:
    companies = [("fastco", "fast"), ("slowco", "slow"), ("silentco", "never")]
    sb_companies = [SandboxCompany(c, c.capitalize(), f"{c}.sandbox.test", b)
                    for c, b in companies]
    with Sandbox(make_clock(30000.0), tmp_path / "sb", sb_companies, with_forms=False) as sb:
        folder = tmp_path / "study"
        folder.mkdir()
        (folder / "study.yaml").write_text(study_text(companies))
        study = load_study(folder, environ=sb.env())
        assert study.scenarios[0].follow_up["after"] == "1d"
        store = Store(folder)
        summary = runner.watch(study, store, sb.clock, poll=timedelta(hours=2))
        assert summary.sent == 3 and summary.follow_ups_sent == 2
        probes = {p["company_id"]: p for p in store.probes()}
        follow = [m for m in sb.smtp.accepted
                  if b"I have not heard back yet" in m.data]
        assert sorted(m.rcpt_tos[0] for m in follow) == ["service@silentco.sandbox.test",
                                                          "service@slowco.sandbox.test"]
        for m in follow:
            msg = message_from_bytes(m.data)
            cid = m.rcpt_tos[0].split("@")[1].split(".")[0]
            assert msg["In-Reply-To"] == probes[cid]["external_id"]
            assert msg["Subject"] == "Re: Switching tariff before my contract ends"
            sent = parse_utc(probes[cid]["sent_at"])
            assert m.accepted_at - sent >= timedelta(days=1)
        rows = {r["company_id"]: r for r in follow_up_outcomes(study, store, sb.clock.now())}
        assert set(rows) == {"slowco", "silentco"}
        assert rows["silentco"]["state"] == "sent"
        assert rows["silentco"]["seconds_to_human_reply_after_follow_up"] is None
        assert rows["slowco"]["seconds_to_human_reply_after_follow_up"] > 0
        # the probes' own figures are unchanged: one row per probe, follow-ups not counted
        outcomes = probe_outcomes(study, store, sb.clock.now())
        assert len(outcomes) == 3
        paths = export_tables(study, store, "csv", tmp_path / "out", sb.clock.now())
        fu_csv = next(p for p in paths if p.name == "follow_ups.csv")
        with open(fu_csv, newline="") as fh:
            assert {r["company_id"] for r in csv.DictReader(fh)} == {"slowco", "silentco"}
        # evidence of what was sent is kept
        assert any(e["kind"] == "sent-follow-up"
                   for e in store.evidence_for(probes["silentco"]["id"]))
        # running again sends no second follow-up
        again = runner.run(study, store, sb.clock)
        assert again.follow_ups_sent == 0


def test_follow_up_needs_after_and_body(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    text = study_text([("fastco", "fast")]).replace("      after: 1d\n", "")
    (folder / "study.yaml").write_text(text)
    with pytest.raises(StudyError, match=r"follow_up.*'after' is a required property"):
        load_study(folder, environ={"SANDBOX_SMTP_PORT": "1", "SANDBOX_IMAP_PORT": "1",
                                    "SANDBOX_USER": "u", "SANDBOX_PASSWORD": "p"})


def test_follow_up_template_errors_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    text = study_text([("fastco", "fast")]).replace("{{ persona.name }}\n      after",
                                                    "x").replace(
        "I have not heard back yet.", "I have not heard back {{ yet.")
    (folder / "study.yaml").write_text(text)
    with pytest.raises(StudyError, match=r"scenarios\[0\]\.follow_up\.body: template error"):
        load_study(folder, environ={"SANDBOX_SMTP_PORT": "1", "SANDBOX_IMAP_PORT": "1",
                                    "SANDBOX_USER": "u", "SANDBOX_PASSWORD": "p"})


def test_follow_up_after_is_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "study.yaml").write_text(study_text([("fastco", "fast")]).replace(
        "after: 1d", "after: 9999999d"))
    with pytest.raises(StudyError, match=r"follow_up\.after: .*ten years"):
        load_study(folder, environ={"SANDBOX_SMTP_PORT": "1", "SANDBOX_IMAP_PORT": "1",
                                    "SANDBOX_USER": "u", "SANDBOX_PASSWORD": "p"})
