"""Issue 8: every kind of bad input ends in a clear message and a non-zero exit, never a
traceback, and leaves the disk exactly as it was (a snapshot of the folder before and after).
"""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from servicebench.cli import cli
from servicebench.store import Store

SECRET = "Canary-Pw-7731"

GOOD = textwrap.dedent("""\
    study: {id: t1, title: Test, language: en, timezone: Europe/Berlin, window: 3d}
    schedule: {start: "2026-11-24T09:00:00+01:00", spacing: 5m}
    mailbox:
      smtp: {host: 127.0.0.1, port: 25, security: none, username: u, password: "${SMTP_PASSWORD}"}
      imap: {host: 127.0.0.1, port: 143, security: none, username: u, password: "${SMTP_PASSWORD}"}
    personas:
      - {id: lena, name: Lena Berger, email: lena@shopper.example}
    scenarios:
      - id: q1
        subject: "Question for {{ company.name }}"
        body: "Hello, ... {{ persona.name }}"
        expect: [{id: a, label: A, any: ["yes"]}]
    companies:
      - {id: acme, name: ACME, channels: {email: help@acme.example, phone: "+49 800 1"}}
    """)


@dataclass
class Case:
    id: str
    args: list[str]  # "{d}" = the study folder, "{t}" = the temp folder
    yaml: str | Callable[[str], str] | None = None  # None: GOOD
    prepare: Callable[[Path], None] | None = None  # change the folder before the snapshot
    env: dict[str, str] = field(default_factory=dict)
    expect: str = ""  # a piece of the message
    db: bool = True  # create a valid study.db first


def sub(old: str, new: str) -> Callable[[str], str]:
    def f(text: str) -> str:
        assert old in text, old
        return text.replace(old, new)
    return f


def add(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


def write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8")
        else:
            p.write_bytes(data)
    return f


def steps(*fns: Callable[[Path], None]) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        for fn in fns:
            fn(d)
    return f


def db_sql(*statements: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        with sqlite3.connect(d / "study.db") as db:
            for s in statements:
                db.execute(s)
        db.close()
    return f


def truncate_db(d: Path) -> None:
    db = d / "study.db"
    with sqlite3.connect(db) as c:  # make it bigger than a few pages, then checkpoint
        c.execute("PRAGMA journal_mode=DELETE")
        c.executemany("INSERT INTO events (at, event) VALUES ('x', ?)",
                      [("e" * 200,)] * 400)
    c.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def corrupt_page(d: Path) -> None:
    db = d / "study.db"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode=DELETE")
        c.executemany("INSERT INTO events (at, event) VALUES ('x', ?)",
                      [("e" * 200,)] * 400)
    c.close()
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for i in range(page * 2, page * 4):
        data[i] = 0xA5
    db.write_bytes(bytes(data))


def other_app_db(d: Path) -> None:
    (d / "study.db").unlink()
    with sqlite3.connect(d / "study.db") as c:
        c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    c.close()


def csv_file(text: str | bytes) -> Callable[[Path], None]:
    return write("contacts.csv", text)


DEEP_FLOW = "[" * 20000 + "]" * 20000
DEEP_BLOCK = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
    for i in range(8))
CSV_HEAD = "probe,started_at,outcome\n"
EXISTING_DB_PROBLEM = "left untouched"

CASES = [
    # -- durations and dates that overflow or make no sense
    Case("window-huge", ["validate", "{d}"], sub("window: 3d", "window: 99999999999999999999d")),
    Case("window-ten-years", ["validate", "{d}"], sub("window: 3d", "window: 9999999w"),
         expect="ten years"),
    Case("window-int-huge", ["validate", "{d}"],
         sub("window: 3d", "window: 100000000000000000000")),
    Case("window-negative", ["validate", "{d}"], sub("window: 3d", "window: -5d")),
    Case("window-nan", ["validate", "{d}"], sub("window: 3d", "window: .nan")),
    Case("window-inf", ["validate", "{d}"], sub("window: 3d", "window: .inf")),
    Case("window-bool", ["validate", "{d}"], sub("window: 3d", "window: yes")),
    Case("spacing-huge", ["validate", "{d}"], sub("spacing: 5m", "spacing: 999999999d")),
    Case("spacing-digits", ["validate", "{d}"],
         sub("spacing: 5m", "spacing: 99999999999999999999999s")),
    Case("start-9999-minus", ["validate", "{d}"],
         sub("2026-11-24T09:00:00+01:00", "9999-12-31T23:59:59-12:00")),
    Case("start-9999-plus", ["validate", "{d}"],
         sub("2026-11-24T09:00:00+01:00", "9999-12-31T23:59:59+14:00")),
    Case("start-year-1", ["validate", "{d}"],
         sub("2026-11-24T09:00:00+01:00", "0001-01-01T00:00:00+14:00")),
    Case("start-garbage", ["validate", "{d}"], sub("2026-11-24T09:00:00+01:00", "soon")),
    Case("start-month-13", ["validate", "{d}"],
         sub("2026-11-24T09:00:00+01:00", "2026-13-45T99:00:00")),
    Case("start-unquoted-date", ["validate", "{d}"],
         sub('"2026-11-24T09:00:00+01:00"', "2026-11-24")),
    Case("schedule-past-9999", ["validate", "{d}"],
         lambda t: sub("window: 3d", "window: 1000d")(
             sub("2026-11-24T09:00:00+01:00", "2199-12-01T00:00:00+00:00")(t)), expect="year"),
    # -- YAML structure
    Case("duplicate-companies", ["validate", "{d}"],
         add("companies:\n  - {id: beta, name: Beta, channels: {email: x@beta.example}}\n"),
         expect="duplicate key"),
    Case("duplicate-persona-key", ["validate", "{d}"],
         sub("{id: lena, name: Lena Berger,", "{id: lena, name: Lena Berger, name: X,"),
         expect="duplicate key"),
    Case("alias-bomb", ["validate", "{d}"], add(BOMB), expect="alias"),
    Case("alias-bomb-merge", ["validate", "{d}"],
         add(BOMB + "z: {<<: *i}\n"), expect="alias"),
    Case("alias-cycle", ["validate", "{d}"], add("loop: &l [*l]\n")),
    Case("alias-undefined", ["validate", "{d}"], add("x: *nowhere\n")),
    Case("deep-flow", ["validate", "{d}"], add("deep: " + DEEP_FLOW + "\n")),
    Case("deep-block", ["validate", "{d}"], add("deep:\n" + textwrap.indent(DEEP_BLOCK, "  "))),
    Case("two-documents", ["validate", "{d}"], add("---\nstudy: {id: x}\n")),
    Case("tab-indent", ["validate", "{d}"], add("extra:\n\t- x\n")),
    Case("unclosed-flow", ["validate", "{d}"], add("x: [1, 2\n")),
    Case("not-utf8", ["validate", "{d}"], lambda t: t + "# \xff\n",
         prepare=write("study.yaml", GOOD.encode() + b"# \xff\xfe\n")),
    Case("null-bytes", ["validate", "{d}"], prepare=write("study.yaml", GOOD + "x: \x00\n")),
    Case("empty-file", ["validate", "{d}"], prepare=write("study.yaml", "")),
    Case("top-level-list", ["validate", "{d}"], prepare=write("study.yaml", "- a\n- b\n")),
    Case("top-level-scalar", ["validate", "{d}"], prepare=write("study.yaml", "hello\n")),
    Case("python-tag", ["validate", "{d}"],
         add('evil: !!python/object/apply:os.system ["touch pwned"]\n')),
    Case("binary-tag-title", ["validate", "{d}"], sub("title: Test", "title: !!binary aGk=")),
    Case("huge-file", ["validate", "{d}"], add("# " + "x" * 9_000_000 + "\n"), expect="MB"),
    Case("id-too-long", ["validate", "{d}"], sub("id: t1,", "id: " + "t" * 200 + ",")),
    Case("id-upper", ["validate", "{d}"], sub("id: t1,", "id: T1,")),
    Case("unknown-key", ["validate", "{d}"], add("colour: red\n")),
    Case("timezone-unknown", ["validate", "{d}"], sub("Europe/Berlin", "Mars/Olympus")),
    Case("timezone-path", ["validate", "{d}"], sub("Europe/Berlin", "../../../etc/passwd")),
    Case("jinja-syntax", ["validate", "{d}"], sub("{{ persona.name }}", "{{ persona.name")),
    Case("study-yaml-is-dir", ["validate", "{d}"],
         prepare=lambda d: ((d / "study.yaml").unlink(), (d / "study.yaml").mkdir())),
    Case("no-study", ["status", "{t}/nowhere"]),
    Case("empty-folder", ["status", "{t}/empty"], prepare=lambda d: (d.parent / "empty").mkdir()),
    # -- templates rendered at run time: sandbox limits
    Case("jinja-range", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ range(10**9)|list }}"), expect="template"),
    Case("jinja-mul", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ 'x' * 10**9 }}"), expect="template"),
    Case("jinja-pow", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ 2 ** 2 ** 2 ** 100 }}"), expect="template"),
    Case("jinja-loops", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}",
             "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"),
         expect="longer than"),
    Case("jinja-escape", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ persona.__class__.__mro__ }}"), expect="unsafe"),
    Case("jinja-undefined", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ nobody }}"), expect="undefined"),
    Case("jinja-include", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{% include '/etc/passwd' %}"), expect="template"),
    Case("jinja-zero-div", ["run", "--dry-run", "{d}"],
         sub("{{ persona.name }}", "{{ 1 // 0 }}"), expect="template"),
    Case("jinja-range-validate", ["validate", "{d}"],
         sub("{{ persona.name }}", "{{ range(10**9)|list }}"), expect="template"),
    Case("jinja-subject-validate", ["validate", "{d}"],
         sub("{{ company.name }}", "{{ company.nothing }}"), expect="template"),
    # -- secrets and .env
    Case("env-not-utf8", ["validate", "{d}"], prepare=write(".env", b"SMTP_PASSWORD=\xff\xfe\n"),
         expect="UTF-8"),
    Case("env-is-dir", ["validate", "{d}"],
         prepare=lambda d: ((d / ".env").unlink(), (d / ".env").mkdir())),
    Case("secret-in-enum", ["validate", "{d}"], sub("security: none, username: u, password",
                                                    'security: "${SMTP_PASSWORD}", username: u,'
                                                    " password")),
    # -- the database
    Case("db-random", ["status", "{d}"], prepare=write("study.db", os.urandom(8192)),
         expect=EXISTING_DB_PROBLEM),
    Case("db-text", ["inbox", "{d}"], prepare=write("study.db", "hello, not a database\n" * 50),
         expect=EXISTING_DB_PROBLEM),
    Case("db-truncated", ["status", "{d}"], prepare=truncate_db, expect="truncated"),
    Case("db-truncated-header", ["status", "{d}"],
         prepare=lambda d: write("study.db", (d / "study.db").read_bytes()[:60])(d)),
    Case("db-corrupt-page", ["report", "--format", "html", "{d}"], prepare=corrupt_page,
         expect=EXISTING_DB_PROBLEM),
    Case("db-is-dir", ["status", "{d}"],
         prepare=lambda d: ((d / "study.db").unlink(), (d / "study.db").mkdir())),
    Case("db-newer", ["status", "{d}"],
         prepare=db_sql("INSERT INTO _migrations VALUES (999, 'future', 'x')"), expect="newer"),
    Case("db-newer-export", ["export", "{d}"],
         prepare=db_sql("INSERT INTO _migrations VALUES (999, 'future', 'x')"), expect="newer"),
    Case("db-other-app", ["inbox", "{d}"], prepare=other_app_db, expect="not a servicebench"),
    # -- ids beyond SQLite's integers, and other command-line values
    Case("assign-huge-message", ["assign", "99999999999999999999", "1", "--folder", "{d}"]),
    Case("assign-huge-probe", ["assign", "1", "99999999999999999999", "--folder", "{d}"]),
    Case("assign-negative", ["assign", "--folder", "{d}", "--", "-1", "1"]),
    Case("assign-missing", ["assign", "5", "7", "--folder", "{d}"], expect="no message"),
    Case("resolve-huge", ["resolve", "99999999999999999999", "--not-sent", "--folder", "{d}"]),
    Case("resolve-missing", ["resolve", "3", "--not-sent", "--folder", "{d}"],
         expect="no probe"),
    Case("log-probe-huge", ["log", "{d}", "--probe", "99999999999999999999", "--started-at",
                            "2026-11-24T10:00", "--outcome", "gave_up"], expect="no probe"),
    Case("log-start-9999", ["log", "{d}", "--probe", "acme|phone|q1|lena|1", "--started-at",
                            "9999-12-31T23:59:59-12:00", "--outcome", "gave_up"]),
    Case("log-import-huge-id", ["log", "{d}", "--import", "{d}/contacts.csv"],
         prepare=csv_file(CSV_HEAD + "99999999999999999999,2026-11-24T10:00,gave_up\n")),
    Case("log-import-year-9999", ["log", "{d}", "--import", "{d}/contacts.csv"],
         prepare=csv_file(CSV_HEAD + "acme|phone|q1|lena|1,9999-12-31T23:59:59-12:00,gave_up\n")),
    Case("log-import-not-utf8", ["log", "{d}", "--import", "{d}/contacts.csv"],
         prepare=csv_file(b"probe,started_at,outcome\n\xff\xfe,\xff,\xff\n")),
    Case("log-import-binary", ["log", "{d}", "--import", "{d}/contacts.csv"],
         prepare=csv_file(bytes(range(256)) * 4)),
    Case("run-poll-huge", ["run", "--watch", "--poll", "99999999999999999999d", "{d}"]),
    Case("run-poll-garbage", ["run", "--watch", "--poll", "often", "{d}"]),
    Case("wait-nan", ["collect", "--wait", "nan", "{d}"]),
    # -- clock
    Case("clock-inf", ["status", "{d}"],
         env={"SERVICEBENCH_CLOCK": "2026-11-24T09:00:00+00:00@1764000000.0xinf"}),
    Case("clock-nan", ["status", "{d}"],
         env={"SERVICEBENCH_CLOCK": "2026-11-24T09:00:00+00:00@1764000000.0xnan"}),
    Case("clock-garbage", ["status", "{d}"], env={"SERVICEBENCH_CLOCK": "tomorrow"}),
    Case("clock-epoch-inf", ["status", "{d}"],
         env={"SERVICEBENCH_CLOCK": "2026-11-24T09:00:00+00:00@infx10"}),
    Case("sandbox-speed-inf", ["sandbox", "--speed", "inf", "--folder", "{t}/sb"]),
    Case("demo-speed-nan", ["demo", "--speed", "nan", "--out", "{t}/demo"]),
    # -- files and folders
    Case("init-onto-file", ["init", "{d}/study.yaml"], expect="is a file"),
    Case("init-onto-study", ["init", "{d}"], expect="exists"),
    Case("report-out-under-file", ["report", "--format", "html", "--out",
                                   "{d}/study.yaml/report.html", "{d}"]),
    Case("export-out-is-file", ["export", "--out", "{d}/study.yaml", "{d}"]),
    Case("report-broken-template", ["report", "--format", "html", "--templates", "{t}/tpl",
                                    "--out", "{t}/out.html", "{d}"],
         prepare=write("../tpl/report.html", "{% for x in %}broken"), expect="template"),
    Case("report-template-undefined", ["report", "--format", "html", "--templates", "{t}/tpl",
                                       "--out", "{t}/out.html", "{d}"],
         prepare=write("../tpl/report.html", "{{ nothing.at.all }}"), expect="template"),
    Case("classify-dir", ["classify", "{d}"]),
]


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    gc.collect()  # close SQLite connections the command left to the garbage collector
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel] = (-1, "dir")
        elif p.is_file():
            if p.name.endswith(("-wal", "-shm")) and p.stat().st_size == 0:
                continue
            out[rel] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def test_there_are_eighty_kinds() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_a_clear_message_and_changes_nothing(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "study"
    d.mkdir()
    text = GOOD if case.yaml is None or not callable(case.yaml) else case.yaml(GOOD)
    (d / "study.yaml").write_text(text, encoding="utf-8")
    (d / ".env").write_text(f"SMTP_PASSWORD={SECRET}\n", encoding="utf-8")
    if case.db:  # a study in use: its database exists and its probes are planned
        from servicebench.clock import SystemClock
        from servicebench.runner import plan
        from servicebench.study import load_study

        store = Store(d)
        try:
            plan(load_study(d, environ={"SMTP_PASSWORD": SECRET}), store, SystemClock().now())
        except Exception:  # noqa: BLE001 - a broken study file: nothing to plan
            pass
        store.close()
    if case.prepare:
        case.prepare(d)
    monkeypatch.setenv("SERVICEBENCH_DB_TIMEOUT", "0.5")
    monkeypatch.delenv("SERVICEBENCH_CLOCK", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    args = [a.replace("{d}", str(d)).replace("{t}", str(tmp_path)) for a in case.args]
    result = CliRunner().invoke(cli, args, input="")
    output = result.output
    assert result.exit_code not in (0, None), output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in output, output
    assert "Error" in output, output
    assert "unexpected error" not in output, output
    assert SECRET not in output
    assert case.expect.lower() in output.lower(), output
    assert len(output) < 4000, output[:4000]
    assert snapshot(tmp_path) == before, output


def test_a_locked_database_is_refused_clearly(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "study.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / ".env").write_text(f"SMTP_PASSWORD={SECRET}\n", encoding="utf-8")
    Store(tmp_path).close()
    monkeypatch.setenv("SERVICEBENCH_DB_TIMEOUT", "0.3")
    other = sqlite3.connect(tmp_path / "study.db", isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        result = CliRunner().invoke(cli, ["status", str(tmp_path)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 1, result.output
    assert "locked by another program" in result.output


def test_an_unexpected_error_prints_one_line_and_writes_the_trace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "study.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / ".env").write_text(f"SMTP_PASSWORD={SECRET}\n", encoding="utf-8")
    import servicebench.status

    def boom(*_: object) -> None:
        raise KeyError(f"internal {SECRET}")

    monkeypatch.setattr(servicebench.status, "status_rows", boom)
    result = CliRunner().invoke(cli, ["status", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unexpected error (KeyError" in result.output
    logs = list((tmp_path / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in result.output
    trace = logs[0].read_text()
    assert "Traceback" in trace and "boom" in trace
    assert SECRET not in trace and SECRET not in result.output


def test_validate_never_prints_a_secret(tmp_path: Path) -> None:
    bad = GOOD.replace("language: en", 'language: "${SMTP_PASSWORD}"')
    (tmp_path / "study.yaml").write_text(bad, encoding="utf-8")
    (tmp_path / ".env").write_text(f"SMTP_PASSWORD={SECRET}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "study.language" in result.output and "***" in result.output
    assert SECRET not in result.output
