"""Answer quality (issue 11): a full blinded rating round on a sandbox study, imports that
lose nothing, agreement, adjudication, human classification decisions, automatic criteria."""

from __future__ import annotations

import random
import shutil
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

COMPANIES = [("swiftmobile", "SwiftMobile", "fast"), ("slowtel", "SlowTel", "slow"),
             ("vaguenet", "VagueNet", "vague"), ("helpdeskcom", "HelpdeskCom", "helpdesk")]
PERSONAS = [("alex", "Alex Morgan"), ("robin", "Robin Hayes"), ("kim", "Kim Carter")]


def study_yaml(extra: str = "") -> str:
    comp = "\n".join(
        f"  - {{id: {cid}, name: {name}, brands: [{name}Flex], channels: "
        f"{{email: service@{cid}.sandbox.test}}}}" for cid, name, _ in COMPANIES)
    pers = "\n".join(f"  - {{id: {pid}, name: {name}, email: {pid}@shopper.sandbox.test}}"
                     for pid, name in PERSONAS)
    return textwrap.dedent("""\
        study: {id: ratetest, title: Rating test, language: en, window: 5d}
        mailbox:
          smtp: {host: 127.0.0.1, port: "${SANDBOX_SMTP_PORT}", security: none,
                 username: "${SANDBOX_USER}", password: "${SANDBOX_PASSWORD}"}
          imap: {host: 127.0.0.1, port: "${SANDBOX_IMAP_PORT}", security: none,
                 username: "${SANDBOX_USER}", password: "${SANDBOX_PASSWORD}"}
          sent_copies: server
        """) + extra + "personas:\n" + pers + "\n" + textwrap.dedent("""\
        scenarios:
          - id: tariff
            subject: "Switching tariff before my contract ends"
            body: |
              Hello,

              I have a contract with {{ company.name }} that still runs for eight months.
              Can I switch to a bigger tariff before the contract ends, from when would the
              new tariff apply, and does the change cost anything?

              Thank you, {{ persona.name }}
            expect:
              - {id: possible, label: Possible, any: ["possible at any time", "can switch"]}
              - {id: effective, label: From when, any: ["next month"]}
              - {id: fee, label: Fee, any: ["no fee"]}
          - id: cancel
            subject: "How do I cancel my contract?"
            body: |
              Hello,

              how can I cancel my {{ company.name }} contract: what notice period applies
              and in which form?

              Best regards, {{ persona.name }}
            expect:
              - {id: notice, label: Notice period, any: ["one month"]}
              - {id: form, label: Form, any: ["text form", "by email"]}
        companies:
        """) + comp + "\n"


# -- a sandbox study, run once per module ---------------------------------------------------
@pytest.fixture(scope="module")
def rated_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A study run against the sandbox: 4 companies × 2 scenarios × 3 personas by email."""
    from conftest import make_clock

    from servicebench import runner
    from servicebench.sandbox.companies import SandboxCompany
    from servicebench.sandbox.core import Sandbox
    from servicebench.store import Store
    from servicebench.study import load_study

    root = tmp_path_factory.mktemp("rating")
    companies = [SandboxCompany(cid, name, f"{cid}.sandbox.test", beh)
                 for cid, name, beh in COMPANIES]
    sb = Sandbox(make_clock(), root / "sandbox", companies, with_forms=False,
                 with_social=False)
    sb.start()
    try:
        folder = root / "study"
        folder.mkdir()
        (folder / "study.yaml").write_text(study_yaml(), encoding="utf-8")
        study = load_study(folder, environ=sb.env())
        store = Store(folder)
        summary = runner.watch(study, store, sb.clock, poll=timedelta(hours=6))
        assert summary.sent == 24
        store.close()
        yield sb, folder
    finally:
        sb.stop()


def _copy(folder: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "study"
    shutil.copytree(folder, dest)
    return dest


def _open(folder: Path, env: dict[str, str] | None = None) -> tuple:
    from servicebench.store import Store
    from servicebench.study import load_study

    study = load_study(folder, environ=env or {}, require_secrets=False)
    return study, Store(folder)


def _later(sb) -> object:  # type: ignore[no-untyped-def]
    return sb.clock.now() + timedelta(days=10)


def fill(path: Path, value_of) -> None:  # type: ignore[no-untyped-def]
    """Play a rater: fill every applicable criterion cell with ``value_of(item, key, choices)``."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb["ratings"]
    keys = [c.value for c in ws[1]]
    choices = {}
    for dv in ws.data_validations.dataValidation:
        col = str(dv.sqref).split(":")[0].rstrip("0123456789")
        choices[col] = dv.formula1.strip('"').split(",")
    for row in ws.iter_rows(min_row=3):
        item = row[keys.index("item")].value
        n_facts = len((row[keys.index("checklist")].value or "").splitlines())
        for cell, key in zip(row, keys, strict=True):
            if cell.column_letter not in choices or key == "check_kind":
                continue
            if "#" in key and int(key.split("#")[1]) > n_facts:
                continue
            cell.value = value_of(item, key, choices[cell.column_letter])
    wb.save(path)


def test_full_rating_round_agreement_and_adjudication(rated_study, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from servicebench.cli import cli
    from servicebench.rating.agreement import agreement
    from servicebench.rating.quality import quality_scores

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    out = tmp_path / "sheets"
    from servicebench.clock import CLOCK_ENV

    runner = CliRunner(env={CLOCK_ENV: sb.clock.spec()})
    r = runner.invoke(cli, ["rate", "export", str(folder), "--raters", "2", "--out", str(out),
                            "--seed", "7"])
    assert r.exit_code == 0, r.output
    a, b = out / "rater-1.xlsx", out / "rater-2.xlsx"
    import openpyxl

    order = [[row[0].value for row in openpyxl.load_workbook(p)["ratings"].iter_rows(
        min_row=3)] for p in (a, b)]
    assert sorted(order[0]) == sorted(order[1]) and len(order[0]) == 24
    assert order[0] != order[1], "each rater gets an independent random order"

    def same(item: str, key: str, choices: list[str]) -> str:
        return random.Random(f"{item}|{key}").choice(choices)

    fill(a, same)
    fill(b, same)
    for path, name in ((a, "anna"), (b, "ben")):
        r = runner.invoke(cli, ["rate", "import", str(path), "--rater", name, "--folder",
                                str(folder)])
        assert r.exit_code == 0, r.output
    study, store = _open(folder)
    result = agreement(study, store)
    assert result.raters == ["anna", "ben"] and result.n_items == 24
    for c in result.criteria:
        assert c.alpha == pytest.approx(1.0), c
    r = runner.invoke(cli, ["rate", "agreement", str(folder), "--json"])
    assert r.exit_code == 0 and '"alpha": 1.0' in r.output

    # independent random ratings: alpha near 0. Re-import replaces ben's ratings.
    rng = random.Random(11)
    fill(b, lambda item, key, choices: rng.choice(choices))
    fill(a, lambda item, key, choices: rng.choice(choices))
    for path, name in ((a, "anna"), (b, "ben")):
        r = runner.invoke(cli, ["rate", "import", str(path), "--rater", name, "--folder",
                                str(folder)])
        assert r.exit_code == 0 and "replaced" in r.output, r.output
    result = agreement(study, store, top=0)
    alphas = [c.alpha for c in result.criteria if c.alpha is not None]
    assert len(alphas) == 6
    assert all(abs(x) < 0.35 for x in alphas), alphas
    assert abs(sum(alphas) / len(alphas)) < 0.15, alphas
    # history kept: both imports of each rater are stored, one current
    hist = store.query("SELECT rater, replaced, imported_by FROM rating_imports ORDER BY id")
    assert [(h["rater"], h["replaced"]) for h in hist] == [
        ("anna", 1), ("ben", 1), ("anna", 0), ("ben", 0)]
    assert store.one("SELECT COUNT(*) n FROM ratings WHERE current = 0")["n"] > 0

    # adjudicate the largest disagreement on "complete"
    d = next(x for x in result.disagreements if x["criterion"] == "complete")
    r = runner.invoke(cli, ["rate", "adjudicate", d["item_id"], "complete", "5", "--folder",
                            str(folder), "--by", "lead"])
    assert r.exit_code == 0, r.output
    q = quality_scores(study, store, _later(sb))
    row = q[q["item_id"] == d["item_id"]].iloc[0]
    assert row["quality_source"] == "adjudicated" and row["q_complete"] == 1.0
    assert set(q["quality_source"]) <= {"raters", "adjudicated"}
    assert agreement(study, store).n_adjudicated == 1


def test_a_bad_cell_imports_nothing_and_names_the_cell(rated_study, tmp_path: Path) -> None:
    import openpyxl
    from click.testing import CliRunner

    from servicebench.cli import cli
    from servicebench.clock import CLOCK_ENV

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    out = tmp_path / "sheets"
    runner = CliRunner(env={CLOCK_ENV: sb.clock.spec()})
    r = runner.invoke(cli, ["rate", "export", str(folder), "--raters", "1", "--out", str(out),
                            "--csv"])
    assert r.exit_code == 0, r.output
    sheet = out / "rater-1.xlsx"
    fill(sheet, lambda item, key, choices: choices[0])
    wb = openpyxl.load_workbook(sheet)
    ws = wb["ratings"]
    keys = [c.value for c in ws[1]]
    col = keys.index("complete") + 1
    ws.cell(5, col).value = 7                       # outside the scale 1-5
    real_id = ws.cell(6, 1).value
    ws.cell(6, 1).value = "R-NOSUCH"                # an unknown item id
    wb.save(sheet)
    r = runner.invoke(cli, ["rate", "import", str(sheet), "--rater", "anna", "--folder",
                            str(folder)])
    assert r.exit_code == 2
    letter = openpyxl.utils.get_column_letter(col)
    assert f"sheet 'ratings', row 5, column {letter} (complete)" in r.output
    assert "'7' is not on the scale" in r.output
    assert "row 6, column A (item): unknown item id 'R-NOSUCH'" in r.output
    assert "is missing; do not delete rows" in r.output
    assert "nothing was imported" in r.output
    _, store = _open(folder)
    assert store.one("SELECT COUNT(*) n FROM ratings")["n"] == 0
    assert store.one("SELECT COUNT(*) n FROM rating_imports")["n"] == 0

    # the CSV sheet: a value not on a word scale, and a deleted row
    csv_path = out / "rater-1.csv"
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    import csv as csvmod

    rows = list(csvmod.reader(lines))
    head = rows[0]
    for row in rows[1:]:
        row[head.index("complete")] = "3"
    rows[1][head.index("next_step")] = "maybe"
    del rows[2]
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        csvmod.writer(fh).writerows(rows)
    r = runner.invoke(cli, ["rate", "import", str(csv_path), "--rater", "anna", "--folder",
                            str(folder)])
    assert r.exit_code == 2
    col = openpyxl.utils.get_column_letter(head.index("next_step") + 1)
    assert f"row 2, column {col} (next_step): 'maybe' is not on the scale" in r.output
    assert "is missing; do not delete rows" in r.output
    assert store.one("SELECT COUNT(*) n FROM ratings")["n"] == 0

    # a good sheet imports; the same sheet under a second name is a duplicate rater
    wb = openpyxl.load_workbook(sheet)
    wb["ratings"].cell(6, 1).value = real_id
    wb.save(sheet)
    fill(sheet, lambda item, key, choices: choices[-1])
    assert runner.invoke(cli, ["rate", "import", str(sheet), "--rater", "anna", "--folder",
                               str(folder)]).exit_code == 0
    r = runner.invoke(cli, ["rate", "import", str(sheet), "--rater", "bob", "--folder",
                            str(folder)])
    assert r.exit_code == 2 and "already imported for rater 'anna'" in r.output


def _forbidden(study) -> set[str]:  # type: ignore[no-untyped-def]
    """Every company name, id, brand, domain and channel address of the study."""
    words: set[str] = set()
    for c in study.companies:
        words |= {c.name, c.id, *c.brands, *c.domains}
        for target in c.channels.values():
            words.add(str(target))
            words.add(str(target).split("@")[-1])
    return {w.lower() for w in words if w}


def test_blinded_sheets_contain_no_company_trace(rated_study, tmp_path: Path) -> None:
    import csv as csvmod

    import openpyxl

    from servicebench.rating.sheets import export_sheets

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    study, store = _open(folder)
    # a reply that names the company, its brand, web site and address in every way
    store.db.execute(
        "UPDATE messages SET text = ? || text WHERE id = (SELECT MIN(id) FROM messages"
        " WHERE kind = 'human')",
        ("See https://www.swiftmobile.sandbox.test/help, write to "
         "service@swiftmobile.sandbox.test, visit swiftmobile.sandbox.test or ask for "
         "SwiftMobileFlex at Swift Mobile GmbH (SWIFTMOBILE).\nKind regards\nAmy\n"
         "Kundenbetreuung Nord\n\n",))
    paths = export_sheets(study, store, 2, tmp_path / "out", _later(sb), write_csv=True,
                          hide_channel=True)
    forbidden = _forbidden(study)
    cells: list[str] = []
    for p in paths:
        if p.suffix == ".xlsx":
            wb = openpyxl.load_workbook(p)
            for ws in wb.worksheets:
                cells += [str(c.value) for row in ws.iter_rows() for c in row
                          if c.value is not None]
        else:
            with open(p, newline="", encoding="utf-8-sig") as fh:
                cells += [c for row in csvmod.reader(fh) for c in row]
    assert len(cells) > 24 * 4
    leaks = {(w, c[:80]) for c in cells for w in forbidden if w in c.lower()}
    assert not leaks, leaks
    joined = "\n".join(cells)
    assert "[COMPANY]" in joined and "[link]" in joined and "[email]" in joined
    assert "Channel" not in joined  # --hide-channel
    assert "Kundenbetreuung Nord" not in joined  # a signature's company line


def test_a_human_decision_overrides_and_survives_collect(rated_study, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from servicebench.cli import cli
    from servicebench.clock import CLOCK_ENV
    from servicebench.metrics import probe_outcomes

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    study, store = _open(folder, sb.env())
    vague = store.one("SELECT m.id, m.probe_id FROM messages m JOIN probes p ON p.id ="
                      " m.probe_id WHERE p.company_id = 'vaguenet' AND m.kind = 'human'"
                      " ORDER BY m.id LIMIT 1")
    runner = CliRunner(env={**sb.env(), CLOCK_ENV: sb.clock.spec()})
    r = runner.invoke(cli, ["reclassify", str(vague["id"]), "--as", "automated", "--folder",
                            str(folder), "--by", "lead", "--note", "canned text"])
    assert r.exit_code == 0 and "human -> automated (by lead)" in r.output, r.output

    def outcome() -> dict:
        rows = probe_outcomes(study, store, _later(sb))
        return rows[rows["probe_id"] == vague["probe_id"]].iloc[0].to_dict()

    assert outcome()["first_human_reply_at"] is pd_nat() and outcome()["censored"]
    assert outcome()["kinds"] == "automated"

    # collect again, and even re-fetch every message from scratch (new row ids)
    r = runner.invoke(cli, ["collect", str(folder)])
    assert r.exit_code == 0, r.output
    assert outcome()["censored"]
    store.db.execute("DELETE FROM messages")
    store.db.execute("DELETE FROM sync_state")
    store.db.execute("INSERT INTO messages (id, channel, source, external_id, evidence,"
                     " fetched_at) VALUES (1000, 'x', 'placeholder', '1', '-', '-')")
    r = runner.invoke(cli, ["collect", str(folder)])
    assert r.exit_code == 0 and "Collected 30 new" in r.output, r.output
    assert store.one("SELECT MIN(id) n FROM messages WHERE channel = 'email'")["n"] > 1000
    store.db.execute("DELETE FROM messages WHERE id = 1000")
    assert outcome()["censored"] and outcome()["kinds"] == "automated"
    r = runner.invoke(cli, ["inbox", str(folder)])
    assert "set by lead; classifier: human" in r.output
    dec = store.one("SELECT * FROM kind_decisions")
    assert dec["decided_by"] == "lead" and dec["auto_kind"] == "human" and dec["decided_at"]


def pd_nat():  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.NaT


def test_vaguenet_answers_are_templates_and_score_low(rated_study, tmp_path: Path) -> None:
    from servicebench.rating.criteria import checks_for
    from servicebench.rating.quality import quality_scores

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    study, store = _open(folder)
    q = quality_scores(study, store, _later(sb))
    assert len(q) == 24 and set(q["quality_source"]) == {"automatic"}
    by = q.groupby("company_id")
    vague = q[q["company_id"] == "vaguenet"]
    assert vague["template"].all()
    assert all("the same as the reply" in e and "help centre" in e
               for e in vague["template_evidence"])
    assert not q[q["company_id"] != "vaguenet"]["template"].any()
    assert by["quality"].mean()["vaguenet"] < 0.3
    assert by["quality"].mean()["swiftmobile"] > 0.9
    assert by["quality"].mean()["vaguenet"] == min(by["quality"].mean())
    # stored with their evidence, per reply
    checks = checks_for(store, [int(vague["message_id"].iloc[0])])
    stored = {c["check"]: c for c in next(iter(checks.values()))}
    assert stored["template"]["value"] is True and "help centre" in stored["template"]["evidence"]
    assert set(stored) == {"template", "language", "salutation", "signed", "ticket",
                           "readability"}
    import servicebench

    via_api = servicebench.open_study(folder).quality(as_of=_later(sb))
    assert list(via_api["probe_id"]) == list(q["probe_id"])
    swift = q[q["company_id"] == "swiftmobile"].iloc[0]
    assert swift["signed_by_person"] and swift["language_match"]
    assert 30 < swift["readability"] <= 100 and "Flesch" in swift["readability_evidence"]


def test_unchanged_criteria_are_not_written_again(rated_study, tmp_path: Path) -> None:
    """Computing the automatic criteria a second time over the same replies writes nothing
    (a report beside a running collect does not wait for its lock); a changed value is
    written."""
    from servicebench.rating.criteria import refresh_checks

    sb, original = rated_study
    folder = _copy(original, tmp_path)
    study, store = _open(folder)
    order = "SELECT * FROM reply_checks ORDER BY message_key, check_name"
    refresh_checks(study, store, _later(sb))
    rows = [dict(r) for r in store.query(order)]
    assert rows
    first = (rows[0]["message_key"], rows[0]["check_name"])
    store.db.execute("UPDATE reply_checks SET evidence = 'stale' WHERE message_key = ? AND "
                     "check_name = ?", first)
    before = store.db.total_changes
    refresh_checks(study, store, _later(sb) + timedelta(days=1))
    assert store.db.total_changes == before + 1  # only the stale row
    again = [dict(r) for r in store.query(order)]
    assert again[0]["evidence"] == rows[0]["evidence"]
    assert again[0]["computed_at"] != rows[0]["computed_at"]
    assert [r["computed_at"] for r in again[1:]] == [r["computed_at"] for r in rows[1:]]
