"""The simulated companies on Mastodon, X and Bluesky.

:class:`SocialSim` runs the local API servers (:class:`MastodonAPIServer`, :class:`XAPIServer`,
:class:`BlueskyXRPCStub`) with one shopper account on each (token or app password exported
through :meth:`SocialSim.env`) and one or two official accounts per company (see
:func:`handles`). It listens to the servers: when the shopper posts something that mentions a
company, or sends it a direct message, the company's behaviour decides the answers, and the
sandbox's scheduler posts each one at its simulated time, with that time as the server's own
``created_at`` / ``indexedAt`` / ``sentAt``. The probe's acceptance time is the server's own
timestamp of the probe, exactly what the channel records as its send time, so the ground
truth can be compared with the measurements to the millisecond.

How a company answers a public post (a direct message gets its answers as direct messages,
with an auto-reply instead of "please DM us"):

================  ===========================================================================
fast              a person answers in the thread within 20-90 min
slow              a partial answer in the thread after 2-4 days
ack-then-silence  a canned "please send us a DM" in the thread, then nothing
helpdesk          the canned "please DM us", then a person answers by direct message (on
                  Mastodon: a direct reply to the post) after 5-20 h
vague             a non-answer in the thread after 1-2 days
new-thread        a person answers in a new post mentioning the shopper after 26-40 h
never, bounce     nothing
================  ===========================================================================

A company with ``reply_from_also`` has its people answer from its second account (the one a
study lists under ``also:``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from random import Random
from typing import Any

from ..clock import Clock
from .bsky_stub import BlueskyXRPCStub
from .companies import ANSWERS, DAY, HOUR, MIN, Inquiry, Outgoing, SandboxCompany, topic
from .mastodon_server import MastodonAPIServer
from .social_http import PostEvent
from .x_server import XAPIServer

NETWORKS = ("mastodon", "x", "bluesky")
MASTODON_DOMAIN = "social.sandbox.test"
SHOPPER_NAME = "Alex Morgan"
SHOPPER = {"mastodon": f"alex@{MASTODON_DOMAIN}", "x": "AlexMorgan",
           "bluesky": "alex.shopper.sandbox.test"}
SHOPPER_BSKY_PASSWORD = "sandbox-app-password"
# Bluesky: the posting client's createdAt claim, a moment before the AppView indexed the post
CLIENT_LEAD = timedelta(seconds=2)

Planner = Callable[[Random], list[Outgoing]]
Schedule = Callable[[SandboxCompany, Inquiry, Planner, float], None]


@dataclass(frozen=True)
class Handles:
    main: str
    also: str


def handles(company: SandboxCompany) -> dict[str, Handles]:
    """The company's accounts per network, as the servers know them."""
    x = re.sub(r"\W", "", company.name)[:11] or company.id[:11]
    return {"mastodon": Handles(f"support@{company.domain}", f"team@{company.domain}"),
            "x": Handles(f"{x}Help", f"{x}Team"),
            "bluesky": Handles(company.domain, f"team.{company.domain}")}


def study_handle(network: str, handle: str) -> str:
    """A handle as a study file writes it (``@user@host``, ``@Name``, ``host.name``)."""
    return handle if network == "bluesky" else "@" + handle


@dataclass(frozen=True)
class Step:
    kind: str  # human | automated (the truth)
    delay: tuple[float, float]  # seconds after the probe
    how: str  # thread | dm | mention
    style: str  # human | partial | vague | dm-request


SOCIAL_BEHAVIOURS: dict[str, list[Step]] = {
    "fast": [Step("human", (20 * MIN, 90 * MIN), "thread", "human")],
    "slow": [Step("human", (2 * DAY, 4 * DAY), "thread", "partial")],
    "ack-then-silence": [Step("automated", (1 * MIN, 5 * MIN), "thread", "dm-request")],
    "never": [],
    "bounce": [],
    "helpdesk": [Step("automated", (1 * MIN, 5 * MIN), "thread", "dm-request"),
                 Step("human", (5 * HOUR, 20 * HOUR), "dm", "human")],
    "vague": [Step("human", (1 * DAY, 2 * DAY), "thread", "vague")],
    "new-thread": [Step("human", (26 * HOUR, 40 * HOUR), "mention", "human")],
}


def social_text(style: str, inq: Inquiry, co: SandboxCompany) -> str:
    """The text of an answer, without the leading mention."""
    de = co.language == "de"
    first = (inq.customer_name.split() or ["there"])[0]
    sig = "^" + "".join(w[0] for w in co.agent.split()).upper()
    answer = ANSWERS[co.language][topic(inq)]
    if style == "human":
        intro = (f"Hallo {first}, hier ist {co.agent.split()[0]} vom {co.name} Service."
                 if de else f"Hi {first}, {co.agent.split()[0]} from {co.name} here.")
        return f"{intro} {answer} {sig}"
    if style == "partial":
        return f"{'Hallo' if de else 'Hi'} {first}, {answer.split('. ')[0].rstrip('.')}. {sig}"
    if style == "vague":
        return ("Hallo, danke für deine Nachricht. Antworten auf häufige Fragen findest du in "
                "unserem Hilfebereich. Gern helfen wir dir auch telefonisch weiter. " if de else
                "Hi there, thanks for contacting us. You will find answers to many questions "
                "in our help centre. We are also happy to help you by phone. ") + sig
    if style == "dm-request":
        return (f"Hallo {first}, danke für deine Nachricht! Bitte schreib uns eine DM mit "
                f"deiner Kundennummer, dann schauen wir uns das an. {sig}" if de else
                f"Hi {first}, thanks for getting in touch! Please send us a DM with your "
                f"customer number so we can look into this for you. {sig}")
    if style == "auto-reply":
        return ("Danke für deine Nachricht! Wir haben sie erhalten und melden uns so schnell "
                "wie möglich. Dies ist eine automatisch erstellte Antwort." if de else
                "Thank you for your message! We have received it and will get back to you as "
                "soon as possible. This is an automated reply.")
    raise ValueError(f"unknown answer style {style!r}")


class SocialSim:
    """The three networks' local servers with the shopper's and the companies' accounts."""

    def __init__(self, clock: Clock, companies: list[SandboxCompany], schedule: Schedule, *,
                 host: str = "127.0.0.1", mastodon_port: int = 0, x_port: int = 0,
                 bsky_port: int = 0) -> None:
        self.schedule = schedule
        self.mastodon = MastodonAPIServer(host, mastodon_port, domain=MASTODON_DOMAIN,
                                          clock=clock)
        self.x = XAPIServer(host, x_port, clock=clock)
        self.bsky = BlueskyXRPCStub(host, bsky_port, clock=clock)
        self.mastodon.create_account("alex", display_name=SHOPPER_NAME)
        self.x.create_user(SHOPPER["x"], SHOPPER_NAME)
        self.bsky.create_account(SHOPPER["bluesky"], SHOPPER_BSKY_PASSWORD)
        self.mastodon_token = self.mastodon.create_token(SHOPPER["mastodon"])
        self.x_token = self.x.create_token(SHOPPER["x"])
        self.company_of: dict[tuple[str, str], SandboxCompany] = {}
        for co in companies:
            for net, h in handles(co).items():
                for handle in (h.main, h.also):
                    self._create_account(net, handle, co)
                    self.company_of[(net, handle.lower())] = co
        for server in self.servers():
            server.listeners.append(self._on_post)
            # the servers count requests in real time; under an accelerated clock a week of
            # polling takes a minute or two, which no real limit would allow
            server.limit = 10**9

    def _create_account(self, network: str, handle: str, co: SandboxCompany) -> None:
        if network == "mastodon":
            user, _, domain = handle.partition("@")
            self.mastodon.create_account(user, domain=domain, display_name=co.name)
        elif network == "x":
            self.x.create_user(handle, co.name)
        else:
            self.bsky.create_account(handle)

    def servers(self) -> list[Any]:
        return [self.mastodon, self.x, self.bsky]

    def start(self) -> None:
        for s in self.servers():
            s.start()

    def stop(self) -> None:
        for s in self.servers():
            s.stop()

    def env(self) -> dict[str, str]:
        return {"SANDBOX_MASTODON": self.mastodon.url,
                "SANDBOX_MASTODON_TOKEN": self.mastodon_token,
                "SANDBOX_X": self.x.url, "SANDBOX_X_TOKEN": self.x_token,
                "SANDBOX_BSKY": self.bsky.url, "SANDBOX_BSKY_HANDLE": SHOPPER["bluesky"],
                "SANDBOX_BSKY_PASSWORD": SHOPPER_BSKY_PASSWORD}

    # -- inquiries ----------------------------------------------------------------------
    def _on_post(self, ev: PostEvent) -> None:
        """A new post or DM on one of the servers: the shopper's inquiries get answers."""
        if ev.author.lower() != SHOPPER[ev.network].lower():
            return
        if ev.in_reply_to and not ev.direct:
            return  # the shopper's follow-up in a thread, not a new inquiry
        seen: set[str] = set()
        for h in ev.to:
            co = self.company_of.get((ev.network, h.lower()))
            if co is None or co.id in seen:
                continue
            seen.add(co.id)
            inq = Inquiry(co.id, ev.network, SHOPPER[ev.network], SHOPPER_NAME, "", ev.text,
                          ev.id, ev.created_at)
            # the servers show whole milliseconds, so answers are timed to the millisecond
            self.schedule(co, inq, partial(self._plan, co, inq, ev), 0.001)

    def _plan(self, co: SandboxCompany, inq: Inquiry, ev: PostEvent, rng: Random
              ) -> list[Outgoing]:
        if co.behaviour not in SOCIAL_BEHAVIOURS:
            raise ValueError(f"unknown sandbox behaviour {co.behaviour!r}; "
                             f"known: {', '.join(SOCIAL_BEHAVIOURS)}")
        out = []
        for step in SOCIAL_BEHAVIOURS[co.behaviour]:
            how = "dm" if ev.direct else step.how
            style = "auto-reply" if ev.direct and step.style == "dm-request" else step.style
            h = handles(co)[ev.network]
            account = h.also if co.reply_from_also and step.kind == "human" else h.main
            text = social_text(style, inq, co)
            out.append(Outgoing(step.kind, rng.uniform(*step.delay),
                                partial(self._send, ev, how, account, text)))
        return out

    # -- answers ------------------------------------------------------------------------
    def _send(self, ev: PostEvent, how: str, account: str, text: str, at: datetime) -> str:
        """Post one answer at server time ``at``; returns what the channel stores as the
        message's ``message_id`` (the post's URL, else the DM's id)."""
        shopper = SHOPPER[ev.network]
        if ev.network == "mastodon":
            st = self.mastodon.post(
                account, f"@{shopper} {text}", created_at=at,
                in_reply_to_id=None if how == "mention" else ev.id,
                visibility="direct" if how == "dm" else "public")
            return str(st["url"])
        if ev.network == "x":
            if how == "dm":
                return self.x.send_dm(account, shopper, text, created_at=at)["dm_event_id"]
            t = self.x.post(account, f"@{shopper} {text}", created_at=at,
                            in_reply_to=ev.id if how == "thread" else None)
            return f"https://x.com/{account}/status/{t['id']}"
        if how == "dm":
            return str(self.bsky.send_message(account, shopper, text, sent_at=at)["id"])
        view = self.bsky.post(account, f"@{shopper} {text}", mentions=[shopper],
                              reply_to=ev.id if how == "thread" else None,
                              created_at=at - CLIENT_LEAD, indexed_at=at)
        return f"https://bsky.app/profile/{account}/post/{view['uri'].rsplit('/', 1)[-1]}"


def study_channels(company: SandboxCompany, networks: tuple[str, ...] = NETWORKS
                   ) -> dict[str, Any]:
    """A company's social channels as a study file lists them (``also`` where its people
    answer from a second account)."""
    out: dict[str, Any] = {}
    for net in networks:
        h = handles(company)[net]
        main = study_handle(net, h.main)
        out[net] = {"handle": main, "also": [study_handle(net, h.also)]} \
            if company.reply_from_also else main
    return out
