from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest_data import (
    GENERIC_DE,
    HUMAN_DE,
    T0,
    H,
    add_message,
    add_probe,
    at,
    make_study,
    populate,
)

from servicebench.metrics import (
    channel_table,
    checklist,
    company_table,
    kaplan_meier,
    km_quantile,
    km_share_within,
    personal_salutation,
    probe_outcomes,
)
from servicebench.study import Fact, Persona

DAY = 24 * H
LATER = at(30 * 24)  # every window closed


# -- Kaplan-Meier ----------------------------------------------------------------------
def test_kaplan_meier_matches_hand_computation_with_censoring() -> None:
    # t=1 event (6 at risk), t=2 one event + one censored (5), t=3 event (3), t=4 censored,
    # t=5 event (1 at risk)
    curve = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    expected = [(0, 1), (1, 5 / 6), (2, 2 / 3), (3, 4 / 9), (5, 0)]
    assert len(curve) == len(expected)
    for (t, s), (et, es) in zip(curve, expected, strict=True):
        assert t == et and s == pytest.approx(es)
    assert km_quantile(curve, 0.5) == 3
    assert km_quantile(curve, 0.3) == 2
    assert km_share_within(curve, 2.5) == pytest.approx(1 / 3)
    assert km_share_within(curve, 0.5) == 0
    assert km_share_within(curve, 99) == pytest.approx(1.0)


def test_median_not_reached_and_follow_up_limit() -> None:
    curve = kaplan_meier([10, 20, 100, 100], [True, False, False, False])
    assert curve == [(0, 1), (10, 0.75), (100, 0.75)]
    assert km_quantile(curve, 0.5) is None
    assert km_share_within(curve, 50) == pytest.approx(0.25)
    assert km_share_within(curve, 200) is None  # nobody followed that long
    assert kaplan_meier([], []) == [(0.0, 1.0)]


def test_events_at_time_zero() -> None:
    curve = kaplan_meier([0, 5], [True, True])
    assert curve == [(0.0, 0.5), (5.0, 0.0)]
    assert km_quantile(curve, 0.5) == 0.0


# -- probe outcomes --------------------------------------------------------------------
@pytest.fixture()
def data(tmp_path):
    study, store = make_study(tmp_path / "study")
    yield study, store
    store.close()


def one(df: pd.DataFrame, probe_id: int) -> dict:
    return df[df["probe_id"] == probe_id].iloc[0].to_dict()


def test_outcome_fields_for_a_typical_probe(data) -> None:
    study, store = data
    p = add_probe(store, "acme")
    add_message(store, p, "automated", at(0.01))
    h = add_message(store, p, "human", at(2.5), text=HUMAN_DE)
    row = one(probe_outcomes(study, store, LATER), p)
    assert row["company"] == "Acme GmbH"
    assert row["first_reply_at"] == pd.Timestamp(at(0.01))
    assert row["seconds_to_first_reply"] == pytest.approx(36)
    assert row["seconds_to_first_human_reply"] == pytest.approx(2.5 * H)
    assert row["observed_seconds"] == pytest.approx(2.5 * H)
    assert row["acknowledged"] is True and row["bounced"] is False
    assert row["kinds"] == "automated,human" and row["n_messages"] == 2
    assert row["censored"] is False and row["window_closed"] is True
    assert row["first_human_message_id"] == h
    assert row["checklist_found"] == ["period", "label", "refund"]
    assert row["checklist_coverage"] == 1.0
    assert row["personal_salutation"] is True
    assert len(row["evidence"]) == 2


def test_censored_probes_are_not_averaged_as_zero(data) -> None:
    study, store = data
    p1 = add_probe(store, "acme")
    add_message(store, p1, "human", at(10), text="Hallo")
    p2 = add_probe(store, "acme")
    p3 = add_probe(store, "acme")
    add_message(store, p3, "automated", at(0.1))
    out = probe_outcomes(study, store, LATER)
    for p in (p2, p3):
        row = one(out, p)
        assert row["censored"] is True
        assert math.isnan(row["seconds_to_first_human_reply"])
        assert row["observed_seconds"] == pytest.approx(7 * DAY)
        assert row["checklist_coverage"] is None or math.isnan(row["checklist_coverage"])
    row = company_table(out).query("channel == 'all'").iloc[0]
    assert row["answered_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["km_median_hours"] is None  # 1 of 3 answered: not reached, not 10 h / 3
    assert row["median_hours"] == 10.0  # over the answered probes only
    assert row["within_24h"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["n_not_answered"] == 2


def test_open_window_is_censored_at_now(data) -> None:
    study, store = data
    p = add_probe(store, "acme")
    row = one(probe_outcomes(study, store, at(48)), p)
    assert row["censored"] is True and row["window_closed"] is False
    assert row["observed_seconds"] == pytest.approx(48 * H)
    table = company_table(probe_outcomes(study, store, at(48)))
    assert table.iloc[0]["n_pending"] == 1 and table.iloc[0]["n_not_answered"] == 0
    assert table.iloc[0]["within_72h"] is None  # nothing measured yet: no share at all
    assert table.iloc[0]["index"] is None and pd.isna(table.iloc[0]["rank"])


def test_messages_after_the_window_or_now_are_ignored(data) -> None:
    study, store = data
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(8 * 24), text="Sehr geehrte Frau Berger, zu spät.")
    row = one(probe_outcomes(study, store, LATER), p)
    assert row["censored"] is True and row["n_late"] == 1 and row["n_messages"] == 0
    assert pd.isna(row["first_human_reply_at"]) and pd.isna(row["first_reply_at"])
    assert row["observed_seconds"] == pytest.approx(7 * DAY)
    q = add_probe(store, "bolt")
    add_message(store, q, "human", at(30), text="Hallo")
    assert one(probe_outcomes(study, store, at(20)), q)["censored"] is True


def test_bounce_and_unrelated_are_not_replies(data) -> None:
    study, store = data
    p = add_probe(store, "acme")
    add_message(store, p, "bounce", at(0.01), text="Mail delivery failed")
    add_message(store, p, "unrelated", at(1), text="Newsletter")
    out = probe_outcomes(study, store, LATER)
    row = one(out, p)
    assert pd.isna(row["first_reply_at"]) and row["bounced"] is True
    assert row["kinds"] == "bounce,unrelated" and row["censored"] is True
    assert row["outcome"] == "bounced"
    figures = company_table(out).iloc[0]
    assert figures["n_bounced"] == 1 and figures["n_not_answered"] == 0
    assert figures["answered_share"] is None  # a dead address is not a measurement


def test_unsent_probes_have_state_and_no_times(data) -> None:
    study, store = data
    ids = populate(store)
    out = probe_outcomes(study, store, LATER)
    failed = one(out, ids["bolt"][1])
    assert failed["state"] == "failed"
    assert pd.isna(failed["sent_at"]) and pd.isna(failed["observed_seconds"])
    assert failed["censored"] is None
    assert one(out, ids["cora"][1])["state"] == "blocked"
    row = company_table(out).query("company_id == 'bolt' and channel == 'all'").iloc[0]
    assert (row["n_probes"], row["n_sent"], row["n_failed"]) == (2, 1, 1)
    assert row["answered_share"] == 1.0  # over measured probes only


# -- checklist ---------------------------------------------------------------------------
FACTS = [
    Fact("period", "Frist", any=["30 Tage", "dreißig Tage"]),
    Fact("label", "Etikett", all=["Rücksendeetikett", "kostenlos*"]),
    Fact("refund", "Erstattung", any=["Rückerstattung", "Erstattung"]),
    Fact("exchange", "Umtausch", any=["Umtausch nicht möglich"]),
]


@pytest.mark.parametrize(("text", "found"), [
    ("Die Frist beträgt DREISSIG   Tage.", ["period"]),
    ("Frist: 30\n  Tage", ["period"]),
    ("Frist: 30-Tage", ["period"]),
    ("Die Rueckerstattung erfolgt sofort.", ["refund"]),
    ("Ihr Rücksendeetikett ist kostenlos.", ["label"]),
    ("Das kostenlose Ruecksendeetikett liegt bei.", ["label"]),
    ("Ein Rücksendeetikett liegt bei.", []),  # all: both phrases required
    ("Erstattungsantrag ausfüllen", []),  # whole words only
    ("Es gibt keine Erstattung.", []),  # negated
    ("Keine Sorge. Die Erstattung kommt.", ["refund"]),  # negation in another sentence
    ("Ein Umtausch ist nicht möglich, aber 30 Tage Rückgabe.", ["period"]),
    ("Umtausch nicht moeglich.", ["exchange"]),  # phrase with a negation: literal
    ("", []),
])
def test_checklist(text: str, found: list[str]) -> None:
    assert checklist(text, FACTS) == found


# -- salutation --------------------------------------------------------------------------
LENA = Persona(id="lena", name="Lena Berger", email="lena@example.org", salutation="Frau")
JOSE = Persona(id="jose", name="José Müller", email="jm@example.org")


@pytest.mark.parametrize("text", [
    "Sehr geehrte Frau Berger,\n\nvielen Dank.",
    "Liebe Lena,\ndanke!",
    "Hallo Frau Berger!",
    "Guten Tag Frau Dr. Berger,",
    "Dear Ms Berger,\n\nthank you.",
    "Hi Lena,\nthanks",
    "\n\n  Hello Lena Berger,",
])
def test_personal_salutation_positive(text: str) -> None:
    assert personal_salutation(text, LENA) is True


@pytest.mark.parametrize("text", [
    "Sehr geehrte Damen und Herren,\n\nFrau Berger hat ...",
    "Sehr geehrte Kundin,",
    "Dear customer,\n\nLena Berger asked",
    "Hallo,\nwir melden uns.",
    "Vielen Dank für Ihre Nachricht, Frau Berger.",  # no greeting line
    "> Hallo Lena\nSehr geehrte Damen und Herren,",  # quoted text is skipped
    "Hi Lenaria,",
    "",
])
def test_personal_salutation_negative(text: str) -> None:
    assert personal_salutation(text, LENA) is False


def test_salutation_umlaut_tolerant() -> None:
    assert personal_salutation("Sehr geehrter Herr Mueller,", JOSE) is True
    assert personal_salutation("Hallo Jose,", JOSE) is True


def test_generic_reply_in_outcomes(data) -> None:
    study, store = data
    p = add_probe(store, "bolt")
    add_message(store, p, "human", at(3), text=GENERIC_DE)
    row = one(probe_outcomes(study, store, LATER), p)
    assert row["personal_salutation"] is False
    assert row["checklist_found"] == ["period"]
    assert row["checklist_coverage"] == pytest.approx(1 / 3)


# -- tables and rank ---------------------------------------------------------------------
def test_rank_ties_share_a_rank(data) -> None:
    study, store = data
    for company in ("acme", "bolt"):  # identical results: tie
        p = add_probe(store, company)
        add_message(store, p, "human", at(4), text="Hallo Lena, 30 Tage.")
    p = add_probe(store, "cora")
    add_message(store, p, "human", at(4), text="Hallo Lena.")  # same speed, less coverage
    table = company_table(probe_outcomes(study, store, LATER))
    overall = table[table["channel"] == "all"].set_index("company_id")
    assert overall.loc["acme", "rank"] == 1 and overall.loc["bolt", "rank"] == 1
    assert overall.loc["cora", "rank"] == 3
    assert overall.loc["acme", "index"] > overall.loc["cora", "index"]
    assert list(table["channel"][:3]) == ["all"] * 3


def test_complete_slow_answers_beat_fast_empty_ones(data) -> None:
    """The old rule ranked by reply rate then median: a canned answer covering nothing beat
    a slow complete one. The index weighs quality, so the complete answer wins."""
    study, store = data
    for _ in range(3):
        p = add_probe(store, "acme")  # slow (50 h) but complete and personal
        add_message(store, p, "human", at(50), text=HUMAN_DE)
        q = add_probe(store, "bolt")  # fast (30 min), generic, covers nothing
        add_message(store, q, "human", at(0.5), text="Bitte sehen Sie in unser Hilfe-Center.")
    overall = company_table(probe_outcomes(study, store, LATER)).query("channel == 'all'")
    overall = overall.set_index("company_id")
    assert overall.loc["acme", "rank"] == 1 and overall.loc["bolt", "rank"] == 2
    assert overall.loc["acme", "grade"] is not None

def test_channel_table_compares_channels(tmp_path) -> None:
    study, store = make_study(tmp_path / "s")
    p = add_probe(store, "acme", channel="email")
    add_message(store, p, "human", at(1), text="Hallo Lena")
    add_probe(store, "acme", channel="webform")
    q = add_probe(store, "bolt", channel="phone")
    add_message(store, q, "human", T0, text="Telefonat", channel="phone")
    out = probe_outcomes(study, store, LATER)
    ch = channel_table(out).set_index("channel")
    assert list(ch.index) == ["email", "phone", "webform"]
    assert ch.loc["email", "answered_share"] == 1.0
    assert ch.loc["webform", "answered_share"] == 0.0
    assert ch.loc["webform", "km_median_hours"] is None
    assert ch.loc["phone", "km_median_hours"] == 0.0
    per = company_table(out)
    assert set(per[per.company_id == "acme"]["channel"]) == {"all", "email", "webform"}
    store.close()


def test_salutation_after_social_mentions() -> None:
    from servicebench.metrics import personal_salutation
    from servicebench.study import Persona

    lena = Persona(id="l", name="Lena Berger", email="l@x.example")
    assert personal_salutation("@lena@social.example @shop Hallo Lena, gern!", lena)
    assert not personal_salutation("@lena @shop Hallo zusammen, gern!", lena)
