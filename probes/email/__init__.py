"""The email channel: probes go out by SMTP, replies come in by IMAP."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any, ClassVar

from servicebench.channels import (
    Channel,
    CollectStats,
    OutcomeUnknown,
    ProbeContext,
    SendResult,
    get_channel,
    registry,
)
from servicebench.errors import NotConfigured, ProbeError
from servicebench.inbox import ingest_email
from servicebench.matching import ProbeIndex

from . import imap_sync
from .imap_sync import ImapSettings
from .smtp_send import SmtpSettings, send_message

_SERVER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["host"],
    "properties": {
        "host": {"type": "string"},
        "port": {"type": ["integer", "string"], "description": "port number, or ${VAR}"},
        "security": {"enum": ["starttls", "tls", "none"]},
        "username": {"type": "string"},
        "password": {"type": "string", "description": "write ${VAR}: secrets come from the "
                     "environment or .env, never from the study file"},
        "folder": {"type": "string"},
        "sent_folder": {"type": "string"},
        "ca_file": {"type": "string", "description": "extra CA certificate (self-signed servers)"},
        "verify": {"type": "boolean"},
        "timeout": {"type": "number"},
    },
}

MAILBOX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["smtp", "imap"],
    "properties": {
        "smtp": _SERVER,
        "imap": _SERVER,
        "plus_addressing": {"type": "boolean", "description": "per-probe reply address "
                            "name+tag@domain (turn off for providers that reject it)"},
        "sent_copies": {"enum": ["server", "append", "none"], "description":
                        "server: the provider files sent mail in the Sent folder itself "
                        "(Gmail); append: servicebench appends a copy; none"},
    },
}


class EmailChannel(Channel):
    name = "email"
    replies_by_email = True
    label = "E-Mail"
    company_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [{"type": "string", "format": "email"},
                  {"type": "object", "additionalProperties": False, "required": ["address"],
                   "properties": {"address": {"type": "string", "format": "email"}}}],
        "description": "the company's customer-service address",
    }
    study_key = "mailbox"
    study_schema = MAILBOX_SCHEMA

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        from servicebench.study import EMAIL_RE

        target = cls.target_of(config)
        return [] if EMAIL_RE.match(target) else [f"{target!r} is not an email address"]

    # -- settings -----------------------------------------------------------------------
    @property
    def mailbox(self) -> dict[str, Any]:
        return self.env.study.settings.get("mailbox") or {}

    def smtp_settings(self) -> SmtpSettings:
        c = self.mailbox.get("smtp") or {}
        sec = c.get("security", "starttls")
        return SmtpSettings(c.get("host", ""), int(c.get("port", 465 if sec == "tls" else 587)),
                            sec, c.get("username", ""), c.get("password", ""),
                            float(c.get("timeout", 60)), self._ca(c), c.get("verify", True))

    def imap_settings(self) -> ImapSettings:
        c = self.mailbox.get("imap") or {}
        sec = c.get("security", "tls")
        return ImapSettings(c.get("host", ""), int(c.get("port", 993 if sec == "tls" else 143)),
                            sec, c.get("username", ""), c.get("password", ""),
                            c.get("folder", "INBOX"), c.get("sent_folder", "Sent"),
                            float(c.get("timeout", 60)), self._ca(c), c.get("verify", True))

    def _ca(self, c: dict[str, Any]) -> str | None:
        ca = c.get("ca_file")
        if not ca:
            return None
        return ca if os.path.isabs(ca) else str(self.env.study.folder / ca)

    def check_configured(self) -> None:
        if not self.mailbox:
            raise NotConfigured("email: no 'mailbox' section in study.yaml (smtp and imap "
                                "settings of the shoppers' mail account)")
        for part in ("smtp", "imap"):
            c = self.mailbox.get(part) or {}
            if not c.get("host"):
                raise NotConfigured(f"email: mailbox.{part}.host is empty")
            if not str(c.get("port", "0")).isdigit():
                raise NotConfigured(f"email: mailbox.{part}.port {c.get('port')!r} is not a "
                                    "port number")
            if c.get("username") and not c.get("password"):
                raise NotConfigured(f"email: mailbox.{part}.password is empty; set the "
                                    "variable it names in the environment or .env")

    # -- sending ------------------------------------------------------------------------
    def build_message(self, pc: ProbeContext) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = formataddr((pc.persona.name, pc.reply_address))
        msg["To"] = pc.target
        msg["Subject"] = pc.subject
        msg["Date"] = format_datetime(self.env.clock.now())
        msg["Message-ID"] = pc.message_id
        msg["MIME-Version"] = "1.0"
        msg.set_content(pc.body, charset="utf-8", cte="quoted-printable")
        return msg

    def preview(self, pc: ProbeContext) -> str:
        return (f"From: {pc.persona.name} <{pc.reply_address}>\nTo: {pc.target}\n"
                f"Subject: {pc.subject}\n\n{pc.body}")

    def send(self, pc: ProbeContext) -> SendResult:
        msg = self.build_message(pc)
        data = msg.as_bytes()
        store, clock = self.env.store, self.env.clock
        ev = store.write_evidence(f"sent/{pc.probe_id}-{pc.company.id}-{pc.scenario.id}.eml",
                                  data, probe_id=pc.probe_id, kind="sent-message",
                                  now=clock.now())
        before = clock.now()
        accepted = send_message(self.smtp_settings(), pc.reply_address, [pc.target], data,
                                before)
        if accepted.server_time is not None:
            sent_at, source = accepted.server_time, "smtp-response-timestamp"
        else:
            sent_at, source = clock.now(), "local-clock-at-smtp-250"
        if self.mailbox.get("sent_copies") == "append":
            self._append_sent(data, sent_at)
        return SendResult(sent_at, source, pc.message_id,
                          {"smtp_response": accepted.response[:300], "evidence": ev.path})

    def _append_sent(self, data: bytes, when: Any) -> None:
        s = self.imap_settings()
        try:
            conn = imap_sync.connect(s)
        except ProbeError as exc:
            self.env.log.warning("email: could not file a copy in %s: %s", s.sent_folder, exc)
            return
        try:
            import imaplib

            conn.append(f'"{s.sent_folder}"', "\\Seen", imaplib.Time2Internaldate(when), data)
        except Exception as exc:  # noqa: BLE001 - the probe is sent; the copy is a courtesy
            self.env.log.warning("email: could not file a copy in %s: %s", s.sent_folder, exc)
        finally:
            imap_sync.logout(conn)

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        """Look for the probe's Message-ID in the Sent folder, then among replies."""
        s = self.imap_settings()
        conn = imap_sync.connect(s)
        try:
            found = imap_sync.find_by_message_id(conn, s.sent_folder, pc.message_id)
        finally:
            imap_sync.logout(conn)
        if found is not None:
            return SendResult(found.internaldate or self.env.clock.now(),
                              "sent-folder-internaldate", pc.message_id,
                              {"resolved": f"found in {s.sent_folder}"})
        replied = self.env.store.one(
            "SELECT received_at FROM messages WHERE probe_id = ? ORDER BY received_at LIMIT 1",
            (pc.probe_id,))
        if replied is not None:
            raise OutcomeUnknown("a reply proves the probe was sent, but its send time is "
                                 "unknown; set it with: servicebench resolve "
                                 f"{pc.probe_id} --sent-at TIME")
        if self.mailbox.get("sent_copies", "server") == "server":
            return None  # the provider files every accepted message: absent = not sent
        raise OutcomeUnknown(f"not in {s.sent_folder}, but this provider does not file sent "
                             "mail itself; decide with: servicebench resolve "
                             f"{pc.probe_id} --sent | --not-sent")

    # -- collecting ---------------------------------------------------------------------
    def collect(self) -> CollectStats:
        s = self.imap_settings()
        store, clock, study = self.env.store, self.env.clock, self.env.study
        source = f"imap:{s.username}@{s.host}/{s.folder}"
        stats = CollectStats()
        # only probes whose replies come by email: a social probe with the same text
        # must not make an email reply's quote ambiguous
        index = ProbeIndex(study, [
            r for r in store.query(
                "SELECT * FROM probes WHERE state IN ('sent', 'unknown', 'sending')")
            if r["channel"] in registry() and get_channel(r["channel"]).replies_by_email])
        conn = imap_sync.connect(s)
        try:
            uidvalidity = imap_sync.select(conn, s.folder)
            state = store.sync_state(source)
            last_uid = 0
            if state is not None and state["uidvalidity"] == uidvalidity:
                last_uid = state["last_uid"]
            elif state is not None:
                stats.notes.append(f"UIDVALIDITY of {s.folder} changed; re-reading the folder "
                                   "(messages already stored are recognised and skipped)")
            uids = imap_sync.new_uids(conn, last_uid)
            for mail in imap_sync.fetch(conn, uids):
                now = clock.now()
                with store.transaction():
                    row = ingest_email(
                        study, store, index, mail.raw, source=source,
                        external_id=self._external_id(mail.raw, uidvalidity, mail.uid),
                        internaldate=mail.internaldate, now=now,
                        evidence_name=f"{uidvalidity}-{mail.uid}.eml")
                    store.set_sync_state(source, now, uidvalidity=uidvalidity,
                                         last_uid=mail.uid)
                if row is not None:
                    stats.fetched += 1
                    if row["probe_id"] is not None:
                        stats.matched += 1
                    else:
                        stats.unmatched += 1
        except ProbeError:
            raise
        except (OSError, EOFError) as exc:
            raise ProbeError(f"IMAP connection lost during sync: {exc}; what was fetched is "
                             "stored, the next collect continues", temporary=True) from exc
        except Exception as exc:
            import imaplib

            if isinstance(exc, imaplib.IMAP4.abort | imaplib.IMAP4.error):
                raise ProbeError(f"IMAP sync interrupted: {exc}; what was fetched is stored, "
                                 "the next collect continues", temporary=True) from exc
            raise
        finally:
            imap_sync.logout(conn)
        return stats

    @staticmethod
    def _external_id(raw: bytes, uidvalidity: int, uid: int) -> str:
        """Stable across UIDVALIDITY changes where the message has a Message-ID."""
        import hashlib

        return "sha256:" + hashlib.sha256(raw).hexdigest() if raw else f"{uidvalidity}:{uid}"
