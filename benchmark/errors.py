"""Typed errors raised by the core. Only ``servicebench.cli`` turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass

#: documented exit codes of the commands (README "Exit codes")
EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_ALERT = 0, 1, 2, 3, 4


class ServicebenchError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""

    exit_code = 1


@dataclass
class Problem:
    """One finding in a study file: where it is and what to do about it."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}"


class StudyError(ServicebenchError):
    """The study file is missing, unreadable or invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)

    def __str__(self) -> str:
        head = self.args[0]
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class StoreError(ServicebenchError):
    """The study database or evidence folder cannot be used."""


class ProbeError(ServicebenchError):
    """A probe could not be sent or collected. ``temporary`` errors may be retried."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        self.temporary = temporary
        super().__init__(message)


class NotConfigured(ServicebenchError):
    """A channel lacks what it needs (credentials, a browser...). It is skipped, the run goes on."""


class CredentialsRefused(NotConfigured):
    """The peer refused the configured credentials (SMTP 535/534, IMAP AUTHENTICATIONFAILED,
    HTTP 401/403). The channel is disabled for the run and its probes stay planned.
    ``settings`` names the study keys holding the credentials (e.g. mailbox.smtp.password),
    so the hint can name the environment variable to fix in ``.env``."""

    def __init__(self, message: str, settings: tuple[str, ...] = (),
                 scope: str = "all") -> None:
        self.settings = settings
        self.scope = scope  # "send": only sending is refused (SMTP); "all": the channel
        super().__init__(message)


class ClassifyError(ServicebenchError):
    """A message file could not be read for classification."""


class ProbeBlocked(ProbeError):
    """The peer refused to let a probe through (e.g. a CAPTCHA); recorded as blocked, never
    as sent, and not retried."""

    def __init__(self, reason: str, detail: dict | None = None) -> None:
        self.reason = reason
        self.detail = detail or {}
        super().__init__(f"blocked: {reason}")
