"""The channel registry and the interface every channel implements.

Built-in channels are listed in :data:`BUILTIN_CHANNELS` and loaded the same way as
third-party ones, which register a :class:`Channel` subclass under the entry-point group
``servicebench.channels`` (as datasette loads its default plugins). A channel that lacks
credentials raises :class:`~servicebench.errors.NotConfigured` from ``check_configured`` and
is skipped with that message; the rest of the study goes on.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import ServicebenchError

if TYPE_CHECKING:
    from .clock import Clock
    from .store import Store
    from .study import Company, Persona, Scenario, Study

ENTRY_POINT_GROUP = "servicebench.channels"

#: the built-in channels; the package also declares them as ``servicebench.channels`` entry
#: points (pyproject.toml), so they load from a source tree without installed metadata too
BUILTIN_CHANNELS = [
    "servicebench.probes.email:EmailChannel",
    "servicebench.probes.webform:WebformChannel",
    "servicebench.probes.manual:PhoneChannel",
    "servicebench.probes.manual:ChatChannel",
    "servicebench.probes.manual:VisitChannel",
    "servicebench.probes.social.mastodon:MastodonChannel",
    "servicebench.probes.social.bluesky:BlueskyChannel",
    "servicebench.probes.social.x:XChannel",
]


@dataclass
class ProbeContext:
    """Everything a channel needs to send one probe."""

    probe_id: int
    key: str
    company: Company
    scenario: Scenario
    persona: Persona
    target: Any  # the company's config for this channel (address, URL, handle...)
    subject: str
    body: str
    reply_address: str  # where replies to this probe should go (per-probe address)
    message_id: str  # stable id the channel may use (email Message-ID)


@dataclass
class SendResult:
    """What a channel reports after the peer accepted a probe."""

    sent_at: datetime
    time_source: str  # where sent_at came from: smtp-response, server-record, local-clock...
    external_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class CollectStats:
    fetched: int = 0
    matched: int = 0
    unmatched: int = 0
    notes: list[str] = field(default_factory=list)


class ChannelEnv:
    """What channels get from the run: study, store, clock, secrets, logger."""

    def __init__(self, study: Study, store: Store, clock: Clock,
                 log: logging.Logger | None = None, options: dict[str, Any] | None = None):
        self.study = study
        self.store = store
        self.clock = clock
        self.log = log or logging.getLogger("servicebench")
        self.options = options or {}


class Channel:
    """Base class. Subclasses set ``name`` and override what they support."""

    name: ClassVar[str]
    label: ClassVar[str] = ""
    kind: ClassVar[str] = "automated"  # automated | manual
    #: JSON Schema of ``companies[].channels.<name>``
    company_schema: ClassVar[dict[str, Any]] = {"type": "string"}
    #: top-level study key this channel reads its settings from, and its JSON Schema
    study_key: ClassVar[str | None] = None
    study_schema: ClassVar[dict[str, Any] | None] = None

    #: study keys holding this channel's credentials (a refused login names their variables)
    credential_keys: ClassVar[tuple[str, ...]] = ()

    #: replies to this channel's probes arrive in the shoppers' mailbox (email, web forms)
    replies_by_email: ClassVar[bool] = False
    #: how many probes the runner may send at once through this channel; a channel that
    #: sets more than 1 must make ``send`` thread-safe
    parallel: int = 1

    def __init__(self, env: ChannelEnv) -> None:
        self.env = env

    # -- configuration ------------------------------------------------------------------
    def check_configured(self) -> None:
        """Raise NotConfigured if credentials or tools are missing."""

    @classmethod
    def target_of(cls, config: Any) -> str:
        """The address/URL/handle a probe goes to, from the company's channel config."""
        if isinstance(config, dict):
            for k in ("url", "address", "handle", "number"):
                if k in config:
                    return str(config[k])
        return str(config)

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        """Problems with one company's channel config beyond the JSON Schema."""
        return []

    # -- sending ------------------------------------------------------------------------
    def preview(self, pc: ProbeContext) -> str:
        """What would be sent, for ``run --dry-run``."""
        return f"To: {pc.target}\nSubject: {pc.subject}\n\n{pc.body}"

    def dry_run(self, pc: ProbeContext) -> dict[str, Any]:
        """Do everything short of sending (e.g. fill a form); return facts to print."""
        return {}

    def send(self, pc: ProbeContext) -> SendResult:
        """Send once. Raise ProbeError(temporary=True) if it certainly was not accepted and
        may be retried; ProbeError(temporary=False) for permanent failures; raise
        :class:`OutcomeUnknown` if it may or may not have been accepted."""
        raise ServicebenchError(f"channel {self.name} cannot send")

    def resolve_unknown(self, pc: ProbeContext) -> SendResult | None:
        """After a crash: find out whether a probe in doubt was sent. Return its SendResult,
        None if it certainly was not sent, or raise OutcomeUnknown if it cannot tell."""
        raise OutcomeUnknown("this channel cannot look up whether the probe went out")

    # -- collecting ---------------------------------------------------------------------
    def collect(self) -> CollectStats:
        """Fetch new replies, store them raw, match and classify them."""
        return CollectStats()

    def watch_start(self, wake: threading.Event) -> list[str]:
        """``run --watch``: wait for replies in the background (e.g. IMAP IDLE) and set
        ``wake`` when one may have arrived, so the runner collects at once. Returns notes
        for the user (e.g. that the server offers no push and the runner polls)."""
        return []

    def close(self) -> None:
        pass


class OutcomeUnknown(ServicebenchError):
    """A send may or may not have reached the peer; never retried automatically."""


def _load(spec: str) -> type[Channel]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


_registry: dict[str, type[Channel]] | None = None


def _warn_unloadable(spec: str, exc: BaseException) -> None:
    logging.getLogger("servicebench").warning("channel %s could not be loaded: %s: %s",
                                              spec, type(exc).__name__, exc)


def registry() -> dict[str, type[Channel]]:
    """All channel classes by name: built-ins first, then entry points."""
    global _registry
    if _registry is None:
        found: dict[str, type[Channel]] = {}
        for spec in BUILTIN_CHANNELS:
            try:
                cls = _load(spec)
            except ModuleNotFoundError as exc:
                if exc.name and spec.split(":")[0].startswith(exc.name):
                    continue  # a built-in channel not shipped in this build
                _warn_unloadable(spec, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken channel must not stop others
                _warn_unloadable(spec, exc)
                continue
            found[cls.name] = cls
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value in BUILTIN_CHANNELS:
                continue  # a built-in, loaded above
            try:
                cls = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the tool
                logging.getLogger("servicebench").warning(
                    "channel plugin %s could not be loaded: %s", ep.name, exc)
                continue
            found[cls.name] = cls
        _registry = found
    return _registry


def get_channel(name: str) -> type[Channel]:
    try:
        return registry()[name]
    except KeyError:
        raise ServicebenchError(
            f"unknown channel {name!r}; known: {', '.join(sorted(registry()))}") from None
