"""The client report: HTML from Jinja templates, PDF from the same HTML through WeasyPrint.

Received text is untrusted. Jinja autoescapes everything, the HTML references no external
resource (CSS and SVG charts are inline) and carries a Content-Security-Policy, and the PDF
renderer gets a URL fetcher that refuses every URL except ``data:``, so rendering never
fetches a URL or reads a local file named in a message.

Templates come from ``report_templates/``; a user's ``template_dir`` is searched first.
``report.html`` only extends ``base.html``, so a user's own ``report.html`` can
``{% extends "base.html" %}`` and override single blocks (``title_page``, ``summary``,
``charts``, ``companies``, ``methods``, ``styles``...), or replace a partial such as
``_probe.html`` or ``report.css``.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from . import metrics
from .channels import registry
from .charts import KMSeries, bar_chart, km_chart
from .clock import clock_from_env, parse_utc
from .errors import ServicebenchError
from .i18n import format_date, format_duration, format_percent, format_time, texts
from .metrics import ALL_CHANNELS
from .report_figures import (
    findings,
    index_text,
    preliminary,
    rank_text,
    scoring_methods,
    share_text,
    subscores_text,
)
from .scoring import scoring_config, with_human_quality
from .store import Store
from .study import Study

FORMATS = ("html", "pdf")
EXCERPT_CHARS = 600


class SafeURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves ``data:`` URLs and refuses everything else."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"report rendering does not fetch {url[:80]!r}")
        return super().fetch(url, headers)


def template_dirs(template_dir: Path | None = None) -> list[Path]:
    """The user's template folder (if any) first, then the packaged templates."""
    from servicebench import report_templates

    dirs = [Path(template_dir)] if template_dir else []
    return dirs + [Path(report_templates.__file__).parent]


def make_environment(template_dir: Path | None, language: str) -> Environment:
    loaders = [FileSystemLoader(str(d)) for d in template_dirs(template_dir)]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["duration"] = lambda s: format_duration(s, language)
    env.filters["percent"] = lambda v: format_percent(v, language)
    return env


def render_report(study: Study, store: Store, fmt: str, out: Path,
                  template_dir: Path | None = None, now: datetime | None = None) -> Path:
    """Render the report as ``html`` or ``pdf`` to ``out`` (a file, or a folder to put
    ``report.<fmt>`` in) and return the path written."""
    if fmt not in FORMATS:
        raise ServicebenchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        out = out / f"report.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_html(study, store, template_dir=template_dir, now=now)
    if fmt == "html":
        out.write_text(html, encoding="utf-8")
    else:
        HTML(string=html, base_url=None, url_fetcher=SafeURLFetcher()).write_pdf(out)
    return out


def render_html(study: Study, store: Store, template_dir: Path | None = None,
                now: datetime | None = None) -> str:
    now = now or store.stored_as_of() or clock_from_env().now()
    env = make_environment(template_dir, study.language)
    return env.get_template("report.html").render(**build_context(study, store, now))


# -- context -----------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """pandas scalars to plain Python: NaN/NaT/NA become None, Timestamps datetimes."""
    if isinstance(value, list | tuple | dict):
        return value
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def build_context(study: Study, store: Store, now: datetime) -> dict[str, Any]:
    """Everything the templates use; figures come from :mod:`servicebench.metrics`."""
    lang = study.language
    t = texts(lang)
    tz = study.tz
    outcomes = metrics.probe_outcomes(study, store, now)
    cfg = scoring_config(study)
    scored = with_human_quality(outcomes, study, store, now)
    companies = metrics.company_table(scored, cfg, lang)
    channels = metrics.channel_table(scored, cfg, lang)
    probes = _records(outcomes)
    messages = _messages(store)
    counted = [messages[i] for p in probes for i in p["message_ids"] if i in messages]
    rows = _records(companies)
    overall = sorted((r for r in rows if r["channel"] == ALL_CHANNELS),
                     key=lambda r: (r["rank"] is None, r["rank"] or 0, r["company"]))
    per_channel = [r for r in rows if r["channel"] != ALL_CHANNELS]
    sent = [p for p in probes if p["sent_at"] is not None]
    window = study.window.total_seconds()

    def when(dt: datetime | None, seconds: bool = False) -> str:
        return format_time(dt, tz, lang, seconds)

    def km(value: float | None, row: dict[str, Any]) -> str:
        if value is None:
            return t["not_reached"] if row.get("n_sent") else t["none"]
        return format_duration(value, lang)

    def hours(value: float | None, row: dict[str, Any]) -> str:
        return km(None if value is None else value * 3600.0, row)

    sections = []
    for row in overall:
        cid = row["company_id"]
        mine = [p for p in probes if p["company_id"] == cid]
        sections.append({
            "row": row, "channels": [r for r in per_channel if r["company_id"] == cid],
            "probes": [_probe_view(study, p, messages, t) for p in mine],
        })
    first = min((p["sent_at"] for p in sent), default=None)
    last = max((p["sent_at"] for p in sent), default=None)
    return {
        "study": _study_view(study), "t": t, "lang": lang, "tz": study.timezone,
        "now": now, "when": when, "day": lambda dt: format_date(dt, tz, lang),
        "km": km, "hours": hours, "channel_label": _channel_label,
        "rank_text": lambda r: rank_text(r, t), "index_text": lambda r: index_text(r, t),
        "share_text": lambda r, k: share_text(r, k, lang),
        "subscores_text": lambda r: subscores_text(r, t),
        "preliminary": preliminary(probes, t), "findings": findings(overall, t),
        "kind_label": lambda k: t.get(f"kind_{k or 'unclassified'}", k),
        "state_label": lambda s: t.get(f"state_{s}", s),
        "window_text": format_duration(window, lang),
        "period": (first, last),
        "overall": overall, "per_channel": sorted(
            per_channel, key=lambda r: (r["channel"], r["rank"] is None, r["rank"] or 0)),
        "channels": _records(channels), "sections": sections,
        "charts": _charts(study, outcomes, overall, per_channel, t, window),
        "methods": {**_methods(study, probes, counted, t, when, lang),
                    "scoring": scoring_methods(cfg, overall, t, lang,
                                               sorted(outcomes["channel"].unique()))},
        **_quality_context(study, store, now, sections, outcomes),
    }


def _messages(store: Store) -> dict[int, dict[str, Any]]:
    """Messages with their effective kind (a person's decision wins) and uncertainty mark."""
    from .rating.overrides import effective_messages, is_uncertain

    rows = effective_messages(store, store.messages())
    for m in rows:
        m["uncertain"] = is_uncertain(m)
    return {m["id"]: m for m in rows}


def _quality_context(study: Study, store: Store, now: datetime,
                     sections: list[dict[str, Any]], outcomes: pd.DataFrame) -> dict[str, Any]:
    """Answer quality (servicebench.rating): the methods include, automatic criteria per
    probe for the company profiles."""
    from .rating.criteria import checks_for
    from .rating.methods import TEXTS, check_labels, rating_methods

    rating = rating_methods(study, store, now, outcomes)
    probes = [p for s in sections for p in s["probes"]]
    checks = checks_for(store, [p["first_human_message_id"] for p in probes
                                if p.get("first_human_message_id") is not None])
    for p in probes:
        p["checks"] = checks.get(p.get("first_human_message_id"), [])
    labels = check_labels(study.language)
    return {"rating": rating, "rating_t": TEXTS.get(study.language, TEXTS["en"]),
            "check_label": lambda name: labels.get(name, name)}


def _study_view(study: Study) -> dict[str, Any]:
    """Only what the report shows; never ``study.settings`` (secrets live there)."""
    return {"title": study.title, "client": study.client, "author": study.author,
            "id": study.id, "language": study.language, "timezone": study.timezone,
            "scenarios": [{"id": s.id, "subject": s.subject, "topic": s.topic,
                           "facts": [f.label for f in s.expect]} for s in study.scenarios],
            "personas": [{"id": p.id, "name": p.name} for p in study.personas]}


def _channel_label(name: str) -> str:
    cls = registry().get(name)
    return (cls.label if cls is not None and cls.label else name) if name else ""


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The reply without quoted lines, blank runs squeezed, cut at a word near ``limit``."""
    lines = [ln.rstrip() for ln in (text or "").splitlines() if not ln.lstrip().startswith(">")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(body) <= limit:
        return body
    cut = body[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + " …"


def _probe_view(study: Study, p: dict[str, Any], messages: dict[int, dict[str, Any]],
                t: dict[str, str]) -> dict[str, Any]:
    msgs = [messages[i] for i in p["message_ids"] if i in messages]
    for m in msgs:
        m["reason_list"] = metrics.message_reasons(m)
        m["received_local"] = format_time(parse_utc(m["received_at"]), study.tz,
                                          study.language, seconds=True)
    human = messages.get(p["first_human_message_id"]) if p["first_human_message_id"] else None
    labels = {}
    try:
        labels = {f.id: f.label for f in study.scenario(p["scenario_id"]).expect}
    except StopIteration:
        pass
    try:
        persona = study.persona(p["persona_id"]).name
    except StopIteration:
        persona = p["persona_id"]
    return {**p, "messages": msgs, "persona_name": persona,
            "human": human, "excerpt": excerpt(human["text"]) if human else "",
            "found_labels": [labels.get(f, f) for f in p["checklist_found"]],
            "n_facts": len(labels)}


def _charts(study: Study, outcomes: pd.DataFrame, overall: list[dict[str, Any]],
            per_channel: list[dict[str, Any]], t: dict[str, str],
            window: float) -> dict[str, Markup]:
    """SVG charts; charts.py escapes every label, so they are safe markup here."""
    x_label = t["days"] if window > 72 * 3600 else t["hours"]

    def series(groups: list[tuple[str, pd.DataFrame]]) -> list[KMSeries]:
        out = []
        for label, g in groups:
            sent = g[g["state"].eq("sent") & g["sent_at"].notna()]
            if sent.empty:
                continue
            sc = metrics.survival_curve(g)
            name = f"{label} (n<5)" if sc.small_sample else label
            out.append(KMSeries(name, sc.steps, sc.censored_at,
                                list(zip(sc.times, sc.lower, strict=True)),
                                list(zip(sc.times, sc.upper, strict=True))))
        return out

    by_company = [(r["company"], outcomes[outcomes["company_id"] == r["company_id"]])
                  for r in overall]
    by_channel = [(_channel_label(ch), g) for ch, g in outcomes.groupby("channel", sort=True)]
    common = {"x_label": x_label, "y_label": t["answered"]}
    bars = [(f"{r['company']} · {_channel_label(r['channel'])}", r["any_reply_share"],
             r["answered_share"]) for r in sorted(per_channel, key=lambda r: (
                 [o["company_id"] for o in overall].index(r["company_id"]), r["channel"]))
            if r["n_sent"]]
    return {
        "km_company": Markup(km_chart(series(by_company), window, title=t["km_title"],
                                      **common)),
        "km_channel": Markup(km_chart(series(by_channel), window,
                                      title=f"{t['km_title']} – {t['by_channel']}", **common)),
        "bars": Markup(bar_chart(bars, title=t["bars_title"], any_label=t["bars_any"],
                                 human_label=t["bars_human"])),
    }


def _doc_rules(fn: Any) -> list[str]:
    """The labelled paragraphs ("Checklist rule: ...") of a metrics docstring."""
    paragraphs = (inspect.getdoc(fn) or "").split("\n\n")
    return [re.sub(r"\s+", " ", p.replace("``", '"')).strip() for p in paragraphs
            if re.match(r"([A-Z][a-z]+ rules?):", p)]


def rule_texts(language: str) -> list[str]:
    """The rules quoted in the methods section: outcomes, censoring, rates and ranking,
    checklist, salutation. English quotes the docstrings of :mod:`servicebench.metrics`."""
    t = texts(language)
    if language == "de":
        return [t[k] for k in ("rule_outcomes", "rule_censoring", "rule_rates",
                               "rule_scoring", "rule_intervals", "rule_ranking",
                               "rule_checklist", "rule_salutation")]
    from . import scoring, tables

    return [rule for fn in (metrics.probe_outcomes, metrics.kaplan_meier, tables, scoring,
                            metrics.company_table, metrics.checklist,
                            metrics.personal_salutation)
            for rule in _doc_rules(fn)]


def _methods(study: Study, probes: list[dict[str, Any]], counted: list[dict[str, Any]],
             t: dict[str, str], when: Any, lang: str) -> dict[str, Any]:
    sent = [p for p in probes if p["sent_at"] is not None]
    first = min((p["sent_at"] for p in sent), default=None)
    last = max((p["sent_at"] for p in sent), default=None)
    per_channel = Counter(p["channel"] for p in sent)
    return {
        "what": t["m_what_text"].format(
            n_sent=len(sent), n_probes=len(probes), first=when(first), last=when(last),
            tz=study.timezone, window=format_duration(study.window.total_seconds(), lang)),
        "times": t["m_times_text"].format(tz=study.timezone),
        "sent_per_channel": sorted(per_channel.items()),
        "states": sorted(Counter(p["state"] for p in probes).items()),
        "sent_sources": Counter(p["sent_time_source"] or "?" for p in sent).most_common(),
        "received_sources": Counter(m["time_source"] or "?" for m in counted).most_common(),
        "match_methods": Counter(m["match_method"] or "?" for m in counted).most_common(),
        "kinds": Counter(m["kind"] or "unclassified" for m in counted).most_common(),
        "rules": rule_texts(lang),
    }
