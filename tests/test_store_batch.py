"""Batched commits keep the crash safety of one transaction per item."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from servicebench.store import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _row(i: int, ev: str) -> dict:
    return {"channel": "email", "source": "test", "external_id": f"m{i}", "probe_id": None,
            "kind": "human", "reasons": [], "evidence": ev, "fetched_at": "x"}


def _committed(folder: Path) -> list[str]:
    with sqlite3.connect(folder / "study.db") as db:  # another connection: sees commits only
        return [r[0] for r in db.execute("SELECT external_id FROM messages ORDER BY id")]


def test_failed_item_is_undone_alone_and_the_others_are_committed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.batch(size=100) as batch:
        for i in range(5):
            with batch.item():
                ev = store.write_evidence(f"inbox/{i}.eml", f"message {i}".encode())
                store.insert_message(_row(i, ev.path))
                store.set_sync_state("test", NOW, uidvalidity=1, last_uid=i)
                if i == 3:
                    raise RuntimeError("parser broke")
            if i < 3:  # nothing is durable before the batch commits
                assert _committed(tmp_path) == []
    assert _committed(tmp_path) == ["m0", "m1", "m2"]
    assert store.sync_state("test")["last_uid"] == 2
    # the evidence of every row is on disk (written before its row); the undone item's file
    # may stay, and is recognised by its content when the message is read again
    for i in range(4):
        assert (tmp_path / f"evidence/inbox/{i}.eml").read_bytes() == f"message {i}".encode()


def test_commits_every_size_items(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.batch(size=2) as batch:
        for i in range(5):
            with batch.item():
                store.insert_message(_row(i, "evidence/x"))
            assert len(_committed(tmp_path)) == (i + 1) // 2 * 2
    assert len(_committed(tmp_path)) == 5


def test_evidence_is_synced_before_the_commit_that_names_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    seen: list[tuple[list[str], list[str]]] = []
    sync = store.sync_evidence

    def watched() -> None:  # what is durable at the moment the evidence gets fsynced
        seen.append(([p.name for p in store._unsynced or []], _committed(tmp_path)))
        sync()

    store.sync_evidence = watched  # type: ignore[method-assign]
    with store.batch(size=2) as batch:
        for i in range(3):
            with batch.item():
                ev = store.write_evidence(f"inbox/{i}.eml", f"message {i}".encode())
                store.insert_message(_row(i, ev.path))
    assert seen == [(["0.eml", "1.eml"], []), (["2.eml"], ["m0", "m1"])]
    assert _committed(tmp_path) == ["m0", "m1", "m2"]
    assert store._unsynced is None  # outside a batch every file is fsynced as it is written
