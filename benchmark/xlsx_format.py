"""Formatting of the exports for analysts: the XLSX workbook and CSV for Excel.

Workbook: one sheet per table, every time column as UTC and as the study's local time side by
side (``sent_at_utc``, ``sent_at_local``), every seconds column followed by an Excel
duration (``..._duration``), bold frozen header with autofilter, percent/duration/date
formats, a ``columns`` sheet (meaning and unit of each column, in the export's language;
the header cells carry the same text as a comment) and a ``study`` sheet (metadata, weights,
cut-off). Excel has no time zones, so the time cells are tz-naive; the names say which.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .export_columns import describe, unit_of

EXCEL_TEXT_LIMIT = 32_000
FORMATS = {"share": "0%", "duration": "[h]:mm", "time UTC": "yyyy-mm-dd hh:mm:ss",
           "time local": "yyyy-mm-dd hh:mm:ss", "seconds": "#,##0", "points": "0.0",
           "hours": "0.0"}


def _is_time(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype)


def excel_frame(df: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Times as ``<col>_utc`` + ``<col>_local`` (tz-naive), seconds plus ``<col>_duration``
    (days, Excel's time unit); lists already joined by the caller."""
    out: dict[str, Any] = {}
    for col in df.columns:
        s = df[col]
        if _is_time(s):
            out[f"{col}_utc"] = s.dt.tz_convert("UTC").dt.tz_localize(None)
            out[f"{col}_local"] = s.dt.tz_convert(tz).dt.tz_localize(None)
        elif unit_of(col) == "seconds":
            out[col] = s
            out[duration_name(col)] = pd.to_numeric(s, errors="coerce") / 86400
        else:
            out[col] = s
    return pd.DataFrame(out, index=df.index)


def duration_name(col: str) -> str:
    """``median_human_seconds`` -> ``median_human_duration``."""
    return col.replace("seconds", "duration") if "seconds" in col else f"{col}_duration"


def _value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v != v:
        return None
    if v is pd.NaT or (not isinstance(v, str | list | dict) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, str) and len(v) > EXCEL_TEXT_LIMIT:
        return v[:EXCEL_TEXT_LIMIT] + " …"
    if isinstance(v, str) and v[:1] in "=+-@":
        return "'" + v  # never a formula from received text
    return v


def write_sheet(wb: Workbook, name: str, df: pd.DataFrame, language: str) -> None:
    ws = wb.create_sheet(name)
    header = [str(c) for c in df.columns]
    ws.append(header)
    for row in df.itertuples(index=False, name=None):
        ws.append([_value(v) for v in row])
    bold = Font(bold=True)
    for i, col in enumerate(header, 1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        meaning, unit = describe(col, language)
        if meaning:
            cell.comment = Comment(f"{meaning} ({unit})", "servicebench")
        fmt = FORMATS.get(unit_of(col))
        letter = get_column_letter(i)
        if fmt:
            for (c,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                c.number_format = fmt
        width = max([len(col)] + [min(len(str(v)), 50) for v in df[col].head(200)
                                  if v is not None])
        ws.column_dimensions[letter].width = min(max(width + 2, 9), 60 if col == "text" else 40)
    ws.freeze_panes = "A2"
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(ws.max_row, 1)}"


def write_workbook(path: Path, tables: dict[str, pd.DataFrame], *, tz: str, language: str,
                   study_rows: Iterable[tuple[str, Any]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    written: dict[str, list[str]] = {}
    for name, df in tables.items():
        frame = excel_frame(df, tz)
        write_sheet(wb, name, frame, language)
        written[name] = [str(c) for c in frame.columns]
    rows = [(sheet, col, *describe(col, language)) for sheet, cols in written.items()
            for col in cols]
    heads = (["Tabelle", "Spalte", "Bedeutung", "Einheit"] if language == "de"
             else ["sheet", "column", "meaning", "unit"])
    write_sheet(wb, "columns", pd.DataFrame(rows, columns=heads), language)
    kv = (["Angabe", "Wert"] if language == "de" else ["item", "value"])
    write_sheet(wb, "study", pd.DataFrame([(k, v) for k, v in study_rows], columns=kv),
                language)
    for ws in (wb["columns"], wb["study"]):
        for row in ws.iter_rows(min_row=2):
            for c in row:
                c.alignment = Alignment(wrap_text=True, vertical="top")
    wb.save(path)
    return path


def write_csv(df: pd.DataFrame, path: Path, *, excel: bool, language: str) -> Path:
    """UTF-8 CSV; ``excel``: with byte-order mark, and for German Excel semicolons and
    decimal commas."""
    if not excel:
        df.to_csv(path, index=False, encoding="utf-8")
    elif language == "de":
        df = df.copy()
        for col in df.columns:  # object columns hold floats too; pandas' decimal= skips them
            df[col] = [str(v).replace(".", ",") if isinstance(v, float) and v == v else v
                       for v in df[col]]
        df.to_csv(path, index=False, encoding="utf-8-sig", sep=";")
    else:
        df.to_csv(path, index=False, encoding="utf-8-sig")
    return path
