"""Monitor-mode alerts: thresholds checked after every collection.

A rule such as ``no-human-reply=24h`` fires once per probe (recorded as an ``alert`` event,
so a later run does not repeat it); every alert is appended as one JSON line to
``alerts.log`` in the study folder, and can be POSTed to a webhook and mailed through the
study's own SMTP account.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from .clock import parse_utc, utc_iso
from .errors import ServicebenchError, StudyError
from .store import Store
from .study import Study, parse_duration

RULES = {
    "no-human-reply": "no human reply within {threshold} of sending",
    "no-reply": "no reply at all within {threshold} of sending",
    "send-failed": "the probe could not be sent",
}
ALERTS_FILE = "alerts.log"


@dataclass(frozen=True)
class Rule:
    name: str
    threshold: timedelta | None

    def describe(self) -> str:
        return RULES[self.name].format(threshold=self.threshold)


def parse_rule(text: str) -> Rule:
    """``no-human-reply=24h``, ``no-reply=3d`` or ``send-failed``."""
    name, _, value = text.strip().partition("=")
    if name not in RULES:
        raise StudyError(f"--alert {text!r}: unknown rule; use one of "
                         "no-human-reply=DURATION, no-reply=DURATION, send-failed")
    if name == "send-failed":
        return Rule(name, None)
    if not value:
        raise StudyError(f"--alert {text!r}: say after how long, e.g. {name}=24h")
    try:
        threshold = parse_duration(value)
    except ValueError as exc:
        raise StudyError(f"--alert {text!r}: {exc}") from None
    return Rule(name, threshold)


def check(study: Study, store: Store, now: datetime, rules: list[Rule]) -> list[dict[str, Any]]:
    """New alerts (each probe and rule at most once); recorded as events."""
    alerted = {(r["probe_id"], json.loads(r["detail"] or "{}").get("rule"))
               for r in store.query("SELECT probe_id, detail FROM events WHERE event = 'alert'")}
    kinds: dict[int, set[str]] = {}
    for m in store.query("SELECT probe_id, kind FROM messages WHERE probe_id IS NOT NULL"):
        kinds.setdefault(m["probe_id"], set()).add(m["kind"])
    out: list[dict[str, Any]] = []
    for row in store.probes():
        for rule in rules:
            if (row["id"], rule.name) in alerted or not _fires(rule, row, kinds, now):
                continue
            alert = {"at": utc_iso(now), "study": study.id, "rule": rule.name,
                     "what": rule.describe(), "probe_id": row["id"], "key": row["key"],
                     "company": row["company_id"], "channel": row["channel"],
                     "wave": row["wave"], "sent_at": row["sent_at"]}
            out.append(alert)
            with store.transaction():
                store.log_event(now, "alert", row["id"], {"rule": rule.name})
    if out:
        with open(study.folder / ALERTS_FILE, "a", encoding="utf-8") as fh:
            for a in out:
                fh.write(json.dumps(a, ensure_ascii=False) + "\n")
    return out


def _fires(rule: Rule, row: Any, kinds: dict[int, set[str]], now: datetime) -> bool:
    if rule.name == "send-failed":
        return bool(row["state"] == "failed")
    if row["state"] != "sent" or not row["sent_at"] or rule.threshold is None:
        return False
    if parse_utc(row["sent_at"]) + rule.threshold > now:  # type: ignore[operator]
        return False
    got = kinds.get(row["id"], set())
    if rule.name == "no-human-reply":
        return "human" not in got
    return not (got - {"unrelated"})


def line(alert: dict[str, Any]) -> str:
    return (f"ALERT {alert['at']} {alert['study']}: {alert['company']} · {alert['channel']} · "
            f"wave {alert['wave']} (probe {alert['probe_id']}): {alert['what']}")


def post_webhook(url: str, study: Study, alerts: list[dict[str, Any]],
                 timeout: float = 10.0) -> None:
    """POST ``{"study": ..., "alerts": [...]}`` as JSON; raise ServicebenchError on failure."""
    if not re.match(r"^https?://", url):
        raise StudyError(f"--alert-webhook {url!r}: use an http:// or https:// URL")
    body = json.dumps({"study": study.id, "title": study.title, "alerts": alerts,
                       "text": "\n".join(line(a) for a in alerts)}).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "servicebench-alerts"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            if resp.status >= 300:
                raise ServicebenchError(f"webhook answered {resp.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise ServicebenchError(f"webhook {url} failed: {exc}") from exc


def send_email(study: Study, to: str, alerts: list[dict[str, Any]], now: datetime) -> None:
    """Mail the alerts through the study's own SMTP account (``mailbox.smtp``)."""
    from servicebench.channels import ChannelEnv, get_channel
    from servicebench.probes.email.smtp_send import send_message

    channel = get_channel("email")(ChannelEnv(study, None, None))  # type: ignore[arg-type]
    settings = channel.smtp_settings()  # type: ignore[attr-defined]
    if not settings.host:
        raise StudyError("--alert-email needs the study's mailbox.smtp settings")
    sender = settings.username if "@" in settings.username else study.personas[0].email
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = f"servicebench alert: {study.title} ({len(alerts)})"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    msg.set_content("\n".join(line(a) for a in alerts) + "\n")
    send_message(settings, sender, [to], msg.as_bytes(), now)
