"""Simulated companies: how each one answers an inquiry, and the replies it writes.

Every behaviour is a list of planned replies (kind, delay range in seconds, writer). Delays
are drawn from a seeded random generator so a demo is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

MIN, HOUR, DAY = 60, 3600, 86400


@dataclass
class Inquiry:
    """What a simulated company received: an email, a web-form submission or a social post."""

    company_id: str
    channel: str  # email | webform | mastodon | x | bluesky | phone
    reply_to: str  # where the answer goes (an address or the shopper's handle)
    customer_name: str
    subject: str
    body: str
    message_id: str | None  # the probe's Message-ID, post id or URI (not for web forms)
    accepted_at: datetime  # the receiving server's own time of the probe


@dataclass
class Outgoing:
    """One answer ready to go out: the sandbox's scheduler calls ``send`` at the answer's
    time, which delivers it with that time as the server's timestamp and returns the id the
    tool will store as the message's ``message_id``."""

    kind: str  # human | automated | bounce (the truth, for ground_truth.csv)
    delay: float  # seconds after acceptance
    send: Callable[[datetime], str]


@dataclass
class PlannedReply:
    kind: str  # human | automated | bounce (the truth, for ground_truth.csv)
    delay: float  # seconds after acceptance
    write: Callable[[Inquiry, SandboxCompany, datetime], EmailMessage]


@dataclass
class SandboxCompany:
    id: str
    name: str
    domain: str
    behaviour: str
    address: str = ""
    language: str = "en"
    form: str | None = None  # web form name served by the sandbox
    agent: str = "Sam Taylor"
    extra: dict[str, str] = field(default_factory=dict)
    reply_from_also: bool = False  # on social networks, people answer from a second account
    spam: bool = False  # the shopper's provider files this company's mail as spam (Junk)

    @property
    def support(self) -> str:
        return self.address or f"service@{self.domain}"


# -- reply writers -------------------------------------------------------------------------
ANSWERS = {
    "en": {
        "tariff": ("Yes, you can switch to another tariff before your contract ends. The change "
                   "is possible at any time and takes effect on the first day of the next month. "
                   "There is no fee for switching to a higher tariff."),
        "cancel": ("You can cancel your contract with one month's notice at the end of the "
                   "minimum term. Please send the cancellation in text form, for example by "
                   "email; we will confirm it in writing within five working days."),
        "generic": "Thank you for your question. Here is the information you asked for.",
    },
    "de": {
        "tariff": ("Ja, ein Tarifwechsel ist auch vor Vertragsende jederzeit möglich. Der neue "
                   "Tarif gilt ab dem Ersten des Folgemonats, und für den Wechsel in einen "
                   "höheren Tarif fällt keine Gebühr an."),
        "cancel": ("Sie können Ihren Vertrag mit einer Frist von einem Monat zum Ende der "
                   "Mindestlaufzeit kündigen. Die Kündigung in Textform, z. B. per E-Mail, "
                   "genügt; wir bestätigen sie innerhalb von fünf Werktagen schriftlich."),
        "generic": "vielen Dank für Ihre Anfrage. Hier die gewünschten Informationen.",
    },
}


def topic(inq: Inquiry) -> str:
    text = f"{inq.subject} {inq.body}".lower()
    if any(w in text for w in ("tariff", "tarif", "plan", "upgrade")):
        return "tariff"
    if any(w in text for w in ("cancel", "kündig", "terminate")):
        return "cancel"
    return "generic"


def _base(inq: Inquiry, co: SandboxCompany, at: datetime, sender: str,
          new_thread: bool = False) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = inq.reply_to
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=co.domain)
    prefix = "AW: " if co.language == "de" else "Re: "
    msg["Subject"] = inq.subject if new_thread else prefix + inq.subject
    if inq.message_id and not new_thread:
        msg["In-Reply-To"] = inq.message_id
        msg["References"] = inq.message_id
    return msg


def _quote(inq: Inquiry, co: SandboxCompany) -> str:
    head = (f"{inq.customer_name} schrieb:" if co.language == "de"
            else f"{inq.customer_name} wrote:")
    return "\n\n" + head + "\n" + "\n".join("> " + line for line in inq.body.splitlines())


def _last_name(name: str) -> str:
    return name.split()[-1] if name.split() else name


def write_human(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    msg = _base(inq, co, at, formataddr((f"{co.agent} | {co.name}", co.support)))
    de = co.language == "de"
    greet = (f"Guten Tag {inq.customer_name}," if de else
             f"Dear {inq.customer_name},")
    thanks = "vielen Dank für Ihre Nachricht." if de else "thank you for your message."
    bye = "Viele Grüße" if de else "Kind regards"
    msg.set_content(f"{greet}\n\n{thanks} {ANSWERS[co.language][topic(inq)]}\n\n{bye}\n"
                    f"{co.agent}\n{co.name} Kundenservice" + _quote(inq, co))
    return msg


def write_human_partial(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    """A personal answer that covers only the first sentence of the full answer."""
    msg = _base(inq, co, at, formataddr((co.agent, co.support)))
    de = co.language == "de"
    first = ANSWERS[co.language][topic(inq)].split(". ")[0] + "."
    greet = f"Hallo {inq.customer_name}," if de else f"Hi {inq.customer_name.split()[0]},"
    bye = "Beste Grüße" if de else "Best wishes"
    msg.set_content(f"{greet}\n\n{first}\n\n{bye}\n{co.agent}")
    return msg


def write_vague(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    msg = _base(inq, co, at, formataddr((co.name, co.support)))
    if co.language == "de":
        text = ("Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihr Interesse. Antworten auf "
                "häufige Fragen finden Sie in unserem Hilfebereich. Gern sind wir auch telefonisch "
                f"für Sie da.\n\nMit freundlichen Grüßen\n{co.agent}\nIhr {co.name} Team")
    else:
        text = ("Dear customer,\n\nthank you for contacting us. You will find answers to many "
                "questions in our help centre. We are also happy to help you by phone.\n\n"
                f"Best regards\n{co.agent}\nYour {co.name} team")
    msg.set_content(text)
    return msg


def write_ack(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    msg = _base(inq, co, at, formataddr((co.name, f"noreply@{co.domain}")))
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Autoreply"] = "yes"
    msg["Precedence"] = "auto_reply"
    ticket = random.Random(inq.reply_to + inq.subject).randint(100000, 999999)
    if co.language == "de":
        text = (f"Guten Tag,\n\nwir haben Ihre Anfrage erhalten (Ticket-Nr. {ticket}) und "
                "melden uns so schnell wie möglich bei Ihnen.\n\nDies ist eine automatisch "
                "generierte Nachricht, bitte antworten Sie nicht auf diese E-Mail.\n\n"
                f"Ihr {co.name} Kundenservice")
    else:
        text = (f"Hello,\n\nwe have received your request (ticket #{ticket}). Our team will get "
                "back to you as soon as possible.\n\nThis is an automatically generated message, "
                f"please do not reply to this email.\n\n{co.name} Customer Service")
    msg.set_content(text)
    return msg


def write_helpdesk_human(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    """An agent's reply sent through a Zendesk-like helpdesk: automation headers included."""
    msg = write_human(inq, co, at)
    body = msg.get_content()
    del msg["From"]
    msg["From"] = formataddr((f"{co.agent} ({co.name} Support)", f"support@{co.domain}"))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailer"] = "Zendesk Mailer"
    msg["X-Zendesk-From-Account-Id"] = "1a2b3c"
    msg.set_content("##- Please type your reply above this line -##\n\n" + body)
    return msg


def write_new_thread(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    """A helpdesk that answers in a new thread from another address, quoting the inquiry,
    and (as some do) to the customer's address without its +tag."""
    msg = write_human(inq, co, at)
    del msg["In-Reply-To"], msg["References"], msg["From"], msg["Subject"]
    if inq.channel == "email":
        del msg["To"]
        local, _, domain = inq.reply_to.partition("@")
        msg["To"] = f"{local.split('+')[0]}@{domain}"
    msg["From"] = formataddr((co.agent, f"help@{co.domain}"))
    msg["Subject"] = f"[#{random.Random(inq.subject).randint(1000, 9999)}] {inq.subject}"
    return msg


def write_bounce(inq: Inquiry, co: SandboxCompany, at: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <MAILER-DAEMON@mx.sandbox.test>"
    msg["To"] = inq.reply_to
    msg["Date"] = format_datetime(at)
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Message-ID"] = make_msgid(domain="mx.sandbox.test")
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(
        "This is the mail system at host mx.sandbox.test.\n\nI'm sorry to have to inform you "
        "that your message could not be delivered to one or more recipients.\n\n"
        f"<{co.support}>: host mx.{co.domain} said: 550 5.1.1 <{co.support}>: Recipient "
        "address rejected: User unknown in virtual mailbox table\n")
    original = EmailMessage()
    original["Message-ID"] = inq.message_id or make_msgid()
    original["Subject"] = inq.subject
    original["To"] = co.support
    msg.add_attachment(
        f"Reporting-MTA: dns; mx.sandbox.test\n\nFinal-Recipient: rfc822; {co.support}\n"
        "Action: failed\nStatus: 5.1.1\n", subtype="delivery-status")
    msg.add_attachment(original, filename=None)
    msg.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; '
                       f'boundary="{msg.get_boundary()}"')
    return msg


BEHAVIOURS: dict[str, list[tuple[str, tuple[float, float], Callable[..., EmailMessage]]]] = {
    "fast": [("human", (20 * MIN, 90 * MIN), write_human)],
    "slow": [("human", (2 * DAY, 4 * DAY), write_human_partial)],
    "ack-then-silence": [("automated", (20, 120), write_ack)],
    "never": [],
    "bounce": [("bounce", (3, 30), write_bounce)],
    "helpdesk": [("automated", (30, 90), write_ack),
                 ("human", (5 * HOUR, 20 * HOUR), write_helpdesk_human)],
    "vague": [("human", (1 * DAY, 2 * DAY), write_vague)],
    "new-thread": [("automated", (60, 180), write_ack),
                   ("human", (26 * HOUR, 40 * HOUR), write_new_thread)],
}


def plan_replies(company: SandboxCompany, inq: Inquiry, rng: random.Random
                 ) -> list[PlannedReply]:
    """What this company will send back, with delays drawn from its behaviour."""
    if company.behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown sandbox behaviour {company.behaviour!r}; "
                         f"known: {', '.join(BEHAVIOURS)}")
    steps = BEHAVIOURS[company.behaviour]
    if inq.channel != "email":
        steps = [s for s in steps if s[0] != "bounce"]
    return [PlannedReply(kind, rng.uniform(lo, hi), writer)
            for kind, (lo, hi), writer in steps]
