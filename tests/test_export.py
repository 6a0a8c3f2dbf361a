from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta

import openpyxl
import pytest
from conftest_data import at, make_study, populate

from servicebench.errors import ServicebenchError
from servicebench.export import PROBE_LEAD, XLSX_NAME, export_tables
from servicebench.metrics import CHANNEL_COLUMNS, COMPANY_COLUMNS

NOW = at(10 * 24)
SECRET = "S3cr3t-Imap-Pa55word"


@pytest.fixture()
def data(tmp_path):
    study, store = make_study(tmp_path / "study")
    study.settings = {"mailbox": {"imap": {"host": "imap.example.org", "password": SECRET}}}
    ids = populate(store)
    yield study, store, ids
    store.close()


def read_csv(path) -> list[dict[str, str]]:  # noqa: ANN001
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_files_and_columns(data, tmp_path) -> None:
    study, store, ids = data
    paths = export_tables(study, store, "csv", tmp_path / "out", now=NOW)
    assert [p.name for p in paths] == ["probes.csv", "companies.csv", "channels.csv",
                                       "messages.csv"]
    with open(paths[0], encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header[: len(PROBE_LEAD)] == PROBE_LEAD
    for col in ("probe_id", "state", "acknowledged", "checklist_coverage", "evidence",
                "personal_salutation", "observed_seconds", "window_ends_at"):
        assert col in header
    rows = {int(r["probe_id"]): r for r in read_csv(paths[0])}
    first = rows[ids["acme"][0]]
    assert first["company"] == "Acme GmbH" and first["scenario"] == "refund"
    assert first["persona"] == "lena"
    assert first["sent_at"] == "2026-03-02T08:00:00.000+00:00"  # UTC ISO
    assert first["first_human_reply_at"] == "2026-03-02T10:30:00.000+00:00"
    assert float(first["seconds_to_first_human_reply"]) == 9000.0
    assert first["kinds"] == "automated,human" and first["censored"] == "False"
    assert first["checklist_found"] == "period;label;refund"
    assert first["evidence"].count(";") == 1
    failed = rows[ids["bolt"][1]]
    assert failed["state"] == "failed" and failed["sent_at"] == "" and failed["censored"] == ""
    companies = read_csv(paths[1])
    assert list(companies[0]) == COMPANY_COLUMNS
    cora = next(r for r in companies if r["company_id"] == "cora" and r["channel"] == "all")
    assert cora["km_median_hours"] == "" and cora["rank"] == "3"
    assert cora["n_blocked"] == "1" and cora["n_not_answered"] == "1"
    assert list(read_csv(paths[2])[0]) == CHANNEL_COLUMNS
    assert first["outcome"] == "answered" and failed["outcome"] == "failed"


ISSUE_COLUMNS = ["n_probes", "n_answered", "n_not_answered", "n_pending", "n_failed",
                 "n_blocked", "n_bounced", "answered_share", "answered_share_ci_low",
                 "answered_share_ci_high", "within_1h", "within_24h", "within_72h",
                 "median_hours", "mean_hours", "km_median_hours", "index", "index_ci_low",
                 "index_ci_high", "grade", "rank", "rank_best", "rank_worst", "small_sample"]


def test_exports_carry_the_issue_columns_rounded(data, tmp_path) -> None:
    study, store, _ = data
    paths = export_tables(study, store, "csv", tmp_path / "o", now=NOW)
    for path in paths[1:3]:  # companies.csv, channels.csv (messages.csv has no figures)
        rows = read_csv(path)
        assert set(ISSUE_COLUMNS) <= set(rows[0])
        for r in rows:
            for col in ("answered_share", "within_24h", "index", "mean_hours"):
                if r[col]:
                    assert len(r[col].split(".")[-1]) <= 4, (col, r[col])
    companies = read_csv(paths[1])
    alls = [r for r in companies if r["channel"] == "all"]
    assert {r["company_id"] for r in alls} == {"acme", "bolt", "cora"}
    assert all(r["index"] != "" for r in alls)


def test_xlsx_workbook(data, tmp_path) -> None:
    study, store, ids = data
    paths = export_tables(study, store, "xlsx", tmp_path / "x", now=NOW)
    assert [p.name for p in paths] == [XLSX_NAME]
    wb = openpyxl.load_workbook(paths[0])
    assert wb.sheetnames == ["probes", "companies", "channels", "messages", "columns", "study"]
    ws = wb["probes"]
    header = [c.value for c in ws[1]]
    assert header[:4] == PROBE_LEAD[:4]
    # times in UTC and the study's local time side by side, named so
    i = header.index("sent_at_utc")
    assert header[i + 1] == "sent_at_local" and "sent_at" not in header
    row = [c.value for c in ws[2]]
    assert row[i] == datetime(2026, 3, 2, 8, 0) and row[i].tzinfo is None  # UTC, tz-naive
    assert row[i + 1] == datetime(2026, 3, 2, 9, 0)  # Europe/Berlin
    assert row[header.index("checklist_found")] == "period;label;refund"
    # formats: bold frozen header with autofilter, percent and duration cells
    assert ws["A1"].font.bold and ws.freeze_panes == "A2" and ws.auto_filter.ref
    d = header.index("duration_to_first_human_reply")
    assert header[d - 1] == "seconds_to_first_human_reply"
    assert ws.cell(row=2, column=d + 1).number_format == "[h]:mm"
    assert ws.cell(row=2, column=d + 1).value == timedelta(seconds=9000)  # Excel duration
    comp = wb["companies"]
    ch = [c.value for c in comp[1]]
    assert ch[:3] == COMPANY_COLUMNS[:3]
    assert comp.cell(row=2, column=ch.index("answered_share") + 1).number_format == "0%"
    # messages: reply text, kind and reasons
    msgs = wb["messages"]
    mh = [c.value for c in msgs[1]]
    assert {"text", "kind", "reasons", "received_at_utc", "received_at_local"} <= set(mh)
    kinds = [r[mh.index("kind")] for r in msgs.iter_rows(min_row=2, values_only=True)]
    assert "human" in kinds
    # the column dictionary explains every column of every sheet, with a unit
    described = {(r[0], r[1]): (r[2], r[3])
                 for r in wb["columns"].iter_rows(min_row=2, values_only=True)}
    for name in ("probes", "companies", "channels", "messages"):
        for col in [c.value for c in wb[name][1]]:
            meaning, unit = described[(name, col)]
            assert meaning and unit, (name, col)
    study_sheet = {r[0]: r[1] for r in wb["study"].iter_rows(min_row=2, values_only=True)}
    assert study_sheet["Zeitzone"] == "Europe/Berlin"  # the study is German
    assert study_sheet["Stichtag (UTC)"].startswith("2026-03-12")


def test_csv_for_german_excel(data, tmp_path) -> None:
    study, store, _ = data
    path = export_tables(study, store, "csv", tmp_path / "e", now=NOW, excel=True)[1]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.split(";")[:3] == COMPANY_COLUMNS[:3]
    assert re.search(r";0,\d+;", text)  # decimal comma
    plain = export_tables(study, store, "csv", tmp_path / "p", now=NOW)[1].read_bytes()
    assert not plain.startswith(b"\xef\xbb\xbf") and b";0," not in plain


def test_exports_never_contain_settings(data, tmp_path) -> None:
    study, store, _ = data
    paths = export_tables(study, store, "csv", tmp_path / "c", now=NOW)
    paths += export_tables(study, store, "xlsx", tmp_path / "c", now=NOW)
    for path in paths:
        if path.suffix == ".csv":
            text = path.read_text(encoding="utf-8")
        else:
            wb = openpyxl.load_workbook(path)
            text = " ".join(str(c.value) for ws in wb for r in ws.iter_rows() for c in r)
        assert SECRET not in text and "imap.example.org" not in text


def test_bad_format(data, tmp_path) -> None:
    study, store, _ = data
    with pytest.raises(ServicebenchError):
        export_tables(study, store, "json", tmp_path, now=NOW)


def test_text_sent_says_where_the_short_text_went_out(data, tmp_path) -> None:
    """A form that did not take the whole text got the scenario's short one: the probe's
    export row says so, and so does its evidence card in the report, in both languages."""
    import json

    from servicebench.report import ReportOptions, render_html
    from servicebench.report_context import build_context

    study, store, ids = data
    pid = ids["acme"][0]
    detail = json.loads(store.probe(pid)["detail"] or "{}")
    store.db.execute("UPDATE probes SET detail = ? WHERE id = ?",
                     (json.dumps({**detail, "message_text": "short"}), pid))
    paths = export_tables(study, store, "csv", tmp_path / "out", now=NOW)
    rows = {int(r["probe_id"]): r for r in read_csv(paths[0])}
    assert rows[pid]["text_sent"] == "short"
    assert rows[ids["acme"][1]]["text_sent"] == ""
    for lang, words in (("de", "Kurzfassung des Szenarios"), ("en", "short version")):
        ctx = build_context(study, store, NOW, language=lang, appendix="cards")
        (card,) = [c for c in ctx["cards"] if c["probe_id"] == pid]
        assert card["text_sent"] == "short"
        html = render_html(study, store, now=NOW,
                           options=ReportOptions(language=lang, appendix="cards"))
        assert words in html
