"""The German ranking table with six channels (issue 12): no two header texts touch and no
cell's text runs into the next column, in the PDF layout."""

from __future__ import annotations

import pytest
from conftest_data import add_message, add_probe, at
from test_report_publication import study  # noqa: F401  (fixture)
from weasyprint import HTML

from servicebench.report import ReportOptions, SafeURLFetcher, render_html

MM = 96 / 25.4  # CSS px per mm
GAP = 0.8 * MM


def _boxes(box):  # noqa: ANN001, ANN202
    yield box
    for child in getattr(box, "children", []) or []:
        yield from _boxes(child)


def _cell_text_extents(cell) -> tuple[float, float] | None:  # noqa: ANN001
    xs = [(b.position_x, b.position_x + b.width) for b in _boxes(cell)
          if type(b).__name__ == "TextBox" and b.text.strip()]
    return (min(x for x, _ in xs), max(x for _, x in xs)) if xs else None


def _ranking_rows(doc):  # noqa: ANN001, ANN202
    for page in doc.pages:
        for b in _boxes(page._page_box):
            if b.element_tag == "table" and "ranking" in (b.element.get("class") or ""):
                for row in _boxes(b):
                    if row.element_tag == "tr" and type(row).__name__ == "TableRowBox":
                        yield [c for c in row.children if c.element_tag in ("th", "td")]
                return


@pytest.mark.parametrize("lang", ["de", "en"])
def test_ranking_headers_and_cells_keep_apart_with_six_channels(study, lang) -> None:  # noqa: F811
    s, store = study
    for channel in ("bluesky", "x"):  # dora: email, webform, phone, mastodon + these two
        p = add_probe(store, "dora", channel=channel, time_source="api-created_at")
        add_message(store, p, "human", at(3), channel=channel, text="Hallo, 30 Tage.")
    store.db.commit()
    html = render_html(s, store, now=at(240), options=ReportOptions(language=lang), fmt="pdf")
    assert html.count('<th class="num sub">') == 6
    doc = HTML(string=html, url_fetcher=SafeURLFetcher()).render()
    rows = list(_ranking_rows(doc))
    assert len(rows) >= 5  # header + 4 companies
    for row in rows:
        for left, right in zip(row, row[1:], strict=False):
            a, b = _cell_text_extents(left), _cell_text_extents(right)
            if a is None or b is None:
                continue
            assert a[1] + GAP <= b[0], (lang, left.element_tag, [
                t.text for t in _boxes(left) if type(t).__name__ == "TextBox"],
                [t.text for t in _boxes(right) if type(t).__name__ == "TextBox"])
        for cell in row:  # nothing sticks out of its own cell
            ext = _cell_text_extents(cell)
            if ext is not None:
                assert ext[1] <= cell.position_x + cell.margin_width() + 0.5
