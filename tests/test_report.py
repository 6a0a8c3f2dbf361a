from __future__ import annotations

import re

import pytest
from conftest_data import add_message, add_probe, at, make_study, populate

from servicebench import report
from servicebench.errors import ServicebenchError
from servicebench.i18n import format_duration, format_percent
from servicebench.report import SafeURLFetcher, excerpt, render_report

NOW = at(10 * 24)
HOSTILE = ('Sehr geehrte Frau Berger,\n<img src="file:///etc/passwd">\n'
           '<link rel="stylesheet" href="http://evil.example/x.css">\n'
           '<script>alert("x")</script>\n<a href="https://evil.example/">klick</a>\n'
           '<style>@import url("http://evil.example/i.css");</style>\n'
           "Ihre Rückerstattung ist unterwegs.")


@pytest.fixture()
def de(tmp_path):
    study, store = make_study(tmp_path / "de", language="de")
    populate(store)
    yield study, store
    store.close()


def test_html_has_ranking_sections_and_is_german(de, tmp_path) -> None:
    study, store = de
    path = render_report(study, store, "html", tmp_path / "out" / "report.html", now=NOW)
    html = path.read_text(encoding="utf-8")
    assert '<html lang="de">' in html
    html = html.replace("\u00a0", " ")
    for text in ("Rangliste", "Die wichtigsten Ergebnisse", "Unternehmensprofile", "Methodik",
                 "Beispiel Verband e.V.", "Antwortfenster", "nicht erreicht"):
        assert text in html
    ranking = html[html.index('id="ranking"'):html.index('id="charts"')]
    assert ranking.index("Acme GmbH") < ranking.index("Bolt AG") < ranking.index("Cora &amp;")
    for n in (1, 2, 3):
        assert f'id="company-{n}"' in html
    assert "2 h 30 min" in html and "2 Tage 2 h" in html  # human-readable durations
    assert "02.03.2026 09:00:00" in html  # 08:00 UTC shown in Europe/Berlin
    assert "<svg" in html and "Kaplan-Meier" in html
    assert "Sehr geehrte Frau Berger," in html  # excerpt of the first human reply
    assert "evidence/messages/" in html  # evidence listed (and linked) in the cards
    assert "Zeitpunkt der Annahme durch den Mailserver" in html  # time source for readers
    assert "smtp-250-timestamp" not in html


def test_html_is_english_and_quotes_the_rules(tmp_path) -> None:
    study, store = make_study(tmp_path / "en", language="en")
    populate(store)
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text()
    assert '<html lang="en">' in html
    html = html.replace("\u00a0", " ")
    for text in ("Ranking", "Methods", "Company profiles", "not reached", "2 days 2 h"):
        assert text in html
    assert "Rangliste" not in html
    assert "Ranking: companies are ordered by their index" in html  # written for readers
    assert "window_ends_at" not in html and "sent_at" not in html
    assert "Overall index and grades" in html and "very good" in html  # methods: bands
    store.close()


def test_html_references_no_external_resource(de, tmp_path) -> None:
    study, store = de
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text()
    # resources: none but data: URIs; links: in-page anchors or the study's evidence files
    assert all(r.startswith("data:") for r in re.findall(r"""src\s*=\s*["']([^"']*)""", html))
    refs = re.findall(r"""href\s*=\s*["']([^"']*)""", html)
    assert refs and all(r.startswith("#") or ("evidence/" in r and ":" not in r) for r in refs)
    assert "<link" not in html and "@import" not in html
    assert "Content-Security-Policy" in html
    # the only script is the inline sorter, allowed by its hash in the CSP
    assert html.count("<script") == 1 and "script-src 'sha256-" in html


def test_pdf_is_written(de, tmp_path) -> None:
    study, store = de
    path = render_report(study, store, "pdf", tmp_path / "r.pdf", now=NOW)
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 5000


def test_folder_output_and_bad_format(de, tmp_path) -> None:
    study, store = de
    assert render_report(study, store, "html", tmp_path, now=NOW) == tmp_path / "report.html"
    with pytest.raises(ServicebenchError):
        render_report(study, store, "docx", tmp_path / "r.docx", now=NOW)


class SpyFetcher(SafeURLFetcher):
    asked: list[str] = []

    def fetch(self, url, headers=None):  # noqa: ANN001, ANN201
        SpyFetcher.asked.append(url)
        return super().fetch(url, headers)


@pytest.fixture()
def spy(monkeypatch):
    SpyFetcher.asked = []
    monkeypatch.setattr(report, "SafeURLFetcher", SpyFetcher)
    return SpyFetcher.asked


def test_hostile_text_is_escaped_and_never_fetched(tmp_path, spy) -> None:
    study, store = make_study(tmp_path / "h")
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(1), text=HOSTILE, subject='<img src="http://x/s.png">',
                sender="<script>evil</script>@example.de",
                reasons=['<link href="http://evil.example/r.css">'])
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text()
    assert "<script>alert" not in html and "<img" not in html and "<link" not in html
    assert html.count("<script") == 1  # only the sorter, allowed by hash
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert "&lt;script&gt;alert" in html
    pdf = render_report(study, store, "pdf", tmp_path / "r.pdf", now=NOW)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert [u for u in spy if not u.startswith("data:")] == []
    store.close()


def test_fetcher_refuses_everything_but_data(tmp_path, spy) -> None:
    fetcher = SafeURLFetcher()
    for url in ("file:///etc/passwd", "http://evil.example/x.css", "https://x/", "ftp://x/"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.refused[0] == "file:///etc/passwd"
    assert fetcher.fetch("data:text/plain,hi").read() == b"hi"
    # a template that does reference files: the spy sees the request and it is refused
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "report.html").write_text(
        '{% extends "base.html" %}{% block title_page %}'
        '<img src="file:///etc/passwd"><img src="http://evil.example/a.png">'
        "{% endblock %}", encoding="utf-8")
    study, store = make_study(tmp_path / "s")
    out = render_report(study, store, "pdf", tmp_path / "r.pdf", template_dir=tmp_path / "tpl",
                        now=NOW)
    assert out.read_bytes().startswith(b"%PDF")
    assert "file:///etc/passwd" in spy and "http://evil.example/a.png" in spy
    store.close()


def test_user_template_overrides_a_block(de, tmp_path) -> None:
    study, store = de
    tpl = tmp_path / "templates"
    tpl.mkdir()
    (tpl / "report.html").write_text(
        '{% extends "base.html" %}\n{% block title_page %}<h1 id="custom">Eigenes Deckblatt: '
        "{{ study.title }}</h1>{% endblock %}\n", encoding="utf-8")
    (tpl / "report.css").write_text("body { color: #123456; }\n", encoding="utf-8")
    html = render_report(study, store, "html", tmp_path / "r.html", template_dir=tpl,
                         now=NOW).read_text()
    assert '<h1 id="custom">Eigenes Deckblatt: Kundenservice-Benchmark' in html
    assert "Benchmark-Bericht" not in html  # the packaged title page is gone
    assert "Rangliste" in html and 'id="company-1"' in html  # the rest is unchanged
    assert "#123456" in html


def test_excerpt_is_cut_and_skips_quotes() -> None:
    text = "> zitiert\n" + "Wort " * 400
    cut = excerpt(text)
    assert not cut.startswith(">") and cut.endswith(" …")
    assert 480 <= len(cut) <= 605
    assert excerpt("kurz") == "kurz"


def test_long_reply_excerpt_in_report(tmp_path) -> None:
    study, store = make_study(tmp_path / "l")
    p = add_probe(store, "acme")
    add_message(store, p, "human", at(1), text="Hallo Lena,\n" + "blabla " * 300 + "ENDE")
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text()
    assert "blabla …" in html and "ENDE" not in html
    store.close()


def test_empty_study_renders(tmp_path) -> None:
    study, store = make_study(tmp_path / "e", language="en")
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text()
    assert "Ranking" in html
    assert render_report(study, store, "pdf", tmp_path / "r.pdf",
                         now=NOW).read_bytes().startswith(b"%PDF")
    store.close()


@pytest.mark.parametrize(("seconds", "lang", "text"), [
    (45, "de", "45 s"), (12 * 60, "de", "12 min"), (3 * 3600 + 20 * 60, "de", "3 h 20 min"),
    (5 * 3600, "en", "5 h"), (2 * 86400 + 4 * 3600, "de", "2 Tage 4 h"),
    (86400, "de", "1 Tag"), (2 * 86400 + 4 * 3600, "en", "2 days 4 h"), (None, "en", "–"),
])
def test_format_duration(seconds, lang, text) -> None:  # noqa: ANN001
    # numbers and units are joined by no-break spaces: a duration never wraps
    assert format_duration(seconds, lang).replace("\u00a0", " ") == text


def test_format_percent() -> None:
    assert format_percent(0.755, "en") == "76%"
    assert format_percent(0.0, "de") == "0\u202f%" and format_percent(1.0, "de") == "100\u202f%"
    assert format_percent(None, "de") == "–"


def test_a_company_whose_inquiries_all_bounced_gets_no_index(tmp_path) -> None:
    """Figures come only from the scoring tables: nothing measured, nothing scored (the
    report must not invent an index of 0 from bounced inquiries)."""
    study, store = make_study(tmp_path / "study", language="en")
    good = add_probe(store, "acme")
    add_message(store, good, "human", at(2), text="Dear Ms Berger, yes.")
    for _ in range(2):
        pid = add_probe(store, "bolt")
        add_message(store, pid, "bounce", at(0.1))
    html = render_report(study, store, "html", tmp_path / "r.html", now=NOW).read_text(
        encoding="utf-8")
    ranking = html[html.index('id="ranking"'):html.index("</table>", html.index('id="ranking"'))]
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Bolt AG.*?</tr>", ranking, re.S)
    assert row, "the bounced company is listed"
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]
    assert cells[2] == "–" and cells[3] == "–", cells  # index and interval: none
    store.close()
