"""The email channel: probes go out by SMTP, replies come in by IMAP."""

from __future__ import annotations

import os
import re
import threading
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

from . import imap_sync, oauth
from .imap_sync import ImapSettings
from .smtp_send import SmtpSettings, send_message

#: received messages stored per database commit (or one second, whichever comes first)
COMMIT_EVERY = 200

_SERVER_PROPS: dict[str, Any] = {
    "host": {"type": "string"},
    "port": {"type": ["integer", "string"], "description": "port number, or ${VAR}"},
    "security": {"enum": ["starttls", "tls", "none"]},
    "auth": {"enum": ["password", "xoauth2"], "description": "password (also app "
             "passwords) or xoauth2: OAuth 2.0 with the refresh token in mailbox.oauth "
             "(Gmail, Microsoft 365)"},
    "username": {"type": "string"},
    "password": {"type": "string", "description": "write ${VAR}: secrets come from the "
                 "environment or .env, never from the study file"},
    "ca_file": {"type": "string", "description": "extra CA certificate (self-signed servers)"},
    "verify": {"type": "boolean"},
    "timeout": {"type": "number"},
}

_SMTP = {"type": "object", "additionalProperties": False, "required": ["host"],
         "properties": _SERVER_PROPS}

_IMAP = {
    "type": "object", "additionalProperties": False, "required": ["host"],
    "properties": {
        **_SERVER_PROPS,
        "folder": {"type": "string", "description": "the inbox (default INBOX)"},
        "folders": {"type": "array", "minItems": 1, "maxItems": 20,
                    "items": {"type": "string", "minLength": 1},
                    "description": "folders to collect replies from, e.g. [INBOX, Spam]; "
                    "default: INBOX and the folder the server flags \\Junk"},
        "sent_folder": {"type": "string",
                        "description": "default: the folder the server flags \\Sent, else Sent"},
        "idle": {"type": "boolean", "description": "run --watch: wait for new mail with IMAP "
                 "IDLE where the server offers it (default true)"},
    },
}

_OAUTH = {
    "type": "object", "additionalProperties": False,
    "required": ["client_id", "refresh_token"],
    "properties": {
        "provider": {"enum": sorted(oauth.PROVIDERS), "description": "token endpoint and "
                     "scope defaults (default google)"},
        "token_url": {"type": "string", "description": "token endpoint (overrides provider)"},
        "scope": {"type": "string"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "description": "write ${VAR}"},
        "refresh_token": {"type": "string", "description": "write ${VAR}"},
    },
}

MAILBOX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["smtp", "imap"],
    "properties": {
        "smtp": _SMTP,
        "imap": _IMAP,
        "oauth": {**_OAUTH, "description": "OAuth 2.0 client and refresh token for "
                  "auth: xoauth2 (README: Mailbox providers)"},
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
    credential_keys = ("mailbox.smtp.username", "mailbox.smtp.password",
                       "mailbox.imap.username", "mailbox.imap.password",
                       "mailbox.oauth.refresh_token", "mailbox.oauth.client_secret")

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
                            float(c.get("timeout", 60)), self._ca(c), c.get("verify", True),
                            c.get("auth", "password"), self._oauth(c))

    def imap_settings(self) -> ImapSettings:
        c = self.mailbox.get("imap") or {}
        sec = c.get("security", "tls")
        return ImapSettings(c.get("host", ""), int(c.get("port", 993 if sec == "tls" else 143)),
                            sec, c.get("username", ""), c.get("password", ""),
                            c.get("folder", "INBOX"), c.get("sent_folder"),
                            float(c.get("timeout", 60)), self._ca(c), c.get("verify", True),
                            c.get("auth", "password"), self._oauth(c))

    def _oauth(self, c: dict[str, Any]) -> oauth.OAuthSettings | None:
        if c.get("auth") != "xoauth2":
            return None
        return oauth.settings_from(self.mailbox.get("oauth") or {},
                                   float(c.get("timeout", 30)))

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
            if c.get("auth") == "xoauth2":
                if not c.get("username"):
                    raise NotConfigured(f"email: mailbox.{part}.username is empty (xoauth2 "
                                        "needs the mailbox address)")
                self._oauth(c)  # NotConfigured if mailbox.oauth lacks something
            elif c.get("username") and not c.get("password"):
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
        accepted, sent_at, source = self._deliver(pc, data)
        return SendResult(sent_at, source, pc.message_id,
                          {"smtp_response": accepted.response[:300], "evidence": ev.path})

    def _deliver(self, pc: ProbeContext, data: bytes) -> tuple[Any, Any, str]:
        """Hand the message to the SMTP server; the send time is the server's own (its 250
        response's timestamp) where it gives one. Keeps a copy in Sent if configured."""
        clock = self.env.clock
        accepted = send_message(self.smtp_settings(), pc.reply_address, [pc.target], data,
                                clock.now())
        if accepted.server_time is not None:
            sent_at, source = accepted.server_time, "smtp-response-timestamp"
        else:
            sent_at, source = clock.now(), "local-clock-at-smtp-250"
        if self.mailbox.get("sent_copies") == "append":
            self._append_sent(data, sent_at)
        return accepted, sent_at, source

    def send_follow_up(self, pc: ProbeContext, subject: str, body: str,
                       in_reply_to: str | None) -> SendResult:
        """The scenario's follow-up in the probe's thread (servicebench.followups)."""
        msg = EmailMessage()
        msg["From"] = formataddr((pc.persona.name, pc.reply_address))
        msg["To"] = pc.target
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.env.clock.now())
        msg["Message-ID"] = pc.message_id.replace("@", ".followup@", 1)
        original = in_reply_to or pc.message_id
        msg["In-Reply-To"] = original
        msg["References"] = original
        msg["MIME-Version"] = "1.0"
        msg.set_content(body, charset="utf-8", cte="quoted-printable")
        data = msg.as_bytes()
        clock = self.env.clock
        self.env.store.write_evidence(
            f"sent/{pc.probe_id}-{pc.company.id}-{pc.scenario.id}-followup.eml", data,
            probe_id=pc.probe_id, kind="sent-follow-up", now=clock.now())
        accepted, sent_at, source = self._deliver(pc, data)
        return SendResult(sent_at, source, str(msg["Message-ID"]),
                          {"smtp_response": accepted.response[:300]})

    def _append_sent(self, data: bytes, when: Any) -> None:
        s = self.imap_settings()
        try:
            conn = imap_sync.connect(s)
        except (ProbeError, NotConfigured) as exc:  # the probe is sent: only warn
            self.env.log.warning("email: could not file a copy of a sent probe: %s", exc)
            return
        sent = s.sent_folder or "Sent"
        try:
            import imaplib

            sent = self.sent_folder(conn, s)
            conn.append(imap_sync.quote(sent), "\\Seen", imaplib.Time2Internaldate(when), data)
        except Exception as exc:  # noqa: BLE001 - the probe is sent; the copy is a courtesy
            self.env.log.warning("email: could not file a copy in %s: %s", sent, exc)
        finally:
            imap_sync.logout(conn)

    def sent_folder(self, conn: Any, s: ImapSettings) -> str:
        """The configured Sent folder, else the one the server flags \\Sent, else Sent."""
        if s.sent_folder:
            return s.sent_folder
        try:
            found = imap_sync.special_folder(imap_sync.list_folders(conn), "\\Sent")
        except ProbeError:
            found = None
        return found or "Sent"

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        """Look for the probe's Message-ID in the Sent folder, then among replies."""
        s = self.imap_settings()
        conn = imap_sync.connect(s)
        try:
            sent = self.sent_folder(conn, s)
            found = imap_sync.find_by_message_id(conn, sent, pc.message_id)
        finally:
            imap_sync.logout(conn)
        if found is not None:
            return SendResult(found.internaldate or self.env.clock.now(),
                              "sent-folder-internaldate", pc.message_id,
                              {"resolved": f"found in {sent}"})
        replied = self.env.store.one(
            "SELECT received_at FROM messages WHERE probe_id = ? ORDER BY received_at LIMIT 1",
            (pc.probe_id,))
        if replied is not None:
            raise OutcomeUnknown("a reply proves the probe was sent, but its send time is "
                                 "unknown; set it with: servicebench resolve "
                                 f"{pc.probe_id} --sent-at TIME")
        if self.mailbox.get("sent_copies", "server") == "server":
            return None  # the provider files every accepted message: absent = not sent
        raise OutcomeUnknown(f"not in {sent}, but this provider does not file sent "
                             "mail itself; decide with: servicebench resolve "
                             f"{pc.probe_id} --sent | --not-sent")

    # -- watching -----------------------------------------------------------------------
    _watch: Any = None

    def watch_start(self, wake: threading.Event) -> list[str]:
        """IMAP IDLE on every reply folder where the server offers it."""
        from .idle import MailboxWatch

        if (self.mailbox.get("imap") or {}).get("idle", True) is False:
            return []
        s = self.imap_settings()
        try:
            conn = imap_sync.connect(s)
        except ProbeError as exc:
            return [f"IMAP IDLE not started ({exc}); polling"]
        try:
            idle = "IDLE" in conn.capabilities
            folders = [f for f, _ in self.reply_folders(conn, s)]
        finally:
            imap_sync.logout(conn)
        if not idle:
            return [f"{s.host} offers no IMAP IDLE; polling for replies"]
        self._watch = MailboxWatch(lambda: imap_sync.connect(s), folders, wake)
        self._watch.start()
        self.env.log.info("email: waiting for replies with IMAP IDLE on %s", ", ".join(folders))
        return []

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    # -- collecting ---------------------------------------------------------------------
    def reply_folders(self, conn: Any, s: ImapSettings) -> list[tuple[str, bool]]:
        """(folder, is spam) to collect from: the configured ``folders``, else the inbox and
        the folder the server flags \\Junk (or, if none is flagged, one named like spam)."""
        try:
            listed = imap_sync.list_folders(conn)
        except ProbeError:
            listed = []
        junk = {name for name, attrs in listed if "\\junk" in attrs}
        configured = (self.mailbox.get("imap") or {}).get("folders")
        if configured:
            return [(f, f in junk or f.lower() in imap_sync.SPAM_NAMES) for f in configured]
        out = [(s.folder, False)]
        spam = [n for n, _ in listed if n in junk] or [
            n for n, attrs in listed
            if n.lower() in imap_sync.SPAM_NAMES and "\\noselect" not in attrs]
        out += [(n, True) for n in spam[:1] if n != s.folder]
        return out

    def collect(self) -> CollectStats:
        s = self.imap_settings()
        store, study = self.env.store, self.env.study
        stats = CollectStats()
        # only probes whose replies come by email: a social probe with the same text
        # must not make an email reply's quote ambiguous
        index = ProbeIndex(study, [
            r for r in store.query(
                "SELECT * FROM probes WHERE state IN ('sent', 'unknown', 'sending')")
            if r["channel"] in registry() and get_channel(r["channel"]).replies_by_email])
        conn = imap_sync.connect(s)
        try:
            for folder, spam in self.reply_folders(conn, s):
                try:
                    self._sync_folder(conn, s, folder, spam, index, stats)
                except ProbeError as exc:
                    if folder == s.folder or "cannot be opened" not in str(exc):
                        raise
                    stats.notes.append(f"{exc}; check mailbox.imap.folders")
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

    def _sync_folder(self, conn: Any, s: ImapSettings, folder: str, spam: bool,
                     index: ProbeIndex, stats: CollectStats) -> None:
        """Fetch what is new in one folder; each folder has its own UIDVALIDITY/UID state."""
        store, clock, study = self.env.store, self.env.clock, self.env.study
        source = f"imap:{s.username}@{s.host}/{folder}"
        # folders may share UIDVALIDITY and UIDs (Dovecot): name the evidence by folder too
        prefix = "" if folder == s.folder else re.sub(r"[^\w.-]+", "_", folder) + "-"
        uidvalidity = imap_sync.select(conn, folder)
        state = store.sync_state(source)
        last_uid = 0
        if state is not None and state["uidvalidity"] == uidvalidity:
            last_uid = state["last_uid"]
        elif state is not None:
            stats.notes.append(f"UIDVALIDITY of {folder} changed; re-reading the folder "
                               "(messages already stored are recognised and skipped)")
        uids = imap_sync.new_uids(conn, last_uid)
        # many messages per commit; each message's evidence is fsynced before the commit
        # that stores its row and moves the sync state past its UID
        with store.batch(COMMIT_EVERY) as batch:
            for mail in imap_sync.fetch(conn, uids):
                now = clock.now()
                external_id = self._external_id(mail.raw, uidvalidity, mail.uid)
                with batch.item():
                    row = None
                    # a message moved between folders (spam -> inbox) is the same message
                    if store.one("SELECT 1 FROM messages WHERE channel = 'email' AND "
                                 "external_id = ?", (external_id,)) is None:
                        row = ingest_email(
                            study, store, index, mail.raw, source=source,
                            external_id=external_id, internaldate=mail.internaldate, now=now,
                            evidence_name=f"{prefix}{uidvalidity}-{mail.uid}.eml",
                            folder=folder, in_spam=spam)
                    store.set_sync_state(source, now, uidvalidity=uidvalidity,
                                         last_uid=mail.uid)
                if row is not None:
                    stats.fetched += 1
                    if row["probe_id"] is not None:
                        stats.matched += 1
                    else:
                        stats.unmatched += 1
                    if spam:
                        stats.notes.append(f"a reply was found in the spam folder {folder!r}: "
                                           f"{row['subject'][:80]!r}")

    @staticmethod
    def _external_id(raw: bytes, uidvalidity: int, uid: int) -> str:
        """Stable across UIDVALIDITY changes where the message has a Message-ID."""
        import hashlib

        return "sha256:" + hashlib.sha256(raw).hexdigest() if raw else f"{uidvalidity}:{uid}"
