"""The Python API: ``servicebench.open_study`` and its DataFrames."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest_data import at, make_study, populate

import servicebench
from servicebench.errors import StudyError

NOW = at(10 * 24)


@pytest.fixture()
def study(tmp_path):
    _config, store = make_study(tmp_path / "study")
    populate(store)
    store.close()
    return servicebench.open_study(tmp_path / "study")


def test_tables_have_aware_utc_times_and_local_twins(study) -> None:
    probes = study.probes(as_of=NOW)
    assert len(probes) > 0
    assert str(probes["sent_at"].dt.tz) == "UTC"
    assert str(probes["sent_at_local"].dt.tz) == "Europe/Berlin"
    sent = probes.dropna(subset=["sent_at"])
    assert (sent["sent_at"] == sent["sent_at_local"]).all()  # same instant, other zone
    messages = study.messages()
    assert {"received_at", "received_at_local", "kind", "evidence"} <= set(messages.columns)
    assert str(messages["received_at_local"].dt.tz) == "Europe/Berlin"


def test_companies_and_channels_match_the_export(study, tmp_path) -> None:
    companies = study.companies(as_of=NOW)
    channels = study.channels(as_of=NOW)
    assert set(companies["channel"]) >= set(channels["channel"])
    files = study.export(format="csv", out=tmp_path / "out", as_of=NOW)
    exported = pd.read_csv(files[1])
    assert list(exported["company"]) == list(companies["company"])
    html = study.report(format="html", out=tmp_path / "r.html", as_of=NOW)
    assert "<html" in html.read_text(encoding="utf-8").lower()


def test_open_study_names_the_problem(tmp_path) -> None:
    (tmp_path / "study.yaml").write_text("study: {id: x}\n", encoding="utf-8")
    with pytest.raises(StudyError):
        servicebench.open_study(tmp_path)
    with pytest.raises(AttributeError):
        servicebench.no_such_name  # noqa: B018


def test_api_tables_carry_the_index_and_default_to_the_stored_cut_off(study) -> None:
    companies = study.companies(as_of=NOW)
    overall = companies[companies["channel"] == "all"]
    assert {"index", "index_ci_low", "index_ci_high", "grade", "rank", "rank_best",
            "rank_worst", "small_sample"} <= set(companies.columns)
    assert overall["grade"].isin(["sehr gut", "gut", "befriedigend", "ausreichend",
                                  "mangelhaft"]).all()  # the study is German
    from servicebench.store import Store

    store = Store(study.folder)
    store.set_meta("as_of", "2026-03-02T09:00:00.000+00:00", NOW)  # one hour after T0
    store.close()
    assert study.as_of() == at(1)
    assert study.companies().query("channel == 'all'")["n_pending"].sum() > 0
