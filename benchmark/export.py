"""Tables for analysts: per probe, per company × channel and per channel, as CSV or xlsx.

Exports contain figures and identifiers only, never ``study.settings`` (where secrets
live). CSV times are UTC ISO strings as stored. The workbook (see :mod:`.xlsx_format`) adds
a messages sheet, a column dictionary and a study sheet, and shows times in UTC and local
time side by side.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .clock import clock_from_env, utc_iso
from .errors import ServicebenchError
from .followups import follow_up_outcomes
from .gc_tuning import relaxed_gc
from .i18n_reasons import reason_texts
from .metrics import TIME_COLUMNS, channel_table, company_table, message_reasons, probe_outcomes
from .scoring import scoring_config, with_human_quality
from .store import Store
from .study import Study
from .xlsx_format import write_csv, write_workbook

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


#: columns of messages.csv: every received message, where it was found, never its text
MESSAGE_COLUMNS = ["message", "probe", "company", "channel", "received_at", "time_source",
                   "kind", "match_method", "folder", "in_spam", "sender", "subject",
                   "evidence"]
#: the workbook's messages sheet adds the reply text and the classification reasons
MESSAGE_TEXT_COLUMNS = ["text", "reasons"]


def messages_frame(store: Store, language: str | None = None,
                   with_text: bool = False) -> pd.DataFrame:
    """One row per received message; ``in_spam`` marks replies found in the spam folder;
    ``kind`` is the effective kind (a person's decision wins over the classifier's).
    ``with_text`` adds the text and the classification reasons as reader text."""
    from .rating.overrides import effective_messages

    rows = effective_messages(store, store.query(
        "SELECT m.*, p.company_id FROM messages m LEFT JOIN probes p ON p.id = m.probe_id "
        "ORDER BY m.id"))
    data = []
    for r in rows:
        row = {"message": r["id"], "probe": r["probe_id"], "company": r["company_id"],
               "channel": r["channel"], "received_at": r["received_at"],
               "time_source": r["time_source"], "kind": r["kind"],
               "match_method": r["match_method"], "folder": r.get("folder"),
               "in_spam": bool(r.get("in_spam")), "sender": r["sender"],
               "subject": r["subject"], "evidence": r["evidence"]}
        if with_text:
            row["text"] = r["text"]
            row["reasons"] = "; ".join(reason_texts(message_reasons(r), language or "en"))
        data.append(row)
    cols = MESSAGE_COLUMNS + (MESSAGE_TEXT_COLUMNS if with_text else [])
    df = pd.DataFrame(data, columns=cols)
    if with_text:
        df["received_at"] = pd.to_datetime(df["received_at"], utc=True, format="ISO8601")
    return df


def study_rows(study: Study, now: datetime, outcomes: pd.DataFrame,
               language: str) -> list[tuple[str, Any]]:
    """Metadata for the study sheet; never ``study.settings``."""
    de = language == "de"
    sent = outcomes["sent_at"].dropna() if not outcomes.empty else pd.Series(dtype=object)
    rows: list[tuple[str, Any]] = [
        ("Titel" if de else "title", study.title), ("Kennung" if de else "id", study.id),
        ("Auftraggeber" if de else "client", study.client),
        ("Erstellt von" if de else "author", study.author),
        ("Sprache" if de else "language", study.language),
        ("Zeitzone" if de else "time zone", study.timezone),
        ("Antwortfenster (Stunden)" if de else "response window (hours)",
         study.window.total_seconds() / 3600),
        ("Stichtag (UTC)" if de else "cut-off (UTC)", utc_iso(now)),
        ("Erste Anfrage (UTC)" if de else "first inquiry (UTC)",
         _iso(sent.min()) if len(sent) else None),
        ("Letzte Anfrage (UTC)" if de else "last inquiry (UTC)",
         _iso(sent.max()) if len(sent) else None),
        ("Unternehmen" if de else "companies", len(study.companies)),
        ("Anfragen" if de else "inquiries", len(outcomes)),
    ]
    scoring = getattr(study, "scoring", None)
    if scoring:
        items = scoring.items() if isinstance(scoring, dict) else vars(scoring).items()
        for key, value in items:
            rows.append((f"{'Bewertung' if de else 'scoring'}: {key}", str(value)))
    return rows


def export_tables(study: Study, store: Store, fmt: str, out_dir: Path,
                  now: datetime | None = None, wave: int | None = None, *,
                  language: str | None = None, excel: bool = False) -> list[Path]:
    """Write probes, companies and channels tables to ``out_dir``; return the files.

    ``csv``: probes.csv, companies.csv, channels.csv, messages.csv (UTF-8, comma separated,
    messages without their text), and follow_ups.csv when follow-ups were sent; ``excel``:
    with byte-order mark, and for German semicolons and decimal commas.
    ``xlsx``: one workbook servicebench-export.xlsx with the sheets probes, companies,
    channels, messages (with text and reasons), follow_ups (if any), columns (the column
    dictionary) and study. ``wave``: figures of that wave only.
    """
    if fmt not in FORMATS:
        raise ServicebenchError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    with relaxed_gc():
        return _export(study, store, fmt, Path(out_dir), now, wave, language, excel)


def _export(study: Study, store: Store, fmt: str, out_dir: Path, now: datetime | None,
            wave: int | None, language: str | None, excel: bool) -> list[Path]:
    language = language or study.language
    out_dir.mkdir(parents=True, exist_ok=True)
    now = now or store.stored_as_of() or clock_from_env().now()
    outcomes = probe_outcomes(study, store, now)
    if wave is not None:  # figures of one wave (every probe row carries its wave)
        outcomes = outcomes[outcomes["wave"] == wave].reset_index(drop=True)
    from .rating.quality import add_quality

    cfg = scoring_config(study)
    probes = add_quality(probes_frame(outcomes), study, store, now, outcomes)
    scored = with_human_quality(outcomes, study, store, now)
    tables = {"probes": probes, "companies": company_table(scored, cfg, language),
              "channels": channel_table(scored, cfg, language)}
    follow_ups = [f for f in follow_up_outcomes(study, store, now)
                  if wave is None or f["wave"] == wave]
    extra = {"follow_ups": pd.DataFrame(follow_ups)} if follow_ups else {}
    if fmt == "csv":  # measured apart from the probes (servicebench.followups)
        tables = {**tables, "messages": messages_frame(store), **extra}
        return [write_csv(_csv_times(df), out_dir / f"{name}.csv", excel=excel,
                          language=language) for name, df in tables.items()]
    tables = {**tables, "messages": messages_frame(store, language, with_text=True), **extra}
    path = out_dir / XLSX_NAME
    return [write_workbook(path, tables, tz=study.timezone, language=language,
                           study_rows=study_rows(study, now, outcomes, language))]
