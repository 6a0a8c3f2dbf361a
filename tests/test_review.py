"""Classification review (issue 11): uncertain classifications are shown, decided by people
in `servicebench review` / `reclassify`, and the decision counts everywhere; the rubric is
validated like the rest of study.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest_data import T0, add_message, add_probe, at, make_study

from servicebench.cli import cli
from servicebench.clock import CLOCK_ENV, AcceleratedClock
from servicebench.errors import StudyError
from servicebench.inbox import UNCERTAIN_REASON
from servicebench.metrics import probe_outcomes
from servicebench.report import render_html

CLOCK = {CLOCK_ENV: AcceleratedClock(T0.replace(day=20), 1.0).spec()}


def _study(tmp_path: Path) -> tuple:
    study, store = make_study(tmp_path / "s", language="en")
    p1 = add_probe(store, "acme")
    m1 = add_message(store, p1, "human", at(3), text="Thanks, we will check.",
                     reasons=["text: thanks [human +1]", UNCERTAIN_REASON])
    p2 = add_probe(store, "bolt")
    m2 = add_message(store, p2, "automated", at(4), text="Dear Lena Berger, 30 Tage.",
                     reasons=["header: auto [automated +1]", UNCERTAIN_REASON])
    p3 = add_probe(store, "cora")
    add_message(store, p3, "human", at(5), text="Sehr geehrte Frau Berger, 30 Tage Rückgabe.")
    return study, store, (p1, m1), (p2, m2)


def test_inbox_uncertain_and_review_decide(tmp_path: Path) -> None:
    study, store, (p1, m1), (p2, m2) = _study(tmp_path)
    runner = CliRunner(env=CLOCK)
    r = runner.invoke(cli, ["inbox", str(study.folder), "--uncertain"])
    assert r.exit_code == 0, r.output
    assert f"#{m1}" in r.output and f"#{m2}" in r.output and "[uncertain]" in r.output
    assert r.output.count("[uncertain]") == 2
    # decide the first as automated, skip the second
    r = runner.invoke(cli, ["review", str(study.folder), "--by", "lena"], input="a\ns\n")
    assert r.exit_code == 0, r.output
    assert "Thanks, we will check." in r.output and "text: thanks" in r.output
    assert "Recorded 1 decision(s)" in r.output
    rows = probe_outcomes(study, store, at(300)).set_index("probe_id")
    assert rows.loc[p1, "censored"] and rows.loc[p1, "kinds"] == "automated"
    assert rows.loc[p2, "kinds"] == "automated"
    # only the undecided one is left to review
    r = runner.invoke(cli, ["review", str(study.folder)], input="h\n")
    assert f"message #{m2}" in r.output and f"message #{m1}" not in r.output
    rows = probe_outcomes(study, store, at(300)).set_index("probe_id")
    assert rows.loc[p2, "first_human_message_id"] == m2
    r = runner.invoke(cli, ["review", str(study.folder)])
    assert "No uncertain classifications to review." in r.output
    dec = store.query("SELECT * FROM kind_decisions ORDER BY id")
    assert [(d["auto_kind"], d["kind"], d["source"]) for d in dec] == [
        ("human", "automated", "review"), ("automated", "human", "review")]
    assert dec[0]["decided_by"] == "lena" and dec[0]["decided_at"].startswith("2026-03-20")


def test_reclassify_unknown_message_and_kind(tmp_path: Path) -> None:
    study, *_ = _study(tmp_path)
    runner = CliRunner(env=CLOCK)
    r = runner.invoke(cli, ["reclassify", "999", "--as", "human", "--folder", str(study.folder)])
    assert r.exit_code == 1 and "no message 999" in r.output
    r = runner.invoke(cli, ["reclassify", "1", "--as", "person", "--folder", str(study.folder)])
    assert r.exit_code == 2


def test_report_marks_uncertain_and_states_review(tmp_path: Path) -> None:
    study, store, (p1, m1), _ = _study(tmp_path)
    runner = CliRunner(env=CLOCK)
    runner.invoke(cli, ["reclassify", str(m1), "--as", "automated", "--folder",
                        str(study.folder), "--by", "lead"])
    html = render_html(study, store, now=at(300))
    assert "(uncertain)" in html                      # the undecided one
    assert "(set by lead)" in html                    # the decided one
    assert "2 classification(s) were flagged as uncertain; people confirmed 0 and changed 1" \
        in html
    assert "human → automated" in html
    assert "No reply was rated by people" in html
    assert "Automatic criteria" in html and "Quality" in html


RUBRIC = """\
rubric:
  criteria:
    - {id: complete, scale: 5-1}
    - {id: complete, scale: yes-no}
    - {id: tone, scale: {values: [good, good]}}
    - {id: odd, scale: sometimes}
"""


def test_rubric_problems_name_file_line_and_key(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as exc:
        make_study(tmp_path / "s", extra=RUBRIC)
    text = str(exc.value)
    assert "rubric.criteria[0].scale: '5-1': the range must go up" in text
    assert "rubric.criteria[1].id: criterion id 'complete' is used twice" in text
    assert "rubric.criteria[2].scale.values: the values must differ" in text
    assert "rubric.criteria[3].scale" in text
    assert "study.yaml:" in text


def test_scenario_rubric_replaces_adds_and_drops(tmp_path: Path) -> None:
    from servicebench.rating.rubric import rubric_for

    study, _ = make_study(tmp_path / "s", extra=(
        "rubric:\n  criteria:\n    - {id: complete, scale: 1-5, label: {en: Complete, de: "
        "Vollständig}}\n    - {id: solved, scale: yes-partly-no, weight: 3}\n"))
    crits = rubric_for(study, "refund")
    assert [(c.id, c.scale.level, c.weight) for c in crits] == [
        ("complete", "ordinal", 1.0), ("solved", "ordinal", 3.0)]
    assert crits[0].title("de") == "Vollständig"
    assert crits[1].scale.score("partly") == 0.5 and crits[1].scale.read("Teilweise") == "partly"


def test_german_sheet_round_trip_with_phone_notes(tmp_path: Path) -> None:
    """German headings and values (ja/teilweise/nein, richtig/falsch/fehlt); a phone contact
    is rated through the tester's notes, without the checklist line."""
    import openpyxl

    from servicebench.rating.agreement import current_ratings
    from servicebench.rating.sheets import export_sheets, import_sheet

    study, store = make_study(tmp_path / "s", language="de")
    p1 = add_probe(store, "acme")
    add_message(store, p1, "human", at(2), text="Sehr geehrte Frau Berger,\n\nSie haben 30 "
                "Tage Zeit. Acme GmbH erstattet den Betrag.\n\nViele Grüße\nJan Ost\nAcme GmbH")
    p2 = add_probe(store, "bolt", channel="phone")
    add_message(store, p2, "human", at(3), channel="phone",
                text="Freundlich, nannte 30 Tage.\n\nChecklist: 30 Tag.")
    paths = export_sheets(study, store, 1, tmp_path / "out", at(300), seed="s")
    wb = openpyxl.load_workbook(paths[0])
    ws = wb["ratings"]
    keys = [c.value for c in ws[1]]
    heads = [c.value for c in ws[2]]
    assert "Antwort" in heads and "Vollständig (1/2/3/4/5)" in heads
    assert "Problem gelöst (ja/teilweise/nein)" in heads
    replies = [r[keys.index("reply")].value for r in ws.iter_rows(min_row=3)]
    assert any(t.startswith("[Notizen der Testperson") and "Checklist" not in t
               for t in replies)
    assert all("Acme" not in t and "[UNTERNEHMEN]" in t for t in replies if "Berger" in t)
    assert ws.column_dimensions[openpyxl.utils.get_column_letter(
        keys.index("check_kind") + 1)].hidden
    for row in ws.iter_rows(min_row=3):
        row[keys.index("solved")].value = "teilweise"
        row[keys.index("correct#1")].value = "richtig"
        row[keys.index("check_kind")].value = "Mensch"
    wb.save(paths[0])
    result = import_sheet(study, store, paths[0], "anna", at(301))
    assert result == {"rater": "anna", "items": 2, "values": 6, "replaced": False}
    df = current_ratings(store)
    assert set(df[df["criterion"] == "solved"]["value"]) == {"partly"}
    assert set(df[df["criterion"] == "correct"]["fact_id"]) == {"period"}
    assert set(df[df["criterion"] == "check_kind"]["value"]) == {"human"}

    # adjudication checks the item, the criterion and the fact
    from servicebench.errors import ServicebenchError
    from servicebench.rating.agreement import adjudicate

    item = df["item_id"].iloc[0]
    with pytest.raises(ServicebenchError, match="unknown item"):
        adjudicate(study, store, "R-NONE", "solved", "ja", at(302))
    with pytest.raises(ServicebenchError, match="name one with --fact"):
        adjudicate(study, store, item, "correct", "richtig", at(302), fact="nope")
    with pytest.raises(ServicebenchError, match="not on the scale"):
        adjudicate(study, store, item, "solved", "vielleicht", at(302))
    row = adjudicate(study, store, item, "correct", "falsch", at(302), fact="period", by="lead")
    assert row["value"] == "wrong" and row["decided_by"] == "lead"


def test_review_strips_terminal_control_sequences(tmp_path: Path) -> None:
    study, store = make_study(tmp_path / "s", language="en")
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(1), text="hello \x1b]0;pwned\x07\x1b[2J world",
                reasons=[UNCERTAIN_REASON])
    r = CliRunner(env=CLOCK).invoke(cli, ["review", str(study.folder)], input="q\n")
    assert r.exit_code == 0 and "\x1b" not in r.output and "hello ]0;pwned[2J world" in r.output


def test_blinding_names_umlauts_legal_forms_and_signature(tmp_path: Path) -> None:
    from servicebench.rating.blinding import Blinder, strip_inquiry_quotes

    study, _ = make_study(tmp_path / "s")
    b = Blinder.for_study(study)
    text = b.blind("Ihr Team von Cora & Söhne KG, Cora & Soehne und BOLT (bolt.example.de, "
                   "https://www.cora.example.de/hilfe, info@cora.example.de, 030 1234567).\n"
                   "Mit freundlichen Grüßen\nPetra Lang\nKundenbetreuung Nord\n")
    for word in ("Cora", "Soehne", "Söhne", "BOLT", "example", "030"):
        assert word not in text, (word, text)
    assert "Grüßen" in text and "Petra Lang" in text
    assert text.endswith("[UNTERNEHMEN]")
    reply = strip_inquiry_quotes("Ja, das geht.\n\nAm 2. März schrieb Lena Berger:\n> Guten Tag,"
                                 " wie kann ich meine Bestellung zurückgeben?",
                                 "Guten Tag, wie kann ich meine Bestellung zurückgeben?")
    assert reply == "Ja, das geht."
