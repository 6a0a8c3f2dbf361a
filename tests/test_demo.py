"""``servicebench demo``: the whole pipeline on the sandbox, checked against its truth."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import cli


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
    assert channels == {"email", "webform"}
    unmeasured = [r for r in rows if not r["difference_seconds"]]
    assert unmeasured == [], unmeasured  # every true reply was collected and matched
    assert all(abs(float(r["difference_seconds"])) < 1.0 for r in rows)
    assert all(r["reply_kind"] == r["measured_kind"] for r in rows), \
        [r for r in rows if r["reply_kind"] != r["measured_kind"]]
    with open(out / "probes.csv", newline="") as fh:
        probes = list(csv.DictReader(fh))
    blocked = [p for p in probes if p["state"] == "blocked"]
    assert blocked and all(p["channel"] == "webform" for p in blocked)  # the captcha form
    html = (out / "report.html").read_text()
    assert "SwiftMobile" in html and "sandbox-password" not in html
