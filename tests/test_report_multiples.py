"""Small multiples above twelve companies (issue 12): per kind of channel one tiny panel for
each of the six highest and six lowest ranked companies, against the pooled curve."""

from __future__ import annotations

import re

import pytest
from conftest_data import HUMAN_DE, add_message, add_probe, at, make_study
from test_report_publication import CODE_IDENTIFIER, visible_text

from servicebench.i18n import TEXTS
from servicebench.report import ReportOptions, render_html

NOW = at(10 * 24)
N_EXTRA = 13  # 3 companies of the template + 13 = 16 companies


def _extra(n: int) -> str:
    return "".join(f"  - id: c{i:02d}\n    name: Firma {i:02d} GmbH\n"
                   f"    channels: {{email: info@c{i:02d}.example.de}}\n" for i in range(n))


@pytest.fixture()
def many(tmp_path):
    study, store = make_study(tmp_path / "s", language="de", extra=_extra(N_EXTRA))
    # c00 answers fastest, c12 slowest; acme, bolt, cora never answer
    for i in range(N_EXTRA):
        for k in range(2):
            p = add_probe(store, f"c{i:02d}", sent_at=at(k))
            add_message(store, p, "human", at(k + 1 + 9 * i), text=HUMAN_DE,
                        sender=f"info@c{i:02d}.example.de")
    for cid in ("acme", "bolt", "cora"):
        add_probe(store, cid)
    store.db.commit()
    yield study, store
    store.close()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_small_multiples_show_best_and_worst_six(many, lang) -> None:
    s, store = many
    html = render_html(s, store, now=NOW, options=ReportOptions(language=lang))
    panels = re.findall(r'<svg[^>]*class="chart small".*?<title>([^<]*)</title>', html, re.S)
    assert len(panels) == 12, panels
    names = [re.sub(r"^\d+\. ", "", htmlunescape(p)) for p in panels]
    assert names[:6] == [f"Firma {i:02d} GmbH" for i in range(6)]
    assert "Firma 06 GmbH" not in names  # in the middle of the ranking: not drawn
    assert {"Acme GmbH", "Bolt AG", "Cora & Söhne KG"} <= set(names[6:])
    assert re.match(r"1\. ", panels[0])  # the ranking place before the name
    t = TEXTS[lang]
    text = visible_text(html)
    assert t["survival_multiples"].format(n=6) in " ".join(text.split()) or \
        " ".join(t["survival_multiples"].format(n=6).split()) in " ".join(text.split())
    assert t["survival_multiples_title"] in text
    assert not CODE_IDENTIFIER.search(text), CODE_IDENTIFIER.search(text).group(0)


def test_twelve_or_fewer_companies_get_no_small_multiples(tmp_path) -> None:
    s, store = make_study(tmp_path / "s", language="en", extra=_extra(9))
    for i in range(9):
        add_probe(store, f"c{i:02d}")
    store.db.commit()
    html = render_html(s, store, now=NOW, options=ReportOptions(language="en"))
    assert 'class="chart small"' not in html
    assert TEXTS["en"]["survival_multiples_title"] not in html
    store.close()


def htmlunescape(text: str) -> str:
    import html as htmllib

    return htmllib.unescape(text)
