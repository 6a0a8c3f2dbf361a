"""Everything the report templates use, built from :mod:`servicebench.metrics` and the store.

The context holds only reader text: channel names, outcomes, classification reasons, time
sources and methods are translated here (``i18n``, ``i18n_reasons``); company names pass
through :class:`report_profiles.Publication` so ``--anonymise`` reaches every text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd
from markupsafe import Markup

from . import charts, metrics
from .clock import parse_utc
from .i18n import (
    channel_name,
    format_date,
    format_duration,
    format_number,
    format_percent,
    format_time,
    texts,
)
from .i18n_reasons import form_reason, match_method, reason_texts, time_source
from .metrics import ALL_CHANNELS
from .report_figures import scoring_methods
from .report_findings import findings, never_answered, outcome_of, survival_curve, with_scores
from .report_profiles import (
    Publication,
    cut_at_word,
    people_in,
    pick_replies,
    screenshot_uri,
    trim_quote,
)
from .report_waves import wave_figures
from .store import Store
from .study import Study

EXCERPT_CHARS = 600
OUTCOMES = ("answered", "not_answered", "pending", "failed", "blocked", "bounced")
#: channel -> kind of panel in the survival chart
CHANNEL_GROUP = {"email": "mail", "webform": "mail", "mastodon": "social", "bluesky": "social",
                 "x": "social", "phone": "phone", "chat": "chat", "visit": "visit"}
GROUP_ORDER = ["mail", "social", "phone", "chat", "visit"]
#: above twelve companies: small multiples of this many highest and lowest ranked companies
SMALL_EACH = 6
SORT_SCRIPT = """document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-sort') || a.cells[col].textContent;
        var y = b.cells[col].getAttribute('data-sort') || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) { return dir * (nx - ny); }
        return dir * x.localeCompare(y);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});"""


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The reply without quoted lines, blank runs squeezed, cut at a word near ``limit``."""
    lines = [ln.rstrip() for ln in (text or "").splitlines() if not ln.lstrip().startswith(">")]
    return cut_at_word("\n".join(lines), limit)


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


def _reasons(row: dict[str, Any]) -> list[Any]:
    try:
        data = json.loads(row.get("reasons") or "[]")
    except ValueError:
        return [str(row.get("reasons"))]
    return data if isinstance(data, list) else [data]


def build_context(study: Study, store: Store, now: datetime, *, language: str,
                  appendix: str | None = None, cards_limit: int = 100, anonymise: bool = False,
                  redact_people: bool = False, link_base: str | None = "",
                  for_print: bool = False) -> dict[str, Any]:
    lang = language
    t = texts(lang)
    tz = study.tz
    pub = Publication(study, lang, anonymise, redact_people)
    outcomes = metrics.probe_outcomes(study, store, now)
    if anonymise and not outcomes.empty:
        outcomes["company"] = [pub.company(c, n) for c, n in
                               zip(outcomes["company_id"], outcomes["company"], strict=True)]
    company_df, channel_df, cfg, scored = _tables(study, store, now, outcomes, lang)
    rows = with_scores(_records(company_df), outcomes)
    channels = with_scores(_records(channel_df), outcomes)
    overall = sorted((r for r in rows if r["channel"] == ALL_CHANNELS),
                     key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r["company"]))
    for i, r in enumerate(overall, 1):
        r["anchor"] = f"company-{i}"
    per_channel = [r for r in rows if r["channel"] != ALL_CHANNELS]
    channel_names = [c["channel"] for c in channels]
    # companies tested on fewer channels (issue 9), with the channels' reader names
    translated = [{**r, "channels_tested": ";".join(
        channel_name(c, lang) for c in (r.get("channels_tested") or "").split(";") if c)}
        for r in overall]
    probes = _records(outcomes)
    for p in probes:
        p["outcome"] = outcome_of(p)
    window = format_duration(study.window.total_seconds(), lang)
    if lang == "de":  # "innerhalb von 7 Tagen"
        window = re.sub(r"Tage\b", "Tagen", window)

    def ch(name: str) -> str:
        return channel_name(name, lang)

    def pct(v: float | None) -> str:
        return format_percent(v, lang)

    def dur(v: float | None) -> str:
        return format_duration(v, lang)

    def num(v: float | None, digits: int = 0) -> str:
        return format_number(v, lang, digits)

    def when(dt: datetime | None, seconds: bool = False) -> str:
        return format_time(dt, tz, lang, seconds)

    def km(value: float | None, row: dict[str, Any]) -> str:
        if value is None:
            return t["not_reached"] if row.get("n_sent") else t["none"]
        return dur(value)

    sent = [p for p in probes if p["sent_at"] is not None]
    first = min((p["sent_at"] for p in sent), default=None)
    last = max((p["sent_at"] for p in sent), default=None)
    waves = len({p["wave"] for p in probes}) or 1
    n_pending = sum(1 for p in probes if p["outcome"] == "pending")
    cards = appendix == "cards" or (appendix is None and len(probes) <= cards_limit)
    need_views = {p["probe_id"] for p in probes if p["channel"] == "webform"
                  and p["state"] in ("failed", "blocked")}
    human_ids = {p["first_human_message_id"] for p in probes if p["first_human_message_id"]}
    messages = _effective(store, store.messages() if cards
                          else _messages_by_id(store, human_ids))
    probe_rows = {r["id"]: dict(r) for r in store.probes()}
    views = {p["probe_id"]: _probe_view(study, p, messages, probe_rows, pub, lang, t,
                                        when, store if (cards or p["probe_id"] in need_views)
                                        else None, link_base)
             for p in probes}
    by_company: dict[str, list[dict[str, Any]]] = {}
    for p in probes:
        by_company.setdefault(p["company_id"], []).append(views[p["probe_id"]])
    profiles = [_profile(r, [c for c in per_channel if c["company_id"] == r["company_id"]],
                         by_company.get(r["company_id"], []), study, t, lang)
                for r in overall]
    quality = _quality_context(study, store, now, views, outcomes, lang, pub)
    heat = [{"row": r, "cells": {c["channel"]: c for c in per_channel
                                 if c["company_id"] == r["company_id"]}} for r in overall]
    context = {
        "study": _study_view(study, pub), "t": t, "lang": lang, "tz": study.timezone,
        "now": now, "when": when, "day": lambda dt: format_date(dt, tz, lang), "km": km,
        "channel_label": ch, "pct": pct, "dur": dur, "num": num,
        "kind_label": lambda k: t.get(f"kind_{k or 'unclassified'}", k),
        "state_label": lambda s: t.get(f"state_{s}", s),
        "outcome_label": lambda o: t.get(f"out_{o}", o),
        "heat_colour": charts.heat_colour,
        "window_text": window, "period": (first, last), "outcome_names": OUTCOMES,
        "sample": t["sample_text"].format(
            companies=len(overall), channels=len(channel_names),
            channel_list=", ".join(ch(c) for c in channel_names), probes=len(probes),
            waves=waves, wave_word=t["wave_one"] if waves == 1 else t["wave_many"]),
        "cutoff": t["cutoff_text"].format(cutoff=when(now)),
        "preliminary": t["preliminary_text"].format(n=n_pending) if n_pending else "",
        "findings": findings(t, translated, per_channel, channels, window=window, ch_name=ch,
                             pct=pct, dur=dur, num=num),
        "overall": overall, "per_channel": per_channel, "channel_names": channel_names,
        "channels": channels, "heat": heat, "profiles": profiles,
        "sub": {(r["company_id"], r["channel"]): r for r in per_channel},
        "charts": _charts(outcomes, overall, study, t, lang),
        "waves": wave_figures(scored, cfg, overall, t, lang),
        "methods": {**_methods(study, probes, {m["id"]: dict(m) for m in store.query(
            "SELECT id, time_source, match_method, kind FROM messages")}, t, lang, when),
            "scoring": scoring_methods(cfg, translated, t, lang, channel_names)},
        "cards": [views[p["probe_id"]] for r in overall for p in probes
                  if p["company_id"] == r["company_id"]] if cards else [],
        "cards_omitted": "" if cards else t["cards_omitted"].format(n=len(probes)),
        "appendix": _appendix(study, t, lang, when, first, last),
        "for_print": for_print, "sort_script": Markup(SORT_SCRIPT),
        "script_hash": "sha256-" + _b64(hashlib.sha256(SORT_SCRIPT.encode()).digest()),
        "link_prefix": link_base or "",
        **quality,
        "evidence_links": link_base is not None and not anonymise and not for_print,
    }
    return context


def _tables(study: Study, store: Store, now: datetime, outcomes: pd.DataFrame,
            lang: str) -> tuple[pd.DataFrame, pd.DataFrame, Any, pd.DataFrame]:
    """Company and channel tables with the study's scoring (issue 9), that scoring and the
    scored outcomes (for the figures per wave)."""
    from .scoring import scoring_config, with_human_quality

    cfg = scoring_config(study)
    scored = with_human_quality(outcomes, study, store, now)
    return (metrics.company_table(scored, cfg, lang), metrics.channel_table(scored, cfg, lang),
            cfg, scored)


def _effective(store: Store, rows: Any) -> dict[int, dict[str, Any]]:
    """Messages with their effective kind (a person's decision wins) and uncertainty mark."""
    from .rating.overrides import effective_messages, is_uncertain

    out = effective_messages(store, rows)
    for m in out:
        m["uncertain"] = is_uncertain(m)
    return {m["id"]: m for m in out}


def _quality_context(study: Study, store: Store, now: datetime,
                     views: dict[int, dict[str, Any]], outcomes: pd.DataFrame,
                     lang: str, pub: Publication) -> dict[str, Any]:
    """Answer quality (servicebench.rating): the methods include, automatic criteria per
    probe for the evidence cards."""
    from .rating.criteria import checks_for
    from .rating.methods import TEXTS, check_labels, rating_methods

    rating = rating_methods(dataclasses.replace(study, language=lang), store, now, outcomes)
    for r in (rating or {}).get("companies", []) if pub.anonymise else []:
        r["company"] = pub.text(r.get("company"))
    checks = checks_for(store, [p["first_human_message_id"] for p in views.values()
                                if p.get("first_human_message_id") is not None])
    texts = TEXTS.get(lang, TEXTS["en"])
    for p in views.values():
        p["checks"] = checks.get(p.get("first_human_message_id"), [])
        for c in p["checks"]:
            c["evidence_short"] = _template_evidence(c, texts, lang)
    labels = check_labels(lang)
    return {"rating": rating, "rating_t": texts,
            "check_label": lambda name: labels.get(name, name)}


def _template_evidence(check: dict[str, Any], texts: dict[str, str], lang: str) -> str:
    """The template-answer evidence in the report's language and without the quoted text
    (the stored evidence is an English sentence quoting the other reply, which may name a
    company that ``--anonymise`` must hide; exports keep it whole)."""
    if check.get("check") != "template" or not check.get("value"):
        return ""
    evidence = check.get("evidence") or ""
    parts = []
    like = re.search(r"(\d+)% the same as the reply \(message #(\d+)\)", evidence)
    if like:
        share = format_percent(int(like.group(1)) / 100, lang)
        parts.append(texts["template_like"].format(share=share, id=like.group(2)))
    if "points elsewhere" in evidence:
        parts.append(texts["template_pointer"])
    return "; ".join(parts)


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _messages_by_id(store: Store, ids: set[int]) -> list[Any]:
    out: list[Any] = []
    ids_list = sorted(int(i) for i in ids)
    for i in range(0, len(ids_list), 500):
        chunk = ids_list[i:i + 500]
        out += store.query(f"SELECT * FROM messages WHERE id IN ({','.join('?' * len(chunk))})",
                           tuple(chunk))
    return out


def _study_view(study: Study, pub: Publication) -> dict[str, Any]:
    """Only what the report shows; never ``study.settings`` (secrets live there)."""
    return {"title": study.title, "client": study.client, "author": study.author,
            "id": study.id, "language": study.language, "timezone": study.timezone}


def _placeholders(text: str, t: dict[str, str]) -> str:
    names = {"company.name": f"[{t['company']}]", "persona.name": f"[{t['persona']}]"}
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}",
                  lambda m: names.get(m.group(1), f"[{m.group(1).split('.')[-1]}]"), text)


def _appendix(study: Study, t: dict[str, str], lang: str, when: Any, first: Any,
              last: Any) -> dict[str, Any]:
    return {
        "scenarios": [{"id": s.id, "title": s.topic or s.subject, "subject": s.subject,
                       "body": _placeholders(s.body, t),
                       "short": _placeholders(s.short, t) if s.short else "",
                       "facts": [f.label for f in s.expect]} for s in study.scenarios],
        "personas": [{"name": p.name, "salutation": p.salutation, "city": p.city}
                     for p in study.personas],
        "schedule": t["schedule_text"].format(
            first=when(first), last=when(last),
            spacing=format_duration(study.schedule_spacing.total_seconds(), lang)),
    }


def _probe_view(study: Study, p: dict[str, Any], messages: dict[int, dict[str, Any]],
                probe_rows: dict[int, dict[str, Any]], pub: Publication, lang: str,
                t: dict[str, str], when: Any, store: Store | None,
                link_base: str | None) -> dict[str, Any]:
    scenario = next((s for s in study.scenarios if s.id == p["scenario_id"]), None)
    labels = {f.id: f.label for f in scenario.expect} if scenario else {}
    msgs = []
    for i in p["message_ids"]:
        m = messages.get(i)
        if m is None:
            continue
        reasons = [_checklist_label(r, labels) for r in _reasons(m)]
        people = people_in([str(r) for r in reasons], m["sender"])
        msgs.append({
            "received_local": when(parse_utc(m["received_at"]), True), "kind": m["kind"],
            "sender": pub.person(m["sender"], people), "subject": pub.text(m["subject"]),
            "reasons": [pub.person(r, people) for r in reason_texts(
                [r for r in reasons if not str(r).startswith(("time:", "match:"))], lang)],
            "match": match_method(m["match_method"], lang),
            "uncertain": m.get("uncertain"), "decided_by": m.get("decided_by"),
            "time_source": time_source(m["time_source"], lang),
        })
    human = messages.get(p["first_human_message_id"]) if p["first_human_message_id"] else None
    persona = next((x.name for x in study.personas if x.id == p["persona_id"]),
                   p["persona_id"])
    raw = probe_rows.get(p["probe_id"], {})
    view = {**p, "messages": msgs, "persona_name": persona,
            "scenario_title": (scenario.topic or scenario.subject) if scenario
            else p["scenario_id"],
            "human": bool(human), "n_facts": len(labels),
            "found_labels": [labels.get(f, f) for f in p["checklist_found"]],
            "sent_source": time_source(p["sent_time_source"], lang),
            "evidence": sorted(set(p["evidence"] or [])), "problem": None,
            "screenshot": None}
    if human:
        people = people_in([str(r) for r in _reasons(human)], human.get("sender"))
        view["quote"] = pub.quote(human["text"], people)
        view["excerpt"] = view["quote"]
    if p["state"] in ("failed", "blocked"):
        view["problem"] = form_reason(raw.get("error"), p["state"], lang)
        if store is not None and p["channel"] == "webform":
            view["screenshot"] = screenshot_uri(
                study, [dict(e) for e in store.evidence_for(p["probe_id"])])
    if pub.anonymise:
        view["evidence"] = []
    return view


def _checklist_label(reason: Any, labels: dict[str, str]) -> Any:
    """A tester's "checklist: <fact id>" reason with the fact's label, as the reader knows it
    from the study (the stored reason keeps the id)."""
    if isinstance(reason, str) and reason.startswith("checklist: "):
        fact = reason[len("checklist: "):].strip()
        return f"checklist: {labels.get(fact, fact)}"
    return reason


def _profile(row: dict[str, Any], channel_rows: list[dict[str, Any]],
             probes: list[dict[str, Any]], study: Study, t: dict[str, str],
             lang: str) -> dict[str, Any]:
    counts = {ch["channel"]: Counter(p["outcome"] for p in probes
                                     if p["channel"] == ch["channel"]) for ch in channel_rows}
    best, worst = pick_replies(probes)
    return {"row": row, "channels": sorted(channel_rows, key=lambda r: r["channel"]),
            "counts": counts, "best": best, "worst": worst,
            "problems": [p for p in probes if p.get("problem")]}


def _charts(outcomes: pd.DataFrame, overall: list[dict[str, Any]], study: Study,
            t: dict[str, str], lang: str) -> dict[str, Any]:
    """Survival panels per channel kind (one legend), index bars sorted by value."""
    units = {"minutes": t["minutes"], "hours": t["hours"], "days": t["days"]}
    panels: list[Markup] = []
    legend_series: list[charts.Series] = []
    multiples: list[dict[str, Any]] = []
    many = len(overall) > charts.MAX_SERIES
    if not outcomes.empty:
        groups = outcomes["channel"].map(lambda c: CHANNEL_GROUP.get(c, c))
        order = [g for g in GROUP_ORDER if g in set(groups)] + sorted(
            set(groups) - set(GROUP_ORDER))
        for g in order:
            sub = outcomes[groups.eq(g)]
            sent = sub[sub["state"].eq("sent") & sub["sent_at"].notna()]
            if sent.empty:
                continue
            answered = sent["seconds_to_first_human_reply"].dropna()
            if g == "mail":
                end = study.window.total_seconds()
            else:
                end = float(answered.max()) * 1.15 if not answered.empty else 3600.0
                end = min(end, study.window.total_seconds())
            axis = charts.nice_axis(end, units)
            series = [charts.Series(t["all_companies"], survival_curve(sub), emphasis=True)]
            if not many:
                for slot, r in enumerate(overall):
                    mine = sub[sub["company_id"].eq(r["company_id"])]
                    if mine.empty:
                        continue
                    curve = survival_curve(mine)
                    never = (not mine["first_human_reply_at"].notna().any()
                             and mine["window_closed"].eq(True).any())
                    series.append(charts.Series(r["company"], curve, never=never, slot=slot))
            title = t.get(f"group_{g}", channel_name(g, lang))
            if many:
                multiples.append({"title": title, "panels": _small_multiples(
                    sub, series[0].curve, overall, axis)})
            panels.append(Markup(charts.survival_panel(series, axis, title=title,
                                                       y_label=t["still_open"],
                                                       never_label=t["never_answered"])))
    if panels:
        legend_series = [charts.Series(t["all_companies"], None, emphasis=True)]
        if not many:
            legend_series += [charts.Series(r["company"] + (" (n<5)" if r.get("small_sample")
                                                            else ""), None, slot=slot,
                                            never=never_answered(r))
                              for slot, r in enumerate(overall)]
    legend = Markup(charts.legend(legend_series, t["never_answered"])) if legend_series else ""
    bars = [(r["company"], r.get("index"), r.get("index_ci_low"), r.get("index_ci_high"))
            for r in overall]
    return {"panels": panels, "legend": legend, "many": many, "multiples": multiples,
            "multiples_note": t["survival_multiples"].format(n=SMALL_EACH) if multiples else "",
            "bars": Markup(charts.index_bars(bars, title=t["bars_index"]))
            if 0 < len(bars) <= 40 else ""}


def _small_multiples(sub: pd.DataFrame, pooled: Any, overall: list[dict[str, Any]],
                     axis: charts.Axis) -> list[Markup]:
    """Tiny panels for the ``SMALL_EACH`` highest and lowest ranked companies tested on this
    kind of channel (ranking order), each against the pooled curve."""
    tested = set(sub.loc[sub["sent_at"].notna(), "company_id"])
    ranked = [r for r in overall if r.get("index") is not None and r["company_id"] in tested]
    chosen = ranked[:SMALL_EACH] + ranked[max(SMALL_EACH, len(ranked) - SMALL_EACH):]
    out: list[Markup] = []
    for r in chosen:
        mine = sub[sub["company_id"].eq(r["company_id"])]
        never = (not mine["first_human_reply_at"].notna().any()
                 and mine["window_closed"].eq(True).any())
        label = f"{r['rank']}. {r['company']}" if r.get("rank") is not None else r["company"]
        out.append(Markup(charts.small_panel(label, survival_curve(mine), pooled, axis,
                                             never=never, slot=0)))
    return out


def _methods(study: Study, probes: list[dict[str, Any]], messages: dict[int, dict[str, Any]],
             t: dict[str, str], lang: str, when: Any) -> dict[str, Any]:
    sent = [p for p in probes if p["sent_at"] is not None]
    first = min((p["sent_at"] for p in sent), default=None)
    last = max((p["sent_at"] for p in sent), default=None)
    counted = [messages[i] for p in probes for i in p["message_ids"] if i in messages]

    def tally(values: list[str]) -> list[tuple[str, int]]:
        return Counter(values).most_common()

    return {
        "what": t["m_what_text"].format(
            n_sent=len(sent), n_probes=len(probes), first=when(first), last=when(last),
            tz=study.timezone, window=format_duration(study.window.total_seconds(), lang)),
        "times": t["m_times_text"].format(tz=study.timezone),
        "sent_per_channel": sorted(Counter(channel_name(p["channel"], lang)
                                           for p in sent).items()),
        "states": sorted(Counter(t.get(f"out_{p['outcome']}", p["outcome"])
                                 for p in probes).items()),
        "sent_sources": tally([time_source(p["sent_time_source"], lang) for p in sent]),
        "received_sources": tally([time_source(m["time_source"], lang) for m in counted]),
        "match_methods": tally([match_method(m["match_method"], lang) for m in counted]),
        "kinds": tally([t.get(f"kind_{m['kind'] or 'unclassified'}", "") for m in counted]),
        "rules": [t[k] for k in ("rule_outcomes", "rule_censoring", "rule_rates",
                                 "rule_checklist", "rule_salutation", "rule_scoring",
                                 "rule_intervals", "rule_ranking") if k in t],
    }


__all__ = ["build_context", "excerpt", "trim_quote"]
