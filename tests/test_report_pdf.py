"""The PDF renderer set up for long reports (issue 12): the lean user-agent stylesheet lays
out exactly what the stock one does, and the relaxed collector is undone afterwards."""

from __future__ import annotations

import gc

from weasyprint import HTML

from servicebench.gc_tuning import relaxed_gc
from servicebench.report import SafeURLFetcher
from servicebench.report_pdf import ReportHTML, _lean_ua

PAGE = """<!DOCTYPE html><html lang="de"><head><style>
@page { size: A4; margin: 15mm; @bottom-right { content: counter(page) " / " counter(pages) } }
table { border-collapse: collapse; } td, th { padding: 1mm; border-bottom: 0.4pt solid #ccc }
</style></head><body><h1>Bericht</h1>
<ol><li>Erstens, mit einem langen Satz, der umbricht, damit die Marke vorne steht.</li>
<li>Zweitens</li></ol><ul><li>Punkt</li></ul>
<ol style="list-style-type: lower-alpha; text-transform: uppercase"><li>klein</li></ol>
<table><thead><tr><th>Rang</th><th>Unternehmen</th></tr></thead>
<tbody><tr><td>1</td><td>Anbieter A</td></tr><tr><td>2</td><td>Anbieter B</td></tr></tbody>
</table>%s</body></html>"""
FOOTNOTE = ('<p>Text<span style="float: footnote">Die Fußnote.</span> weiter.</p>')


def _layout(doc) -> list[tuple]:  # noqa: ANN001
    def walk(box):  # noqa: ANN001, ANN202
        yield box
        for child in getattr(box, "children", []) or []:
            yield from walk(child)

    return [(type(b).__name__, round(b.position_x, 2), round(b.position_y, 2),
             round(b.width or 0, 2), round(b.height or 0, 2), getattr(b, "text", None))
            for page in doc.pages for b in walk(page._page_box)]


def test_lean_stylesheet_matches_the_installed_weasyprint() -> None:
    # None would mean WeasyPrint changed its stylesheet: the report falls back to the stock
    # one (correct, but ~30 % more memory at 500 companies) - look at report_pdf then
    assert _lean_ua() is not None


def test_lean_stylesheet_lays_out_the_same_boxes_with_list_markers() -> None:
    html = PAGE % ""
    stock = HTML(string=html, url_fetcher=SafeURLFetcher()).render()
    lean = ReportHTML(string=html, url_fetcher=SafeURLFetcher()).render()
    assert _layout(lean) == _layout(stock)
    texts = [t for *_, t in _layout(lean) if t]
    # the list markers, styled by the marker rule (no text-transform: "a.", not "A.")
    assert "1. " in texts and "2. " in texts and "• " in texts and "a. " in texts


def test_footnotes_keep_the_stock_stylesheet() -> None:
    html = PAGE % FOOTNOTE
    doc = ReportHTML(string=html, url_fetcher=SafeURLFetcher())
    assert doc._ua_stylesheets() == HTML(string=html)._ua_stylesheets()
    assert _layout(doc.render()) == _layout(
        HTML(string=html, url_fetcher=SafeURLFetcher()).render())
    assert ReportHTML(string=PAGE % "")._ua_stylesheets() != HTML(
        string=PAGE % "")._ua_stylesheets()


def test_relaxed_gc_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    with relaxed_gc(60_000):
        assert gc.get_threshold()[0] == max(60_000, before[0])
    assert gc.get_threshold() == before
