"""Shared fixtures: TLS certificates, the sandbox with an accelerated clock, Dovecot."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicebench.clock import AcceleratedClock
from servicebench.sandbox.companies import SandboxCompany
from servicebench.sandbox.core import Sandbox

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    from tlsutil import make_self_signed

    cert, key = make_self_signed(tmp_path_factory.mktemp("tls"))
    return Path(cert), Path(key)


@pytest.fixture(scope="session")
def dovecot(tls_cert: tuple[Path, Path]) -> Iterator:
    from servers import dovecot_available, start_dovecot

    if not dovecot_available():
        if IN_CI:
            pytest.fail("dovecot is not installed; ./dev test installs dovecot-imapd")
        pytest.skip("dovecot not installed (./dev test installs it)")
    server = start_dovecot(*tls_cert)
    yield server
    server.stop()


def make_clock(factor: float = 20000.0) -> AcceleratedClock:
    return AcceleratedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=2),
                            factor)


TEST_COMPANIES = [
    ("fastco", "fast"), ("helpco", "helpdesk"), ("ackco", "ack-then-silence"),
    ("silentco", "never"), ("goneco", "bounce"), ("threadco", "new-thread"),
]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    companies = [SandboxCompany(cid, cid.capitalize(), f"{cid}.sandbox.test", behaviour)
                 for cid, behaviour in TEST_COMPANIES]
    sb = Sandbox(make_clock(), tmp_path / "sandbox", companies, with_forms=False)
    sb.start()
    yield sb
    sb.stop()


def sandbox_study_yaml(companies: list[tuple[str, str]] = TEST_COMPANIES,
                       window: str = "1d", extra: str = "") -> str:
    comp = "\n".join(f"  - {{id: {cid}, name: {cid.capitalize()}, channels: "
                     f"{{email: service@{cid}.sandbox.test}}}}" for cid, _ in companies)
    return textwrap.dedent(f"""\
        study: {{id: sbtest, title: Sandbox test, language: en, window: {window}}}
        mailbox:
          smtp: {{host: 127.0.0.1, port: "${{SANDBOX_SMTP_PORT}}", security: none,
                 username: "${{SANDBOX_USER}}", password: "${{SANDBOX_PASSWORD}}"}}
          imap: {{host: 127.0.0.1, port: "${{SANDBOX_IMAP_PORT}}", security: none,
                 username: "${{SANDBOX_USER}}", password: "${{SANDBOX_PASSWORD}}"}}
          sent_copies: server
        {extra}
        personas:
          - {{id: alex, name: Alex Morgan, email: alex.morgan@shopper.sandbox.test}}
        scenarios:
          - id: tariff
            subject: "Switching tariff before my contract ends"
            body: |
              Hello,

              I have a contract with {{{{ company.name }}}} that still runs for eight months.
              Can I switch to a bigger tariff before the contract ends?

              Thank you, {{{{ persona.name }}}}
            expect:
              - {{id: possible, label: possible, any: ["possible at any time"]}}
        companies:
        """) + comp + "\n"
