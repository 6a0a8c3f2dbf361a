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
from collections.abc import Iterator, Mapping
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

#: the built-in channels by name; the package also declares them as
#: ``servicebench.channels`` entry points (pyproject.toml), so they load from a source tree
#: without installed metadata too. A channel's module is imported only when it is used.
BUILTIN_CHANNELS = {
    "email": "servicebench.probes.email:EmailChannel",
    "webform": "servicebench.probes.webform:WebformChannel",
    "phone": "servicebench.probes.manual:PhoneChannel",
    "chat": "servicebench.probes.manual:ChatChannel",
    "visit": "servicebench.probes.manual:VisitChannel",
    "mastodon": "servicebench.probes.social.mastodon:MastodonChannel",
    "bluesky": "servicebench.probes.social.bluesky:BlueskyChannel",
    "x": "servicebench.probes.social.x:XChannel",
}


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

    def short_text(self, pc: ProbeContext) -> str:
        """The scenario's short text rendered for this probe ('' where it has none): what
        public posts say, and what a contact form gets whose message field is too small."""
        short = pc.scenario.short or ""
        if short and self.study is not None:
            short = self.study.render(short, pc.persona, pc.company, pc.scenario).strip()
        return short


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


def _warn_unloadable(spec: str, exc: BaseException) -> None:
    logging.getLogger("servicebench").warning("channel %s could not be loaded: %s: %s",
                                              spec, type(exc).__name__, exc)


class ChannelRegistry(Mapping[str, "type[Channel]"]):
    """Channel classes by name, imported on first use (start-up stays fast: ``collect`` of
    an email-only study never imports the browser or social code).

    Names come from :data:`BUILTIN_CHANNELS` and the entry points' names, without importing
    anything. Looking a name up imports that one module; iterating imports all (the schema
    needs every channel's fragment). A channel that cannot be loaded is left out with a
    warning, as before; a built-in whose module is not shipped is left out silently.
    """

    def __init__(self) -> None:
        self._specs: dict[str, str] = dict(BUILTIN_CHANNELS)
        self._plugins: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value in BUILTIN_CHANNELS.values():
                continue  # a built-in, listed above
            self._specs.setdefault(ep.name, ep.value)
            self._plugins.add(ep.name)
        self._loaded: dict[str, type[Channel] | None] = {}
        self._all = False

    def specs(self) -> list[str]:
        """``name=module:Class`` of every channel, for cache keys (imports nothing)."""
        return [f"{n}={v}" for n, v in sorted(self._specs.items())]

    def _try(self, name: str) -> type[Channel] | None:
        if name in self._loaded:
            return self._loaded[name]
        spec = self._specs.get(name)
        cls: type[Channel] | None = None
        if spec is not None:
            try:
                cls = _load(spec)
            except ModuleNotFoundError as exc:
                if name in self._plugins or not (
                        exc.name and spec.split(":")[0].startswith(exc.name)):
                    _warn_unloadable(spec, exc)
            except Exception as exc:  # noqa: BLE001 - one broken channel must not stop others
                _warn_unloadable(spec, exc)
        self._loaded[name] = cls
        if cls is not None and getattr(cls, "name", name) != name:
            # a plugin whose class names itself differently: known by its own name
            self._loaded[name] = None
            self._loaded.setdefault(cls.name, cls)
            self._specs.setdefault(cls.name, spec or "")
        return self._loaded[name]

    def _load_all(self) -> None:
        if not self._all:
            for name in list(self._specs):
                self._try(name)
            self._all = True

    def __getitem__(self, name: str) -> type[Channel]:
        cls = self._try(name)
        if cls is None:  # a plugin may name itself differently from its entry point
            for plugin in sorted(self._plugins):
                self._try(plugin)
            cls = self._loaded.get(name)
        if cls is None:
            raise KeyError(name)
        return cls

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter([n for n, c in self._loaded.items() if c is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


_registry: ChannelRegistry | None = None


def registry() -> ChannelRegistry:
    """All channel classes by name: built-ins first, then entry points (loaded lazily)."""
    global _registry
    if _registry is None:
        _registry = ChannelRegistry()
    return _registry


def get_channel(name: str) -> type[Channel]:
    try:
        return registry()[name]
    except KeyError:
        raise ServicebenchError(
            f"unknown channel {name!r}; known: {', '.join(sorted(registry()))}") from None
