"""Test data helpers: a study folder with study.yaml and a Store with rows inserted directly.

Not a conftest.py on purpose: tests import what they need from here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servicebench.clock import utc_iso
from servicebench.store import Store
from servicebench.study import Study, load_study

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
H = 3600.0
WINDOW = timedelta(days=7)

STUDY_YAML = """\
study:
  id: demo
  title: "Kundenservice-Benchmark Elektronikhandel"
  language: {language}
  timezone: Europe/Berlin
  window: {window}
  client: "Beispiel Verband e.V."
  author: "Service Research"
personas:
  - id: lena
    name: Lena Berger
    email: lena.berger@example.org
    salutation: Frau
scenarios:
  - id: refund
    subject: "Rückgabe meiner Bestellung"
    body: "Guten Tag, wie kann ich meine Bestellung zurückgeben? {{{{ persona.name }}}}"
    expect:
      - id: period
        label: Rückgabefrist genannt
        any: ["30 Tag*", "dreißig Tag*", "30 days"]
      - id: label
        label: Kostenloses Rücksendeetikett
        all: ["Rücksendeetikett", "kostenlos*"]
      - id: refund
        label: Erstattung erklärt
        any: ["Rückerstatt*", "Erstattung", "refund"]
companies:
  - id: acme
    name: Acme GmbH
    channels: {{email: service@acme.example.de}}
  - id: bolt
    name: Bolt AG
    channels: {{email: kontakt@bolt.example.de}}
  - id: cora
    name: Cora & Söhne KG
    channels: {{email: info@cora.example.de}}
{extra}"""


def make_study(folder: Path, language: str = "de", window: str = "7d",
               extra: str = "") -> tuple[Study, Store]:
    """Write study.yaml into ``folder``, load it and open its Store."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(
        STUDY_YAML.format(language=language, window=window, extra=extra), encoding="utf-8")
    study = load_study(folder, environ={})
    return study, Store(folder)


_seq = {"n": 0}


def add_probe(store: Store, company_id: str, *, channel: str = "email",
              scenario_id: str = "refund", persona_id: str = "lena", state: str = "sent",
              sent_at: datetime | None = T0, window: timedelta = WINDOW,
              time_source: str = "smtp-250-timestamp", wave: int = 1) -> int:
    """Insert a probe row; ``sent_at``/``window_ends_at`` only for state ``sent``."""
    _seq["n"] += 1
    key = f"{company_id}|{channel}|{scenario_id}|{persona_id}|{wave}|{_seq['n']}"
    sent = state == "sent" and sent_at is not None
    cur = store.db.execute(
        "INSERT INTO probes (key, company_id, channel, scenario_id, persona_id, wave, target,"
        " state, due_at, sent_at, sent_time_source, window_ends_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key, company_id, channel, scenario_id, persona_id, wave, f"{company_id}@example.de",
         state, utc_iso(sent_at or T0), utc_iso(sent_at) if sent else None,
         time_source if sent else None, utc_iso(sent_at + window) if sent else None,
         utc_iso(T0)))
    return int(cur.lastrowid)


def add_message(store: Store, probe_id: int | None, kind: str, at: datetime, *,
                text: str = "", subject: str = "Re: Rückgabe meiner Bestellung",
                sender: str = "service@acme.example.de", reasons: list[str] | None = None,
                match_method: str = "in-reply-to", time_source: str = "imap-internaldate",
                channel: str = "email") -> int:
    """Insert a received message row and return its id."""
    _seq["n"] += 1
    cur = store.db.execute(
        "INSERT INTO messages (channel, source, external_id, probe_id, match_method,"
        " received_at, time_source, sender, subject, text, kind, reasons, evidence,"
        " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (channel, "imap:test/INBOX", f"1:{_seq['n']}", probe_id, match_method, utc_iso(at),
         time_source, sender, subject, text, kind, json.dumps(reasons or [f"rule:{kind}"]),
         f"evidence/messages/{_seq['n']}.eml", utc_iso(at)))
    return int(cur.lastrowid)


def at(hours: float) -> datetime:
    """T0 plus ``hours``."""
    return T0 + timedelta(hours=hours)


HUMAN_DE = """Sehr geehrte Frau Berger,

vielen Dank für Ihre Nachricht. Sie können die Ware innerhalb von dreißig Tagen
zurückgeben; die Rückerstattung erfolgt nach Eingang. Ein kostenloses Rücksendeetikett
finden Sie im Kundenkonto.

Mit freundlichen Grüßen
Ihr Acme-Team
"""

GENERIC_DE = """Sehr geehrte Damen und Herren,

eine Rücksendung ist innerhalb von 30 Tagen möglich.

Freundliche Grüße
"""


def populate(store: Store) -> dict[str, list[int]]:
    """A small realistic data set: acme answers fast and personally, bolt slowly and
    generically, cora only with an auto-reply; plus a failed and a blocked probe."""
    ids: dict[str, list[int]] = {"acme": [], "bolt": [], "cora": []}
    p = add_probe(store, "acme")
    add_message(store, p, "automated", at(0.01), text="Wir haben Ihre Anfrage erhalten.")
    add_message(store, p, "human", at(2.5), text=HUMAN_DE, reasons=["personal-signature"])
    ids["acme"].append(p)
    p = add_probe(store, "acme", sent_at=at(1))
    add_message(store, p, "human", at(5), text="Hallo Lena,\n\n30 Tage Rückgabe.\n")
    ids["acme"].append(p)
    p = add_probe(store, "bolt")
    add_message(store, p, "human", at(50), text=GENERIC_DE, sender="kontakt@bolt.example.de")
    ids["bolt"].append(p)
    ids["bolt"].append(add_probe(store, "bolt", state="failed", sent_at=None))
    p = add_probe(store, "cora")
    add_message(store, p, "automated", at(0.1), text="Automatische Antwort")
    ids["cora"].append(p)
    ids["cora"].append(add_probe(store, "cora", state="blocked", sent_at=None))
    return ids


# -- invariants of the figures (issue 9), shared by the hand-made and the demo tests -------
OUTCOME_COUNTS = ["n_answered", "n_not_answered", "n_pending", "n_failed", "n_blocked",
                  "n_bounced"]


def _val(v: object) -> float | None:
    """A cell as float, None for missing (works for DataFrame cells and CSV strings)."""
    if v is None or v == "":
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def assert_invariants(rows: list[dict], *, companies: bool = True) -> None:
    """Check every row of a companies or channels table (records, or CSV rows as strings)."""
    eps = 1e-9
    for r in rows:
        where = f"{r.get('company_id', '')}/{r['channel']}"
        counts = [int(_val(r[c]) or 0) for c in OUTCOME_COUNTS]
        assert sum(counts) == int(_val(r["n_probes"])), where
        measured = counts[0] + counts[1]
        shares = [_val(r[c]) for c in ("within_1h", "within_24h", "within_72h",
                                       "answered_share")]
        if measured == 0:
            assert all(s is None for s in shares), where
            assert _val(r["index"]) is None, where
        else:
            assert all(s is not None for s in shares), where
            assert shares[0] <= shares[1] + eps <= shares[2] + 2 * eps <= shares[3] + 3 * eps, \
                (where, shares)
            assert abs(shares[3] - counts[0] / measured) < 1e-4, where
        for col in ("answered_share", "within_1h", "within_24h", "within_72h",
                    "any_reply_share"):
            v, lo, hi = _val(r[col]), _val(r[f"{col}_ci_low"]), _val(r[f"{col}_ci_high"])
            if v is not None:
                assert 0 <= lo <= v + eps and v <= hi + eps and hi <= 1, (where, col)
                assert round(v, 4) == v, (where, col, v)
        idx = _val(r["index"])
        if idx is not None:
            lo, hi = _val(r["index_ci_low"]), _val(r["index_ci_high"])
            assert 0 <= lo <= idx + 1e-6 and idx <= hi + 1e-6 and hi <= 100 + eps, where
            assert r["grade"] not in (None, ""), where
        small = str(r["small_sample"]).lower() in ("true", "1")
        assert small == (measured < 5), where
        if companies and _val(r["rank"]) is not None:
            assert _val(r["rank_best"]) <= _val(r["rank"]) <= _val(r["rank_worst"]), where
        if companies and measured > 0 and idx is not None:
            assert _val(r["rank"]) is not None, where
    if companies:
        by_company: dict[str, dict[str, list[dict]]] = {}
        for r in rows:
            by_company.setdefault(r["company_id"], {}).setdefault(
                "all" if r["channel"] == "all" else "ch", []).append(r)
        for cid, parts in by_company.items():
            assert len(parts.get("all", [])) == 1, cid
            (total,) = parts["all"]
            for c in ["n_probes", *OUTCOME_COUNTS]:
                assert int(_val(total[c])) == sum(int(_val(x[c])) for x in parts["ch"]), \
                    (cid, c)
