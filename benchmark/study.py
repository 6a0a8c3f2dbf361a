"""Loading and validating ``study.yaml``.

Every problem is collected (not just the first) and names file, line and key. Secrets are
written as ``${VAR}`` in the file and come from the environment or a ``.env`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dotenv import dotenv_values

from .channels import get_channel, registry
from .clock import MAX_YEAR, check_date
from .errors import Problem, StudyError
from .schema import DURATION, MAX_DURATION_SECONDS, study_schema
from .validation_cache import ValidationCache
from .yamlload import load_yaml

if TYPE_CHECKING:
    import jsonschema

PATTERN_HINTS = {DURATION["oneOf"][0]["pattern"]: "a duration such as 90s, 30m, 48h or 7d"}

STUDY_FILE = "study.yaml"
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DEFAULT_WINDOW = timedelta(days=7)

Path_ = tuple[str | int, ...]


def parse_duration(value: Any) -> timedelta:
    """A duration such as 90s, 30m, 48h, 7d, 2w (or seconds), at most ten years."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration such as 30m, 48h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*(\d{1,12}(?:\.\d{1,9})?)\s*([smhdw])\s*", str(value)[:100])
        if not m:
            raise ValueError(f"{str(value)[:40]!r} is not a duration such as 30m, 48h or 7d")
        seconds = float(m.group(1)) * DURATION_UNITS[m.group(2)]
    if not 0 <= seconds <= MAX_DURATION_SECONDS:  # also False for NaN
        raise ValueError(f"{str(value)[:40]!r} is longer than ten years (or not a number)")
    return timedelta(seconds=seconds)


@dataclass
class Fact:
    id: str
    label: str
    any: list[str] = field(default_factory=list)
    all: list[str] = field(default_factory=list)


@dataclass
class Persona:
    id: str
    name: str
    email: str
    first_name: str = ""
    last_name: str = ""
    salutation: str = ""
    phone: str = ""
    postcode: str = ""
    city: str = ""
    customer_number: str = ""
    order_number: str = ""

    def __post_init__(self) -> None:
        if not self.first_name and not self.last_name:
            first, _, last = self.name.rpartition(" ")
            self.first_name, self.last_name = (first, last) if first else (self.name, "")


@dataclass
class Scenario:
    id: str
    subject: str
    body: str
    expect: list[Fact] = field(default_factory=list)
    channels: list[str] | None = None
    short: str = ""
    mode: str = "public"
    topic: str = ""
    rubric: dict[str, Any] | None = None  # criteria for rating replies (servicebench rate)
    follow_up: dict[str, Any] | None = None  # {after, body, subject?}: servicebench.followups


@dataclass
class Company:
    id: str
    name: str
    channels: dict[str, Any]
    domains: list[str] = field(default_factory=list)
    sector: str = ""
    brands: list[str] = field(default_factory=list)  # hidden in blinded rating sheets
    hours: str = ""  # opening hours for phone, chat, visits (see servicebench.plans)


@dataclass
class Study:
    folder: Path
    id: str
    title: str
    language: str
    timezone: str
    window: timedelta
    personas: list[Persona]
    scenarios: list[Scenario]
    companies: list[Company]
    schedule_start: datetime | None
    schedule_spacing: timedelta
    settings: dict[str, Any]  # top-level sections with env variables resolved (mailbox...)
    secrets: set[str] = field(default_factory=set)
    client: str = ""
    author: str = ""
    #: the ``schedule`` section as written (windows, waves, seed...; see servicebench.plans)
    schedule: dict[str, Any] = field(default_factory=dict)
    #: which ${VARIABLES} each key was filled from, e.g. {"mailbox.smtp.password": [...]}
    variables: dict[str, list[str]] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.folder / STUDY_FILE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def persona(self, pid: str) -> Persona:
        return next(p for p in self.personas if p.id == pid)

    def scenario(self, sid: str) -> Scenario:
        return next(s for s in self.scenarios if s.id == sid)

    def company(self, cid: str) -> Company:
        return next(c for c in self.companies if c.id == cid)

    def channels_used(self) -> list[str]:
        names: list[str] = []
        for c in self.companies:
            names += [n for n in c.channels if n not in names]
        return names

    def token(self, key: str, length: int = 8) -> str:
        """A short opaque tag derived from a probe key (stable across runs)."""
        digest = hashlib.sha256(f"{self.id}|{key}".encode()).hexdigest()
        return format(int(digest[:16], 16), "x")[:length]

    def render(self, template: str, persona: Persona, company: Company,
               scenario: Scenario) -> str:
        """Render a scenario text in Jinja's sandbox, bounded in time and size."""
        from jinja2 import TemplateError

        from .budget import BudgetExceeded, time_budget
        from .jinja_sandbox import template_env

        where = f"{self.file}: scenario {scenario.id}"
        try:
            with time_budget(RENDER_SECONDS, "rendering"):
                out: list[str] = []
                size = 0
                for chunk in template_env().from_string(template).generate(
                        persona=persona, company=company, scenario=scenario):
                    size += len(chunk)
                    if size > MAX_RENDERED:
                        raise OverflowError(f"the text grows beyond {MAX_RENDERED} characters")
                    out.append(chunk)
                return "".join(out)
        except TemplateError as exc:
            raise StudyError(f"{where}: template error: {exc}"
                             " (available names: persona, company, scenario)") from None
        except BudgetExceeded:
            raise StudyError(f"{where}: the template takes longer than {RENDER_SECONDS:g} s to "
                             "render (a huge loop?)") from None
        except (OverflowError, MemoryError, RecursionError, ArithmeticError, TypeError,
                ValueError, LookupError, AttributeError) as exc:
            raise StudyError(f"{where}: the template cannot be rendered: "
                             f"{type(exc).__name__}: {str(exc)[:200]}") from None

    def redact(self, text: str) -> str:
        return Study.redact_with(self.secrets)(text)

    @staticmethod
    def redact_with(secrets: set[str]) -> Callable[[str], str]:
        ordered = [s for s in sorted(secrets, key=len, reverse=True) if len(s) >= 3]

        def redact(text: str) -> str:
            for s in ordered:
                text = text.replace(s, "***")
            return text

        return redact


def _read_env(path: Path) -> dict[str, str | None]:
    """The variables of a ``.env`` file (none if there is no file)."""
    if not path.exists():
        return {}
    try:
        path.read_bytes().decode("utf-8")
        return dict(dotenv_values(path, encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise StudyError(f"{path}: cannot read: {exc.strerror}") from None


RENDER_SECONDS = 2.0
MAX_RENDERED = 200_000  # characters of one rendered subject or body


# -- YAML with line numbers: see servicebench.yamlload ----------------------------------
def _fmt_path(path: Path_) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(top level)"


class _Collector:
    def __init__(self, file: Path, lines: dict[Path_, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: Path_) -> int | None:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def add(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(str(self.file), self.line(path), _fmt_path(path), message))


def _schema_message(err: jsonschema.ValidationError) -> tuple[Path_, str]:
    import jsonschema

    path: Path_ = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        key = extra[0] if extra else ""
        return path + ((key,) if key else ()), (
            f"unknown key {key!r}; allowed here: {allowed}")
    if err.validator == "required":
        return path, f"{err.message}; add it"
    if err.validator == "enum":
        return path, f"{err.instance!r} is not allowed; use one of {err.validator_value}"
    if err.validator == "type":
        got = type(err.instance).__name__
        hint = ""
        if "string" in str(err.validator_value) and isinstance(err.instance, bool | int | float):
            hint = f"; YAML read {err.instance!r} as a {got}: put the text in quotes"
        return path, f"expected {err.validator_value}, got {got}{hint}"
    if err.validator == "pattern":
        hint = err.schema.get("description", f"must match {err.validator_value}")
        return path, f"{err.instance!r}: {hint}"
    if err.validator in ("oneOf", "anyOf"):
        for sub in err.validator_value:
            if sub.get("pattern") in PATTERN_HINTS:
                return path, f"{err.instance!r} is not {PATTERN_HINTS[sub['pattern']]}"
        hint = err.schema.get("description", "")
        best = jsonschema.exceptions.best_match(err.context) if err.context else None
        detail = best.message if best is not None else "the value has the wrong form"
        return path, f"{detail}" + (f" (expected: {hint})" if hint else "")
    return path, err.message


def load_study(folder: Path | str, environ: dict[str, str] | None = None,
               require_secrets: bool = True) -> Study:
    """Load and validate ``folder/study.yaml``. Raises StudyError with every problem."""
    folder = Path(folder)
    file = folder / STUDY_FILE if folder.is_dir() or not folder.suffix else folder
    folder = file.parent
    if not file.exists():
        raise StudyError(f"{file}: no study file here. Create one with: servicebench init {folder}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(f"{file}: cannot read: {exc}") from exc
    try:
        loaded = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        problem = getattr(exc, "problem", None) or str(exc)
        raise StudyError(f"{where}: not valid YAML: {problem}") from None
    except (RecursionError, MemoryError, OverflowError, ValueError) as exc:
        raise StudyError(f"{file}: cannot be read as YAML: {type(exc).__name__}: "
                         f"{str(exc)[:200]}") from None
    data = loaded.data
    if not isinstance(data, dict):
        raise StudyError(f"{file}: expected a mapping with keys study, personas, scenarios, "
                         "companies (see: servicebench init)")
    col = _Collector(file, loaded.lines)
    for path, line, first in loaded.duplicates:
        col.problems.append(Problem(str(file), line, _fmt_path(path),
                                    f"duplicate key (first at line {first}); YAML would keep "
                                    "only the last one: merge them into one"))

    env = _read_env(folder / ".env")
    env.update(os.environ if environ is None else environ)
    secrets: set[str] = set()
    variables: dict[str, list[str]] = {}
    resolved = _interpolate(data, (), env, col, secrets, require_secrets, variables)
    _dates_as_text(resolved)

    # the schema and semantic checks depend only on the resolved document (and the code):
    # a document that passed them before is not checked again (fast start)
    cache = ValidationCache(folder, resolved, secrets)
    if col.problems or not cache.passed():
        _validate(resolved, col)
        if not col.problems:
            cache.remember()
    masked = Study.redact_with(secrets)
    for p in col.problems:  # e.g. an enum message quotes the (secret) value it refused
        p.message = masked(p.message)
    if col.problems:
        col.problems.sort(key=lambda p: (p.line or 0, p.key))
        n = len(col.problems)
        raise StudyError(f"{file}: {n} problem{'s' if n > 1 else ''} found", col.problems)
    study = _build(folder, resolved, secrets)
    study.variables = variables
    _check_timeline(study)
    return study


def _validate(resolved: dict[str, Any], col: _Collector) -> None:
    """The JSON Schema and the checks it cannot express; problems go to ``col``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        study_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for err in validator.iter_errors(resolved):
        if isinstance(err.instance, str) and "${" in err.instance:
            continue  # an unset variable, reported above
        if err.validator == "format" and err.validator_value == "email":
            continue  # reported by the stricter check in _semantic_checks
        path, msg = _schema_message(err)
        col.add(path, msg)
    _semantic_checks(resolved, col)


def _check_timeline(study: Study) -> None:
    """The last probe's due time plus the window must be a representable, sane date
    (waves included: the last wave's start; a monitor schedule has no last wave)."""
    n = sum(len(c.channels) for c in study.companies) * len(study.scenarios) * len(
        study.personas)
    start = study.schedule_start or datetime.now(UTC)
    sched = study.schedule
    try:
        last_wave = start
        if sched.get("dates"):
            from .plans import parse_wave_date

            last_wave = max(parse_wave_date(study, d) for d in sched["dates"])
        elif sched.get("waves"):
            every = parse_duration(sched.get("every", "1w"))
            last_wave = start + (int(sched["waves"]) - 1) * every
        check_date(last_wave + n * study.schedule_spacing + study.window, "schedule")
    except (OverflowError, ValueError):
        raise StudyError(f"{study.file}: the schedule runs past the year {MAX_YEAR} (start + "
                         f"waves + {n} probes x spacing + window); shorten spacing, every or "
                         "window") from None


def _dates_as_text(data: Any) -> None:
    """YAML reads an unquoted 2026-12-07 as a date: wave dates are kept as ISO text."""
    sched = data.get("schedule") if isinstance(data, dict) else None
    if isinstance(sched, dict) and isinstance(sched.get("dates"), list):
        sched["dates"] = [d.isoformat() if isinstance(d, date) else d for d in sched["dates"]]


def _interpolate(value: Any, path: Path_, env: dict[str, str | None], col: _Collector,
                 secrets: set[str], require: bool,
                 variables: dict[str, list[str]] | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, path + (k,), env, col, secrets, require, variables)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path + (i,), env, col, secrets, require, variables)
                for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    if variables is not None:
        variables[_fmt_path(path)] = [m.group(1) for m in VAR_RE.finditer(value)]

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        val = env.get(name)
        if val is None or val == "":
            if default is not None:
                return default
            if require:
                col.add(path, f"${{{name}}} is not set; export {name}=... or put it in .env "
                              "beside study.yaml")
            return m.group(0)  # left as written; checks skip values with ${...}
        if _looks_secret(name, path):
            secrets.add(val)
        return val

    return VAR_RE.sub(sub, value)


SECRET_WORDS = ("pass", "secret", "token", "key", "credential", "auth", "bearer", "cookie")


def _looks_secret(variable: str, path: Path_) -> bool:
    """Values of variables named like secrets, or put in secret-looking keys, are redacted
    everywhere (logs, errors, reports). Ports and host names are not."""
    names = [variable.lower()] + [str(p).lower() for p in path[-1:]]
    return any(w in n for n in names for w in SECRET_WORDS)


def _semantic_checks(data: dict[str, Any], col: _Collector) -> None:
    from jinja2 import TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    def dup_ids(section: str) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(data.get(section) or []):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                if item["id"] in seen:
                    col.add((section, i, "id"), f"duplicate id {item['id']!r} (first used at "
                            f"{section}[{seen[item['id']]}]); ids must be unique")
                seen.setdefault(item["id"], i)

    for section in ("personas", "scenarios", "companies"):
        dup_ids(section)
    for i, p in enumerate(data.get("personas") or []):
        if isinstance(p, dict) and isinstance(p.get("email"), str) and "${" not in p[
                "email"] and not EMAIL_RE.match(p["email"]):
            col.add(("personas", i, "email"), f"{p['email']!r} is not an email address")
    known = registry()
    company_channels: set[str] = set()
    for i, c in enumerate(data.get("companies") or []):
        chans = c.get("channels") if isinstance(c, dict) else None
        if not isinstance(chans, dict):
            continue
        for name, cfg in chans.items():
            company_channels.add(name)
            if name in known and "${" not in json.dumps(cfg):
                for msg in known[name].validate_target(cfg):
                    col.add(("companies", i, "channels", name), msg)
    for i, s in enumerate(data.get("scenarios") or []):
        if not isinstance(s, dict):
            continue
        for j, name in enumerate(s.get("channels") or []):
            if name not in known:
                col.add(("scenarios", i, "channels", j),
                        f"unknown channel {name!r}; known: {', '.join(sorted(known))}")
            elif name not in company_channels:
                col.add(("scenarios", i, "channels", j),
                        f"no company has channel {name!r}; add it to a company or remove it")
        fu = s.get("follow_up") if isinstance(s.get("follow_up"), dict) else {}
        if isinstance(fu.get("after"), str) and re.fullmatch(DURATION["oneOf"][0]["pattern"],
                                                             fu["after"]):
            try:
                parse_duration(fu["after"])
            except ValueError as exc:
                col.add(("scenarios", i, "follow_up", "after"), str(exc))
        for path, text in ([(("scenarios", i, k), s.get(k)) for k in ("subject", "body")]
                           + [(("scenarios", i, "follow_up", k), fu.get(k))
                              for k in ("subject", "body")]):
            if isinstance(text, str):
                try:
                    SandboxedEnvironment().parse(text)
                except TemplateError as exc:
                    col.add(path, f"template error: {exc}")
    _rubric_checks(data, col)
    study = data.get("study")
    if isinstance(study, dict):
        tz = study.get("timezone")
        if isinstance(tz, str):
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                col.add(("study", "timezone"), f"unknown time zone {tz!r}; use an IANA name "
                        "such as Europe/Berlin or UTC")
    sched = data.get("schedule")
    for section, key in (("study", "window"), ("schedule", "spacing"), ("schedule", "every"),
                         ("schedule", "min_gap")):
        block = data.get(section)
        if isinstance(block, dict) and isinstance(block.get(key), str) and re.fullmatch(
                DURATION["oneOf"][0]["pattern"], block[key]):
            try:
                parse_duration(block[key])
            except ValueError as exc:
                col.add((section, key), str(exc))
    if isinstance(sched, dict) and isinstance(sched.get("start"), str):
        try:
            check_date(datetime.fromisoformat(sched["start"]), "start")
        except ValueError as exc:
            msg = str(exc) if "year" in str(exc) or "range" in str(exc) else (
                f"{sched['start']!r} is not an ISO date-time such as 2026-11-24T09:00:00+01:00")
            col.add(("schedule", "start"), msg)
    _schedule_checks(data, col, known)


def _schedule_checks(data: dict[str, Any], col: _Collector, known: dict[str, Any]) -> None:
    """Send windows, opening hours, holiday country and wave dates (servicebench.plans)."""
    from .plans import check_country, parse_hours, parse_wave_date

    def hours(path: Path_, value: Any) -> None:
        if isinstance(value, str) and "${" not in value:
            try:
                parse_hours(value)
            except ValueError as exc:
                col.add(path, str(exc))

    sched = data.get("schedule")
    for i, c in enumerate(data.get("companies") or []):
        if isinstance(c, dict) and "hours" in c:
            hours(("companies", i, "hours"), c["hours"])
        chans = c.get("channels") if isinstance(c, dict) else None
        for name, cfg in (chans.items() if isinstance(chans, dict) else []):
            if isinstance(cfg, dict) and "hours" in cfg:  # phone/chat/visit opening hours
                hours(("companies", i, "channels", name, "hours"), cfg["hours"])
    if not isinstance(sched, dict):
        return
    hours(("schedule", "hours"), sched.get("hours"))
    windows = sched.get("windows")
    if isinstance(windows, dict):
        for name, value in windows.items():
            if name != "default" and name not in known:
                col.add(("schedule", "windows", name), f"unknown channel {name!r}; use "
                        f"default or one of {', '.join(sorted(known))}")
            hours(("schedule", "windows", name), value)
    country = sched.get("country")
    if isinstance(country, str) and "${" not in country:
        problem = check_country(country, sched.get("subdivision"))
        if problem:
            col.add(("schedule", "country"), problem)
    for i, d in enumerate(sched.get("dates") or []):
        try:
            parse_wave_date(_TzOnly(data), d)
        except (ValueError, TypeError):
            col.add(("schedule", "dates", i), f"{d!r} is not a date (2026-12-07) or ISO "
                    "date-time")
    if sched.get("dates") and (sched.get("waves") or sched.get("every")):
        col.add(("schedule", "dates"), "give either dates or waves/every, not both")


class _TzOnly:
    """Enough of a Study for parse_wave_date while validating."""

    def __init__(self, data: dict[str, Any]) -> None:
        tz = (data.get("study") or {}).get("timezone") if isinstance(
            data.get("study"), dict) else None
        try:
            self.tz = ZoneInfo(tz) if isinstance(tz, str) else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")


def _rubric_checks(data: dict[str, Any], col: _Collector) -> None:
    from .rating.rubric import DEFAULT_CRITERIA, check_rubric

    top = data.get("rubric")
    check_rubric(top, ("rubric",), col.add)
    crits = (top or {}).get("criteria") if isinstance(top, dict) else None
    ids = {c.get("id") for c in (crits or DEFAULT_CRITERIA) if isinstance(c, dict)}
    for i, s in enumerate(data.get("scenarios") or []):
        if isinstance(s, dict):
            check_rubric(s.get("rubric"), ("scenarios", i, "rubric"), col.add, ids)


def _build(folder: Path, data: dict[str, Any], secrets: set[str]) -> Study:
    meta = data["study"]
    sched = data.get("schedule") or {}
    start = None
    if sched.get("start"):
        start = datetime.fromisoformat(sched["start"])
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(meta.get("timezone", "UTC")))
        start = start.astimezone(UTC)
    core = {"study", "schedule", "personas", "scenarios", "companies"}
    return Study(
        folder=folder,
        id=meta["id"],
        title=meta["title"],
        language=meta.get("language", "en"),
        timezone=meta.get("timezone", "UTC"),
        window=parse_duration(meta["window"]) if "window" in meta else DEFAULT_WINDOW,
        client=meta.get("client", ""),
        author=meta.get("author", ""),
        personas=[Persona(**p) for p in data["personas"]],
        scenarios=[Scenario(**{**s, "expect": [Fact(**f) for f in s.get("expect") or []]})
                   for s in data["scenarios"]],
        companies=[Company(**c) for c in data["companies"]],
        schedule_start=start,
        schedule_spacing=parse_duration(sched.get("spacing", "0s")) if sched.get(
            "spacing") else timedelta(0),
        settings={k: v for k, v in data.items() if k not in core},
        secrets=secrets,
        schedule=dict(sched),
    )


def channel_names_for(study: Study, company: Company, scenario: Scenario) -> list[str]:
    names = list(company.channels)
    if scenario.channels is not None:
        names = [n for n in names if n in scenario.channels]
    return [n for n in names if n in registry() and get_channel(n)]


def check_templates(study: Study) -> None:
    """Render every scenario's subject and body once per company (first persona): a template
    that fails or runs away is reported by ``validate`` rather than in the middle of a run."""
    persona = study.personas[0]
    for scenario in study.scenarios:
        for company in study.companies:
            if not channel_names_for(study, company, scenario):
                continue
            study.render(scenario.subject, persona, company, scenario)
            study.render(scenario.body, persona, company, scenario)
