"""Fast start: validation remembered by the resolved document's hash, channel modules
imported only when the study uses them, no heavy libraries on the collect path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from servicebench import study as study_mod
from servicebench.errors import StudyError
from servicebench.study import load_study
from servicebench.validation_cache import CACHE_FILE

GOOD = textwrap.dedent("""\
    study: {id: t1, title: Test, language: en, window: 3d}
    mailbox:
      smtp: {host: 127.0.0.1, port: "${PORT}", security: none, username: u, password: "${PW}"}
      imap: {host: 127.0.0.1, port: 143, security: none, username: u, password: "${PW}"}
    personas:
      - {id: lena, name: Lena Berger, email: lena@shopper.example}
    scenarios:
      - {id: q1, subject: "Frage", body: "Hallo {{ persona.name }}"}
    companies:
      - {id: acme, name: ACME, channels: {email: help@acme.example}}
    """)
ENV = {"PW": "very-secret-password", "PORT": "25"}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = study_mod._validate

    def validate(resolved, col):  # noqa: ANN001, ANN202
        calls.append(1)
        return real(resolved, col)

    monkeypatch.setattr(study_mod, "_validate", validate)
    return calls


def test_validation_is_remembered_and_redone_when_anything_changes(
        tmp_path: Path, counted: list[int]) -> None:
    (tmp_path / "study.yaml").write_text(GOOD)
    load_study(tmp_path, environ=ENV)
    assert len(counted) == 1
    cache = (tmp_path / CACHE_FILE).read_text()
    assert "very-secret-password" not in cache
    load_study(tmp_path, environ=ENV)
    assert len(counted) == 1  # remembered
    load_study(tmp_path, environ={**ENV, "PW": "another-password"})
    assert len(counted) == 1  # a secret's value is not validated beyond being text
    load_study(tmp_path, environ={**ENV, "PORT": "26"})
    assert len(counted) == 2  # a resolved value changed
    (tmp_path / "study.yaml").write_text(GOOD.replace("window: 3d", "window: 4d"))
    load_study(tmp_path, environ=ENV)
    assert len(counted) == 3  # the file changed
    # a schema version the cache does not know: validated again
    data = json.loads((tmp_path / CACHE_FILE).read_text())
    (tmp_path / CACHE_FILE).write_text(json.dumps({**data, "schema_version": -1}))
    load_study(tmp_path, environ=ENV)
    assert len(counted) == 4


def test_problems_are_never_remembered(tmp_path: Path, counted: list[int]) -> None:
    (tmp_path / "study.yaml").write_text(GOOD.replace("window: 3d", "window: soon"))
    for _ in range(2):
        with pytest.raises(StudyError) as exc:
            load_study(tmp_path, environ=ENV)
        assert any("window" in p.key for p in exc.value.problems)
    assert len(counted) == 2
    assert not (tmp_path / CACHE_FILE).exists()


def test_unreadable_cache_and_readonly_folder_are_harmless(tmp_path: Path,
                                                          counted: list[int]) -> None:
    (tmp_path / "study.yaml").write_text(GOOD)
    (tmp_path / CACHE_FILE).write_text("{not json")
    load_study(tmp_path, environ=ENV)
    (tmp_path / CACHE_FILE).unlink()
    (tmp_path / CACHE_FILE).mkdir()  # cannot be written
    load_study(tmp_path, environ=ENV)
    assert len(counted) == 2


def test_collect_path_imports_only_what_the_study_uses(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(GOOD)
    code = textwrap.dedent(f"""\
        import sys
        from servicebench.clock import SystemClock
        from servicebench.runner import Runner
        from servicebench.store import Store
        from servicebench.study import load_study
        study = load_study({str(tmp_path)!r}, environ={ENV!r})
        with Runner(study, Store(study.folder), SystemClock()) as r:
            assert list(r.channels) == ["email"], r.channels
        heavy = ("servicebench.probes.webform", "servicebench.probes.social", "playwright",
                 "pandas", "jinja2", "weasyprint", "jsonschema", "servicebench.classify")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or
                     any(m.startswith(h) for h in heavy)))
        """)
    run = [sys.executable, "-c", code]
    subprocess.run(run, check=True, capture_output=True)  # validates, remembers it
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_registry_names_without_importing_and_loads_on_use() -> None:
    code = textwrap.dedent("""\
        import sys
        from servicebench.channels import registry, get_channel
        r = registry()
        assert "email" in r and "nope" not in r
        assert "servicebench.probes.webform" not in sys.modules
        assert get_channel("webform").name == "webform"
        assert sorted(r) == ["bluesky", "chat", "email", "mastodon", "phone", "visit",
                             "webform", "x"], sorted(r)
        print("ok")
        """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "ok"
