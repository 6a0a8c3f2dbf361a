"""Study files: loading, every problem reported with file and line, secrets from .env."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from servicebench.cli import cli
from servicebench.errors import StudyError
from servicebench.study import load_study, parse_duration

GOOD = textwrap.dedent("""\
    study: {id: t1, title: Test, language: en, timezone: Europe/Berlin, window: 3d}
    mailbox:
      smtp: {host: 127.0.0.1, port: 25, security: none, username: u, password: "${PW}"}
      imap: {host: 127.0.0.1, port: 143, security: none, username: u, password: "${PW}"}
    personas:
      - {id: lena, name: Lena Berger, email: lena@shopper.example}
    scenarios:
      - id: q1
        subject: "Frage an {{ company.name }}"
        body: "Hallo, ... {{ persona.name }}"
        expect: [{id: a, label: A, any: [ja]}]
    companies:
      - {id: acme, name: ACME, channels: {email: help@acme.example}}
    """)


def write(tmp_path: Path, text: str, env: str | None = None) -> Path:
    (tmp_path / "study.yaml").write_text(text, encoding="utf-8")
    if env is not None:
        (tmp_path / ".env").write_text(env, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    write(tmp_path, text)
    with pytest.raises(StudyError) as exc:
        load_study(tmp_path, environ=environ if environ is not None else {"PW": "x"})
    return [str(p) for p in exc.value.problems]


def test_good_study_loads_with_secret_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, GOOD, env="PW=s3cret-value\n")
    study = load_study(tmp_path, environ={})
    assert study.window.total_seconds() == 3 * 86400
    assert study.settings["mailbox"]["smtp"]["password"] == "s3cret-value"
    assert "s3cret-value" in study.secrets
    assert study.redact("login with s3cret-value") == "login with ***"
    assert study.render(study.scenarios[0].subject, study.personas[0], study.companies[0],
                        study.scenarios[0]) == "Frage an ACME"


def test_every_problem_is_reported_with_line_and_key(tmp_path: Path) -> None:
    bad = GOOD.replace("id: t1,", "id: t1, colour: red,") \
              .replace("lena@shopper.example", "lena-at-shopper") \
              .replace("window: 3d", "window: three days") \
              .replace("channels: {email: help@acme.example}",
                       "channels: {email: help@acme.example, telex: 123}")
    bad += "  - {id: acme, name: Again, channels: {email: x@acme.example}}\n"
    found = problems(tmp_path, bad)
    text = "\n".join(found)
    assert len(found) == 5, text
    assert f"{tmp_path / 'study.yaml'}:1: study.colour: unknown key 'colour'" in text
    assert "study.window: 'three days' is not a duration" in text
    assert ":6: personas[0].email: 'lena-at-shopper' is not an email address" in text
    assert ":13: companies[0].channels.telex: unknown key 'telex'" in text
    assert ":14: companies[1].id: duplicate id 'acme'" in text


def test_undefined_variable_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD, environ={})
    assert len(found) == 2
    assert all("${PW} is not set; export PW=" in p for p in found)
    assert found[0].startswith(f"{tmp_path / 'study.yaml'}:3: mailbox.smtp.password")


def test_scenario_channel_no_company_has(tmp_path: Path) -> None:
    bad = GOOD.replace('expect: [{id: a, label: A, any: [ja]}]',
                       'expect: [{id: a, label: A, any: [ja]}]\n    channels: [email, nochan]')
    found = problems(tmp_path, bad)
    assert len(found) == 1 and "unknown channel 'nochan'" in found[0]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("personas:\n", "personas:\n  - {id: x\n"))
    with pytest.raises(StudyError, match=r"study.yaml:7: not valid YAML"):
        load_study(tmp_path, environ={"PW": "x"})


def test_template_error_is_a_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("{{ company.name }}", "{{ company.name"))
    assert len(found) == 1 and "scenarios[0].subject: template error" in found[0]


@pytest.mark.parametrize("value,seconds", [("90s", 90), ("30m", 1800), ("48h", 172800),
                                           ("7d", 604800), (120, 120)])
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value).total_seconds() == seconds


def test_cli_validate_exit_code_and_no_traceback(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("window: 3d", "window: soon"))
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)], env={"PW": "x"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "study.window" in result.output


def test_cli_validate_ok(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)], env={"PW": "x"})
    assert result.exit_code == 0, result.output
    assert "OK (1 companies" in result.output


def test_missing_study_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "servicebench init" in result.output


@pytest.mark.parametrize("language", ["en", "de"])
def test_init_writes_a_study_that_validates(tmp_path: Path, language: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(tmp_path / "s"), "--language", language])
    assert result.exit_code == 0, result.output
    env = {"SMTP_USER": "u", "SMTP_PASSWORD": "p", "IMAP_USER": "u", "IMAP_PASSWORD": "p"}
    result = runner.invoke(cli, ["validate", str(tmp_path / "s")], env=env)
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, ["init", str(tmp_path / "s")])
    assert again.exit_code == 2 and "--force" in again.output


def test_schema_is_json_schema_with_channels() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    chans = schema["properties"]["companies"]["items"]["properties"]["channels"]["properties"]
    assert "email" in chans
    assert "mailbox" in schema["properties"]


def test_example_studies_validate() -> None:
    root = Path(__file__).resolve().parent.parent / "studies"
    env = {"SMTP_USER": "u", "SMTP_PASSWORD": "p", "IMAP_USER": "u", "IMAP_PASSWORD": "p",
           "SANDBOX_SMTP_PORT": "2525", "SANDBOX_IMAP_PORT": "1143", "SANDBOX_USER": "s",
           "SANDBOX_PASSWORD": "p", "SANDBOX_WEB": "http://127.0.0.1:8025",
           "SANDBOX_MASTODON": "http://127.0.0.1:8026", "SANDBOX_MASTODON_TOKEN": "t",
           "SANDBOX_X": "http://127.0.0.1:8027", "SANDBOX_X_TOKEN": "t",
           "SANDBOX_BSKY": "http://127.0.0.1:8028", "SANDBOX_BSKY_HANDLE": "a.shopper.test",
           "SANDBOX_BSKY_PASSWORD": "p"}
    for folder in sorted(p for p in root.iterdir() if (p / "study.yaml").exists()):
        study = load_study(folder, environ=env)
        assert study.companies


def test_packaged_demo_study_is_the_one_in_studies() -> None:
    """``servicebench demo`` falls back to a packaged copy when installed without the
    repository's studies/ folder; the two must not drift apart."""
    root = Path(__file__).resolve().parent.parent
    assert (root / "benchmark" / "init_template" / "sandbox-demo.yaml").read_text() == \
        (root / "studies" / "sandbox-demo" / "study.yaml").read_text()
