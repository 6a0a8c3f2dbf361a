"""The report as a publication (issue 12): both languages, no code identifiers, findings on
page 1, nothing overflowing the page, profiles with blocked-form screenshots, anonymising."""

from __future__ import annotations

import html as htmllib
import io
import re

import pytest
from click.testing import CliRunner
from conftest_data import add_message, add_probe, at, make_study, populate
from weasyprint import HTML

from servicebench.cli import cli
from servicebench.i18n import TEXTS
from servicebench.i18n_reasons import reason_text
from servicebench.report import ReportOptions, SafeURLFetcher, render_html, render_report

NOW = at(10 * 24)
EXTRA = """\
  - id: dora
    name: Dora Digital GmbH
    domains: [dora.example.de]
    channels: {webform: "https://dora.example.de/kontakt", phone: "+49 30 1234",
               mastodon: "@hilfe@dora.example.social", email: service@dora.example.de}
"""
ENGLISH_CHANNELS = ("Web form", "Phone hotline", "Live chat", "In-person visit", "Email")
DEMO_REASONS = [  # as the classifier writes them (demo study)
    "prior: a reply with text is taken as human unless evidence says not [human +0.5]",
    "reply: In-Reply-To/References point to the probe",
    "text: English template phrase 'thank you for your message' [automated +0.5]",
    "text: signed by a person 'Sam Taylor' [human +1.5]",
    "header Auto-Submitted: auto-replied [automated +3]",
    "text: takes up 5 specifics of the inquiry (change, contrac, switch, tariff) [human +1]",
    "timing: arrived 69 s after the probe [automated +0.75]",
    "model: human 95%, unrelated 3%, bounce 1%, automated 1%",  # the calibrated classifier
    "header Precedence: auto_reply [automated +3.86, human -2.26, hand-set: no examples]",
    "something the translation layer has never seen 'Beleg' [human +1]",
]
CODE_IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\(None\)|\bNone\b|"
                             r"imap-internaldate|smtp-250-timestamp|in-reply-to")


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def study(tmp_path):
    study, store = make_study(tmp_path / "s", language="de", extra=EXTRA)
    populate(store)
    p = add_probe(store, "dora", channel="phone", time_source="tester-log")
    add_message(store, p, "human", at(0.1), channel="phone", time_source="tester-log",
                match_method="manual", text="Guten Tag, ich bin Anna Schmidt von Dora Digital. "
                "Die Rückerstattung dauert 30 Tage.\n\nViele Grüße\nAnna Schmidt",
                reasons=DEMO_REASONS, sender="Anna Schmidt <anna@dora.example.de>")
    add_probe(store, "dora", channel="mastodon", time_source="mastodon-created_at")
    blocked = add_probe(store, "dora", channel="webform", state="blocked", sent_at=None)
    store.db.execute("UPDATE probes SET error='captcha' WHERE id=?", (blocked,))
    store.write_evidence(f"forms/{blocked}-after.png", _png(), probe_id=blocked,
                         kind="screenshot-after", now=at(0))
    yield study, store
    store.close()


def visible_text(html: str) -> str:
    """The text a reader sees, without evidence file names (which are paths, not prose)."""
    body = re.sub(r"(?s)<(script|style|title)\b.*?</\1>", " ", html)
    body = re.sub(r'(?s)<p class="evidence">.*?</p>', " ", body)
    body = re.sub(r"„[^“]*“|“[^”]*”", " ", body)  # quoted evidence (header values, phrases)
    body = re.sub(r"(?s)<svg\b.*?</svg>", lambda m: " ".join(
        re.findall(r">([^<]+)<", m.group(0))), body)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def test_both_languages_have_the_same_keys() -> None:
    assert set(TEXTS["de"]) == set(TEXTS["en"])


@pytest.mark.parametrize("lang", ["de", "en"])
def test_no_untranslated_string_or_code_identifier(study, lang) -> None:
    s, store = study
    html = render_html(s, store, now=NOW, options=ReportOptions(language=lang))
    text = visible_text(html)
    assert f'<html lang="{lang}">' in html
    assert not CODE_IDENTIFIER.search(text), CODE_IDENTIFIER.search(text).group(0)
    assert not re.search(r"\{[a-z_]+\}", text)  # no unfilled placeholder
    if lang == "de":
        for english in ENGLISH_CHANNELS:
            assert not re.search(rf"\b{english}\b", text), english
        for word in ("phrase", "signed", "specifics", "template", "arrived", "Inquiry",
                     "Response rate", "window"):
            assert word not in text, word
        for german in ("Webformular", "Telefon-Hotline", "E-Mail", "Rangliste",
                       "Eingangszeit des Mailservers"):
            assert german in text
    else:
        assert "Webformular" not in text and "Rangliste" not in text


def test_reasons_for_german_readers() -> None:
    de = [reason_text(r, "de") for r in DEMO_REASONS]
    assert de[3] == "von einer Person unterschrieben („Sam Taylor“) (spricht für persönlich)"
    assert de[-1] == "Merkmal: „Beleg“ (spricht für persönlich)"  # unknown: category + quote
    assert all(not re.search(r"\b(the|phrase|probe|after)\b", r) for r in de), de
    en = reason_text(DEMO_REASONS[2], "en")
    assert en == "template phrase (“thank you for your message”) (points to automated)"
    assert reason_text({"code": "x", "text": DEMO_REASONS[3]}, "de").startswith("von einer")
    assert de[-3] == ("Modell: persönlich 95\u202f%, ohne Bezug 3\u202f%, unzustellbar 1\u202f%, "
                      "automatisch 1\u202f%")
    assert de[-2] == "Kopfzeile „Precedence: auto_reply“ (spricht für automatisch)"


def _boxes(box):  # noqa: ANN001, ANN202
    yield box
    for child in getattr(box, "children", []) or []:
        yield from _boxes(child)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_pdf_page_one_has_findings_and_nothing_overflows(study, lang) -> None:
    s, store = study
    html = render_html(s, store, now=NOW, options=ReportOptions(language=lang), fmt="pdf")
    doc = HTML(string=html, url_fetcher=SafeURLFetcher()).render()
    first = " ".join(b.text for b in _boxes(doc.pages[0]._page_box) if hasattr(b, "text"))
    assert ("Die wichtigsten Ergebnisse" if lang == "de" else "Key findings") in first
    assert re.search(r"\d+ von \d+ Unternehmen" if lang == "de" else r"\d+ of \d+ companies",
                     first)
    for n, page in enumerate(doc.pages, 1):
        pb = page._page_box
        right = pb.margin_width() - pb.margin_right
        texts = []
        body = [c for c in pb.children if type(c).__name__ != "MarginBox"]
        for b in (x for c in body for x in _boxes(c)):
            if b.element_tag in ("html", "body") or not hasattr(b, "position_x"):
                continue
            edge = b.position_x + b.margin_width()
            if edge > right + 1:
                texts.append((b.element_tag, getattr(b, "text", "")[:40], round(edge - right)))
        assert not texts, f"page {n} overflows: {texts[:5]}"
        # no page holds only a heading
        content = [b for b in _boxes(pb) if getattr(b, "text", "").strip()]
        tags = {b.element_tag for b in content}
        assert content == [] or not tags <= {"h1", "h2", "h3", "h4"}, f"page {n}: heading only"


def test_profile_shows_screenshot_and_reason_of_blocked_form(study) -> None:
    s, store = study
    html = render_html(s, store, now=NOW)
    dora = html[html.index("Dora Digital GmbH</h2>"):]
    dora = dora[:dora.index("</section>")]
    assert '<img src="data:image/png;base64,' in dora
    assert "Ein CAPTCHA" in dora and "Webformular" in dora


def test_anonymise_and_redact_people(study, tmp_path) -> None:
    s, store = study
    plain = render_html(s, store, now=NOW, options=ReportOptions(appendix="cards"))
    assert "Anna Schmidt" in plain and "Dora Digital" in plain
    html = render_html(s, store, now=NOW, options=ReportOptions(
        anonymise=True, redact_people=True, appendix="cards"))
    text = visible_text(html)
    for name in ("Acme", "Bolt", "Cora", "Dora", "dora.example.de", "Anna Schmidt"):
        assert name not in text, name
    assert "Anbieter A" in text and "Anbieter D" in text
    assert "[Name]" in text  # the agent's name in the quote
    en = visible_text(render_html(s, store, now=NOW, options=ReportOptions(
        anonymise=True, language="en")))
    assert "Company A" in en and "Acme" not in en


def test_appendix_cards_option(study) -> None:
    s, store = study
    assert 'class="probe"' in render_html(s, store, now=NOW)  # few probes: cards by default
    none = render_html(s, store, now=NOW, options=ReportOptions(appendix="none"))
    assert 'class="probe"' not in none and "Anhang" in none
    assert "Rückgabe meiner Bestellung" in none  # scenario text in the appendix


def test_cli_report_options(study, tmp_path) -> None:
    s, store = study
    store.close()
    out = tmp_path / "r.html"
    res = CliRunner().invoke(cli, ["report", str(s.folder), "--format", "html", "--out",
                                   str(out), "--language", "en", "--anonymise",
                                   "--appendix", "none"])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "Company A" in text and "Acme" not in text
    res = CliRunner().invoke(cli, ["report", str(s.folder), "--appendix", "all"])
    assert res.exit_code != 0 and "all" in res.output


def test_pdf_via_render_report(study, tmp_path) -> None:
    s, store = study
    path = render_report(s, store, "pdf", tmp_path / "r.pdf", now=NOW,
                         options=ReportOptions(language="en"))
    assert path.read_bytes().startswith(b"%PDF")


@pytest.mark.slow
@pytest.mark.browser
def test_demo_report_in_both_languages(tmp_path) -> None:
    """The real demo (with its blocked captcha form): both languages, read as a client."""
    from servicebench.store import Store
    from servicebench.study import load_study

    res = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    s = load_study(tmp_path / "demo" / "study", require_secrets=False)
    store = Store(s.folder)
    try:
        for lang in ("de", "en"):
            html = render_html(s, store, options=ReportOptions(language=lang))
            text = visible_text(html)
            assert not CODE_IDENTIFIER.search(text), CODE_IDENTIFIER.search(text).group(0)
            if lang == "de":
                for english in ENGLISH_CHANNELS:
                    assert not re.search(rf"\b{english}\b", text), english
            assert html.count('<img src="data:image/png;base64,') >= 1  # blocked form shot
            pdf = render_html(s, store, options=ReportOptions(language=lang), fmt="pdf")
            doc = HTML(string=pdf, url_fetcher=SafeURLFetcher()).render()
            first = " ".join(b.text for b in _boxes(doc.pages[0]._page_box)
                             if hasattr(b, "text"))
            assert ("Die wichtigsten Ergebnisse" if lang == "de" else "Key findings") in first
    finally:
        store.close()


@pytest.mark.browser
def test_html_ranking_sorts_by_click_under_its_csp(study, tmp_path) -> None:
    """The inline sorter runs in a real browser despite the strict CSP (allowed by hash)."""
    from playwright.sync_api import sync_playwright

    from servicebench.browser import launch

    s, store = study
    out = render_report(s, store, "html", tmp_path / "r.html", now=NOW)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(out.as_uri())
            first = "table.ranking tbody tr:first-child td.company"
            before = page.inner_text(first)
            page.click("table.ranking th.company-col")
            after_asc = page.inner_text(first)
            page.click("table.ranking th.company-col")
            after_desc = page.inner_text(first)
        finally:
            browser.close()
    assert not errors, errors
    assert before == "Acme GmbH"  # by rank
    assert after_asc == "Acme GmbH" and after_desc == "Dora Digital GmbH"  # by name


def test_quotes_leave_out_helpdesk_markers_quoted_mail_and_signature() -> None:
    from servicebench.report_profiles import trim_quote

    reply = ("##- Please type your reply above this line -##\n\nDear Alex Morgan,\n\n"
             "you can switch tariffs at any time.\n\nKind regards\nTom Baker\n\n"
             "On 30 Nov 2026 Alex Morgan wrote:\n> Can I switch?")
    assert trim_quote(reply) == "Dear Alex Morgan,\n\nyou can switch tariffs at any time."
    german = "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein -##\nHallo Frau Muster,\nja."
    assert trim_quote(german) == "Hallo Frau Muster,\nja."


def test_reasons_written_by_servicebench_itself_are_translated() -> None:
    """Reasons the inbox and the tester's log store (not the classifier) read as German, not
    as the bare fallback "Merkmal"."""
    from servicebench.inbox import UNCERTAIN_REASON

    stored = [UNCERTAIN_REASON, "logged by the tester: phone contact answered by a person",
              "logged by the tester: chat contact answered by a person", "checklist: notice"]
    de = [reason_text(r, "de") for r in stored]
    assert not any(r.startswith("Merkmal") for r in de), de
    assert de[1] == "vom Tester protokolliert: Telefon-Hotline von einer Person beantwortet"
    assert reason_text(stored[2], "en") == "logged by the tester: Live chat answered by a person"
