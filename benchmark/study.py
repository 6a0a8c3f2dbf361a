"""Loading and validating ``study.yaml``.

Every problem is collected (not just the first) and names file, line and key. Secrets are
written as ``${VAR}`` in the file and come from the environment or a ``.env`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml
from dotenv import dotenv_values
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from .channels import get_channel, registry
from .errors import Problem, StudyError
from .schema import DURATION, study_schema

PATTERN_HINTS = {DURATION["oneOf"][0]["pattern"]: "a duration such as 90s, 30m, 48h or 7d"}

STUDY_FILE = "study.yaml"
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DEFAULT_WINDOW = timedelta(days=7)

Path_ = tuple[str | int, ...]


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration such as 30m, 48h or 7d")
    return timedelta(seconds=float(m.group(1)) * DURATION_UNITS[m.group(2)])


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


@dataclass
class Company:
    id: str
    name: str
    channels: dict[str, Any]
    domains: list[str] = field(default_factory=list)
    sector: str = ""
    brands: list[str] = field(default_factory=list)  # hidden in blinded rating sheets


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
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                   keep_trailing_newline=True)
        try:
            return env.from_string(template).render(persona=persona, company=company,
                                                    scenario=scenario)
        except TemplateError as exc:
            raise StudyError(f"{self.file}: scenario {scenario.id}: template error: {exc}"
                             " (available names: persona, company, scenario)") from exc

    def redact(self, text: str) -> str:
        for s in sorted(self.secrets, key=len, reverse=True):
            if len(s) >= 3:
                text = text.replace(s, "***")
        return text


# -- YAML with line numbers ------------------------------------------------------------
def _line_map(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_map(v, path + (key,), out)
            out[path + (key,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out)


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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        problem = getattr(exc, "problem", None) or str(exc)
        raise StudyError(f"{where}: not valid YAML: {problem}") from exc
    if not isinstance(data, dict):
        raise StudyError(f"{file}: expected a mapping with keys study, personas, scenarios, "
                         "companies (see: servicebench init)")
    lines: dict[Path_, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    col = _Collector(file, lines)

    env = dict(dotenv_values(folder / ".env")) if (folder / ".env").exists() else {}
    env.update(os.environ if environ is None else environ)
    secrets: set[str] = set()
    resolved = _interpolate(data, (), env, col, secrets, require_secrets)

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
    if col.problems:
        col.problems.sort(key=lambda p: (p.line or 0, p.key))
        n = len(col.problems)
        raise StudyError(f"{file}: {n} problem{'s' if n > 1 else ''} found", col.problems)
    return _build(folder, resolved, secrets)


def _interpolate(value: Any, path: Path_, env: dict[str, str | None], col: _Collector,
                 secrets: set[str], require: bool) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, path + (k,), env, col, secrets, require)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path + (i,), env, col, secrets, require)
                for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

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
        for key in ("subject", "body"):
            if isinstance(s.get(key), str):
                try:
                    SandboxedEnvironment().parse(s[key])
                except TemplateError as exc:
                    col.add(("scenarios", i, key), f"template error: {exc}")
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
    if isinstance(sched, dict) and isinstance(sched.get("start"), str):
        try:
            datetime.fromisoformat(sched["start"])
        except ValueError:
            col.add(("schedule", "start"), f"{sched['start']!r} is not an ISO date-time such "
                    "as 2026-11-24T09:00:00+01:00")


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
    )


def channel_names_for(study: Study, company: Company, scenario: Scenario) -> list[str]:
    names = list(company.channels)
    if scenario.channels is not None:
        names = [n for n in names if n in scenario.channels]
    return [n for n in names if n in registry() and get_channel(n)]
