"""``servicebench demo``: the whole pipeline on the sandbox, checked against its truth."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from servicebench.cli import cli
from servicebench.demo import DEMO_STUDY, _without_forms
from servicebench.sandbox.core import default_companies
from servicebench.sandbox.social_sim import study_channels
from servicebench.study import STUDY_FILE, load_study

CHANNELS = {"email", "webform", "mastodon", "x", "bluesky", "phone"}
ENV = {"SANDBOX_SMTP_PORT": "2525", "SANDBOX_IMAP_PORT": "1143", "SANDBOX_USER": "shopper",
       "SANDBOX_PASSWORD": "pw", "SANDBOX_WEB": "http://127.0.0.1:8025",
       "SANDBOX_MASTODON": "http://127.0.0.1:8026", "SANDBOX_MASTODON_TOKEN": "t1",
       "SANDBOX_X": "http://127.0.0.1:8027", "SANDBOX_X_TOKEN": "t2",
       "SANDBOX_BSKY": "http://127.0.0.1:8028", "SANDBOX_BSKY_HANDLE": "alex.shopper.test",
       "SANDBOX_BSKY_PASSWORD": "pw2"}


@pytest.mark.slow
@pytest.mark.browser
def test_demo_writes_report_and_matches_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("report.pdf", "report.html", "probes.csv", "companies.csv",
                 "servicebench-export.xlsx", "ground_truth.csv", "accuracy.csv"):
        assert (out / name).stat().st_size > 100, name
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    with open(out / "accuracy.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    channels = {r["channel"] for r in rows}
    assert channels == CHANNELS
    unmeasured = [r for r in rows if not r["difference_seconds"]]
    assert unmeasured == [], unmeasured  # every true reply was collected and matched
    assert all(abs(float(r["difference_seconds"])) < 1.0 for r in rows)
    assert all(r["reply_kind"] == r["measured_kind"] for r in rows), \
        [r for r in rows if r["reply_kind"] != r["measured_kind"]]
    # social answers are timed by the servers' own clocks: to the millisecond
    social = [r for r in rows if r["channel"] in ("mastodon", "x", "bluesky")]
    assert all(float(r["difference_seconds"]) == 0.0 for r in social)
    # the helpdesk: a canned "please DM us", then a person (from its second account)
    for net in ("mastodon", "x", "bluesky"):
        assert sorted(r["reply_kind"] for r in social if r["channel"] == net and
                      r["company_id"] == "helpdeskcom") == ["automated", "human"]
    with open(out / "ground_truth.csv", newline="") as fh:
        truth = list(csv.DictReader(fh))
    phone = [t for t in truth if t["channel"] == "phone"]
    assert {t["reply_kind"] for t in phone} == {"human", "none"}  # answered; gave up
    with open(out / "probes.csv", newline="") as fh:
        probes = list(csv.DictReader(fh))
    assert {p["channel"] for p in probes} == CHANNELS
    assert all(p["state"] == "sent" for p in probes if p["channel"] == "phone")
    blocked = [p for p in probes if p["state"] == "blocked"]
    assert blocked and all(p["channel"] == "webform" for p in blocked)  # the captcha form
    html = (out / "report.html").read_text()
    assert "SwiftMobile" in html and "sandbox-password" not in html
    for label in ("Mastodon", "Bluesky", "Phone hotline", "Web form"):
        assert label in html, label
    for secret in ("SANDBOX_MASTODON_TOKEN", "sandbox-app-password"):
        assert secret not in html


def test_demo_study_without_forms_is_valid(tmp_path: Path) -> None:
    text = _without_forms(DEMO_STUDY.read_text(encoding="utf-8"))
    assert "webform" not in text
    (tmp_path / STUDY_FILE).write_text(text, encoding="utf-8")
    study = load_study(tmp_path, environ={k: v for k, v in ENV.items() if k != "SANDBOX_WEB"})
    assert set(study.channels_used()) == CHANNELS - {"webform"}
    cancel = study.scenario("cancellation")
    assert cancel.channels == ["email", "phone"]
    assert all(s.short for s in study.scenarios)


def test_demo_study_is_valid_with_forms(tmp_path: Path) -> None:
    (tmp_path / STUDY_FILE).write_text(DEMO_STUDY.read_text(encoding="utf-8"),
                                       encoding="utf-8")
    study = load_study(tmp_path, environ=ENV)
    assert set(study.channels_used()) == CHANNELS
    helpdesk = study.company("helpdeskcom")
    assert helpdesk.channels["x"] == {"handle": "@HelpdeskComHelp", "also": ["@HelpdeskComTeam"]}
    for co in default_companies():  # the study names the sandbox's own accounts
        want = study_channels(co)
        for net, cfg in study.company(co.id).channels.items():
            if net in want:
                assert cfg == want[net], (co.id, net)


@pytest.mark.slow
def test_demo_exports_satisfy_the_invariants_and_cut_off_reproduces(tmp_path: Path) -> None:
    """Issue 9 on the demo: invariants of its exports, the stored cut-off, and an interim
    report in the middle of the windows (banner, pending counts) versus none at the end."""
    from conftest_data import assert_invariants

    out = tmp_path / "demo"
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--out", str(out), "--no-forms", "--speed", "40000"])
    assert result.exit_code == 0, result.output
    for name, companies in (("companies.csv", True), ("channels.csv", False)):
        with open(out / name, newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        assert_invariants(rows, companies=companies)
    first = (out / "companies.csv").read_text()
    # re-exporting the demo's study without --as-of uses its stored cut-off: same figures
    again = runner.invoke(cli, ["export", str(out / "study"), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again" / "companies.csv").read_text() == first
    with open(out / "probes.csv", newline="") as fh:
        probes = list(csv.DictReader(fh))
    sent = sorted(p["sent_at"] for p in probes if p["sent_at"])
    mid = sent[len(sent) // 2]
    report = runner.invoke(cli, ["report", str(out / "study"), "--format", "html", "--out",
                                 str(tmp_path / "mid.html"), "--as-of", mid])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "mid.html").read_text()
    assert 'class="preliminary"' in html and "pending at the cut-off" in html
    exp = runner.invoke(cli, ["export", str(out / "study"), "--out", str(tmp_path / "mid"),
                              "--as-of", mid])
    assert exp.exit_code == 0, exp.output
    with open(tmp_path / "mid" / "companies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert_invariants(rows)
    assert sum(int(r["n_pending"]) for r in rows if r["channel"] == "all") > 0
    end = (out / "report.html").read_text()
    assert 'class="preliminary"' not in end
    assert all(r["n_pending"] == "0" for r in csv.DictReader(first.splitlines()))
