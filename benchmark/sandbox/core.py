"""The sandbox: simulated companies on loopback, for demos, training and accuracy checks.

It runs an SMTP server (the shoppers' outgoing mail), an IMAP server (the shoppers'
mailbox), a web server with contact forms, local Mastodon, X and Bluesky servers with the
companies' accounts (:mod:`.social_sim`), and a scheduler that delivers each company's
replies at the simulated time its behaviour dictates. Every reply's true time is written to
``ground_truth.csv`` so the tool's measurements can be checked; contacts a (simulated)
tester logs by hand are added there with :meth:`Sandbox.record_truth`.
"""

from __future__ import annotations

import csv
import heapq
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parseaddr
from functools import partial
from pathlib import Path
from typing import Any

from ..clock import Clock, utc_iso
from ..mailparse import body_text, header, parse_message
from .companies import Inquiry, Outgoing, SandboxCompany, plan_replies
from .smtp_server import Accepted, SandboxSMTPServer, SmtpFault

log = logging.getLogger(__name__)

SHOPPER_USER = "shopper"
SHOPPER_PASSWORD = "sandbox-password"
SHOPPER_DOMAIN = "shopper.sandbox.test"

GROUND_TRUTH_FIELDS = ["company_id", "channel", "behaviour", "probe_ref", "reply_to",
                       "accepted_at", "reply_kind", "reply_at", "true_delay_seconds",
                       "reply_message_id"]


def default_companies(language: str = "en") -> list[SandboxCompany]:
    """The demo line-up: one company per behaviour, some also with a web form."""
    de = language == "de"
    return [
        SandboxCompany("swiftmobile", "SwiftMobile", "swiftmobile.sandbox.test", "fast",
                       language=language, form="cf7", agent="Jana Klein" if de else "Amy Clark"),
        SandboxCompany("helpdeskcom", "HelpdeskCom", "helpdeskcom.sandbox.test", "helpdesk",
                       language=language, form="zendesk", agent="Tom Berger" if de
                       else "Tom Baker", reply_from_also=True),
        SandboxCompany("slowtel", "SlowTel", "slowtel.sandbox.test", "slow", language=language,
                       form="gravity"),
        SandboxCompany("ticketonly", "TicketOnly", "ticketonly.sandbox.test",
                       "ack-then-silence", language=language, form="hubspot"),
        SandboxCompany("vaguenet", "VagueNet", "vaguenet.sandbox.test", "vague",
                       language=language, form="multistep"),
        SandboxCompany("threadco", "ThreadCo", "threadco.sandbox.test", "new-thread",
                       language=language),
        SandboxCompany("silentcom", "SilentCom", "silentcom.sandbox.test", "never",
                       language=language, form="captcha"),
        SandboxCompany("gonemail", "GoneMail", "gonemail.sandbox.test", "bounce",
                       language=language),
    ]


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    inquiry: Inquiry = field(compare=False)
    company: SandboxCompany = field(compare=False)
    reply: Outgoing = field(compare=False)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ceil_to(dt: datetime, step: float) -> datetime:
    """``dt`` rounded up to a multiple of ``step`` seconds (1: whole seconds, 0.001: ms)."""
    unit = round(step * 1_000_000)
    micros = (dt - EPOCH) // timedelta(microseconds=1)
    return (EPOCH + timedelta(microseconds=-(-micros // unit) * unit)).astimezone(dt.tzinfo)


class Sandbox:
    def __init__(self, clock: Clock, folder: Path, companies: list[SandboxCompany] | None = None,
                 *, host: str = "127.0.0.1", smtp_port: int = 0, imap_port: int = 0,
                 web_port: int = 0, seed: int = 7, with_forms: bool = True,
                 with_social: bool = True, mastodon_port: int = 0, x_port: int = 0,
                 bsky_port: int = 0, smtp_fault: SmtpFault | None = None) -> None:
        from .imap_server import IMAPServer, MailStore

        self.clock = clock
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.companies = companies or default_companies()
        self.by_id = {c.id: c for c in self.companies}
        self.by_address = {c.support.lower(): c for c in self.companies}
        self.by_form = {c.form: c for c in self.companies if c.form}
        self.rng = random.Random(seed)
        self.mail = MailStore()
        self.mail.add_user(SHOPPER_USER, SHOPPER_PASSWORD)
        self.mail.create_mailbox(SHOPPER_USER, "Junk")  # flagged \Junk, like real providers
        #: OAuth 2.0 access token -> user, accepted by SMTP and IMAP (XOAUTH2)
        self.oauth_tokens: dict[str, str] = {}
        self.smtp = SandboxSMTPServer(clock, {SHOPPER_USER: SHOPPER_PASSWORD}, host, smtp_port,
                                      on_accept=self._on_email, fault=smtp_fault,
                                      oauth_tokens=self.oauth_tokens)
        self.imap = IMAPServer(self.mail, host=host, port=imap_port,
                               oauth_tokens=self.oauth_tokens)
        self.web: Any = None
        if with_forms:
            try:
                from .web import FormServer
            except ImportError:
                FormServer = None  # noqa: N806 - web forms not available in this build
            if FormServer is not None:
                self.web = FormServer(host=host, port=web_port, on_submission=self._on_form,
                                      clock=clock)
        self.social: Any = None
        if with_social:
            from .social_sim import SocialSim

            self.social = SocialSim(clock, self.companies, self.schedule, host=host,
                                    mastodon_port=mastodon_port, x_port=x_port,
                                    bsky_port=bsky_port)
        self._queue: list[_Due] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._truth_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._deliver_loop, daemon=True,
                                        name="sandbox-replies")
        self.truth_path = self.folder / "ground_truth.csv"
        with open(self.truth_path, "w", newline="") as fh:
            csv.writer(fh).writerow(GROUND_TRUTH_FIELDS)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Sandbox:
        self.smtp.start()
        self.imap.start()
        if self.web is not None:
            self.web.start()
        if self.social is not None:
            self.social.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.smtp.stop()
        self.imap.stop()
        if self.web is not None:
            self.web.stop()
        if self.social is not None:
            self.social.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def imap_port(self) -> int:
        return self.imap.port

    def form_url(self, company: SandboxCompany) -> str | None:
        if self.web is None or not company.form:
            return None
        return str(self.web.url(company.form))

    def env(self) -> dict[str, str]:
        """Environment variables a study needs to use this sandbox."""
        env = {"SANDBOX_SMTP_PORT": str(self.smtp_port), "SANDBOX_IMAP_PORT": str(self.imap_port),
               "SANDBOX_USER": SHOPPER_USER, "SANDBOX_PASSWORD": SHOPPER_PASSWORD}
        if self.web is not None:
            env["SANDBOX_WEB"] = f"http://127.0.0.1:{self.web.port}"
        if self.social is not None:
            env.update(self.social.env())
        return env

    # -- inquiries ----------------------------------------------------------------------
    def _on_email(self, acc: Accepted) -> None:
        if acc.user:
            self.mail.deliver(acc.user, acc.data, acc.accepted_at.replace(microsecond=0),
                              mailbox="Sent", flags=["\\Seen"])
        msg = parse_message(acc.data)
        name = parseaddr(header(msg, "From"))[0] or "customer"
        reply_to = (getaddresses([header(msg, "Reply-To") or header(msg, "From")]) or
                    [("", acc.mail_from)])[0][1] or acc.mail_from
        for rcpt in acc.rcpt_tos:
            company = self.by_address.get(rcpt.lower())
            if company is None:
                continue
            inq = Inquiry(company.id, "email", reply_to, name, header(msg, "Subject"),
                          body_text(msg), header(msg, "Message-ID") or None, acc.accepted_at)
            self._schedule(company, inq)

    def _on_form(self, form_name: str, fields: dict[str, list[str]],
                 accepted_at: datetime | None = None) -> None:
        company = self.by_form.get(form_name)
        if company is None:
            return
        email = next((v for vals in fields.values() for v in vals
                      if "@" in v and "." in v.rpartition("@")[2]), "")
        if not email:
            return
        flat = {k.lower(): " ".join(v) for k, v in fields.items()}
        name = next((v for k, v in flat.items() if "name" in k and v and "@" not in v),
                    "customer")
        message = max(flat.values(), key=len, default="")
        subject = next((v for k, v in flat.items() if "subject" in k or "betreff" in k),
                       "Your inquiry")
        inq = Inquiry(company.id, "webform", email, name, subject or "Your inquiry", message,
                      None, accepted_at or self.clock.now())
        self._schedule(company, inq)

    def _schedule(self, company: SandboxCompany, inq: Inquiry) -> None:
        def planner(rng: random.Random) -> list[Outgoing]:
            return [Outgoing(r.kind, r.delay, partial(self._send_mail, inq, company, r.write))
                    for r in plan_replies(company, inq, rng)]

        # whole seconds, because IMAP INTERNALDATE has no finer resolution
        self.schedule(company, inq, planner, 1.0)

    def schedule(self, company: SandboxCompany, inq: Inquiry,
                 planner: Callable[[random.Random], list[Outgoing]], step: float) -> None:
        """Queue a company's answers to one inquiry. ``planner`` draws them from the shared
        seeded generator; each goes out ``delay`` seconds after acceptance, rounded up to
        ``step`` seconds, the finest time the channel shows."""
        with self._lock:
            replies = planner(self.rng)
            for reply in replies:
                at = ceil_to(inq.accepted_at + timedelta(seconds=reply.delay), step)
                self._seq += 1
                heapq.heappush(self._queue, _Due(at, self._seq, inq, company, reply))
        if not replies:
            self._truth(company, inq, None, None, None)

    def _send_mail(self, inq: Inquiry, company: SandboxCompany,
                   write: Callable[[Inquiry, SandboxCompany, datetime], Any], at: datetime
                   ) -> str:
        msg = write(inq, company, at)
        self.mail.deliver(SHOPPER_USER, msg.as_bytes(), at,
                          mailbox="Junk" if company.spam else "INBOX")
        return str(msg["Message-ID"])

    def record_truth(self, company_id: str, channel: str, probe_ref: str, reply_to: str,
                     accepted_at: datetime, kind: str | None, at: datetime | None,
                     message_id: str | None) -> None:
        """Add a contact the sandbox did not see itself (e.g. a simulated tester's call)."""
        company = self.by_id[company_id]
        inq = Inquiry(company_id, channel, reply_to, "", "", "", probe_ref, accepted_at)
        self._truth(company, inq, kind, at, message_id)

    def _truth(self, company: SandboxCompany, inq: Inquiry, kind: str | None,
               at: datetime | None, message_id: str | None) -> None:
        delay = f"{(at - inq.accepted_at).total_seconds():.3f}" if at else ""
        with self._truth_lock, open(self.truth_path, "a", newline="") as fh:
            csv.writer(fh).writerow([
                company.id, inq.channel, company.behaviour, inq.message_id or "",
                inq.reply_to, utc_iso(inq.accepted_at), kind or "none",
                utc_iso(at) if at else "", delay, message_id or ""])

    # -- delivery -----------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            due: list[_Due] = []
            with self._lock:
                while self._queue and self._queue[0].at <= now:
                    due.append(heapq.heappop(self._queue))
            for d in due:
                try:
                    message_id = d.reply.send(d.at)
                except Exception:  # noqa: BLE001 - one failed answer must not stop the rest
                    log.exception("sandbox: %s's %s answer on %s could not be delivered",
                                  d.company.id, d.reply.kind, d.inquiry.channel)
                    continue
                self._truth(d.company, d.inquiry, d.reply.kind, d.at, message_id)
            self._stop.wait(0.01)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)
