"""Figures per wave in the report (issue 14): answered share and index per company and wave,
the change between the first and the last wave, in both languages; nothing with one wave."""

from __future__ import annotations

import re

import pytest
from conftest_data import HUMAN_DE, add_message, add_probe, at, make_study, populate
from test_report_publication import CODE_IDENTIFIER, visible_text

from servicebench.i18n import TEXTS
from servicebench.report import ReportOptions, render_html
from servicebench.report_waves import wave_figures

NOW = at(20 * 24)


@pytest.fixture()
def two_waves(tmp_path):
    study, store = make_study(tmp_path / "s", language="de")
    populate(store)  # wave 1: acme 2/2 answered, bolt 1/1, cora 0/1 (auto-reply only)
    w2 = at(8 * 24)
    p = add_probe(store, "acme", sent_at=w2, wave=2)
    add_message(store, p, "human", at(8 * 24 + 30), text=HUMAN_DE)
    p = add_probe(store, "bolt", sent_at=w2, wave=2)
    add_message(store, p, "human", at(8 * 24 + 3), text=HUMAN_DE,
                sender="kontakt@bolt.example.de")
    add_probe(store, "cora", sent_at=w2, wave=2)  # no answer
    store.db.commit()
    yield study, store
    store.close()


def _section(html: str) -> str:
    m = re.search(r'(?s)<section id="waves".*?</section>', html)
    assert m, "no section figures per wave"
    return visible_text(m.group(0))


@pytest.mark.parametrize("lang", ["de", "en"])
def test_two_waves_give_a_section_with_figures_and_change(two_waves, lang) -> None:
    s, store = two_waves
    html = render_html(s, store, now=NOW, options=ReportOptions(language=lang))
    t = TEXTS[lang]
    text = _section(html)
    assert t["waves"] in text and t["waves_change"] in text
    assert t["wave_label"].format(n=1) in text and t["wave_label"].format(n=2) in text
    assert 'href="#waves"' in html  # listed in the contents
    flat = " ".join(text.split())
    pct = " %" if lang == "de" else "%"  # the narrow space counts as whitespace for split
    # all companies: 3 of 4 answered in wave 1, 2 of 3 in wave 2 -> -8 percentage points
    assert re.search(rf"{t['waves_all']} 75{pct} 67{pct} −8", flat), flat
    assert re.search(rf"Cora & Söhne KG 0{pct} 0{pct} ±0", flat), flat
    whole = visible_text(html)
    assert not CODE_IDENTIFIER.search(whole), CODE_IDENTIFIER.search(whole).group(0)
    assert not re.search(r"\{[a-z_]+\}", whole)
    if lang == "de":
        assert "Wave" not in text and "Change" not in text
    else:
        assert "Welle" not in text


def test_wave_figures_follow_the_company_table(two_waves) -> None:
    from servicebench import metrics
    from servicebench.report_context import _tables

    s, store = two_waves
    outcomes = metrics.probe_outcomes(s, store, NOW)
    _, _, cfg, scored = _tables(s, store, NOW, outcomes, "en")
    overall = [{"company_id": c, "company": c} for c in ("acme", "bolt", "cora")]
    fig = wave_figures(scored, cfg, overall, TEXTS["en"], "en")
    assert fig is not None and fig["labels"] == ["Wave 1", "Wave 2"]
    rows = {r["label"]: r for r in fig["rows"]}
    for cid in ("acme", "bolt", "cora"):
        for w, value in zip((1, 2), (v for v in rows[cid]["index_values"]), strict=True):
            sub = scored[scored["wave"] == w].reset_index(drop=True)
            table = metrics.company_table(sub, cfg, "en")
            expect = table[(table["company_id"] == cid) & (table["channel"] == "all")]["index"]
            assert value == pytest.approx(float(expect.iloc[0]))
    assert rows["cora"]["share_values"] == [0.0, 0.0]
    assert rows["acme"]["share_values"] == [1.0, 1.0]


def test_one_wave_changes_nothing(tmp_path) -> None:
    s, store = make_study(tmp_path / "s", language="en")
    populate(store)
    html = render_html(s, store, now=NOW, options=ReportOptions(language="en"))
    assert 'id="waves"' not in html and "#waves" not in html
    # a second wave that has nothing sent yet does not count either
    add_probe(store, "acme", state="planned", sent_at=None, wave=2)
    store.db.commit()
    html = render_html(s, store, now=NOW, options=ReportOptions(language="en"))
    assert 'id="waves"' not in html
    store.close()
