"""Tables for analysts: per probe, per company × channel and per channel, as CSV or xlsx.

Exports contain figures and identifiers only, never ``study.settings`` (where secrets
live). CSV times are UTC ISO strings as stored; xlsx times are tz-naive UTC datetimes
because Excel has no time zones.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .clock import clock_from_env, utc_iso
from .errors import ServicebenchError
from .followups import follow_up_outcomes
from .metrics import TIME_COLUMNS, channel_table, company_table, probe_outcomes
from .scoring import scoring_config, with_human_quality
from .store import Store
from .study import Study

FORMATS = ("csv", "xlsx")
XLSX_NAME = "servicebench-export.xlsx"
LIST_SEPARATOR = ";"

#: first columns of probes.csv, in this order; every other outcome column follows
PROBE_LEAD = ["company", "channel", "scenario", "persona", "sent_at", "first_reply_at",
              "first_human_reply_at", "seconds_to_first_reply", "seconds_to_first_human_reply",
              "outcome", "kinds", "censored"]


def probes_frame(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Outcomes with the export's column names and order; lists joined with ';'."""
    df = outcomes.rename(columns={"scenario_id": "scenario", "persona_id": "persona"})
    rest = [c for c in df.columns if c not in PROBE_LEAD]
    df = df[PROBE_LEAD + rest].copy()
    for col in df.columns:
        if df[col].dtype == object and df[col].map(lambda v: isinstance(v, list)).any():
            df[col] = df[col].map(
                lambda v: LIST_SEPARATOR.join(str(x) for x in v) if isinstance(v, list) else v)
    return df


#: columns of messages.csv: every received message, where it was found, never its text
MESSAGE_COLUMNS = ["message", "probe", "company", "channel", "received_at", "time_source",
                   "kind", "match_method", "folder", "in_spam", "sender", "subject",
                   "evidence"]


def messages_frame(store: Store) -> pd.DataFrame:
    """One row per received message; ``in_spam`` marks replies found in the spam folder;
    ``kind`` is the effective kind (a person's decision wins over the classifier's)."""
    from .rating.overrides import effective_messages

    rows = effective_messages(store, store.query(
        "SELECT m.*, p.company_id FROM messages m LEFT JOIN probes p ON p.id = m.probe_id "
        "ORDER BY m.id"))
    data = [{"message": r["id"], "probe": r["probe_id"], "company": r["company_id"],
             "channel": r["channel"], "received_at": r["received_at"],
             "time_source": r["time_source"], "kind": r["kind"],
             "match_method": r["match_method"], "folder": r["folder"],
             "in_spam": bool(r["in_spam"]), "sender": r["sender"], "subject": r["subject"],
             "evidence": r["evidence"]} for r in rows]
    return pd.DataFrame(data, columns=MESSAGE_COLUMNS)


def _csv_times(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in TIME_COLUMNS:
        if col in df.columns:
            df[col] = pd.Series([_iso(v) for v in df[col]], index=df.index, dtype=object)
    return df


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return utc_iso(pd.Timestamp(value).to_pydatetime())


def _excel_times(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in TIME_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def export_tables(study: Study, store: Store, fmt: str, out_dir: Path,
                  now: datetime | None = None, wave: int | None = None) -> list[Path]:
    """Write probes, companies and channels tables to ``out_dir``; return the files.

    ``csv``: probes.csv, companies.csv, channels.csv, messages.csv (UTF-8, comma separated),
    and follow_ups.csv when follow-ups were sent.
    ``xlsx``: one workbook servicebench-export.xlsx with the sheets probes, companies,
    channels and messages (and follow_ups).
    """
    if fmt not in FORMATS:
        raise ServicebenchError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cut = now or store.stored_as_of() or clock_from_env().now()
    outcomes = probe_outcomes(study, store, cut)
    if wave is not None:  # figures of one wave (every probe row carries its wave)
        outcomes = outcomes[outcomes["wave"] == wave].reset_index(drop=True)
    from .rating.quality import add_quality

    cfg = scoring_config(study)
    probes = add_quality(probes_frame(outcomes), study, store, cut, outcomes)
    outcomes = with_human_quality(outcomes, study, store, cut)
    tables = {"probes": probes,
              "companies": company_table(outcomes, cfg, study.language),
              "channels": channel_table(outcomes, cfg, study.language),
              "messages": messages_frame(store)}
    follow_ups = [f for f in follow_up_outcomes(study, store, cut)
                  if wave is None or f["wave"] == wave]
    if follow_ups:  # measured apart from the probes (servicebench.followups)
        tables["follow_ups"] = pd.DataFrame(follow_ups)
    if fmt == "csv":
        paths = []
        for name, df in tables.items():
            path = out_dir / f"{name}.csv"
            _csv_times(df).to_csv(path, index=False, encoding="utf-8")
            paths.append(path)
        return paths
    path = out_dir / XLSX_NAME
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, df in tables.items():
            _excel_times(df).to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for cells in sheet.columns:
                width = max(len(str(c.value)) if c.value is not None else 0 for c in cells)
                sheet.column_dimensions[cells[0].column_letter].width = min(max(width, 8), 40)
    return [path]
