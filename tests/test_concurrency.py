"""Issue 8: one study, one process. The study lock, atomic migrations, and two concurrent
``servicebench run`` against an SMTP server that pauses before accepting: never a duplicate."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_clock, sandbox_study_yaml

from servicebench.cli import cli
from servicebench.clock import CLOCK_ENV
from servicebench.lock import INFO_FILE, StudyLock, holder_info
from servicebench.migrations import MIGRATIONS
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox
from servicebench.sandbox.smtp_server import SmtpFault
from servicebench.store import Store

MANUAL_STUDY = textwrap.dedent("""\
    study: {id: hotline, title: Hotline test, language: en}
    personas: [{id: p, name: Pat Doe, email: pat@shopper.example}]
    scenarios: [{id: s, subject: Tariff, body: Question}]
    companies: [{id: acme, name: ACME, channels: {phone: "+49 800 1234567"}}]
    """)


def manual_study(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(MANUAL_STUDY)
    return folder


def test_a_second_process_is_told_who_holds_the_study(tmp_path: Path) -> None:
    d = manual_study(tmp_path / "s")
    with StudyLock(d, "run --watch"):
        info = holder_info(d)
        assert info is not None and info["pid"] == os.getpid()
        t0 = time.monotonic()
        result = CliRunner().invoke(cli, ["collect", str(d), "--wait", "0.3"])
        assert time.monotonic() - t0 >= 0.3
        assert result.exit_code == 1
        assert "busy" in result.output and f"process {os.getpid()} (run --watch)" in result.output
        assert "--wait" in result.output
        for args in (["assign", "1", "1", "--folder", str(d), "--wait", "0"],
                     ["resolve", "1", "--not-sent", "--folder", str(d), "--wait", "0"],
                     ["log", str(d), "--import", str(d / "study.yaml"), "--wait", "0"],
                     ["run", str(d), "--wait", "0"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 1 and "busy" in result.output, (args, result.output)
    assert not (d / INFO_FILE).exists()  # released: the holder's note is gone
    assert not (d / "study.db").exists() or Store(d).probes() == []  # nothing happened


def test_a_second_process_waits_for_the_first(tmp_path: Path) -> None:
    d = manual_study(tmp_path / "s")
    lock = StudyLock(d, "run").acquire()
    threading.Timer(0.5, lock.release).start()
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["collect", str(d), "--wait", "20"])
    assert result.exit_code == 0, result.output
    assert 0.4 < time.monotonic() - t0 < 15


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    d = manual_study(tmp_path / "s")
    code = ("import sys, time; from servicebench.lock import StudyLock; "
            f"StudyLock({str(d)!r}, 'run').acquire(); print('locked', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(Exception, match="busy"):
            StudyLock(d, wait=0).acquire()
        proc.kill()  # like kill -9: no clean-up runs
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with StudyLock(d, wait=0):  # the kernel released it; the stale note does not matter
        pass


def test_opening_tries_again_where_sqlite_does_not_wait(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Switching a fresh study to WAL can fail at once with "database is locked" while other
    processes open it too (SQLite skips its busy wait where waiting could deadlock; seen in
    CI). Opening tries again instead of failing; other errors are not retried."""
    import sqlite3

    import servicebench.store as store_mod

    real_connect = sqlite3.connect
    failures = {"left": 2}

    class Flaky:
        def __init__(self, conn: sqlite3.Connection) -> None:
            object.__setattr__(self, "_c", conn)

        def __getattr__(self, name: str) -> object:
            return getattr(self._c, name)

        def __setattr__(self, name: str, value: object) -> None:
            setattr(self._c, name, value)

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if "journal_mode" in sql and failures["left"]:
                failures["left"] -= 1
                raise sqlite3.OperationalError("database is locked")
            return self._c.execute(sql, *args)

    monkeypatch.setattr(store_mod.sqlite3, "connect",
                        lambda *a, **kw: Flaky(real_connect(*a, **kw)))
    store = Store(tmp_path, timeout=5)
    assert failures["left"] == 0
    assert [r["number"] for r in store.query("SELECT number FROM _migrations")] == [
        n for n, _, _ in MIGRATIONS]
    store.close()
    failures["left"] = 1000  # locked for longer than the timeout: a clear error, in time
    (tmp_path / "x").mkdir()
    start = time.monotonic()
    with pytest.raises(Exception, match="locked"):
        Store(tmp_path / "x", timeout=0.3)
    assert time.monotonic() - start < 5


def test_fresh_study_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    code = "import sys; from servicebench.store import Store; Store(sys.argv[1]).close()"
    for i in range(5):
        d = tmp_path / f"s{i}"
        d.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", code, str(d)], stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        store = Store(d)
        numbers = [r["number"] for r in store.query("SELECT number FROM _migrations")]
        assert numbers == [n for n, _, _ in MIGRATIONS]


def _message_ids(data: list[bytes]) -> Counter[str]:
    return Counter(str(email.message_from_bytes(raw).get("Message-ID")) for raw in data)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_concurrent_runs_never_send_twice(tmp_path: Path) -> None:
    """20 rounds: two `servicebench run` start together on a fresh study; the SMTP server
    pauses before accepting, as real servers do while scanning. Each probe arrives once."""
    companies = [SandboxCompany("fastco", "Fastco", "fastco.sandbox.test", "fast"),
                 SandboxCompany("silentco", "Silentco", "silentco.sandbox.test", "never")]
    fault = SmtpFault(hold_seconds=0.4, store_before_hold=False)
    clock = make_clock(factor=50.0)
    with Sandbox(clock, tmp_path / "sb", companies, with_forms=False, smtp_fault=fault) as sb:
        env = {**os.environ, **sb.env(), CLOCK_ENV: clock.spec()}
        for round_ in range(20):
            d = tmp_path / f"study{round_}"
            d.mkdir()
            (d / "study.yaml").write_text(sandbox_study_yaml(
                companies=[("fastco", "fast"), ("silentco", "never")]).replace(
                "id: sbtest", f"id: sbtest{round_}"))
            before = len(sb.smtp.accepted)
            procs = [subprocess.Popen([sys.executable, "-m", "servicebench.cli", "run", str(d),
                                       "--wait", "120"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True) for _ in range(2)]
            outs = [p.communicate(timeout=180)[0] for p in procs]
            for p, out in zip(procs, outs, strict=True):
                assert p.returncode == 0, out
                assert "Traceback" not in out
            ids = _message_ids([a.data for a in sb.smtp.accepted[before:]])
            assert sum(ids.values()) == 2 and set(ids.values()) == {1}, (round_, ids, outs)
            states = [r["state"] for r in Store(d).probes()]
            assert states == ["sent", "sent"], (round_, states, outs)
