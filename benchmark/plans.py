"""Send plans: when each probe goes out.

A plan puts every probe (company x scenario x channel x persona, once per wave) at a time
inside its channel's send window: weekdays and hours in the study's time zone, never on a
public holiday of the study's country. Phone, chat and visits fall inside the company's
opening hours (``companies[].channels.phone.hours``, else ``companies[].hours``, else
``schedule.hours``).

The order is randomised and balanced, reproducible from ``schedule.seed``: the company order
is one seeded permutation, rotated by one place per wave (so no company always gets the
Monday-morning slot), and companies take turns within a wave (round robin), which also keeps
probes to one company apart; ``schedule.min_gap`` enforces a minimum gap on top of it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import StudyError

if TYPE_CHECKING:
    from .study import Company, Study

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_OPENING_HOURS = "mon-fri 09:00-17:00"
#: channels that happen in the company's opening hours
OPENING_HOURS_CHANNELS = ("phone", "chat", "visit")
#: how far ahead a monitor study (``every`` without ``waves``) is planned
MAX_SEARCH_DAYS = 400
HOURS_HINT = ("opening hours such as 'mon-fri 09:00-17:00', 'mon-fri 08:00-12:00 13:00-18:00, "
              "sat 10:00-14:00', 'daily 08:00-20:00' or 'always'")

_SPAN_RE = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?(?:h|uhr)?$")
#: German day abbreviations are understood too (Mo-Fr 8-18)
_DE_DAYS = {"mo": "mon", "di": "tue", "mi": "wed", "do": "thu", "fr": "fri", "sa": "sat",
            "so": "sun"}


@dataclass(frozen=True)
class Hours:
    """Weekly hours: for each weekday (0 = Monday) a list of [start, end) minutes."""

    text: str
    spans: tuple[tuple[tuple[int, int], ...], ...]

    def contains(self, local: datetime) -> bool:
        m = local.hour * 60 + local.minute
        return any(a <= m < b for a, b in self.spans[local.weekday()])

    def first_open(self, local: datetime) -> datetime | None:
        """The earliest moment >= ``local`` on the same day inside these hours."""
        m = local.hour * 60 + local.minute + (1 if local.second or local.microsecond else 0)
        for a, b in self.spans[local.weekday()]:
            if m < b:
                if m <= a:
                    return local.replace(hour=a // 60, minute=a % 60, second=0, microsecond=0)
                return local
        return None


@lru_cache(maxsize=256)
def parse_hours(text: str) -> Hours:
    """Parse ``mon-fri 09:00-17:00, sat 10:00-14:00``; raise ValueError saying what is wrong."""
    spec = str(text).strip().lower()
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    if spec in ("always", "24/7", "any"):
        return Hours(text, tuple(((0, 1440),) for _ in DAYS))
    if not spec:
        raise ValueError(f"empty hours; write {HOURS_HINT}")
    for group in re.split(r"\s*[,;]\s*", spec):
        words = [w for w in group.replace("uhr", " ").split() if w]
        if len(words) < 2:
            raise ValueError(f"{group!r}: say which days and which hours; write {HOURS_HINT}")
        which = _days(words[0])
        for w in words[1:]:
            m = _SPAN_RE.match(w)
            if not m:
                raise ValueError(f"{w!r} is not a time span such as 09:00-17:00")
            h1, m1, h2, m2 = (int(g or 0) for g in m.groups())
            a, b = h1 * 60 + m1, h2 * 60 + m2
            if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or a >= b or b > 1440:
                raise ValueError(f"{w!r}: the span must start before it ends, within 00:00-24:00")
            for d in which:
                days[d].append((a, b))
    return Hours(text, tuple(tuple(sorted(d)) for d in days))


def _days(word: str) -> list[int]:
    if word in ("daily", "every", "all"):
        return list(range(7))
    if word in ("weekdays", "workdays"):
        return list(range(5))
    if word == "weekend":
        return [5, 6]
    out: list[int] = []
    for part in word.split("+"):
        a, _, b = (_DE_DAYS.get(x.rstrip("."), x) for x in part.partition("-"))
        if a[:3] not in DAYS or (b and b[:3] not in DAYS):
            raise ValueError(f"{word!r}: days are mon tue wed thu fri sat sun, ranges such as "
                             "mon-fri, or daily / weekdays / weekend")
        i, j = DAYS.index(a[:3]), DAYS.index((b or a)[:3])
        out += list(range(i, j + 1)) if i <= j else list(range(i, 7)) + list(range(0, j + 1))
    return out


@lru_cache(maxsize=32)
def _holiday_calendar(country: str, subdivision: str | None) -> Any:
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def check_country(country: str, subdivision: str | None) -> str | None:
    """A problem with the holiday country/subdivision, or None."""
    try:
        _holiday_calendar(country, subdivision)
    except (NotImplementedError, KeyError):
        return (f"no public-holiday calendar for country {country!r}; use an ISO 3166 code "
                "such as DE, AT, CH, GB, US")
    except Exception as exc:  # noqa: BLE001 - the holidays package raises plain errors
        return f"country {country!r}, subdivision {subdivision!r}: {exc}"
    return None


class Calendar:
    """Send windows in the study's time zone, with public holidays left out."""

    def __init__(self, study: Study) -> None:
        sched = study.schedule
        self.tz = study.tz
        self.country = sched.get("country")
        self.subdivision = sched.get("subdivision")
        self.skip_holidays = bool(self.country) and sched.get("holidays", True)

    def holiday(self, day: date) -> str | None:
        if not self.skip_holidays:
            return None
        return _holiday_calendar(self.country, self.subdivision).get(day)

    def allowed(self, t: datetime, hours: Hours | None) -> bool:
        local = t.astimezone(self.tz)
        if self.holiday(local.date()):
            return False
        return hours is None or hours.contains(local)

    def next_allowed(self, t: datetime, hours: Hours | None) -> datetime:
        """The earliest time >= ``t`` in ``hours`` and not on a holiday."""
        local = t.astimezone(self.tz)
        for _ in range(MAX_SEARCH_DAYS):
            if not self.holiday(local.date()):
                if hours is None:
                    return local.astimezone(UTC)
                found = hours.first_open(local)
                if found is not None:
                    return found.astimezone(UTC)
            nxt = local.date() + timedelta(days=1)
            local = datetime.combine(nxt, time(0), self.tz)
        raise StudyError(f"{hours.text if hours else 'the send window'}: no allowed time in "
                         f"{MAX_SEARCH_DAYS} days after {t:%Y-%m-%d}; check schedule.windows, "
                         "hours and holidays")


def window_for(study: Study, company: Company, channel: str) -> Hours | None:
    """The hours a probe of ``channel`` to ``company`` may be due in (None: any time)."""
    sched = study.schedule
    windows = sched.get("windows") or {}
    if channel in OPENING_HOURS_CHANNELS:
        own = company.channels.get(channel)
        own_hours = own.get("hours") if isinstance(own, dict) else None
        text = own_hours or company.hours or windows.get(channel) or sched.get("hours") \
            or DEFAULT_OPENING_HOURS
        return parse_hours(text)
    text = windows.get(channel) or windows.get("default")
    return parse_hours(text) if text else None


@dataclass
class PlannedProbe:
    key: str
    company_id: str
    channel: str
    scenario_id: str
    persona_id: str
    wave: int
    target: str
    due_at: datetime

    def row(self) -> dict[str, Any]:
        from .clock import utc_iso

        return {"key": self.key, "company_id": self.company_id, "channel": self.channel,
                "scenario_id": self.scenario_id, "persona_id": self.persona_id,
                "wave": self.wave, "target": self.target, "due_at": utc_iso(self.due_at)}


def wave_starts(study: Study, anchor: datetime, horizon: datetime,
                since: datetime | None = None) -> list[tuple[int, datetime]]:
    """(wave number, start) for every wave that starts by ``horizon`` (all of a fixed
    number of waves; of an endless monitor schedule the ones from ``since`` to ``horizon``:
    a monitor started late does not send every missed wave at once)."""
    from .study import parse_duration

    sched = study.schedule
    if sched.get("dates"):
        return [(i, parse_wave_date(study, d)) for i, d in enumerate(sched["dates"], 1)]
    every = parse_duration(sched["every"]) if sched.get("every") else None
    waves = sched.get("waves")
    if every is None:
        return [(1, anchor)] if not waves else [
            (i, anchor + (i - 1) * timedelta(weeks=1)) for i in range(1, waves + 1)]
    if waves:
        return [(i, anchor + (i - 1) * every) for i in range(1, waves + 1)]
    out, i = [], 1
    if since is not None and since > anchor:
        i = int((since - anchor) / every) + 1  # the wave running at ``since``
    while anchor + (i - 1) * every <= horizon and len(out) < 10_000:
        out.append((i, anchor + (i - 1) * every))
        i += 1
    return out


def parse_wave_date(study: Study, value: Any) -> datetime:
    """A wave date: ``2026-12-07`` (09:00 in the study's zone) or an ISO date-time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T09:00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=study.tz)
    return dt.astimezone(UTC)


def build_plan(study: Study, anchor: datetime, horizon: datetime,
               since: datetime | None = None) -> list[PlannedProbe]:
    """Every probe of every wave that starts by ``horizon`` (monitor: and is still running
    at ``since``), with its due time."""
    from .channels import get_channel
    from .study import channel_names_for, parse_duration

    sched = study.schedule
    seed = str(sched.get("seed", study.id))
    spacing = study.schedule_spacing
    min_gap = parse_duration(sched["min_gap"]) if sched.get("min_gap") else timedelta(0)
    cal = Calendar(study)
    base = [c.id for c in study.companies]
    random.Random(f"{seed}|companies").shuffle(base)
    out: list[PlannedProbe] = []
    for wave, start in wave_starts(study, anchor, horizon, since):
        shift = (wave - 1) % len(base)
        order = base[shift:] + base[:shift]
        queues: dict[str, list[tuple[str, str, str]]] = {}
        for company in study.companies:
            items = [(scenario.id, channel, persona.id)
                     for scenario in study.scenarios
                     for channel in channel_names_for(study, company, scenario)
                     for persona in study.personas]
            random.Random(f"{seed}|{wave}|{company.id}").shuffle(items)
            queues[company.id] = items
        cursor = start
        last: dict[str, datetime] = {}
        for cid, (sid, channel, pid) in _round_robin(order, queues):
            company = study.company(cid)
            hours = window_for(study, company, channel)
            slot = cal.next_allowed(cursor, hours)
            due = slot
            if min_gap and cid in last and due < last[cid] + min_gap:
                due = cal.next_allowed(last[cid] + min_gap, hours)
            last[cid] = max(due, last.get(cid, due))
            cursor = slot + spacing
            cls = get_channel(channel)
            out.append(PlannedProbe(f"{cid}|{channel}|{sid}|{pid}|{wave}", cid, channel, sid,
                                    pid, wave, cls.target_of(company.channels[channel]), due))
    return out


def _round_robin(order: list[str], queues: dict[str, list[tuple[str, str, str]]]
                 ) -> Iterable[tuple[str, tuple[str, str, str]]]:
    i = 0
    while any(queues.values()):
        for cid in order:
            if i < len(queues[cid]):
                yield cid, queues[cid][i]
        i += 1
        if all(i >= len(q) for q in queues.values()):
            break


def next_slot(study: Study, company_id: str, channel: str, after: datetime) -> datetime:
    """The first allowed time for a re-planned probe (``retry``)."""
    hours = window_for(study, study.company(company_id), channel)
    return Calendar(study).next_allowed(after, hours)


def is_monitor(study: Study) -> bool:
    """An endless schedule: ``every`` without ``waves`` or ``dates``."""
    s = study.schedule
    return bool(s.get("every")) and not s.get("waves") and not s.get("dates")
