"""Every command has help text and is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from servicebench.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands)


def test_there_are_commands() -> None:
    assert {"init", "validate", "run", "collect", "report", "export", "sandbox",
            "demo", "classify", "status", "inbox"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_and_is_in_readme(name: str) -> None:
    cmd = cli.commands[name]
    assert cmd.help and len(cmd.help.strip()) > 10, f"{name} has no help text"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert re.search(rf"`{re.escape(name)}( [^`]*)?`", README), f"{name} is not in README.md"
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help text"


def test_core_does_not_import_click() -> None:
    root = Path(__file__).resolve().parent.parent
    offenders = [str(p.relative_to(root)) for folder in ("benchmark", "probes")
                 for p in (root / folder).rglob("*.py")
                 if p.name != "cli.py" and re.search(r"^\s*(import click|from click)",
                                                     p.read_text(), re.M)]
    assert offenders == []
