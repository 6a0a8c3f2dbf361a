"""Issue 9: outcomes per channel kind, shares with intervals, the index, cut-off reports."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest_data import (
    HUMAN_DE,
    T0,
    add_message,
    add_probe,
    assert_invariants,
    at,
    make_study,
    populate,
)

import servicebench
from servicebench.cli import cli
from servicebench.errors import StudyError
from servicebench.intervals import km_median_ci, survival, wilson
from servicebench.metrics import channel_table, company_table, probe_outcomes
from servicebench.probes.manual import log_contact
from servicebench.report import render_html
from servicebench.report_figures import findings
from servicebench.scoring import Scoring, comparison, scoring_config
from servicebench.study import load_study

LATER = at(30 * 24)

# a company tested on email, phone and web form; another on email only (one channel)
EXTRA = """\
  - id: dora
    name: Dora Direkt
    channels:
      email: service@dora.example.de
      phone: "+49 30 1234567"
      webform: https://dora.example.de/kontakt
"""


def records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


@pytest.fixture()
def mixed(tmp_path):
    """Every outcome: answered, not answered, pending (open window), failed, blocked form,
    bounced, a phone call that reached nobody and one that reached a person."""
    study, store = make_study(tmp_path / "study", extra=EXTRA)
    ids = populate(store)
    p = add_probe(store, "acme", sent_at=at(24 * 6))  # window open until day 13
    ids["open"] = [p]
    b = add_probe(store, "bolt")
    add_message(store, b, "bounce", at(0.01), text="Mail delivery failed")
    ids["bounce"] = [b]
    ids["dora"] = []
    for _ in range(3):
        q = add_probe(store, "dora")
        add_message(store, q, "human", at(3), text=HUMAN_DE)
        ids["dora"].append(q)
    ids["blocked"] = [add_probe(store, "dora", channel="webform", state="blocked",
                                sent_at=None)]
    gave_up = add_probe(store, "dora", channel="phone", state="planned", sent_at=None)
    log_contact(study, store, gave_up, started_at=at(2), outcome="gave_up",
                gave_up_after_minutes=20, now=at(3))
    answered = add_probe(store, "dora", channel="phone", state="planned", sent_at=None)
    log_contact(study, store, answered, started_at=at(4), person_at=at(4.1),
                outcome="answered", checklist=["period"], now=at(5))
    ids["phone"] = [gave_up, answered]
    yield study, store, ids
    store.close()


def outcome(df: pd.DataFrame, pid: int) -> str:
    return df.set_index("probe_id").loc[pid, "outcome"]


def test_every_probe_has_exactly_one_outcome(mixed) -> None:
    study, store, ids = mixed
    out = probe_outcomes(study, store, at(24 * 8))  # day 8: most windows closed
    assert set(out["outcome"]) <= {"answered", "not_answered", "pending", "failed",
                                   "blocked", "bounced"}
    assert outcome(out, ids["acme"][0]) == "answered"
    assert outcome(out, ids["cora"][0]) == "not_answered"  # auto-reply only, window closed
    assert outcome(out, ids["bolt"][1]) == "failed"
    assert outcome(out, ids["blocked"][0]) == "blocked"
    assert outcome(out, ids["bounce"][0]) == "bounced"
    assert outcome(out, ids["open"][0]) == "pending"
    assert outcome(out, ids["phone"][0]) == "not_answered"  # gave up: never pending
    assert outcome(out, ids["phone"][1]) == "answered"


def test_phone_gave_up_is_not_answered_even_before_the_cap_ends(mixed) -> None:
    study, store, ids = mixed
    # cut-off 10 minutes into the 60-minute cap of the call that reached nobody
    out = probe_outcomes(study, store, at(2) + timedelta(minutes=10))
    assert outcome(out, ids["phone"][0]) == "not_answered"
    # before the call started it was still to come: pending, not unanswered
    out = probe_outcomes(study, store, at(1))
    assert outcome(out, ids["phone"][0]) == "pending"


def test_greeting_does_not_apply_to_phone_calls(mixed) -> None:
    study, store, ids = mixed
    out = probe_outcomes(study, store, LATER).set_index("probe_id")
    phone = out.loc[ids["phone"][1]]
    assert phone["personal_salutation"] is None and not phone["greeting_applies"]
    table = company_table(out.reset_index())
    row = table.query("company_id == 'dora' and channel == 'phone'").iloc[0]
    assert row["tone_score"] is None  # not applicable, not "no"
    assert row["personal_salutation_rate"] is None
    assert row["quality_score"] == pytest.approx(100 / 3 / 2, abs=0.01)  # 1 of 3 facts, 1 of 2


@pytest.mark.parametrize("cut", [at(1), at(24), at(24 * 6.5), at(24 * 8), LATER])
def test_invariants_on_hand_made_store(mixed, cut) -> None:
    study, store, _ = mixed
    out = probe_outcomes(study, store, cut)
    cfg = scoring_config(study)
    assert_invariants(records(company_table(out, cfg)))
    channels = channel_table(out, cfg)
    assert_invariants(records(channels), companies=False)
    assert channels["n_probes"].sum() == len(out)


def test_pending_is_never_counted_as_unanswered(tmp_path) -> None:
    study, store = make_study(tmp_path / "s")
    for _ in range(3):
        add_probe(store, "acme")
    p = add_probe(store, "bolt")
    add_message(store, p, "human", at(1), text="Hallo Lena")
    table = company_table(probe_outcomes(study, store, at(48))).set_index(
        ["company_id", "channel"])
    acme = table.loc[("acme", "all")]
    assert (acme["n_pending"], acme["n_not_answered"]) == (3, 0)
    assert acme["answered_share"] is None and pd.isna(acme["rank"])  # not ranked as zero
    assert table.loc[("bolt", "all"), "rank"] == 1
    store.close()


def test_pooled_channels_never_show_more_within_24h_than_answered(mixed) -> None:
    """The issue's example: a phone call censored after minutes pooled with emails made
    'within 24 h' exceed the share answered at all."""
    study, store, _ = mixed
    row = company_table(probe_outcomes(study, store, LATER)).query(
        "company_id == 'dora' and channel == 'all'").iloc[0]
    assert row["within_24h"] <= row["answered_share"]
    assert row["n_answered"] == 4 and row["n_not_answered"] == 1 and row["n_blocked"] == 1


def test_one_channel_company_is_ranked_on_its_channel_with_renormalised_weights(mixed) -> None:
    study, store, _ = mixed
    cfg = Scoring(channel_weights={"phone": 50, "webform": 30, "email": 20})
    table = company_table(probe_outcomes(study, store, LATER), cfg)
    acme = table.query("company_id == 'acme'").set_index("channel")
    assert acme.loc["all", "index"] == acme.loc["email", "index"]
    assert acme.loc["all", "weights_renormalised"] is True
    assert acme.loc["all", "channels_tested"] == "email"
    dora = table.query("company_id == 'dora'").set_index("channel")
    expected = (50 * dora.loc["phone", "index"] + 20 * dora.loc["email", "index"]) / 70
    assert dora.loc["all", "index"] == pytest.approx(expected, abs=1e-3)  # webform: blocked
    html = render_html(study, store, now=LATER)
    html = html.replace("\u00ad", "")
    assert "Acme GmbH wurde nur über E-Mail getestet" in html  # methods section
    assert "Kanalgewichte auf die getesteten umgerechnet: Dora Direkt (E-Mail, " \
        "Telefon-Hotline); Acme GmbH (E-Mail)" in html  # dora's web form was blocked


def test_wilson_and_km_come_with_intervals() -> None:
    low, high = wilson(1, 1)
    assert low == pytest.approx(0.2065, abs=1e-4) and high == 1.0
    assert wilson(0, 0) == (None, None)
    curve = survival([1, 2, 3, 4, 5, 6], [True, True, False, True, False, False])
    assert curve.steps[:4] == [(0.0, 1.0), (1.0, pytest.approx(5 / 6)),
                               (2.0, pytest.approx(2 / 3)), (4.0, pytest.approx(4 / 9))]
    assert all(lo <= s <= hi for lo, s, hi in zip(curve.lower, curve.survival, curve.upper,
                                                 strict=True))
    assert curve.lower[1] < curve.survival[1] < curve.upper[1]
    assert curve.small_sample is False and curve.n == 6
    assert km_median_ci([1, 2, 3, 4, 5, 6], [True, True, False, True, False, False])[0] == 1.0
    assert km_median_ci([1, 2], [False, False]) == (None, None)


def test_bootstrap_is_seeded_and_ranks_have_ranges(tmp_path) -> None:
    study, store = make_study(tmp_path / "s")
    delays = {"acme": [0.5, 2, 30, 80, 5, 100, 3, 20], "bolt": [1, 3, 40, 0.2, 90, 10, 6, 50],
              "cora": [150, 2, 160, 100, 1, 70, 30, 12]}
    for cid, hours in delays.items():
        for i, h in enumerate(hours):
            p = add_probe(store, cid)
            if (i + len(cid)) % 3:
                add_message(store, p, "human", at(h), text=HUMAN_DE if i % 2 else "Hallo Lena")
    out = probe_outcomes(study, store, LATER)
    a = company_table(out, Scoring(samples=500))
    b = company_table(out, Scoring(samples=500))
    pd.testing.assert_frame_equal(a, b)
    c = company_table(out, Scoring(samples=500, seed=7))
    assert not (a["index_ci_low"].equals(c["index_ci_low"])
                and a["index_ci_high"].equals(c["index_ci_high"]))
    overall = a.query("channel == 'all'").set_index("company_id")
    assert (overall["rank_best"] <= overall["rank"]).all()
    assert (overall["rank"] <= overall["rank_worst"]).all()
    assert (overall["rank_worst"] > overall["rank_best"]).any()  # "rank 1-2"
    store.close()


def test_sentences_never_call_overlapping_companies_better() -> None:
    t = {"finding_tied": "{top} ~ {others}", "finding_leader": "{top} leads",
         "finding_behind": "{others} behind {top}", "finding_partial_list": "{companies}"}
    rows = [{"company": "A", "rank": 1, "index": 80, "index_ci_low": 60, "index_ci_high": 90},
            {"company": "B", "rank": 2, "index": 70, "index_ci_low": 55, "index_ci_high": 85},
            {"company": "C", "rank": 3, "index": 20, "index_ci_low": 10, "index_ci_high": 30}]
    assert comparison(rows[0], rows[1]) == "indistinguishable"
    assert comparison(rows[0], rows[2]) == "better"
    assert comparison(rows[2], rows[0]) == "worse"
    assert findings(rows, t) == ["A ~ B", "C behind A"]
    assert findings(rows[::2], t) == ["A leads"]


def test_scoring_section_is_validated_and_used(tmp_path) -> None:
    extra = """\
scoring:
  channels: {email: 20, phone: 50}
  criteria: {reachability: 50, speed: 50}
  speed: {half_life: 12h}
  grades: [{min: 50, de: bestanden, en: passed}, {min: 0, label: durchgefallen}]
  bootstrap: {samples: 200, seed: 3}
"""
    study, store = make_study(tmp_path / "ok", extra=extra)
    cfg = scoring_config(study)
    assert cfg.explicit and cfg.channel_weight("webform") == 0
    assert cfg.speed(12 * 3600) == pytest.approx(0.5)
    assert cfg.grade(60, "de") == "bestanden" and cfg.grade(10, "en") == "durchgefallen"
    assert (cfg.samples, cfg.seed) == (200, 3)
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(12), text="Hallo")
    row = company_table(probe_outcomes(study, store, LATER), cfg).iloc[0]
    assert row["index"] == pytest.approx(75.0)  # (50*1 + 50*0.5) / 100, quality/tone 0 weight
    store.close()
    defaults = scoring_config(make_study(tmp_path / "d")[0])
    assert not defaults.explicit and defaults.channel_weight("email") == 1
    assert defaults.grade(90, "de") == "sehr gut" and defaults.grade(10, "en") == "poor"
    for bad in ("scoring:\n  channels: {email: -1}\n", "scoring:\n  criteria: {speedy: 1}\n",
                "scoring:\n  grades: [{min: 50}]\n", "scoring:\n  speed: {bands: []}\n"):
        folder = tmp_path / f"bad{abs(hash(bad))}"
        make_study(folder, extra="")
        text = (folder / "study.yaml").read_text() + bad
        (folder / "study.yaml").write_text(text)
        with pytest.raises(StudyError, match="scoring"):
            load_study(folder, environ={})


def test_report_as_of_shows_banner_while_windows_are_open(mixed, tmp_path) -> None:
    study, store, _ = mixed
    folder = study.folder
    runner = CliRunner()
    mid = runner.invoke(cli, ["report", str(folder), "--format", "html", "--out",
                              str(tmp_path / "mid.html"), "--as-of", "2026-03-05T12:00"])
    assert mid.exit_code == 0, mid.output
    html = (tmp_path / "mid.html").read_text()
    assert 'class="preliminary"' in html and "Vorläufig." in html
    assert "Anfragen waren zum Stichtag noch offen" in html
    assert "05.03.2026\u00a012:00" in html  # the cut-off (study time zone), never wrapped
    end = runner.invoke(cli, ["report", str(folder), "--format", "html", "--out",
                              str(tmp_path / "end.html"), "--as-of", "2026-04-30T00:00Z"])
    assert end.exit_code == 0, end.output
    assert 'class="preliminary"' not in (tmp_path / "end.html").read_text()
    bad = runner.invoke(cli, ["export", str(folder), "--as-of", "yesterday"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    exp = runner.invoke(cli, ["export", str(folder), "--out", str(tmp_path / "e"),
                              "--as-of", "2026-03-05T12:00"])
    assert exp.exit_code == 0, exp.output
    companies = pd.read_csv(tmp_path / "e" / "companies.csv")
    assert companies.query("channel == 'all'")["n_pending"].sum() > 0


def test_stored_cut_off_is_the_default(mixed, tmp_path) -> None:
    study, store, _ = mixed
    store.set_meta("as_of", "2026-03-05T12:00:00.000+00:00", T0)
    handle = servicebench.open_study(study.folder)
    assert handle.as_of() == at(3 * 24 + 4)
    pending = handle.companies().query("channel == 'all'")["n_pending"].sum()
    assert pending == handle.companies(as_of=at(3 * 24 + 4)).query(
        "channel == 'all'")["n_pending"].sum() > 0
    assert handle.companies(as_of=LATER).query("channel == 'all'")["n_pending"].sum() == 0


def test_survival_curve_for_charts_has_bands_and_small_sample_flag(mixed) -> None:
    from servicebench.metrics import survival_curve

    study, store, _ = mixed
    out = probe_outcomes(study, store, LATER)
    curve = survival_curve(out[out["company_id"] == "dora"])
    assert len(curve.times) == len(curve.survival) == len(curve.lower) == len(curve.upper)
    assert curve.n == 5 and curve.small_sample is False  # 5 measured: 3 emails + 2 calls
    assert survival_curve(out[out["company_id"] == "cora"]).small_sample is True
    html = render_html(study, store, now=LATER)
    assert 'class="band"' in html and "(n&lt;5)" in html


def test_one_or_two_probes_are_not_ranked_as_if_precise(tmp_path) -> None:
    """1/1 and 2/2 perfect answers: the bootstrap alone would give a zero-width interval."""
    study, store = make_study(tmp_path / "s")
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(0.5), text=HUMAN_DE)
    for _ in range(2):
        q = add_probe(store, "bolt")
        add_message(store, q, "human", at(30), text="Hallo Lena")
    table = company_table(probe_outcomes(study, store, LATER)).query("channel == 'all'")
    acme, bolt = (table.set_index("company_id").loc[c] for c in ("acme", "bolt"))
    assert acme["index"] == 100.0 and acme["index_ci_low"] < 50  # Wilson for n = 1
    assert acme["small_sample"] and bolt["small_sample"]
    assert comparison(acme.to_dict(), bolt.to_dict()) == "indistinguishable"
    assert (acme["rank"], acme["rank_best"], acme["rank_worst"]) == (1, 1, 2)
    assert (bolt["rank"], bolt["rank_best"], bolt["rank_worst"]) == (2, 1, 2)
    store.close()


def test_human_quality_ratings_replace_checklist_coverage(mixed) -> None:
    from servicebench.scoring import with_human_quality

    study, store, ids = mixed
    out = with_human_quality(probe_outcomes(study, store, LATER), study, store, LATER)
    assert out["quality_rating"].isna().all()  # nobody rated yet: checklist coverage counts
    before = company_table(out).query("company_id == 'dora' and channel == 'email'").iloc[0]
    rated = out.copy()
    rated.loc[rated["probe_id"].isin(ids["dora"]), "quality_rating"] = 0.25
    after = company_table(rated).query("company_id == 'dora' and channel == 'email'").iloc[0]
    assert before["quality_score"] == 100.0 and after["quality_score"] == 25.0
    assert after["index"] < before["index"]
