"""Numbered schema migrations, recorded in the ``_migrations`` table (as sqlite-utils does).

Append new migrations to :data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute SQL statements one by one. ``executescript`` would COMMIT first, breaking the
    one-transaction-per-migration rule."""
    stmt = ""
    for line in script.splitlines(keepends=True):
        stmt += line
        if sqlite3.complete_statement(stmt):
            db.execute(stmt)
            stmt = ""
    if stmt.strip():
        db.execute(stmt)


def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE probes (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,          -- company|channel|scenario|persona|wave
            company_id TEXT NOT NULL,
            channel TEXT NOT NULL,             -- channel name, e.g. email, webform
            scenario_id TEXT NOT NULL,
            persona_id TEXT NOT NULL,
            wave INTEGER NOT NULL DEFAULT 1,
            target TEXT NOT NULL,              -- address / URL / handle the probe goes to
            state TEXT NOT NULL DEFAULT 'planned',
                -- planned, sending, sent, failed, unknown, blocked, skipped
            due_at TEXT NOT NULL,              -- UTC ISO
            sent_at TEXT,                      -- UTC ISO: when the peer accepted it
            sent_time_source TEXT,             -- e.g. smtp-250-timestamp, local-clock
            window_ends_at TEXT,               -- sent_at + study window
            external_id TEXT,                  -- Message-ID, post URI, form confirmation id
            reply_address TEXT,                -- per-probe reply address
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            error TEXT,
            detail TEXT,                       -- JSON: channel-specific facts
            updated_at TEXT NOT NULL
        );
        CREATE INDEX probes_state ON probes(state);

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            source TEXT NOT NULL,              -- mailbox/folder or network account
            external_id TEXT NOT NULL,         -- e.g. uidvalidity:uid, status id
            message_id TEXT,                   -- RFC 5322 Message-ID when there is one
            probe_id INTEGER REFERENCES probes(id),
            match_method TEXT,                 -- in-reply-to, references, address, quote, manual
            received_at TEXT,                  -- UTC ISO from the server
            time_source TEXT,                  -- imap-internaldate, received-header, date-header...
            sender TEXT,
            subject TEXT,
            text TEXT,                         -- extracted plain text, for matching and reports
            kind TEXT,                         -- automated, human, bounce, unrelated
            reasons TEXT,                      -- JSON list of strings
            evidence TEXT NOT NULL,            -- path relative to the study folder
            fetched_at TEXT NOT NULL,
            UNIQUE(channel, source, external_id)
        );
        CREATE INDEX messages_probe ON messages(probe_id);

        CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            probe_id INTEGER REFERENCES probes(id),
            kind TEXT NOT NULL,                -- sent-message, screenshot-before, api-payload...
            path TEXT NOT NULL,                -- relative to the study folder
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX evidence_probe ON evidence(probe_id);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            probe_id INTEGER REFERENCES probes(id),
            event TEXT NOT NULL,
            detail TEXT
        );

        CREATE TABLE sync_state (
            source TEXT PRIMARY KEY,           -- e.g. imap:user@host/INBOX
            uidvalidity INTEGER,
            last_uid INTEGER NOT NULL DEFAULT 0,
            cursor TEXT,
            updated_at TEXT NOT NULL
        );
        """
    )


def m002_message_problems(db: sqlite3.Connection) -> None:
    # a message that could not be fully processed: stored, marked with why, listed by
    # `servicebench inbox --problems`
    db.execute("ALTER TABLE messages ADD COLUMN problem TEXT")


def m004_message_probabilities(db: sqlite3.Connection) -> None:
    """The classifier's probability per kind (JSON) and whether it was uncertain (0/1)."""
    db.execute("ALTER TABLE messages ADD COLUMN uncertain INTEGER")
    db.execute("ALTER TABLE messages ADD COLUMN probabilities TEXT")


def m008_plan_state(db: sqlite3.Connection) -> None:
    """Facts a send plan must keep across runs (e.g. when an unscheduled study started, so
    that the waves of a monitor study do not drift with every run)."""
    db.execute("CREATE TABLE IF NOT EXISTS plan_state (key TEXT PRIMARY KEY, "
               "value TEXT NOT NULL, updated_at TEXT NOT NULL)")
    # a scenario's follow-up, sent in the probe's thread after N days without a human reply
    # (servicebench.followups); measured apart from the probe
    db.execute("""CREATE TABLE IF NOT EXISTS follow_ups (
        id INTEGER PRIMARY KEY,
        probe_id INTEGER NOT NULL UNIQUE REFERENCES probes(id),
        state TEXT NOT NULL,            -- planned, sending, sent, failed, unknown
        due_at TEXT NOT NULL,
        sent_at TEXT,
        message_id TEXT,
        error TEXT,
        updated_at TEXT NOT NULL)""")


def m009_message_folder(db: sqlite3.Connection) -> None:
    """The IMAP folder a reply was found in, and whether that folder is the spam folder."""
    db.execute("ALTER TABLE messages ADD COLUMN folder TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN in_spam INTEGER NOT NULL DEFAULT 0")
    # a message moved between folders is recognised by its content hash in any folder
    db.execute("CREATE INDEX messages_external ON messages(channel, external_id)")


def m005_quality_and_review(db: sqlite3.Connection) -> None:
    """Human classification decisions, rating sheets, ratings (with history), adjudications
    and the automatic answer-quality checks (issue 11). Decisions are keyed by a stable
    message key (RFC Message-ID, else channel|source|external id) so they survive
    re-collection, when a message may be stored again under a new row id."""
    run_script(
        db,
        """
        CREATE TABLE kind_decisions (
            id INTEGER PRIMARY KEY,
            message_key TEXT NOT NULL,         -- see servicebench.rating.overrides.message_key
            message_id INTEGER,                -- row id when decided (may change)
            auto_kind TEXT,                    -- what the classifier had said
            kind TEXT NOT NULL,                -- human, automated, bounce, unrelated
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL,          -- UTC ISO
            source TEXT NOT NULL,              -- review, reclassify
            note TEXT
        );
        CREATE INDEX kind_decisions_key ON kind_decisions(message_key);

        CREATE TABLE rating_items (
            item_id TEXT PRIMARY KEY,          -- opaque id shown on the sheets
            message_key TEXT NOT NULL UNIQUE,
            message_id INTEGER,
            probe_id INTEGER,
            created_at TEXT NOT NULL
        );

        CREATE TABLE rating_sheets (
            sheet_id TEXT PRIMARY KEY,         -- opaque, written into the sheet
            rater_no INTEGER NOT NULL,
            seed TEXT NOT NULL,
            items TEXT NOT NULL,               -- JSON list of item ids, in sheet order
            columns TEXT NOT NULL,             -- JSON list of column keys
            created_at TEXT NOT NULL,
            file TEXT
        );

        CREATE TABLE rating_imports (
            id INTEGER PRIMARY KEY,
            sheet_id TEXT NOT NULL,
            rater TEXT NOT NULL,
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            imported_by TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            n_values INTEGER NOT NULL,
            replaced INTEGER NOT NULL DEFAULT 0   -- 1 once a later import replaced it
        );

        CREATE TABLE ratings (
            id INTEGER PRIMARY KEY,
            import_id INTEGER NOT NULL REFERENCES rating_imports(id),
            rater TEXT NOT NULL,
            item_id TEXT NOT NULL,
            criterion TEXT NOT NULL,           -- criterion id, or check_kind
            fact_id TEXT NOT NULL DEFAULT '',  -- for per-fact criteria
            value TEXT NOT NULL,               -- canonical value (5, yes, correct, human...)
            current INTEGER NOT NULL DEFAULT 1 -- 0: replaced by a later import (history)
        );
        CREATE INDEX ratings_current ON ratings(current, criterion);

        CREATE TABLE adjudications (
            id INTEGER PRIMARY KEY,
            item_id TEXT NOT NULL,
            criterion TEXT NOT NULL,
            fact_id TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            note TEXT
        );

        CREATE TABLE reply_checks (
            message_key TEXT NOT NULL,
            message_id INTEGER,
            check_name TEXT NOT NULL,          -- template, language, salutation, signed...
            value TEXT,                        -- JSON
            evidence TEXT NOT NULL DEFAULT '', -- the text that triggered it
            computed_at TEXT NOT NULL,
            PRIMARY KEY (message_key, check_name)
        );
        """
    )


def m003_study_meta(db: sqlite3.Connection) -> None:
    """Facts about the study's data as a whole, e.g. ``as_of``: the cut-off the figures of a
    finished run (the demo) are computed at, so re-rendering gives the same figures."""
    db.execute("CREATE TABLE IF NOT EXISTS study_meta (key TEXT PRIMARY KEY, "
               "value TEXT NOT NULL, updated_at TEXT NOT NULL)")


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "message-problems", m002_message_problems),
    (3, "study_meta", m003_study_meta),
    (4, "message probabilities and uncertainty", m004_message_probabilities),
    (5, "quality-and-review", m005_quality_and_review),
    (8, "plan_state_and_follow_ups", m008_plan_state),
    (9, "message folder and spam mark", m009_message_folder),
]

KNOWN = frozenset(number for number, _, _ in MIGRATIONS)


class NewerSchema(Exception):
    """The database carries migrations this version does not know."""

    def __init__(self, unknown: list[int]) -> None:
        self.unknown = unknown
        super().__init__(f"unknown migrations {unknown}")


def pending(db: sqlite3.Connection) -> list[int]:
    """Numbers of migrations not yet applied (read only). Raises NewerSchema."""
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='_migrations'"
                     ).fetchone()
    done = {row[0] for row in db.execute("SELECT number FROM _migrations")} if has else set()
    unknown = sorted(done - KNOWN)
    if unknown:
        raise NewerSchema(unknown)
    return [n for n, _, _ in MIGRATIONS if n not in done]


def apply_migrations(db: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet recorded, all in ONE transaction taken with
    ``BEGIN IMMEDIATE`` (so two processes opening a fresh study never both create tables);
    return the numbers applied. ``db`` must be in autocommit mode (isolation_level=None)."""
    if not pending(db):
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        todo = pending(db)  # again, under the write lock: another process may have done it
        for number, name, fn in MIGRATIONS:
            if number not in todo:
                continue
            fn(db)
            db.execute(
                "INSERT INTO _migrations VALUES (?, ?, datetime('now'))", (number, name)
            )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return todo
