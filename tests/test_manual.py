"""Manual channels (phone, chat, visit): planned like any probe, logged by the tester."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicebench.channels import get_channel
from servicebench.clock import SystemClock
from servicebench.errors import ServicebenchError, StudyError
from servicebench.metrics import probe_outcomes
from servicebench.probes.manual import (
    ChatChannel,
    PhoneChannel,
    VisitChannel,
    abandon_limit,
    checklist_line,
    import_contacts_csv,
    log_contact,
)
from servicebench.runner import Runner, RunSummary, plan
from servicebench.store import Store
from servicebench.study import load_study

STUDY = textwrap.dedent("""\
    study: {id: man, title: Manual test, language: de, timezone: Europe/Berlin, window: 3d}
    manual:
      abandon_after: {phone: 45m, chat: 10m}
    personas:
      - {id: lena, name: Lena Berger, email: lena@example.com}
    scenarios:
      - id: lieferzeit
        subject: Lieferzeit
        body: "Wie lange dauert die Lieferung nach Berlin, und kann ich einen Liefertag wählen?"
        expect:
          - {id: tage, label: Nennt die Lieferzeit, any: [Werktage, Werktagen]}
          - {id: wunschtag, label: "Sagt, ob ein Liefertag wählbar ist", any: [Wunschtag, wählen]}
          - {id: kosten, label: Nennt die Versandkosten, any: [Versandkosten], all: [Euro]}
    companies:
      - id: acme
        name: ACME
        channels:
          phone: "+49 30 1234567"
          chat: {url: "https://acme.example/hilfe", hours: "Mo-Fr 8-18"}
          visit: "Hauptstraße 1, 10115 Berlin"
    """)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path: Path):
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    study = load_study(tmp_path, environ={})
    store = Store(tmp_path)
    plan(study, store, T0)
    probes = {r["channel"]: r["id"] for r in store.probes()}
    return study, store, probes


def test_channels_are_registered_manual_and_never_sent(setup) -> None:
    study, store, probes = setup
    assert {get_channel(n) for n in ("phone", "chat", "visit")} == \
        {PhoneChannel, ChatChannel, VisitChannel}
    assert all(get_channel(n).kind == "manual" for n in ("phone", "chat", "visit"))
    assert set(probes) == {"phone", "chat", "visit"}
    assert store.probe(probes["chat"])["target"] == "https://acme.example/hilfe"
    runner = Runner(study, store, SystemClock())
    assert runner.due(T0 + timedelta(days=1)) == []
    summary = RunSummary()
    runner.send_due(summary)
    assert summary.sent == 0
    assert all(r["state"] == "planned" for r in store.probes())
    text = runner.channels["phone"].preview(
        __import__("servicebench.runner", fromlist=["probe_context"]).probe_context(
            study, store.probe(probes["phone"])))
    assert "+49 30 1234567" in text and "45 min" in text and "Nennt die Lieferzeit" in text


def test_answered_call_becomes_sent_probe_and_human_message(setup, tmp_path: Path) -> None:
    study, store, probes = setup
    pid = probes["phone"]
    log_contact(study, store, pid, started_at=T0, menu_at=T0 + timedelta(minutes=2),
                person_at=T0 + timedelta(minutes=9), ended_at=T0 + timedelta(minutes=15),
                outcome="answered", checklist=["tage", "Sagt, ob ein Liefertag wählbar ist"],
                notes="Freundlich, kannte sich aus", now=T0 + timedelta(hours=1))
    row = store.probe(pid)
    assert row["state"] == "sent" and row["sent_time_source"] == "tester-log"
    assert row["sent_at"] == "2026-11-24T10:00:00.000+00:00"
    assert row["window_ends_at"] == "2026-11-24T10:45:00.000+00:00"
    (msg,) = store.messages(pid)
    assert msg["kind"] == "human" and msg["time_source"] == "tester-log"
    assert msg["received_at"] == "2026-11-24T10:09:00.000+00:00"
    assert msg["text"].startswith("Freundlich, kannte sich aus.")
    assert "checklist: tage" in json.loads(msg["reasons"])
    assert "checklist: wunschtag" in json.loads(msg["reasons"])
    log = json.loads((tmp_path / msg["evidence"]).read_text())
    assert log["outcome"] == "answered" and log["queue_seconds"] == 420
    assert log["hold_seconds"] == 540 and log["censored"] is False
    detail = json.loads(row["detail"])
    assert detail["hold_seconds"] == 540
    # the metrics see it like any other answered probe, checklist included
    df = probe_outcomes(study, store, now=T0 + timedelta(days=5))
    r = df[df.probe_id == pid].iloc[0]
    assert r["seconds_to_first_human_reply"] == 540
    assert list(r["checklist_found"]) == ["tage", "wunschtag"]
    assert r["censored"] is False or r["censored"] == False  # noqa: E712
    assert r["outcome"] == "answered"
    # a greeting on a call is not judged from the tester's notes: not applicable, not "no"
    assert r["personal_salutation"] is None and not r["greeting_applies"]


def test_checklist_line_matches_exactly_the_answered_facts(setup) -> None:
    from servicebench.metrics import checklist

    study, _, _ = setup
    facts = study.scenario("lieferzeit").expect
    line = checklist_line([facts[2]])
    assert line == "Checklist: Versandkosten; Euro."
    assert checklist("Nicht erreicht, keine Auskunft.\n\n" + line, facts) == ["kosten"]


def test_gave_up_and_late_answer_are_censored(setup) -> None:
    study, store, probes = setup
    log_contact(study, store, probes["chat"], started_at=T0, outcome="gave_up",
                gave_up_after_minutes=25, notes="Warteschlange Platz 14", now=T0)
    row = store.probe(probes["chat"])
    detail = json.loads(row["detail"])
    assert row["state"] == "sent" and store.messages(probes["chat"]) == []
    assert detail["hold_seconds"] == 600 and detail["log"]["hold_capped"] is True
    assert detail["censored"] is True
    log_contact(study, store, probes["phone"], started_at=T0,
                person_at=T0 + timedelta(minutes=50), outcome="answered", now=T0)
    assert store.messages(probes["phone"]) == []
    detail = json.loads(store.probe(probes["phone"])["detail"])
    assert "beyond the 45 min abandonment limit" in detail["note"]
    df = probe_outcomes(study, store, now=T0 + timedelta(days=5))
    assert bool(df.set_index("probe_id").loc[probes["phone"], "censored"]) is True
    # reached nobody (or only after the cap): not answered, never pending, whatever the cut-off
    for cut in (T0 + timedelta(minutes=5), T0 + timedelta(days=5)):
        df = probe_outcomes(study, store, now=cut).set_index("probe_id")
        assert df.loc[probes["chat"], "outcome"] == "not_answered"
        assert df.loc[probes["phone"], "outcome"] == "not_answered"


def test_no_connection_and_relogging(setup) -> None:
    study, store, probes = setup
    pid = probes["visit"]
    log_contact(study, store, pid, started_at=T0, outcome="no_connection", attempts=2,
                notes="Laden geschlossen", now=T0)
    assert store.probe(pid)["attempts"] == 2
    with pytest.raises(ServicebenchError, match="already has a logged contact"):
        log_contact(study, store, pid, started_at=T0, outcome="no_connection", now=T0)
    log_contact(study, store, pid, started_at=T0 + timedelta(days=1),
                person_at=T0 + timedelta(days=1, minutes=3), outcome="answered",
                attempts=3, now=T0 + timedelta(days=1), replace=True)
    assert len(store.messages(pid)) == 1
    assert store.probe(pid)["sent_at"].startswith("2026-11-25T10:00")


@pytest.mark.parametrize("kwargs, message", [
    ({"outcome": "answered"}, "needs person_at"),
    ({"outcome": "gave_up", "person_at": T0 + timedelta(minutes=1)}, "use 'answered'"),
    ({"outcome": "maybe"}, "not one of"),
    ({"outcome": "answered", "person_at": T0 - timedelta(minutes=1)}, "is before started_at"),
    ({"outcome": "answered", "person_at": T0, "checklist": ["preis"]}, "not a fact"),
    ({"outcome": "gave_up", "checklist": ["tage"]}, "need outcome 'answered'"),
    ({"outcome": "gave_up", "attempts": 0}, "at least 1"),
])
def test_bad_entries_are_refused(setup, kwargs, message) -> None:
    study, store, probes = setup
    with pytest.raises(ServicebenchError, match=message):
        log_contact(study, store, probes["phone"], started_at=T0, now=T0, **kwargs)
    assert store.probe(probes["phone"])["state"] == "planned"


def test_email_probe_cannot_be_logged(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(STUDY.replace(
        'phone: "+49 30 1234567"', 'phone: "+49 30 1234567"\n      email: help@acme.example')
        .replace("study: {", "mailbox: {}\nstudy: {") if False else STUDY, encoding="utf-8")
    study = load_study(tmp_path, environ={})
    store = Store(tmp_path)
    with pytest.raises(ServicebenchError, match="no probe 99"):
        log_contact(study, store, 99, started_at=T0, outcome="gave_up", now=T0)


CSV_OK = (
    "probe;started_at;menu_at;person_at;ended_at;outcome;attempts;gave_up_after_minutes;"
    "checklist;notes\n"
    "acme|phone|lieferzeit|lena|1;2026-11-24T11:00;11:02;11:20;11:31;answered;1;;tage, kosten;"
    "Versand 4,90 Euro\n"
    ";2026-11-24T12:00;;;;gave up;2;12,5;;Chat hing\n"
)


def test_csv_import(setup, tmp_path: Path) -> None:
    study, store, probes = setup
    csv = CSV_OK.replace("\n;2026", "\n" + str(probes["chat"]) + ";2026", 1)
    f = tmp_path / "contacts.csv"
    f.write_text(csv, encoding="utf-8-sig")
    assert import_contacts_csv(study, store, f, now=T0) == 2
    phone = store.probe(probes["phone"])
    # 11:00 in Europe/Berlin is 10:00 UTC
    assert phone["sent_at"] == "2026-11-24T10:00:00.000+00:00"
    (msg,) = store.messages(probes["phone"])
    assert msg["received_at"] == "2026-11-24T10:20:00.000+00:00"
    assert "Versandkosten" in msg["text"] and "checklist: kosten" in json.loads(msg["reasons"])
    chat = store.probe(probes["chat"])
    assert chat["attempts"] == 2 and json.loads(chat["detail"])["hold_seconds"] == 600
    # importing the same file again changes nothing
    assert import_contacts_csv(study, store, f, now=T0) == 0


def test_csv_errors_name_the_line_and_import_nothing(setup, tmp_path: Path) -> None:
    study, store, probes = setup
    f = tmp_path / "bad.csv"
    f.write_text(textwrap.dedent(f"""\
        company,channel,scenario,persona,started_at,person_at,outcome,checklist
        acme,phone,lieferzeit,lena,2026-11-24T11:00,11:20,answered,tage
        acme,chat,lieferzeit,lena,yesterday,,gave_up,
        acme,visit,lieferzeit,lena,2026-11-24T11:00,,answered,
        {probes['phone']},,,,2026-11-24T11:00,,gave_up,
        nobody,phone,lieferzeit,lena,2026-11-24T11:00,,gave_up,
        """), encoding="utf-8")
    with pytest.raises(ServicebenchError) as exc:
        import_contacts_csv(study, store, f, now=T0)
    text = str(exc.value)
    assert "bad.csv:3: started_at: 'yesterday' is not a date-time" in text
    assert "bad.csv:4: outcome 'answered' needs person_at" in text
    assert "bad.csv:6: no planned probe 'nobody|phone|lieferzeit|lena|1'" in text
    assert "nothing imported" in text
    assert all(r["state"] == "planned" for r in store.probes())
    f.write_text("probe,started_at,outcome,colour\n1,2026-11-24T11:00,gave_up,red\n")
    with pytest.raises(ServicebenchError, match=r"bad.csv:1: unknown column\(s\) colour"):
        import_contacts_csv(study, store, f, now=T0)


def test_abandon_limits_and_schema(setup, tmp_path: Path) -> None:
    study, _, _ = setup
    assert abandon_limit(study, "phone") == timedelta(minutes=45)
    assert abandon_limit(study, "chat") == timedelta(minutes=10)
    assert abandon_limit(study, "visit") == timedelta(minutes=30)  # default
    (tmp_path / "study.yaml").write_text(STUDY.replace("chat: 10m", "fax: 10m"))
    with pytest.raises(StudyError, match="fax"):
        load_study(tmp_path, environ={})
    (tmp_path / "study.yaml").write_text(STUDY.replace('"+49 30 1234567"', '"call us"'))
    with pytest.raises(StudyError, match="not a phone number"):
        load_study(tmp_path, environ={})


def test_logged_greeting_makes_the_criterion_apply(setup, tmp_path: Path) -> None:
    study, store, probes = setup
    log_contact(study, store, probes["phone"], started_at=T0,
                person_at=T0 + timedelta(minutes=3), outcome="answered", greeting=True,
                now=T0)
    path = tmp_path / "contacts.csv"
    path.write_text("probe,started_at,person_at,outcome,greeting\n"
                    f"{probes['chat']},2026-11-24T11:00:00Z,2026-11-24T11:02:00Z,answered,nein\n",
                    encoding="utf-8")
    assert import_contacts_csv(study, store, path, T0) == 1
    df = probe_outcomes(study, store, now=T0 + timedelta(days=5)).set_index("probe_id")
    assert df.loc[probes["phone"], "personal_salutation"] is True
    assert df.loc[probes["chat"], "personal_salutation"] is False
    assert df.loc[probes["phone"], "greeting_applies"]
    bad = tmp_path / "bad.csv"
    bad.write_text("probe,started_at,outcome,greeting\n"
                   f"{probes['visit']},2026-11-24T12:00:00Z,no_connection,vielleicht\n",
                   encoding="utf-8")
    with pytest.raises(ServicebenchError, match="bad.csv:2: greeting"):
        import_contacts_csv(study, store, bad, T0)


def test_report_cards_name_checklist_items_by_their_label(setup) -> None:
    """The tester's log stores checklist items by id; the report's evidence cards show the
    label the study gives them, in both languages."""
    from servicebench.report_context import build_context

    study, store, probes = setup
    log_contact(study, store, probes["phone"], started_at=T0, person_at=T0 + timedelta(minutes=2),
                ended_at=T0 + timedelta(minutes=5), outcome="answered", checklist=["tage"],
                notes="", now=T0 + timedelta(hours=1))
    for lang, prefix in (("de", "Punkt der Checkliste: "), ("en", "checklist item: ")):
        ctx = build_context(study, store, T0 + timedelta(days=5), language=lang,
                            appendix="cards")
        (card,) = [c for c in ctx["cards"] if c["probe_id"] == probes["phone"]]
        reasons = [r for m in card["messages"] for r in m["reasons"]]
        assert prefix + "Nennt die Lieferzeit" in reasons, reasons
        assert prefix + "tage" not in reasons
