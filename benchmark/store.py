"""The study's state: ``study.db`` (SQLite) and the ``evidence/`` folder beside ``study.yaml``.

Every write that matters is committed before the action it records is taken (see
:mod:`servicebench.runner`), and evidence files are written atomically, so a killed process
never loses stored data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import utc_iso
from .errors import StoreError
from .migrations import NewerSchema, apply_migrations, pending

PROBE_STATES = ("planned", "sending", "sent", "failed", "unknown", "blocked", "skipped")


@dataclass
class StoredEvidence:
    path: str  # relative to the study folder
    sha256: str


SQLITE_MAGIC = b"SQLite format 3\x00"
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024  # larger databases skip the page-level check
BUSY_TIMEOUT_ENV = "SERVICEBENCH_DB_TIMEOUT"


class Store:
    def __init__(self, folder: Path, timeout: float | None = None) -> None:
        self.folder = Path(folder)
        self.db_path = self.folder / "study.db"
        self.evidence_dir = self.folder / "evidence"
        if timeout is None:
            try:
                timeout = float(os.environ.get(BUSY_TIMEOUT_ENV) or 30)
            except ValueError:
                timeout = 30.0
        _check_file(self.db_path)
        try:
            self.db = sqlite3.connect(self.db_path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.db_path}: {exc}") from exc
        self._owner = threading.get_ident()
        #: evidence written in an open batch, fsynced (all at once) before it commits
        self._unsynced: list[Path] | None = None
        self.db.row_factory = sqlite3.Row
        try:
            self._prepare(timeout)
        except StoreError:
            self.db.close()
            raise
        except NewerSchema as exc:
            self.db.close()
            raise StoreError(
                f"{self.db_path} was written by a newer servicebench (it carries migrations "
                f"{', '.join(map(str, exc.unknown))} that this version does not know). Upgrade "
                "servicebench; the database was left untouched.") from None
        except sqlite3.OperationalError as exc:
            self.db.close()
            raise StoreError(db_error_message(self.db_path, exc)) from None
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(db_error_message(self.db_path, exc)) from None

    def _prepare(self, timeout: float) -> None:
        """Check the database, switch it to WAL and apply pending migrations. Switching the
        journal mode can fail at once with "database is locked" (SQLite does not wait where
        waiting could deadlock) while other processes open the same fresh study: that is
        tried again until ``timeout``; every step is safe to repeat."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            try:
                self._check_schema()
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                apply_migrations(self.db)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _check_schema(self) -> None:
        """Refuse (before changing anything) a database that is not a servicebench study,
        is damaged, or is newer than this version."""
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "_migrations" not in tables:
            raise StoreError(f"{self.db_path} is an SQLite database but not a servicebench "
                             f"study (it has tables {', '.join(sorted(tables)[:5])}); it was left "
                             "untouched. Use another folder for the study.")
        pending(self.db)
        if tables and self.db_path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            bad = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
            if bad != ["ok"]:
                raise StoreError(f"{self.db_path} is damaged ({'; '.join(bad)[:300]}). It was "
                                 "left untouched; restore it from a backup (the raw evidence/ "
                                 "files are intact).")

    def close(self) -> None:
        self.db.close()

    # -- generic helpers -------------------------------------------------------------
    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return list(self.db.execute(sql, params))

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.db.execute(sql, params).fetchone()

    def log_event(self, at: datetime, event: str, probe_id: int | None = None,
                  detail: Any = None) -> None:
        self.db.execute(
            "INSERT INTO events (at, probe_id, event, detail) VALUES (?, ?, ?, ?)",
            (utc_iso(at), probe_id, event, None if detail is None else json.dumps(detail)),
        )

    # -- probes ----------------------------------------------------------------------
    def upsert_planned_probe(self, row: dict[str, Any], now: datetime) -> bool:
        """Insert a planned probe unless its key exists. Returns True if it was new."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO probes (key, company_id, channel, scenario_id, persona_id,"
            " wave, target, state, due_at, updated_at) VALUES (:key, :company_id, :channel,"
            " :scenario_id, :persona_id, :wave, :target, 'planned', :due_at, :updated_at)",
            {**row, "updated_at": utc_iso(now)},
        )
        return cur.rowcount == 1

    def probe(self, probe_id: int) -> sqlite3.Row:
        row = self.one("SELECT * FROM probes WHERE id = ?", (probe_id,))
        if row is None:
            raise StoreError(f"no probe {probe_id}")
        return row

    def probes(self, state: str | None = None, channel: str | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM probes WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        return self.query(sql + " ORDER BY id", tuple(params))

    def update_probe(self, probe_id: int, now: datetime, event: str | None = None,
                     **fields: Any) -> None:
        """Update fields of a probe and log the event in one committed transaction."""
        if "detail" in fields and not isinstance(fields["detail"], str | None):
            fields["detail"] = json.dumps(fields["detail"], ensure_ascii=False)
        fields["updated_at"] = utc_iso(now)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        with self.transaction():
            self.db.execute(f"UPDATE probes SET {sets} WHERE id = :_id",
                            {**fields, "_id": probe_id})
            if event:
                self.log_event(now, event, probe_id, {k: v for k, v in fields.items()
                                                      if k not in ("updated_at", "detail")})

    def transition(self, probe_id: int, expected: str, new: str, now: datetime,
                   **fields: Any) -> None:
        """Move a probe from ``expected`` to ``new`` state; refuse if someone else moved it."""
        fields["updated_at"] = utc_iso(now)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        with self.transaction():
            cur = self.db.execute(
                f"UPDATE probes SET state = :_new, {sets} WHERE id = :_id AND state = :_old",
                {**fields, "_new": new, "_id": probe_id, "_old": expected},
            )
            if cur.rowcount != 1:
                raise StoreError(f"probe {probe_id} is no longer {expected}")
            self.log_event(now, f"{expected}->{new}", probe_id,
                           {k: v for k, v in fields.items() if k not in ("updated_at", "detail")})

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def batch(self, size: int = 200, seconds: float = 1.0) -> Batch:
        """One transaction for many small items, committed every ``size`` items or
        ``seconds``: see :class:`Batch`."""
        return Batch(self, size, seconds)

    def sync_evidence(self) -> None:
        """Make the evidence written since the last call durable: the files' data and the
        folders naming them. The fsyncs run side by side, so the file system can write
        them in one journal commit instead of one each."""
        files, self._unsynced = self._unsynced or [], [] if self._unsynced is not None else None
        if not files:
            return
        dirs = sorted({f.parent for f in files})

        def sync(path: Path) -> None:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        with ThreadPoolExecutor(max_workers=min(16, len(files))) as pool:
            list(pool.map(sync, files))
            list(pool.map(sync, dirs))

    # -- evidence --------------------------------------------------------------------
    def write_evidence(self, relpath: str, data: bytes, *, probe_id: int | None = None,
                       kind: str = "file", now: datetime | None = None) -> StoredEvidence:
        """Write ``data`` atomically under ``evidence/``; never overwrite different content."""
        relpath = "evidence/" + _safe_relpath(relpath)
        target = self.folder / relpath
        digest = hashlib.sha256(data).hexdigest()
        if target.exists():
            if hashlib.sha256(target.read_bytes()).hexdigest() == digest:
                return StoredEvidence(relpath, digest)
            stem, dot, ext = target.name.partition(".")
            relpath = str(Path(relpath).with_name(f"{stem}-{digest[:8]}{dot}{ext}"))
            target = self.folder / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        deferred = self._unsynced is not None and threading.get_ident() == self._owner
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if not deferred:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if deferred:
            self._unsynced.append(target)  # type: ignore[union-attr]
        if now is not None:
            row = (probe_id, kind, relpath, digest, utc_iso(now))
            sql = ("INSERT INTO evidence (probe_id, kind, path, sha256, created_at)"
                   " VALUES (?, ?, ?, ?, ?)")
            if threading.get_ident() == self._owner:
                self.db.execute(sql, row)
            else:  # a channel's worker thread: SQLite connections stay in their thread
                with closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
                    db.execute(sql, row)
        return StoredEvidence(relpath, digest)

    # -- study-wide facts (migration 3) -------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM study_meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str, now: datetime) -> None:
        self.db.execute("INSERT INTO study_meta (key, value, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                        "updated_at = excluded.updated_at", (key, value, utc_iso(now)))

    def stored_as_of(self) -> datetime | None:
        """The cut-off stored for a finished run (``as_of``), if any."""
        from .clock import parse_utc

        return parse_utc(self.get_meta("as_of"))

    def evidence_for(self, probe_id: int) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM evidence WHERE probe_id = ? ORDER BY id", (probe_id,))

    # -- messages --------------------------------------------------------------------
    def has_message(self, channel: str, source: str, external_id: str) -> bool:
        return self.one("SELECT 1 FROM messages WHERE channel=? AND source=? AND external_id=?",
                        (channel, source, external_id)) is not None

    def insert_message(self, row: dict[str, Any]) -> int | None:
        """Insert a received message; returns its id, or None if it was already stored."""
        row = dict(row)
        if isinstance(row.get("reasons"), list):
            row["reasons"] = json.dumps(row["reasons"], ensure_ascii=False)
        if isinstance(row.get("probabilities"), dict):
            row["probabilities"] = json.dumps(row["probabilities"], sort_keys=True)
        if isinstance(row.get("uncertain"), bool):
            row["uncertain"] = int(row["uncertain"])
        cols = ", ".join(row)
        vals = ", ".join(f":{k}" for k in row)
        cur = self.db.execute(f"INSERT OR IGNORE INTO messages ({cols}) VALUES ({vals})", row)
        return cur.lastrowid if cur.rowcount == 1 else None

    def messages(self, probe_id: int | None = None, unmatched: bool = False,
                 problems: bool = False) -> list[sqlite3.Row]:
        if problems:
            return self.query("SELECT * FROM messages WHERE problem IS NOT NULL ORDER BY id")
        if unmatched:
            return self.query("SELECT * FROM messages WHERE probe_id IS NULL ORDER BY id")
        if probe_id is not None:
            return self.query("SELECT * FROM messages WHERE probe_id = ? ORDER BY received_at",
                              (probe_id,))
        return self.query("SELECT * FROM messages ORDER BY id")

    def assign_message(self, message_id: int, probe_id: int | None, method: str = "manual") -> None:
        if self.one("SELECT 1 FROM messages WHERE id = ?", (message_id,)) is None:
            raise StoreError(f"no message {message_id}")
        if probe_id is not None:
            self.probe(probe_id)
        self.db.execute("UPDATE messages SET probe_id = ?, match_method = ? WHERE id = ?",
                        (probe_id, method if probe_id else None, message_id))

    # -- plan state ------------------------------------------------------------------
    def plan_value(self, key: str) -> str | None:
        row = self.one("SELECT value FROM plan_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_plan_value(self, key: str, value: str, now: datetime) -> None:
        self.db.execute("INSERT INTO plan_state (key, value, updated_at) VALUES (?, ?, ?) ON "
                        "CONFLICT(key) DO UPDATE SET value = excluded.value, "
                        "updated_at = excluded.updated_at", (key, value, utc_iso(now)))

    # -- sync state ------------------------------------------------------------------
    def sync_state(self, source: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM sync_state WHERE source = ?", (source,))

    def set_sync_state(self, source: str, now: datetime, *, uidvalidity: int | None = None,
                       last_uid: int = 0, cursor: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO sync_state (source, uidvalidity, last_uid, cursor, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET"
            " uidvalidity=excluded.uidvalidity, last_uid=excluded.last_uid,"
            " cursor=excluded.cursor, updated_at=excluded.updated_at",
            (source, uidvalidity, last_uid, cursor, utc_iso(now)),
        )


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _check_file(path: Path) -> None:
    """Refuse a study.db that is not an SQLite file or is cut short, without touching it."""
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"{path} is not a file; move it away so the study can use that name")
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        return  # SQLite's own way of saying "new, empty database"
    if not head.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path} is not a servicebench study database (not an SQLite file); "
                         "it was left untouched. Move it away or use another folder.")
    if len(head) < 100:
        raise StoreError(f"{path} is truncated ({size} bytes); it was left untouched. Restore "
                         "it from a backup.")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    wal = path.with_name(path.name + "-wal")
    wal_empty = not wal.exists() or wal.stat().st_size == 0
    if wal_empty and pages and page_size and size < pages * page_size:
        raise StoreError(f"{path} is truncated ({size} bytes of {pages * page_size}); it was "
                         "left untouched. Restore it from a backup (the raw evidence/ files are "
                         "intact).")


def db_error_message(path: Path, exc: sqlite3.Error) -> str:
    """A clear message for an SQLite error met while opening or using the study database."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (f"{path} is locked by another program (not a servicebench command: those wait "
                "for each other). Close it (e.g. an open sqlite3 shell or DB browser) and try "
                "again.")
    if "readonly" in text or "read-only" in text:
        return f"{path} cannot be written ({text}); check the folder's permissions."
    if isinstance(exc, sqlite3.OperationalError) and "disk" not in text and "malformed" not in \
            text and "not a database" not in text:
        return f"{path}: {text}"
    return (f"{path} is damaged or not a servicebench study database ({text}). It was left "
            "untouched; restore it from a backup (the raw evidence/ files are intact).")


class Batch:
    """Commit many items (e.g. received messages) together instead of one by one.

    Each item runs in a savepoint: an item that fails is undone alone, the items before it
    are committed, and the error goes on. Crash safety is that of one transaction per item:
    whatever an item names (an evidence file) is written inside the item and fsynced before
    the commit that makes its row durable; a crash loses only uncommitted rows, whose
    sources (e.g. IMAP UIDs above the committed sync state) are read again next time (and
    an evidence file left from then is recognised by its content, never overwritten).
    """

    def __init__(self, store: Store, size: int, seconds: float) -> None:
        self.store, self.db = store, store.db
        self.size, self.seconds = max(1, size), seconds
        self.pending = 0
        self.started = 0.0

    def __enter__(self) -> Batch:
        self.store._unsynced = []
        self._begin()
        return self

    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.pending, self.started = 0, time.monotonic()

    def _commit(self) -> None:
        self.store.sync_evidence()  # the evidence is durable before the rows naming it
        self.db.execute("COMMIT")

    def commit(self) -> None:
        self._commit()
        self._begin()

    @contextmanager
    def item(self) -> Iterator[None]:
        self.db.execute("SAVEPOINT batch_item")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO batch_item")
            self.db.execute("RELEASE batch_item")
            raise
        self.db.execute("RELEASE batch_item")
        self.pending += 1
        if self.pending >= self.size or time.monotonic() - self.started >= self.seconds:
            self.commit()

    def __exit__(self, *_: object) -> None:
        try:
            self._commit()  # a failed item was rolled back alone: keep the others
        finally:
            self.store._unsynced = None


def _safe_relpath(relpath: str) -> str:
    parts = [re.sub(r"[^A-Za-z0-9._@+-]", "_", p) for p in Path(relpath).parts]
    parts = [p for p in parts if p not in ("", ".", "..")]
    if not parts:
        raise StoreError(f"bad evidence path {relpath!r}")
    return "/".join(parts)


def iter_rows(rows: list[sqlite3.Row]) -> Iterator[dict[str, Any]]:
    for r in rows:
        yield dict(r)
