"""Per-probe outcomes and per-company / per-channel figures.

The docstrings of the public functions state the rules; the report's methods section
quotes them, so change rule and docstring together.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .clock import parse_utc
from .rating.overrides import effective_messages
from .store import Store
from .study import Fact, Persona, Study

REPLY_KINDS = ("automated", "human")
HOUR = 3600.0
WITHIN = {"within_1h": 1 * HOUR, "within_24h": 24 * HOUR, "within_72h": 72 * HOUR}
ALL_CHANNELS = "all"

OUTCOME_COLUMNS = [
    "probe_id", "company_id", "company", "channel", "scenario_id", "persona_id", "wave",
    "state", "sent_at", "sent_time_source", "window_ends_at", "first_reply_at",
    "first_reply_kind", "first_human_reply_at", "seconds_to_first_reply",
    "seconds_to_first_human_reply", "acknowledged", "bounced", "n_messages", "n_late", "kinds",
    "censored", "window_closed", "observed_seconds", "checklist_found", "checklist_coverage",
    "personal_salutation", "first_human_message_id", "message_ids", "evidence",
]
TIME_COLUMNS = ["sent_at", "window_ends_at", "first_reply_at", "first_human_reply_at"]


# -- text normalisation ------------------------------------------------------------------
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\u00ad"})


def normalize(text: str) -> str:
    """Fold text for matching: case, umlauts (ä=ae, ö=oe, ü=ue, ß=ss), other accents
    dropped, dashes unified, every run of whitespace one space."""
    text = unicodedata.normalize("NFC", text or "").casefold().translate(_UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    text = text.translate(_DASHES)
    return re.sub(r"\s+", " ", text).strip()


NEGATIONS = frozenset(
    "nicht kein keine keinen keinem keiner keines nie niemals ohne "
    "no not never without cannot can't won't don't isn't aren't".split())
_NEGATION_WINDOW = 2


def _phrase_regex(phrase: str) -> re.Pattern[str] | None:
    """A space in the phrase matches whitespace or hyphens; a hyphen matches a hyphen,
    whitespace or nothing; a trailing ``*`` matches the rest of the word."""
    norm = normalize(phrase)
    prefix = norm.endswith("*")
    norm = norm.rstrip("*").strip()
    if not norm:
        return None
    parts = []
    for token in re.split(r"(\s|-)", norm):
        if token == " ":
            parts.append(r"[\s-]+")
        elif token == "-":
            parts.append(r"[\s-]?")
        elif token:
            parts.append(re.escape(token))
    tail = r"\w*" if prefix else ""
    return re.compile(r"(?<!\w)" + "".join(parts) + tail + r"(?!\w)")


def _negated(norm_text: str, start: int) -> bool:
    """True when one of the two words before ``start`` (same sentence) is a negation."""
    before = re.split(r"[.!?;:\n]", norm_text[:start])[-1]
    words = re.findall(r"[\w']+", before)[-_NEGATION_WINDOW:]
    return any(w in NEGATIONS for w in words)


def phrase_in(phrase: str, norm_text: str) -> bool:
    """Whether ``phrase`` occurs, not negated, in already-normalised text."""
    rx = _phrase_regex(phrase)
    if rx is None:
        return False
    literal_negation = any(w in NEGATIONS for w in re.findall(r"[\w']+", normalize(phrase)))
    return any(literal_negation or not _negated(norm_text, m.start())
               for m in rx.finditer(norm_text))


def checklist(text: str, facts: Iterable[Fact]) -> list[str]:
    """Ids of the facts a reply text contains, in the order of ``facts``.

    Checklist rule: a fact is found when at least one of its ``any`` phrases occurs (if it has
    ``any``) and every one of its ``all`` phrases occurs (if it has ``all``); a fact with
    neither is never found. Matching ignores case, treats ä/ae, ö/oe, ü/ue and ß/ss (and
    accented/plain letters) as equal, lets a space in a phrase match any run of whitespace
    or hyphens, and only matches whole words (a phrase ending in ``*`` matches any word
    ending, e.g. ``Rückerstatt*``). An occurrence preceded within two words of the same
    sentence by a negation (nicht, kein(e), nie, ohne, no, not, never, cannot ...) does not
    count, so "keine Rückerstattung" does not confirm "Rückerstattung"; a phrase that itself
    contains a negation ("nicht möglich") is matched literally.
    """
    norm = normalize(text or "")
    found = []
    for fact in facts:
        if not fact.any and not fact.all:
            continue
        ok_any = not fact.any or any(phrase_in(p, norm) for p in fact.any)
        ok_all = all(phrase_in(p, norm) for p in fact.all)
        if ok_any and ok_all:
            found.append(fact.id)
    return found


# -- salutation --------------------------------------------------------------------------
GREETINGS = (
    "sehr geehrte", "sehr geehrter", "liebe", "lieber", "hallo", "guten tag", "guten morgen",
    "guten abend", "moin", "servus", "gruess gott", "gruezi", "hi", "hey", "dear", "hello",
    "good morning", "good afternoon", "good evening",
)
_GREETING_RX = re.compile(r"^(?:" + "|".join(re.escape(g) for g in GREETINGS) + r")(?!\w)")
_SALUTATION_LINES = 5


# a social reply starts with the @mentions of the thread: "@anna @shop Hallo Anna, ..."
_MENTIONS_RX = re.compile(r"^\s*(?:@[\w.@-]+[\s,:]*)+")


def personal_salutation(text: str, persona: Persona) -> bool:
    """Whether a reply greets the persona by name.

    Salutation rule: among the first five non-empty, non-quoted lines, the first line that
    starts with a greeting (Sehr geehrte/r, Liebe/r, Hallo, Guten Tag, Moin, Dear, Hi,
    Hello, Good morning ...) must contain the persona's first or last name as a whole word
    (case- and umlaut-tolerant). "Sehr geehrte Frau Berger", "Liebe Lena", "Dear Ms Berger" and
    "Hi Lena" count; "Sehr geehrte Damen und Herren", "Dear customer" or a reply without a
    greeting line do not.
    """
    names = [normalize(n) for n in (persona.first_name, persona.last_name) if n]
    if not names:
        return False
    lines = [_MENTIONS_RX.sub("", ln) for ln in (text or "").splitlines()
             if ln.strip() and not ln.lstrip().startswith(">")]
    lines = [ln for ln in lines if ln.strip()][:_SALUTATION_LINES]
    for line in lines:
        norm = normalize(line)
        if _GREETING_RX.match(norm):
            return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", norm) for n in names)
    return False


# -- Kaplan-Meier ------------------------------------------------------------------------
Curve = list[tuple[float, float]]


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> Curve:
    """Kaplan-Meier estimate of S(t), the share of probes still without a reply at t.

    Censoring rule: a probe without a human reply is neither counted as answered at zero
    nor dropped; it is known only to have had no reply until its window ended (or until
    now, while the window is still open) and stays among the probes at risk until then. At
    each reply time t the estimate is multiplied by (1 - replies at t / probes at risk at
    t). Median and 90th percentile are the first times the estimated share answered
    reaches 50 % and 90 % ("not reached" when it never does); a share answered "within 72 h"
    is not given when no probe has been followed for 72 h yet.

    Returns step points ``(t, S)``: ``(0, 1)``, one point per distinct event time, and a
    last point at the longest follow-up when that is a censoring after the last event.
    S(t) is the value of the last point at or before t. At tied times events are counted
    before censorings (the censored probes are still at risk then).
    """
    if len(durations) != len(observed):
        raise ValueError("durations and observed differ in length")
    data = sorted((max(0.0, float(d)), bool(o)) for d, o in zip(durations, observed,
                                                                  strict=True))
    curve: Curve = [(0.0, 1.0)]
    at_risk, s, i = len(data), 1.0, 0
    while i < len(data):
        t = data[i][0]
        events = removed = 0
        while i < len(data) and data[i][0] == t:
            events += data[i][1]
            removed += 1
            i += 1
        if events:
            s *= 1.0 - events / at_risk
            if t == 0.0:
                curve[0] = (0.0, s)
            else:
                curve.append((t, s))
        at_risk -= removed
    if data and data[-1][0] > curve[-1][0]:
        curve.append((data[-1][0], s))
    return curve


def km_survival(curve: Curve, t: float) -> float:
    """S(t) read off a curve (right-continuous steps)."""
    s = 1.0
    for time, value in curve:
        if time > t:
            break
        s = value
    return s


def km_quantile(curve: Curve, q: float) -> float | None:
    """Smallest t with 1 - S(t) >= q (q=0.5: median time to reply); None if not reached."""
    for t, s in curve:
        if 1.0 - s >= q - 1e-12:
            return t
    return None


def km_share_within(curve: Curve, seconds: float) -> float | None:
    """1 - S(seconds): estimated share of probes answered within ``seconds``.

    None when no probe was followed that long and replies may still be missing (the
    curve ends, censored, before ``seconds``).
    """
    if not curve:
        return None
    last_t, last_s = curve[-1]
    if seconds > last_t and last_s > 0:
        return None
    return 1.0 - km_survival(curve, seconds)


# -- per-probe outcomes ------------------------------------------------------------------
def _reasons(value: str | None) -> list[str]:
    try:
        data = json.loads(value) if value else []
    except ValueError:
        return [str(value)]
    return [str(x) for x in data] if isinstance(data, list) else [str(data)]


def probe_outcomes(study: Study, store: Store, now: datetime) -> pd.DataFrame:
    """One row per probe (see ``OUTCOME_COLUMNS``).

    Outcome rules: a probe counts as sent when its state is ``sent`` and it has ``sent_at``; its
    window ends at ``window_ends_at`` (or sent_at + the study window). Only messages matched
    to the probe and received at or before min(now, window end) count; later ones are
    counted in ``n_late`` only. A message's kind is the latest decision of a person
    (servicebench review / reclassify) where there is one, else the classifier's. Replies are
    messages of kind ``automated`` or ``human``; bounces and unrelated messages are not
    replies. A probe is censored when it has no human reply in its window: it is censored at
    the window end, or at ``now`` while the window is still open, and ``observed_seconds`` is
    the time to that point (otherwise the time to the first human reply; a reply stamped
    before sent_at through clock skew counts as 0 s). ``acknowledged`` means an automated
    reply came before any human one. Checklist and salutation are judged on the first human
    reply's text only. Probes that were not sent keep their state and have no times.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    companies = {c.id: c.name for c in study.companies}
    rows: list[dict[str, Any]] = []
    for p in store.probes():
        rows.append(_outcome(study, store, dict(p), companies, now))
    df = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    for col in TIME_COLUMNS:
        df[col] = pd.to_datetime(df[col], utc=True)
    df["first_human_message_id"] = df["first_human_message_id"].astype("Int64")
    return df


def _outcome(study: Study, store: Store, p: dict[str, Any], companies: dict[str, str],
             now: datetime) -> dict[str, Any]:
    evidence = [e["path"] for e in store.evidence_for(p["id"])]
    row: dict[str, Any] = {
        "probe_id": p["id"], "company_id": p["company_id"],
        "company": companies.get(p["company_id"], p["company_id"]), "channel": p["channel"],
        "scenario_id": p["scenario_id"], "persona_id": p["persona_id"], "wave": p["wave"],
        "state": p["state"], "sent_at": None, "sent_time_source": p["sent_time_source"],
        "window_ends_at": None, "first_reply_at": None, "first_reply_kind": None,
        "first_human_reply_at": None, "seconds_to_first_reply": None,
        "seconds_to_first_human_reply": None, "acknowledged": None, "bounced": None,
        "n_messages": 0, "n_late": 0, "kinds": "", "censored": None, "window_closed": None,
        "observed_seconds": None, "checklist_found": [], "checklist_coverage": None,
        "personal_salutation": None, "first_human_message_id": None, "message_ids": [],
        "evidence": evidence,
    }
    sent_at = parse_utc(p["sent_at"])
    if p["state"] != "sent" or sent_at is None:
        return row
    window_end = parse_utc(p["window_ends_at"]) or sent_at + study.window
    cutoff = min(now, window_end)
    counted, late = [], 0
    # the effective kind: a person's decision (servicebench review/reclassify) wins
    for m in effective_messages(store, store.messages(probe_id=p["id"])):
        at = parse_utc(m["received_at"])
        if at is None or at > cutoff:
            late += 1
            continue
        counted.append((at, dict(m)))
    counted.sort(key=lambda x: (x[0], x[1]["id"]))

    def secs(at: datetime) -> float:
        return max(0.0, (at - sent_at).total_seconds())

    replies = [(at, m) for at, m in counted if m["kind"] in REPLY_KINDS]
    humans = [(at, m) for at, m in replies if m["kind"] == "human"]
    first_reply = replies[0] if replies else None
    first_human = humans[0] if humans else None
    human_at = first_human[0] if first_human else None
    closed = now >= window_end
    row.update({
        "sent_at": sent_at, "window_ends_at": window_end,
        "acknowledged": any(m["kind"] == "automated" and (human_at is None or at < human_at)
                            for at, m in replies),
        "bounced": any(m["kind"] == "bounce" for _, m in counted),
        "n_messages": len(counted), "n_late": late,
        "kinds": ",".join(m["kind"] or "unclassified" for _, m in counted),
        "window_closed": closed, "censored": first_human is None,
        "message_ids": [m["id"] for _, m in counted],
        "evidence": evidence + [m["evidence"] for _, m in counted if m["evidence"]],
    })
    if first_reply:
        row.update(first_reply_at=first_reply[0], first_reply_kind=first_reply[1]["kind"],
                   seconds_to_first_reply=secs(first_reply[0]))
    if first_human:
        at, m = first_human
        text = m["text"] or ""
        row.update(first_human_reply_at=at, seconds_to_first_human_reply=secs(at),
                   observed_seconds=secs(at), first_human_message_id=m["id"])
        facts = _scenario_facts(study, p["scenario_id"])
        row["checklist_found"] = checklist(text, facts)
        row["checklist_coverage"] = (len(row["checklist_found"]) / len(facts)) if facts else None
        persona = _persona(study, p["persona_id"])
        row["personal_salutation"] = personal_salutation(text, persona) if persona else None
    else:
        row["observed_seconds"] = secs(cutoff)
    return row


def _scenario_facts(study: Study, scenario_id: str) -> list[Fact]:
    try:
        return list(study.scenario(scenario_id).expect)
    except StopIteration:
        return []


def _persona(study: Study, persona_id: str) -> Persona | None:
    try:
        return study.persona(persona_id)
    except StopIteration:
        return None


def message_reasons(row: dict[str, Any]) -> list[str]:
    """The classification reasons stored with a message row."""
    return _reasons(row.get("reasons"))


# -- tables ------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and not _isnan(v)]
    return sum(vals) / len(vals) if vals else None


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def human_curve(group: pd.DataFrame) -> Curve:
    """Kaplan-Meier curve of time to first human reply over the group's sent probes."""
    sent = group[group["state"].eq("sent") & group["sent_at"].notna()]
    return kaplan_meier([float(x) for x in sent["observed_seconds"]],
                        [not bool(c) for c in sent["censored"]])


def _aggregate(group: pd.DataFrame) -> dict[str, Any]:
    """Figures shared by the company and the channel table (see company_table)."""
    sent = group[group["state"].eq("sent") & group["sent_at"].notna()]
    n_sent = len(sent)
    state = group["state"]
    human = sent[sent["first_human_reply_at"].notna()]
    curve = human_curve(group)
    out: dict[str, Any] = {
        "n_probes": len(group), "n_sent": n_sent,
        "n_failed": int(state.eq("failed").sum()), "n_blocked": int(state.eq("blocked").sum()),
        "n_unknown": int(state.eq("unknown").sum()),
        "n_pending": int(state.isin(["planned", "sending"]).sum()),
        "n_skipped": int(state.eq("skipped").sum()),
        "response_rate": _rate(int(sent["first_reply_at"].notna().sum()), n_sent),
        "human_response_rate": _rate(len(human), n_sent),
        "ack_rate": _rate(int(sent["acknowledged"].eq(True).sum()), n_sent),
        "bounce_rate": _rate(int(sent["bounced"].eq(True).sum()), n_sent),
        "median_human_seconds": km_quantile(curve, 0.5) if n_sent else None,
        "p90_human_seconds": km_quantile(curve, 0.9) if n_sent else None,
    }
    for name, seconds in WITHIN.items():
        out[name] = km_share_within(curve, seconds) if n_sent else None
    out["checklist_coverage"] = _mean(human["checklist_coverage"])
    sal = [bool(v) for v in human["personal_salutation"] if v is not None and not _isnan(v)]
    out["personal_salutation_rate"] = _rate(sum(sal), len(sal))
    out["n_censored"] = int(sent["censored"].eq(True).sum())
    out["n_open"] = int(sent["window_closed"].eq(False).sum())
    return out


def _rank_key(row: dict[str, Any]) -> tuple[float, float, float]:
    rate = row["human_response_rate"]
    median = row["median_human_seconds"]
    cov = row["checklist_coverage"]
    return (-round(rate, 6) if rate is not None else 1.0,
            round(median) if median is not None else math.inf,
            -round(cov, 6) if cov is not None else 1.0)


def rank_rows(rows: list[dict[str, Any]]) -> list[int | None]:
    """Competition ranks (1, 1, 3 ...) by the ranking rule; None for rows with n_sent = 0."""
    keys = [_rank_key(r) if r["n_sent"] else None for r in rows]
    ranks: list[int | None] = []
    for k in keys:
        ranks.append(None if k is None else 1 + sum(1 for o in keys if o is not None and o < k))
    return ranks


COMPANY_COLUMNS = [
    "company_id", "company", "channel", "rank", "n_probes", "n_sent", "n_failed", "n_blocked",
    "n_unknown", "n_pending", "n_skipped", "response_rate", "human_response_rate", "ack_rate",
    "bounce_rate", "median_human_seconds", "p90_human_seconds", *WITHIN, "checklist_coverage",
    "personal_salutation_rate", "n_censored", "n_open",
]


def company_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Figures per company and channel, plus one row per company with channel ``all``.

    Rates: shares of the sent probes (failed, blocked, unknown, pending or skipped probes
    are counted but never in a denominator): response rate = any reply (automated or human)
    in the window, human response rate = a human reply in the window, ack rate = an
    automated reply before any human one, bounce rate = a bounce in the window. Median and
    90th percentile time to the first human reply and the shares answered within 1 h, 24 h
    and 72 h are Kaplan-Meier estimates over the sent probes, so probes without a human
    reply count as censored at their window end (or now) instead of as zero or as
    missing; "not reached" (None) means fewer than that share replied. Checklist coverage
    and personal-salutation rate are means over the probes with a human reply.

    Ranking rule: within each channel (and, for the overall ranking, over the ``all``
    rows) companies are ordered by human response rate (higher first), then by Kaplan-Meier
    median time to the first human reply (shorter first; not reached comes last), then by
    mean checklist coverage (higher first; none last). Companies equal on all three share a
    rank and the next rank is skipped (1, 1, 3). Rows without a sent probe get no rank.
    """
    records: list[dict[str, Any]] = []
    if outcomes.empty:
        return pd.DataFrame(columns=COMPANY_COLUMNS)
    for (cid, channel), group in outcomes.groupby(["company_id", "channel"], sort=False):
        records.append({"company_id": cid, "company": group["company"].iloc[0],
                        "channel": channel, **_aggregate(group)})
    for cid, group in outcomes.groupby("company_id", sort=False):
        records.append({"company_id": cid, "company": group["company"].iloc[0],
                        "channel": ALL_CHANNELS, **_aggregate(group)})
    by_channel: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_channel.setdefault(r["channel"], []).append(i)
    for idx in by_channel.values():
        for i, rank in zip(idx, rank_rows([records[i] for i in idx]), strict=True):
            records[i]["rank"] = rank
    df = pd.DataFrame(records, columns=COMPANY_COLUMNS)
    df["_all"] = df["channel"].eq(ALL_CHANNELS)
    df = df.sort_values(["_all", "channel", "rank", "company"], ascending=[False, True, True,
                                                                           True],
                        na_position="last", kind="stable").drop(columns="_all")
    df["rank"] = df["rank"].astype("Int64")
    return _none_for_missing(df.reset_index(drop=True), FIGURE_COLUMNS)


CHANNEL_COLUMNS = ["channel", "n_companies", *COMPANY_COLUMNS[4:]]


def channel_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The company-table figures per channel, pooled over all companies (no rank), so
    channels can be compared: same rates, Kaplan-Meier and mean rules as company_table."""
    if outcomes.empty:
        return pd.DataFrame(columns=CHANNEL_COLUMNS)
    records = [{"channel": ch, "n_companies": group["company_id"].nunique(), **_aggregate(group)}
               for ch, group in outcomes.groupby("channel", sort=True)]
    return _none_for_missing(pd.DataFrame(records, columns=CHANNEL_COLUMNS), FIGURE_COLUMNS)


FIGURE_COLUMNS = ["response_rate", "human_response_rate", "ack_rate", "bounce_rate",
                  "median_human_seconds", "p90_human_seconds", *WITHIN, "checklist_coverage",
                  "personal_salutation_rate"]


def _none_for_missing(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Figures that do not exist (not reached, no sent probe) are None, not NaN."""
    for col in columns:
        df[col] = pd.Series([None if v is None or _isnan(v) else float(v) for v in df[col]],
                            index=df.index, dtype=object)
    return df

