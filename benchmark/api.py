"""The Python API: a study's figures as pandas DataFrames, for notebooks and scripts.

The command line uses these same calls, so what a notebook sees is what ``servicebench
report`` and ``servicebench export`` print::

    >>> import servicebench
    >>> study = servicebench.open_study("demo-output/study")
    >>> study.companies()[["company", "channel", "index", "grade"]]        # doctest: +SKIP
    >>> study.probes()[["company", "channel", "sent_at", "sent_at_local"]]  # doctest: +SKIP
    >>> study.report(format="html", out="report.html")                    # doctest: +SKIP

Every time column is timezone-aware UTC (``sent_at``) and comes with a twin in the study's
time zone (``sent_at_local``). The API reads the study; it never sends or collects, and it
never exposes secrets (the study's resolved settings are not part of any table).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .clock import clock_from_env
from .study import Study as StudyConfig
from .study import load_study

__all__ = ["Study", "open_study"]

#: message columns that are times (UTC ISO text in the store)
_MESSAGE_TIMES = ["received_at", "fetched_at"]


def open_study(path: str | Path = ".") -> Study:
    """Open the study in ``path`` (a folder with ``study.yaml``, or the file itself).

    Secrets are not needed for reading figures: a study whose ``.env`` is missing opens.
    Raises :class:`servicebench.errors.StudyError` when the study file is invalid.

    Example::

        study = servicebench.open_study("mystudy")
        study.channels()
    """
    return Study(load_study(Path(path), require_secrets=False))


class Study:
    """A handle on one study folder: its configuration, its store and its figures.

    Tables are computed at a cut-off, ``as_of``. Default: the cut-off stored with the study
    (the demo stores the end of its run, so its figures re-render the same), else now by the
    study clock (the real clock unless ``SERVICEBENCH_CLOCK`` says otherwise). Probes whose
    window is still open at the cut-off are ``pending``, never unanswered.
    """

    def __init__(self, config: StudyConfig) -> None:
        self.config = config

    # -- identity ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.config.id

    @property
    def title(self) -> str:
        return self.config.title

    @property
    def folder(self) -> Path:
        return self.config.folder

    @property
    def timezone(self) -> str:
        return self.config.timezone

    def __repr__(self) -> str:
        return f"<servicebench.Study {self.id!r} at {str(self.folder)!r}>"

    # -- tables --------------------------------------------------------------------------
    def probes(self, as_of: datetime | None = None) -> pd.DataFrame:
        """One row per probe: company, channel, scenario, persona, state, times, outcome."""
        from .metrics import probe_outcomes

        with self._store() as store:
            df = probe_outcomes(self.config, store, self._as_of(as_of))
        return self._with_local_times(df)

    def messages(self) -> pd.DataFrame:
        """One row per received message: channel, probe, sender, subject, text, kind, reasons
        and the path of its stored evidence (relative to the study folder). ``kind`` is the
        effective kind (a person's decision wins); ``auto_kind`` is the classifier's."""
        from .rating.overrides import effective_messages

        with self._store() as store:
            rows = effective_messages(store, store.query("SELECT * FROM messages ORDER BY id"))
        df = pd.DataFrame(rows, columns=_message_columns(rows))
        for col in _MESSAGE_TIMES:
            if col in df.columns:
                df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        if "probe_id" in df.columns:
            df["probe_id"] = df["probe_id"].astype("Int64")
        return self._with_local_times(df)

    def companies(self, as_of: datetime | None = None) -> pd.DataFrame:
        """Per company and channel (and ``all``): rates, times and rank, as in the report."""
        from .metrics import company_table
        from .scoring import scoring_config

        return company_table(self._scored(as_of), scoring_config(self.config),
                             self.config.language)

    def channels(self, as_of: datetime | None = None) -> pd.DataFrame:
        """Per channel over all companies."""
        from .metrics import channel_table
        from .scoring import scoring_config

        return channel_table(self._scored(as_of), scoring_config(self.config),
                             self.config.language)

    def _scored(self, as_of: datetime | None) -> pd.DataFrame:
        """Outcomes with the people's quality ratings, as the index uses them."""
        from .metrics import probe_outcomes
        from .scoring import with_human_quality

        cut = self._as_of(as_of)
        with self._store() as store:
            return with_human_quality(probe_outcomes(self.config, store, cut), self.config,
                                      store, cut)

    def quality(self, as_of: datetime | None = None) -> pd.DataFrame:
        """Answer quality per probe with a human reply: ``quality`` (0-1), ``quality_source``
        (adjudicated, raters or automatic), the automatic criteria and their evidence."""
        from .rating.quality import quality_scores

        with self._store() as store:
            return quality_scores(self.config, store, self._as_of(as_of))

    # -- outputs -------------------------------------------------------------------------
    def report(self, format: str = "pdf", out: str | Path | None = None,
               templates: str | Path | None = None, as_of: datetime | None = None, *,
               language: str | None = None, appendix: str | None = None,
               anonymise: bool = False, redact_people: bool = False) -> Path:
        """Render the report (``pdf`` or ``html``) and return its path (default: the study
        folder's ``report.pdf`` / ``report.html``). ``language`` overrides the study's;
        ``appendix`` is ``cards`` or ``none`` (default: cards up to 100 probes)."""
        from .report import ReportOptions, render_report

        path = Path(out) if out else self.folder / f"report.{format}"
        options = ReportOptions(language=language, appendix=appendix, anonymise=anonymise,
                                redact_people=redact_people)
        with self._store() as store:
            return render_report(self.config, store, format, path,
                                 Path(templates) if templates else None, self._as_of(as_of),
                                 options=options)

    def export(self, format: str = "csv", out: str | Path | None = None,
               as_of: datetime | None = None, wave: int | None = None, *,
               language: str | None = None, excel: bool = False) -> list[Path]:
        """Write the tables (``csv`` or ``xlsx``) to ``out`` (default: the study folder's
        ``exports/``) and return the files written; ``wave``: figures of that wave only;
        ``excel`` writes CSV for Excel."""
        from .export import export_tables

        out_dir = Path(out) if out else self.folder / "exports"
        with self._store() as store:
            return export_tables(self.config, store, format, out_dir, self._as_of(as_of),
                                 wave=wave, language=language, excel=excel)

    # -- internals -----------------------------------------------------------------------
    def as_of(self, as_of: datetime | None = None) -> datetime:
        """The cut-off figures are computed at (see the class doc)."""
        return self._as_of(as_of)

    def _as_of(self, as_of: datetime | None) -> datetime:
        if as_of is None:
            with self._store() as store:
                stored = store.stored_as_of()  # type: ignore[attr-defined]
            return stored or clock_from_env().now()
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)

    @contextmanager
    def _store(self) -> Iterator[object]:
        from .store import Store

        store = Store(self.folder)
        try:
            yield store
        finally:
            store.close()

    def _with_local_times(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add ``<col>_local`` in the study's zone beside every tz-aware time column."""
        df = df.copy()
        for col in list(df.columns):
            if isinstance(df[col].dtype, pd.DatetimeTZDtype):
                pos = df.columns.get_loc(col) + 1
                df.insert(pos, f"{col}_local", df[col].dt.tz_convert(self.timezone))
        return df


def _message_columns(rows: list[dict[str, object]]) -> list[str] | None:
    return None if rows else ["id", "channel", "source", "external_id", "message_id",
                              "probe_id", "match_method", "received_at", "time_source",
                              "sender", "subject", "text", "kind", "reasons", "evidence",
                              "fetched_at"]
