"""Manual channels: phone hotline, live chat, in-person visit.

The runner plans these probes like any other (who contacts which company with which
scenario, and when), but never sends them: a tester makes the call, opens the chat or walks
into the shop, and logs what happened, one contact at a time with :func:`log_contact` or many
at once with :func:`import_contacts_csv`. Both are plain functions (the CLI wraps them).

What a logged contact becomes:

* the probe moves to state ``sent`` with ``sent_at`` = the start of the contact and
  ``sent_time_source`` = ``tester-log``; its ``window_ends_at`` is the start plus the
  abandonment limit, so the metrics censor a contact that reached nobody at that limit;
* the log entry, as JSON, is kept as evidence (kind ``tester-log``);
* if a person answered within the abandonment limit, one message of kind ``human`` at
  ``person_at`` (``time_source`` ``tester-log``). Its text is the tester's notes followed by
  a checklist line holding, for each fact of the scenario the person answered, the fact's
  first ``any`` phrase (and its ``all`` phrases), so the metrics' text-based checklist
  coverage finds exactly those facts; the fact ids are also stored in the message's
  ``reasons`` as ``checklist: <id>``.
* a contact that reached nobody (``gave_up``, ``no_connection``) or reached a person only
  after the limit gets no message: it is censored (no human answer). The hold time (start
  to person, or to giving up) is recorded in the probe's ``detail``, capped at the limit.

Abandonment limits come from the study file (defaults: phone 60m, chat 15m, visit 30m)::

    manual:
      abandon_after: {phone: 60m, chat: 15m, visit: 30m}

CSV columns for :func:`import_contacts_csv` (header row required; ``,`` or ``;``
separated; UTF-8, a BOM is fine):

``probe``
    the probe id, or its key (``company|channel|scenario|persona|wave``); or instead the
    columns ``company``, ``channel``, ``scenario``, ``persona`` (and ``wave``, default 1)
``started_at`` (required)
    when the contact began: an ISO 8601 date-time; without an offset it is read in the
    study's time zone
``menu_at``, ``person_at``, ``ended_at``
    optional: ISO date-times, or a time of day (``14:05`` or ``14:05:30``) on the start's day
``outcome`` (required)
    ``answered``, ``gave_up`` or ``no_connection``
``attempts``
    how many tries it took (default 1)
``gave_up_after_minutes``
    for ``gave_up``: how long the tester waited (default: ``ended_at`` - ``started_at``)
``checklist``
    the fact ids (or labels) the person answered, separated by ``;``, ``,`` or ``|``
``notes``
    free text
``greeting``
    optional ``yes``/``no`` (``ja``/``nein``): the person greeted the tester by name; empty
    means not judged, and the greeting criterion then does not apply to the contact
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar

from servicebench.channels import Channel, ProbeContext, SendResult
from servicebench.clock import utc_iso
from servicebench.errors import ProbeError, ServicebenchError
from servicebench.store import Store
from servicebench.study import Fact, Study, parse_duration

OUTCOMES = ("answered", "gave_up", "no_connection")
DEFAULT_ABANDON = {"phone": timedelta(minutes=60), "chat": timedelta(minutes=15),
                   "visit": timedelta(minutes=30)}
TIME_SOURCE = "tester-log"
DURATION = {"oneOf": [{"type": "string", "pattern": r"^\s*\d{1,7}(\.\d{1,6})?\s*[smhdw]\s*$"},
                      {"type": "integer", "minimum": 1}],
            "description": "a duration such as 15m, 60m, 2h (or seconds)"}
MANUAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "settings for contacts made by a tester (phone, chat, visit)",
    "properties": {
        "abandon_after": {
            "type": "object",
            "additionalProperties": False,
            "description": "a contact that reached no person by then counts as unanswered",
            "properties": {"phone": DURATION, "chat": DURATION, "visit": DURATION},
        },
    },
}


class ManualChannel(Channel):
    """Base of the channels a tester works by hand."""

    kind = "manual"
    study_key = "manual"
    study_schema = MANUAL_SCHEMA
    action: ClassVar[str] = "contact"

    def send(self, pc: ProbeContext) -> SendResult:
        raise ProbeError(f"{self.label} is worked by a tester, not sent by the tool; log the "
                         f"contact for probe {pc.probe_id} instead")

    def preview(self, pc: ProbeContext) -> str:
        facts = "\n".join(f"  [ ] {f.label} ({f.id})" for f in pc.scenario.expect)
        limit = abandon_limit(self.env.study, self.name)
        return (f"{self.label}: {self.action} {self.target_of(pc.target)} as "
                f"{pc.persona.name}\nGive up after {_minutes(limit)} min without a person.\n\n"
                f"{pc.body.strip()}\n\nChecklist:\n{facts or '  (none)'}")


class PhoneChannel(ManualChannel):
    name = "phone"
    label = "Phone hotline"
    action = "call"
    company_schema = {
        "description": "the hotline number, or {number, hours, notes}",
        "oneOf": [{"type": "string", "minLength": 3},
                  {"type": "object", "additionalProperties": False, "required": ["number"],
                   "properties": {"number": {"type": "string", "minLength": 3},
                                  "hours": {"type": "string", "description":
                                            "opening hours (mon-fri 08:00-20:00, Mo-Fr 8-20): "
                                            "the contact is planned inside them"},
                                  "notes": {"type": "string"}}}],
    }

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        number = cls.target_of(config)
        if not re.fullmatch(r"\+?[\d\s()/.-]{3,}", number):
            return [f"{number!r} is not a phone number such as +49 30 1234567"]
        return []


class ChatChannel(ManualChannel):
    name = "chat"
    label = "Live chat"
    action = "open the chat at"
    company_schema = {
        "description": "the page with the chat, or {url, hours, notes}",
        "oneOf": [{"type": "string", "pattern": r"^https?://"},
                  {"type": "object", "additionalProperties": False, "required": ["url"],
                   "properties": {"url": {"type": "string", "pattern": r"^https?://"},
                                  "hours": {"type": "string"}, "notes": {"type": "string"}}}],
    }


class VisitChannel(ManualChannel):
    name = "visit"
    label = "In-person visit"
    action = "visit"
    company_schema = {
        "description": "the shop's address, or {address, hours, notes}",
        "oneOf": [{"type": "string", "minLength": 3},
                  {"type": "object", "additionalProperties": False, "required": ["address"],
                   "properties": {"address": {"type": "string", "minLength": 3},
                                  "hours": {"type": "string"}, "notes": {"type": "string"}}}],
    }


MANUAL_CHANNELS = {c.name: c for c in (PhoneChannel, ChatChannel, VisitChannel)}


# -- core functions ------------------------------------------------------------------------
def abandon_limit(study: Study, channel: str) -> timedelta:
    """The study's abandonment limit for a manual channel (``manual.abandon_after``)."""
    conf = ((study.settings.get("manual") or {}).get("abandon_after") or {})
    if channel in conf:
        try:
            return parse_duration(conf[channel])
        except ValueError as exc:
            raise ServicebenchError(f"{study.file}: manual.abandon_after.{channel}: {exc}") \
                from None
    return DEFAULT_ABANDON.get(channel, timedelta(minutes=60))


def _minutes(td: timedelta) -> str:
    m = td.total_seconds() / 60
    return f"{m:.0f}" if m == int(m) else f"{m:.1f}"


def _aware(study: Study, dt: datetime, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise ServicebenchError(f"{what}: expected a date-time, got {dt!r}")
    return dt.replace(tzinfo=study.tz) if dt.tzinfo is None else dt


def _fact_for(item: str, facts: list[Fact]) -> Fact | None:
    key = item.strip().lower()
    for f in facts:
        if key in (f.id.lower(), f.label.strip().lower()):
            return f
    return None


def checklist_line(facts: Iterable[Fact]) -> str:
    """The text that makes the metrics' checklist find exactly ``facts``."""
    phrases: list[str] = []
    for f in facts:
        for p in ([f.any[0]] if f.any else []) + list(f.all):
            p = p.rstrip("*").strip()
            if p and p not in phrases:
                phrases.append(p)
    return "Checklist: " + "; ".join(phrases) + "." if phrases else ""


@dataclass
class _Checked:
    row: Any
    channel: str
    scenario: Any
    company: Any
    started: datetime
    times: dict[str, datetime]
    facts: list[Fact]
    previous: bool


def _check(study: Study, store: Store, probe_id: int, *, started_at: datetime,
           menu_at: datetime | None, person_at: datetime | None, ended_at: datetime | None,
           outcome: str, attempts: int, gave_up_after_minutes: float | None,
           checklist: list[str], replace: bool) -> _Checked:
    """Every check of a log entry, without writing anything."""
    row = store.one("SELECT * FROM probes WHERE id = ?", (probe_id,))
    if row is None:
        raise ServicebenchError(f"no probe {probe_id}; see the probe ids with: servicebench "
                                "status")
    channel = row["channel"]
    if channel not in MANUAL_CHANNELS:
        raise ServicebenchError(f"probe {probe_id} is a {channel} probe; only phone, chat and "
                                "visit probes are logged by hand")
    if outcome not in OUTCOMES:
        raise ServicebenchError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not isinstance(attempts, int) or attempts < 1:
        raise ServicebenchError(f"attempts must be a whole number of at least 1, not "
                                f"{attempts!r}")
    started = _aware(study, started_at, "started_at")
    given = {"menu_at": menu_at, "person_at": person_at, "ended_at": ended_at}
    times = {k: _aware(study, v, k) for k, v in given.items() if v is not None}
    order = [("started_at", started)] + [(k, times[k]) for k in ("menu_at", "person_at",
                                                                   "ended_at") if k in times]
    for (a, ta), (b, tb) in zip(order, order[1:], strict=False):
        if tb < ta:
            raise ServicebenchError(f"{b} ({tb.isoformat()}) is before {a} ({ta.isoformat()})")
    if outcome == "answered" and "person_at" not in times:
        raise ServicebenchError("outcome 'answered' needs person_at: when a person answered")
    if outcome != "answered" and "person_at" in times:
        raise ServicebenchError(f"outcome {outcome!r} with a person_at: use 'answered' if a "
                                "person answered")
    if gave_up_after_minutes is not None and (
            not isinstance(gave_up_after_minutes, int | float) or gave_up_after_minutes < 0):
        raise ServicebenchError(f"gave_up_after_minutes must be a number of minutes, not "
                                f"{gave_up_after_minutes!r}")
    try:
        scenario = study.scenario(row["scenario_id"])
        company = study.company(row["company_id"])
    except StopIteration:
        raise ServicebenchError(f"probe {probe_id}: its scenario or company is no longer in "
                                "the study file") from None
    facts: list[Fact] = []
    for item in checklist:
        f = _fact_for(str(item), scenario.expect)
        if f is None:
            known = ", ".join(x.id for x in scenario.expect) or "none"
            raise ServicebenchError(f"checklist item {item!r} is not a fact of scenario "
                                    f"{scenario.id} (its facts: {known})")
        if f not in facts:
            facts.append(f)
    if facts and outcome != "answered":
        raise ServicebenchError("checklist items need outcome 'answered' (nobody answered "
                                "them otherwise)")
    if row["state"] == "sent" and row["sent_time_source"] == TIME_SOURCE and not replace:
        raise ServicebenchError(f"probe {probe_id} already has a logged contact (started "
                                f"{row['sent_at']}); pass replace to correct it")
    if row["state"] not in ("planned", "failed", "skipped", "sent"):
        raise ServicebenchError(f"probe {probe_id} is {row['state']}; it cannot be logged")
    previous = store.one("SELECT 1 FROM messages WHERE probe_id = ? AND source = ?",
                         (probe_id, TIME_SOURCE)) is not None
    return _Checked(row, channel, scenario, company, started, times, facts, previous)


def log_contact(study: Study, store: Store, probe_id: int, *, started_at: datetime,
                menu_at: datetime | None = None, person_at: datetime | None = None,
                ended_at: datetime | None = None, outcome: str, attempts: int = 1,
                gave_up_after_minutes: float | None = None,
                checklist: list[str] | None = None, notes: str = "", now: datetime,
                replace: bool = False, greeting: bool | None = None) -> None:
    """Record one contact a tester made for a planned manual probe (see the module doc).

    Raises :class:`ServicebenchError` naming the problem if the entry does not fit the probe
    (unknown probe, not a manual channel, times out of order, outcome and times disagree,
    checklist items the scenario does not have, already logged unless ``replace``)."""
    ck = _check(study, store, probe_id, started_at=started_at, menu_at=menu_at,
                person_at=person_at, ended_at=ended_at, outcome=outcome, attempts=attempts,
                gave_up_after_minutes=gave_up_after_minutes, checklist=list(checklist or []),
                replace=replace)
    row, channel, scenario, company, started = ck.row, ck.channel, ck.scenario, ck.company, \
        ck.started
    aware, facts, previous = ck.times, ck.facts, ck.previous
    person = aware.get("person_at")
    limit = abandon_limit(study, channel)
    if outcome == "answered":
        assert person is not None
        waited = person - started
    elif gave_up_after_minutes is not None:
        waited = timedelta(minutes=float(gave_up_after_minutes))
    elif "ended_at" in aware:
        waited = aware["ended_at"] - started
    else:
        waited = timedelta(0) if outcome == "no_connection" else limit
    reached = outcome == "answered" and waited <= limit
    hold = min(waited, limit)
    menu = aware.get("menu_at")
    entry: dict[str, Any] = {
        "probe_id": probe_id, "probe_key": row["key"], "channel": channel,
        "company": company.name, "target": row["target"], "scenario": scenario.id,
        "started_at": started.isoformat(), "menu_at": menu.isoformat() if menu else None,
        "person_at": person.isoformat() if person else None,
        "ended_at": aware["ended_at"].isoformat() if "ended_at" in aware else None,
        "outcome": outcome, "attempts": attempts,
        "gave_up_after_minutes": gave_up_after_minutes, "checklist": [f.id for f in facts],
        "notes": notes, "logged_at": utc_iso(now), "greeting": greeting,
        "abandon_after_minutes": limit.total_seconds() / 60,
        "wait_seconds": waited.total_seconds(), "hold_seconds": hold.total_seconds(),
        "hold_capped": waited > limit, "censored": not reached,
    }
    if person is not None and menu is not None:
        entry["queue_seconds"] = (person - menu).total_seconds()
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ev = store.write_evidence(f"manual/{channel}/{probe_id}-{stamp}.json",
                              json.dumps(entry, ensure_ascii=False, indent=2).encode("utf-8"),
                              probe_id=probe_id, kind="tester-log", now=now)
    detail = json.loads(row["detail"] or "{}")
    detail.update({"log": entry, "log_evidence": ev.path, "hold_seconds": hold.total_seconds(),
                   "censored": not reached, "outcome": outcome,
                   "abandon_after_seconds": limit.total_seconds()})
    if outcome == "answered" and not reached:
        detail["note"] = (f"a person answered only after {_minutes(waited)} min, beyond the "
                          f"{_minutes(limit)} min abandonment limit: counted as unanswered")
    with store.transaction() as db:
        if previous:
            db.execute("DELETE FROM messages WHERE probe_id = ? AND source = ?",
                       (probe_id, TIME_SOURCE))
        fields = {"sent_at": utc_iso(started), "sent_time_source": TIME_SOURCE,
                  "window_ends_at": utc_iso(started + limit),
                  "external_id": f"log:{probe_id}", "attempts": attempts, "error": None,
                  "detail": json.dumps(detail, ensure_ascii=False),
                  "updated_at": utc_iso(now)}
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        cur = db.execute(f"UPDATE probes SET state = 'sent', {sets} WHERE id = :_id AND "
                         "state = :_old", {**fields, "_id": probe_id, "_old": row["state"]})
        if cur.rowcount != 1:
            raise ServicebenchError(f"probe {probe_id} changed while logging; try again")
        store.log_event(now, f"{row['state']}->sent", probe_id,
                        {"source": TIME_SOURCE, "outcome": outcome, "censored": not reached})
        if reached:
            assert person is not None
            said = notes.strip()
            if said and said[-1] not in ".!?":
                said += "."
            text = "\n\n".join(x for x in (said, checklist_line(facts)) if x)
            reasons = [f"logged by the tester: {channel} contact answered by a person",
                       *[f"checklist: {f.id}" for f in facts]]
            db.execute(
                "INSERT INTO messages (channel, source, external_id, message_id, probe_id,"
                " match_method, received_at, time_source, sender, subject, text, kind, reasons,"
                " evidence, fetched_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, '', ?, 'human',"
                " ?, ?, ?)",
                (channel, TIME_SOURCE, f"log:{probe_id}:{utc_iso(started)}", probe_id,
                 TIME_SOURCE, utc_iso(person), TIME_SOURCE, f"{company.name} ({row['target']})",
                 text or "(answered; no notes)", json.dumps(reasons, ensure_ascii=False),
                 ev.path, utc_iso(now)))


# -- CSV import ------------------------------------------------------------------------------
CSV_COLUMNS = ("probe", "company", "channel", "scenario", "persona", "wave", "started_at",
               "menu_at", "person_at", "ended_at", "outcome", "attempts",
               "gave_up_after_minutes", "checklist", "notes", "greeting")
_YES, _NO = ("yes", "ja", "y", "j", "true", "1"), ("no", "nein", "n", "false", "0")


def _yes_no(value: str | None) -> bool | None:
    """The optional ``greeting`` column: yes/ja/no/nein, empty = not judged."""
    v = (value or "").strip().lower()
    if not v:
        return None
    if v in _YES or v in _NO:
        return v in _YES
    raise ValueError(f"greeting {value!r} is not yes/no (ja/nein) or empty")


def _parse_dt(study: Study, value: str, day_of: datetime | None, column: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value)
    if m:
        if day_of is None:
            raise ValueError(f"{column}: a time of day needs a started_at date")
        t = time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        local = day_of.astimezone(study.tz)
        dt = datetime.combine(local.date(), t, tzinfo=study.tz)
        return dt
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not a date-time such as "
                         "2026-11-24T14:05 or a time such as 14:05") from None
    from servicebench.clock import check_date

    return check_date(dt.replace(tzinfo=study.tz) if dt.tzinfo is None else dt, column)


def _find_probe(store: Store, rec: dict[str, str]) -> int:
    ref = (rec.get("probe") or "").strip()
    if ref:
        if ref.isdigit():
            row = store.one("SELECT id FROM probes WHERE id = ?", (int(ref),)) if int(
                ref) < 2**63 else None
        else:
            row = store.one("SELECT id FROM probes WHERE key = ?", (ref,))
        if row is None:
            raise ValueError(f"probe: no probe {ref!r}")
        return int(row["id"])
    parts = [(rec.get(k) or "").strip() for k in ("company", "channel", "scenario", "persona")]
    if not all(parts):
        raise ValueError("give the probe id or key in 'probe', or company, channel, scenario "
                         "and persona")
    wave = (rec.get("wave") or "1").strip() or "1"
    key = "|".join(parts + [wave])
    row = store.one("SELECT id FROM probes WHERE key = ?", (key,))
    if row is None:
        raise ValueError(f"no planned probe {key!r} (company|channel|scenario|persona|wave); "
                         "run the study once so the probes are planned")
    return int(row["id"])


def import_contacts_csv(study: Study, store: Store, path: Path | str, now: datetime) -> int:
    """Log every contact in a CSV file (columns: see the module doc). All rows are checked
    first; if any is wrong nothing is imported and the error names each bad line. A row
    identical to a contact already logged is skipped, so importing the same file twice is
    harmless. Returns how many contacts were logged."""
    path = Path(path)
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServicebenchError(f"{path}: cannot read: {exc}") from exc
    first = raw.splitlines()[0] if raw.strip() else ""
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(raw, newline=""), delimiter=delim)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise ServicebenchError(f"{path}: empty; the first line must name the columns "
                                f"({', '.join(CSV_COLUMNS)})")
    unknown = [h for h in header if h and h not in CSV_COLUMNS]
    if unknown:
        raise ServicebenchError(f"{path}:1: unknown column(s) {', '.join(unknown)}; allowed: "
                                f"{', '.join(CSV_COLUMNS)}")
    for need in ("started_at", "outcome"):
        if need not in header:
            raise ServicebenchError(f"{path}:1: the column {need!r} is missing")
    reader.fieldnames = header
    planned: list[tuple[int, int, dict[str, Any]]] = []
    errors: list[str] = []
    seen: dict[int, int] = {}
    for rec in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
            continue
        try:
            pid = _find_probe(store, rec)
            if pid in seen:
                raise ValueError(f"probe {pid} is also on line {seen[pid]}")
            seen[pid] = line
            started = _parse_dt(study, rec.get("started_at") or "", None, "started_at")
            if started is None:
                raise ValueError("started_at is empty")
            kw: dict[str, Any] = {"started_at": started}
            for col in ("menu_at", "person_at", "ended_at"):
                kw[col] = _parse_dt(study, rec.get(col) or "", started, col)
            kw["outcome"] = (rec.get("outcome") or "").strip().lower().replace(" ", "_") \
                .replace("-", "_")
            if kw["outcome"] not in OUTCOMES:
                raise ValueError(f"outcome {rec.get('outcome')!r} is not one of "
                                 f"{', '.join(OUTCOMES)}")
            att = (rec.get("attempts") or "").strip()
            if att and not att.isdigit():
                raise ValueError(f"attempts {att!r} is not a whole number")
            kw["attempts"] = int(att) if att else 1
            gave = (rec.get("gave_up_after_minutes") or "").strip().replace(",", ".")
            try:
                kw["gave_up_after_minutes"] = float(gave) if gave else None
            except ValueError:
                raise ValueError(f"gave_up_after_minutes {gave!r} is not a number") from None
            kw["checklist"] = [c.strip() for c in re.split(r"[;,|]", rec.get("checklist") or "")
                               if c.strip()]
            kw["notes"] = (rec.get("notes") or "").strip()
            kw["greeting"] = _yes_no(rec.get("greeting"))
            planned.append((line, pid, kw))
        except (ValueError, ServicebenchError) as exc:
            errors.append(f"{path}:{line}: {exc}")
    # a dry pass through the checks of log_contact, so nothing is half imported
    todo = []
    for line, pid, kw in planned:
        row = store.probe(pid)
        if row["state"] == "sent" and row["sent_time_source"] == TIME_SOURCE:
            if row["sent_at"] == utc_iso(kw["started_at"]):
                continue  # imported before
            errors.append(f"{path}:{line}: probe {pid} already has a logged contact (started "
                          f"{row['sent_at']})")
            continue
        try:
            _check(study, store, pid, replace=False,
                   **{k: v for k, v in kw.items() if k not in ("notes", "greeting")})
        except ServicebenchError as exc:
            errors.append(f"{path}:{line}: {exc}")
            continue
        todo.append((line, pid, kw))
    if errors:
        n = len(errors)
        raise ServicebenchError(f"{path}: {n} problem{'s' if n > 1 else ''}, nothing imported:\n"
                                + "\n".join(f"  {e}" for e in errors))
    for line, pid, kw in todo:
        try:
            log_contact(study, store, pid, now=now, **kw)
        except ServicebenchError as exc:
            raise ServicebenchError(f"{path}:{line}: {exc}") from exc
    return len(todo)


def parse_contact_time(study: Study, value: str, day_of: datetime | None,
                       what: str) -> datetime | None:
    """A time the tester typed: ISO date-time (study time zone if no offset) or, given the
    start, a time of day such as 14:05. Raises ValueError naming ``what``."""
    return _parse_dt(study, value, day_of, what)
