"""Blinded rating sheets: export one XLSX (and CSV) per rater, import them back, validated.

A sheet has one row per reply to rate (the first human reply of each probe; for phone and
chat contacts the tester's notes), identified only by an opaque item id. Row 1 holds the
column keys (hidden), row 2 the headings, data starts in row 3. Criterion columns carry
Excel data-validation lists; cells of criteria that do not apply to a row are grey and must
stay empty. A hidden column lets raters confirm the classification (human / automated /
other). Each rater gets an independent random order (seeded; the seed is stored).

Import validates every cell and imports nothing if anything is wrong; each problem names the
sheet, row and column. Re-importing replaces that rater's ratings; earlier imports stay in
the database (``current = 0``) with who imported them and when.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import Problem, StudyError
from ..store import Store
from ..study import Study
from .agreement import CHECK_KIND, CHECK_VALUES
from .blinding import Blinder, strip_inquiry_quotes
from .criteria import first_replies, inquiry_text
from .overrides import current_user, message_key
from .rubric import Criterion, all_criteria, rubric_for, text_in

SHEET = "ratings"
META = "_meta"
RUBRIC = "rubric"
HEADINGS = {
    "en": {"item": "Item", "channel": "Channel", "inquiry": "Inquiry", "reply": "Reply",
           "checklist": "Checklist facts (for the 'correct' columns)", "comment": "Comment",
           CHECK_KIND: "Classification: human / automated / other",
           "notes": "[Notes of the tester who made the contact]"},
    "de": {"item": "Nr.", "channel": "Kanal", "inquiry": "Anfrage", "reply": "Antwort",
           "checklist": "Prüfpunkte (für die Spalten 'richtig')", "comment": "Kommentar",
           CHECK_KIND: "Einstufung: Mensch / automatisch / sonstiges",
           "notes": "[Notizen der Testperson, die den Kontakt hatte]"},
}
CHECK_LABELS = {"en": {"human": "human", "automated": "automated", "other": "other"},
                "de": {"human": "Mensch", "automated": "automatisch", "other": "sonstiges"}}
TEXT_COLUMNS = ("item", "channel", "inquiry", "reply", "checklist")


class SheetError(StudyError):
    """A rating sheet has problems; nothing was imported."""


@dataclass
class Row:
    item_id: str
    probe: Any
    message: dict[str, Any]
    criteria: list[Criterion]
    facts: list[Any]


def _item_id(store: Store, message: dict[str, Any], probe_id: int, now: str) -> str:
    key = message_key(message)
    row = store.one("SELECT item_id FROM rating_items WHERE message_key = ?", (key,))
    if row is not None:
        store.db.execute("UPDATE rating_items SET message_id = ? WHERE item_id = ?",
                         (message["id"], row["item_id"]))
        return str(row["item_id"])
    while True:
        item = "R-" + secrets.token_hex(3).upper()
        if store.one("SELECT 1 FROM rating_items WHERE item_id = ?", (item,)) is None:
            break
    store.db.execute("INSERT INTO rating_items (item_id, message_key, message_id, probe_id,"
                     " created_at) VALUES (?, ?, ?, ?, ?)",
                     (item, key, message["id"], probe_id, now))
    return item


def rows_to_rate(study: Study, store: Store, now: datetime) -> list[Row]:
    from ..clock import utc_iso

    out = []
    for _, r in first_replies(study, store, now).iterrows():
        facts = list(study.scenario(r["scenario_id"]).expect) if r["scenario_id"] in {
            s.id for s in study.scenarios} else []
        out.append(Row(_item_id(store, r["message"], int(r["probe_id"]), utc_iso(now)), r,
                       r["message"], rubric_for(study, r["scenario_id"]), facts))
    return out


def columns(study: Study, hide_channel: bool) -> list[str]:
    """Column keys: text columns, then one per criterion (``id#n`` per checklist fact)."""
    keys = [k for k in TEXT_COLUMNS if not (hide_channel and k == "channel")]
    n_facts = max((len(s.expect) for s in study.scenarios), default=0)
    for c in all_criteria(study):
        keys += [f"{c.id}#{n}" for n in range(1, n_facts + 1)] if c.scale.spec == "facts" \
            else [c.id]
    return keys + ["comment", CHECK_KIND]


def _split(key: str) -> tuple[str, int]:
    cid, _, n = key.partition("#")
    return cid, int(n) if n else 0


def _heading(study: Study, key: str) -> str:
    lang = study.language
    if key in HEADINGS[lang]:
        return HEADINGS[lang][key]
    cid, n = _split(key)
    crit = next(c for c in all_criteria(study) if c.id == cid)
    title = crit.title(lang)
    return f"{title}: {n}" if n else f"{title} ({'/'.join(crit.scale.choices(lang))})"


def _applies(row: Row, key: str) -> Criterion | None:
    cid, n = _split(key)
    crit = next((c for c in row.criteria if c.id == cid), None)
    if crit is None or (n and n > len(row.facts)) or (crit.scale.spec == "facts") != bool(n):
        return None
    return crit


def _texts(study: Study, store: Store, row: Row, blinder: Blinder) -> dict[str, str]:
    from ..channels import get_channel
    from ..report import _channel_label

    lang = study.language
    inquiry = inquiry_text(store, int(row.probe["probe_id"]))
    reply = strip_inquiry_quotes(row.message.get("text") or "", inquiry)
    try:
        manual = get_channel(row.probe["channel"]).kind == "manual"
    except Exception:  # noqa: BLE001
        manual = False
    if manual:
        reply = "\n".join(ln for ln in reply.splitlines() if not ln.startswith("Checklist: "))
        reply = HEADINGS[lang]["notes"] + "\n" + reply.strip()
    return {
        "item": row.item_id, "channel": _channel_label(row.probe["channel"]),
        "inquiry": blinder.blind(inquiry_text(store, int(row.probe["probe_id"]), True)
                                 or _rendered(study, row.probe)),
        "reply": blinder.blind(reply),
        "checklist": "\n".join(f"{i}. {f.label}" for i, f in enumerate(row.facts, 1)),
    }


def _rendered(study: Study, probe: Any) -> str:
    """The inquiry of a probe that stored none (a manual contact): the scenario rendered."""
    try:
        sc = study.scenario(probe["scenario_id"])
        text = study.render(sc.body, study.persona(probe["persona_id"]),
                            study.company(probe["company_id"]), sc)
        return f"{sc.subject}\n\n{text}".strip()
    except (StopIteration, StudyError):
        return ""


def export_sheets(study: Study, store: Store, raters: int, out: Path, now: datetime, *,
                  write_csv: bool = False, hide_channel: bool = False,
                  seed: str | None = None) -> list[Path]:
    """Write ``rater-N.xlsx`` (and ``rater-N.csv``) for N = 1..raters; return the files."""
    from ..clock import utc_iso

    if raters < 1:
        raise StudyError("--raters must be at least 1")
    rows = rows_to_rate(study, store, now)
    if not rows:
        raise StudyError("no human replies to rate yet; run servicebench collect first")
    blinder = Blinder.for_study(study)
    seed = seed or secrets.token_hex(4)
    keys = columns(study, hide_channel)
    texts = {r.item_id: _texts(study, store, r, blinder) for r in rows}
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for n in range(1, raters + 1):
        order = list(rows)
        random.Random(f"{seed}:{n}").shuffle(order)
        sheet_id = secrets.token_hex(6)
        xlsx = out / f"rater-{n}.xlsx"
        _write_xlsx(study, xlsx, sheet_id, keys, order, texts)
        paths.append(xlsx)
        if write_csv:
            csv_path = out / f"rater-{n}.csv"
            with open(csv_path, "w", newline="", encoding="utf-8-sig") as fh:
                w = csv.writer(fh)
                w.writerow(["sheet", *keys])
                for r in order:
                    w.writerow([sheet_id, *(texts[r.item_id].get(k, "") for k in keys)])
            paths.append(csv_path)
        store.db.execute("INSERT INTO rating_sheets (sheet_id, rater_no, seed, items, columns,"
                         " created_at, file) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (sheet_id, n, seed, json.dumps([r.item_id for r in order]),
                          json.dumps(keys), utc_iso(now), xlsx.name))
    return paths


def _write_xlsx(study: Study, path: Path, sheet_id: str, keys: list[str], order: list[Row],
                texts: dict[str, dict[str, str]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lang = study.language
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(keys)
    ws.append([_heading(study, k) for k in keys])
    grey = PatternFill("solid", fgColor="DDDDDD")
    for r in order:
        ws.append([texts[r.item_id].get(k, "") for k in keys])
    last = len(order) + 2
    ws.row_dimensions[1].hidden = True
    ws.freeze_panes = "B3"
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for j, key in enumerate(keys, 1):
        letter = get_column_letter(j)
        wide = key in ("inquiry", "reply")
        ws.column_dimensions[letter].width = 60 if wide else (32 if key in (
            "checklist", "comment") else 14)
        if key in TEXT_COLUMNS:
            for i in range(3, last + 1):
                ws.cell(i, j).alignment = Alignment(wrap_text=True, vertical="top")
            continue
        if key == "comment":
            continue
        if key == CHECK_KIND:
            choices = list(CHECK_LABELS[lang].values())
            ws.column_dimensions[letter].hidden = True
        else:
            cid, _ = _split(key)
            crit = next(c for c in all_criteria(study) if c.id == cid)
            choices = crit.scale.choices(lang)
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"',
                            allow_blank=True, showErrorMessage=True,
                            errorTitle="servicebench", error=", ".join(choices))
        ws.add_data_validation(dv)
        dv.add(f"{letter}3:{letter}{last}")
        for i, r in enumerate(order, 3):
            if key != CHECK_KIND and _applies(r, key) is None:
                ws.cell(i, j).fill = grey
    rub = wb.create_sheet(RUBRIC)
    rub.append(["criterion", "scale", "weight", "what to judge"] if lang == "en" else
               ["Kriterium", "Skala", "Gewicht", "Was zu beurteilen ist"])
    for c in all_criteria(study):
        rub.append([c.title(lang), " / ".join(c.scale.choices(lang)), c.weight,
                    text_in(c.help, lang)])
    rub.column_dimensions["A"].width = 28
    rub.column_dimensions["D"].width = 70
    meta = wb.create_sheet(META)
    meta.append(["sheet", sheet_id])
    meta.append(["format", 1])
    meta.sheet_state = "hidden"
    wb.save(path)


# -- import --------------------------------------------------------------------------------
def _read(path: Path) -> tuple[str, str, list[str], list[tuple[int, list[Any]]]]:
    """(sheet id, sheet title, keys, [(row number, cells)]) of a rating sheet."""
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            data = list(csv.reader(fh))
        if not data or not data[0] or data[0][0] != "sheet":
            raise SheetError(f"{path}: not a rating sheet (first column must be 'sheet')")
        keys = data[0][1:]
        sheet_ids = {r[0] for r in data[1:] if r and r[0]}
        rows = [(i, r[1:]) for i, r in enumerate(data[1:], 2) if any(x.strip() for x in r)]
        return (sheet_ids.pop() if len(sheet_ids) == 1 else ""), path.name, keys, rows
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise SheetError(f"{path}: cannot read the workbook: {exc}") from None
    ws = next((w for w in wb.worksheets if w.cell(1, 1).value == "item"), None)
    if ws is None or META not in wb.sheetnames:
        raise SheetError(f"{path}: not a rating sheet written by servicebench rate export")
    sheet_id = str(wb[META]["B1"].value or "")
    keys = [str(c.value or "") for c in ws[1]]
    rows = [(i, [c.value for c in row]) for i, row in enumerate(ws.iter_rows(min_row=3), 3)
            if any(c.value not in (None, "") for c in row)]
    return sheet_id, ws.title, keys, rows


def _col(j: int, csv_file: bool) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j + (2 if csv_file else 1))


def import_sheet(study: Study, store: Store, path: Path, rater: str, now: datetime, *,
                 by: str | None = None) -> dict[str, Any]:
    """Validate and import one rater's sheet; SheetError (nothing imported) on any problem."""
    from ..clock import utc_iso

    path = Path(path)
    rater = rater.strip()
    if not rater:
        raise SheetError("name the rater: --rater NAME")
    sheet_id, title, keys, rows = _read(path)
    is_csv = path.suffix.lower() == ".csv"
    problems: list[Problem] = []

    def bad(where: str, message: str) -> None:
        problems.append(Problem(str(path), None, where, message))

    sheet = store.one("SELECT * FROM rating_sheets WHERE sheet_id = ?", (sheet_id,))
    if sheet is None:
        raise SheetError(f"{path}: this sheet was not exported from this study "
                         "(unknown sheet id); export sheets with: servicebench rate export")
    other = store.one("SELECT rater FROM rating_imports WHERE sheet_id = ? AND rater != ?"
                      " LIMIT 1", (sheet_id, rater))
    if other is not None:
        bad(f"sheet '{title}'", f"this sheet was already imported for rater "
            f"{other['rater']!r}; one sheet belongs to one rater")
    mine = store.one("SELECT sheet_id FROM rating_imports WHERE rater = ? AND replaced = 0",
                     (rater,))
    if mine is not None and mine["sheet_id"] != sheet_id:
        bad(f"sheet '{title}'", f"rater {rater!r} already has ratings from another sheet; "
            "give this rater another name")
    expected = json.loads(sheet["columns"])
    for k in expected:
        if k not in keys:
            bad(f"sheet '{title}', row 1", f"column {k!r} is missing; do not delete columns")
    items = {r["item_id"]: r for r in store.query("SELECT * FROM rating_items")}
    sheet_items = json.loads(sheet["items"])
    values: list[tuple[str, str, str, str]] = []
    seen: dict[str, int] = {}
    idx = {k: keys.index(k) for k in expected if k in keys}
    for rownum, cells in rows:
        cell = {k: (cells[j] if j < len(cells) else None) for k, j in idx.items()}
        where = f"sheet '{title}', row {rownum}"
        item = str(cell.get("item") or "").strip()
        if item not in sheet_items:
            bad(f"{where}, column {_col(idx.get('item', 0), is_csv)} (item)",
                f"unknown item id {item!r}" if item else "the item id is missing")
            continue
        if item in seen:
            bad(f"{where}, column {_col(idx['item'], is_csv)} (item)",
                f"item {item} appears twice (also in row {seen[item]})")
            continue
        seen[item] = rownum
        probe = store.probe(items[item]["probe_id"])
        row = Row(item, probe, {}, rubric_for(study, probe["scenario_id"]),
                  list(study.scenario(probe["scenario_id"]).expect))
        n_rated = 0
        for k, j in idx.items():
            if k in TEXT_COLUMNS or k == "comment":
                continue
            v = cell[k]
            if v is None or str(v).strip() == "":
                continue
            at = f"{where}, column {_col(j, is_csv)} ({k})"
            if k == CHECK_KIND:
                choice = _check_value(v)
                if choice is None:
                    bad(at, f"{v!r} is not one of {', '.join(CHECK_VALUES)}")
                else:
                    values.append((item, CHECK_KIND, "", choice))
                continue
            crit = _applies(row, k)
            if crit is None:
                bad(at, f"{v!r}: this criterion does not apply to this reply; leave it empty")
                continue
            try:
                canonical = crit.scale.read(v)
            except ValueError as exc:
                bad(at, str(exc))
                continue
            _, n = _split(k)
            values.append((item, crit.id, row.facts[n - 1].id if n else "", canonical))
            n_rated += 1
        if n_rated == 0:
            bad(where, f"item {item} has no rating; rate it (every row must be rated)")
    for item in sheet_items:
        if item not in seen:
            bad(f"sheet '{title}'", f"the row of item {item} is missing; do not delete rows")
    if problems:
        n = len(problems)
        raise SheetError(f"{path}: {n} problem{'s' if n > 1 else ''}; nothing was imported",
                         problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with store.transaction() as db:
        prev = db.execute("UPDATE rating_imports SET replaced = 1 WHERE rater = ? AND"
                          " replaced = 0", (rater,)).rowcount
        db.execute("UPDATE ratings SET current = 0 WHERE rater = ? AND current = 1", (rater,))
        cur = db.execute("INSERT INTO rating_imports (sheet_id, rater, file, sha256,"
                         " imported_by, imported_at, n_values) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (sheet_id, rater, path.name, digest, by or current_user(),
                          utc_iso(now), len(values)))
        db.executemany("INSERT INTO ratings (import_id, rater, item_id, criterion, fact_id,"
                       " value) VALUES (?, ?, ?, ?, ?, ?)",
                       [(cur.lastrowid, rater, *v) for v in values])
    return {"rater": rater, "items": len(seen), "values": len(values), "replaced": prev > 0}


def _check_value(v: Any) -> str | None:
    text = str(v).strip().casefold()
    for labels in CHECK_LABELS.values():
        for canonical, label in labels.items():
            if text in (canonical, label.casefold()):
                return canonical
    return None
