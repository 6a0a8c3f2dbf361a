"""What one ``run`` or ``collect`` came to, and the exit code it means (README "Exit
codes"); what to tell the user when a peer refused the credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .channels import get_channel
from .errors import EXIT_ALERT, EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, NotConfigured
from .study import Study


@dataclass
class RunSummary:
    planned: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    unknown: int = 0
    retry_later: int = 0
    skipped_channels: dict[str, str] = field(default_factory=dict)
    collected: int = 0
    notes: list[str] = field(default_factory=list)
    #: channels whose credentials the peer refused (disabled for this run)
    refused: dict[str, str] = field(default_factory=dict)
    #: due probes left planned because their channel was skipped or disabled
    held: int = 0
    #: when the earliest temporary failure is tried again (UTC ISO)
    next_try_at: str | None = None
    collect_errors: dict[str, str] = field(default_factory=dict)
    collected_ok: int = 0  # channels that collected without error
    alerts: list[dict[str, Any]] = field(default_factory=list)
    follow_ups_sent: int = 0

    @property
    def problems(self) -> int:
        return (self.failed + self.unknown + self.retry_later + self.held
                + len(self.refused) + len(self.collect_errors))

    def exit_code(self) -> int:
        """0 done (4 if an alert fired); 1 nothing of what was due could be sent (or, with
        nothing due, nothing could be collected); 3 partly done."""
        if not self.problems:
            return EXIT_ALERT if self.alerts else EXIT_OK
        due = self.sent + self.failed + self.unknown + self.retry_later + self.held
        if due and not self.sent:
            return EXIT_ERROR
        if not due and not self.collected_ok:
            return EXIT_ERROR
        return EXIT_PARTIAL

    def to_dict(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code(), "planned": self.planned, "sent": self.sent,
                "failed": self.failed, "blocked": self.blocked, "unknown": self.unknown,
                "retry_later": self.retry_later, "next_try_at": self.next_try_at,
                "held": self.held, "collected": self.collected,
                "skipped_channels": self.skipped_channels,
                "credentials_refused": self.refused, "collect_errors": self.collect_errors,
                "follow_ups_sent": self.follow_ups_sent, "alerts": self.alerts,
                "notes": self.notes}


def credential_hint(study: Study, exc: NotConfigured, channel: str = "") -> str:
    """What to fix after a refused login: the variables behind the keys, and where."""
    settings = getattr(exc, "settings", ()) or ()
    if not settings and channel:
        settings = get_channel(channel).credential_keys
    names: list[str] = []
    for key in settings:
        for var in study.variables.get(key, []):
            if var not in names:
                names.append(var)
    if names:
        where = study.folder / ".env"
        return (f"fix {' / '.join(names)} in {where} (or the environment), then run "
                "servicebench run again: the channel's probes stay planned")
    if settings:
        return (f"fix {' / '.join(settings)} in {study.file}, then run servicebench run "
                "again: the channel's probes stay planned")
    return "fix the credentials, then run servicebench run again: its probes stay planned"
