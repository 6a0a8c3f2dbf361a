"""The webform channel against real Chromium and the sandbox's FormServer on loopback.

Assertions are on what the SERVER received. Sandbox forms (benchmark/sandbox/forms) and
test-only forms (tests/forms, different markup) are both used.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from servicebench import browser as browser_mod
from servicebench.channels import ChannelEnv, OutcomeUnknown, ProbeContext, get_channel
from servicebench.clock import SystemClock
from servicebench.errors import NotConfigured, ProbeBlocked, ProbeError, StudyError
from servicebench.matching import quote_keys
from servicebench.probes.webform import WebformChannel, probe_form
from servicebench.probes.webform.choose import choose_option, choose_salutation
from servicebench.probes.webform.fields import FormInput
from servicebench.sandbox.web import FormServer, check, email_of, form_spec, parse_body
from servicebench.store import Store
from servicebench.study import Persona, Scenario, load_study

TEST_FORMS = Path(__file__).parent / "forms"
REPLY = "p-7f3a9c@replies.example.org"
SUBJECT = "Frage zur Kündigung meines Vertrags"


def _have_browser() -> bool:
    try:
        browser_mod.find_chromium()
        return True
    except NotConfigured:
        return False


browser = pytest.mark.skipif(not _have_browser(), reason="no Chromium installed")


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox() -> Any:
    srv = FormServer().start()
    srv.hang_seconds = 15
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def testforms() -> Any:
    srv = FormServer(forms_dir=TEST_FORMS).start()
    srv.hang_seconds = 15
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def other_origin() -> Any:
    """A second server on another port: a cross-origin iframe's own site."""
    srv = FormServer(forms_dir=TEST_FORMS).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shared_session() -> Any:
    """One browser worker for the module's tests (the channel normally owns its pool)."""
    from servicebench.probes.webform.pool import SessionPool
    s = SessionPool(1)
    yield s
    s.close()


def write_study(folder: Path, target: Any, phone: str = "+49 30 1234567",
                timeout: float = 20, short: str = "") -> None:
    target_yaml = json.dumps(target, ensure_ascii=False)
    short_yaml = f"short: {json.dumps(short, ensure_ascii=False)}" if short else ""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(textwrap.dedent(f"""\
        study: {{id: wf-test, title: Webform test, language: de, timezone: Europe/Berlin}}
        webform: {{timeout: {timeout}}}
        personas:
          - id: erika
            name: Erika Mustermann
            email: erika.mustermann@example.org
            salutation: Frau
            phone: "{phone}"
            postcode: "10115"
            city: Berlin
            customer_number: K-4711
            order_number: A-100234
        scenarios:
          - id: kuendigung
            subject: {SUBJECT}
            topic: Vertrag
            {short_yaml}
            body: |
              Guten Tag,

              wie kann ich meinen Vertrag kündigen, und welche Frist gilt dabei?

              Mit freundlichen Grüßen
              {{{{ persona.name }}}}
        companies:
          - id: acme
            name: ACME GmbH
            channels:
              webform: {target_yaml}
        """), encoding="utf-8")


class Probe:
    """A study in tmp_path, its store, the channel and one planned probe."""

    def __init__(self, folder: Path, target: Any, session: Any = None, **kw: Any) -> None:
        write_study(folder, target, **kw)
        self.study = load_study(folder)
        self.store = Store(folder)
        self.clock = SystemClock()
        self.env = ChannelEnv(self.study, self.store, self.clock)
        self.channel = WebformChannel(self.env)
        if session is not None:
            self.channel.pool = session
        company, scenario = self.study.companies[0], self.study.scenarios[0]
        persona = self.study.personas[0]
        key = "acme|webform|kuendigung|erika|1"
        self.store.upsert_planned_probe(
            {"key": key, "company_id": "acme", "channel": "webform", "scenario_id": scenario.id,
             "persona_id": persona.id, "wave": 1,
             "target": WebformChannel.target_of(company.channels["webform"]),
             "due_at": "2026-01-01T00:00:00+00:00"}, self.clock.now())
        pid = self.store.one("SELECT id FROM probes WHERE key = ?", (key,))["id"]
        self.pc = ProbeContext(
            probe_id=pid, key=key, company=company, scenario=scenario, persona=persona,
            target=company.channels["webform"], subject=scenario.subject,
            body=self.study.render(scenario.body, persona, company, scenario),
            reply_address=REPLY, message_id="<p-7f3a9c@servicebench>")

    def evidence(self) -> dict[str, Path]:
        return {r["kind"]: self.study.folder / r["path"] for r in self.store.evidence_for(
            self.pc.probe_id)}


def only(fields: dict[str, list[str]], name: str) -> str:
    vals = fields.get(name, [])
    assert len(vals) <= 1, (name, vals)
    return vals[0] if vals else ""


def assert_body(text: str) -> None:
    assert "wie kann ich meinen Vertrag kündigen" in text
    assert text.replace("\r\n", "\n").strip().endswith("Erika Mustermann")


# What each form must have received: field -> exact value, or a check function.
EXPECT: dict[str, dict[str, Any]] = {
    "cf7": {"your-name": "Erika Mustermann", "your-email": REPLY, "your-subject": SUBJECT,
            "thema": "Vertrag und Kündigung", "your-message": assert_body,
            "acceptance-datenschutz": "1", "newsletter[]": "", "honeypot-323": ""},
    "gravity": {"input_1.3": "Erika", "input_1.6": "Mustermann", "input_2": REPLY,
                "input_3": "+49 30 1234567", "input_4": "K-4711", "input_5": "Konto",
                "input_6": assert_body, "input_7.1": "1", "input_8": ""},
    "hubspot": {"firstname": "Erika", "lastname": "Mustermann", "email": REPLY,
                "inquiry_type": "contract", "message": assert_body, "company": "",
                "LEGAL_CONSENT.processing": "true", "website": "",
                "LEGAL_CONSENT.subscription_type_10841063": ""},
    "zendesk": {"request[anonymous_requester_email]": REPLY, "request[subject]": SUBJECT,
                "request[custom_fields][360001234567]": "vertrag_kuendigung",
                "request[description]": assert_body,
                "request[custom_fields][360009876543]": "K-4711"},
    "placeholder": {"f1": "Erika", "f2": "Mustermann", "f3": REPLY, "f5": "10115",
                    "f6": SUBJECT, "f7": assert_body, "f8": "", "f9": "ja", "f10": ""},
    "iframe-inner": {"fullname": "Erika Mustermann", "email": REPLY, "order_ref": "A-100234",
                     "topic": "Contract and cancellation", "message": assert_body,
                     "privacy": "yes", "updates": ""},
    "multistep": {"anliegen": "vertrag", "anrede": "Frau", "vorname": "Erika",
                  "nachname": "Mustermann", "email": REPLY, "kundennummer": "K-4711",
                  "nachricht": assert_body, "datenschutz": "1", "firma_hp": ""},
    "jsinline": {"name": "Erika Mustermann", "mail": REPLY, "kategorie": "3", "fax": "",
                 "text": assert_body, "dsgvo": "1", "werbung": ""},
    "nonbutton": {"anrede": "Frau", "name": "Erika Mustermann", "email": REPLY,
                  "plzort": "10115 Berlin", "homepage": "", "nachricht": assert_body,
                  "einwilligung": "ja"},
    "conditional": {"name": "Erika Mustermann", "email": REPLY, "anliegen": "vertrag",
                    "vertragsnummer": "K-4711", "nachricht": assert_body, "datenschutz": "ja"},
    "cookiebanner": {"name": "Erika Mustermann", "email": REPLY, "nachricht": assert_body,
                     "cookie_choice": "necessary"},
    "powermail": {"tx_powermail_pi1[field][anrede]": "Frau",
                  "tx_powermail_pi1[field][vorname]": "Erika",
                  "tx_powermail_pi1[field][name]": "Mustermann",
                  "tx_powermail_pi1[field][email]": REPLY,
                  "tx_powermail_pi1[field][emailwdh]": REPLY,
                  "tx_powermail_pi1[field][plz]": "10115", "tx_powermail_pi1[field][ort]": "Berlin",
                  "tx_powermail_pi1[field][anliegen]": "Kuendigung",
                  "tx_powermail_pi1[field][nachricht]": assert_body,
                  "tx_powermail_pi1[field][datenschutz][]": "akzeptiert",
                  "tx_powermail_pi1[field][infopost][]": "",
                  "tx_powermail_pi1[field][__hp]": ""},
    # real-world families (tests/forms); each page's server also checks the values itself
    "wpforms": {"wpforms[fields][0][first]": "Erika", "wpforms[fields][0][last]": "Mustermann",
                "wpforms[fields][1]": REPLY, "wpforms[fields][2]": "+49 30 1234567",
                "wpforms[fields][3]": assert_body, "wpforms[hp]": ""},
    "elementor": {"form_fields[name]": "Erika Mustermann", "form_fields[email]": REPLY,
                  "form_fields[field_3f8a2c1]": "+49 30 1234567",
                  "form_fields[field_91d0b7e]": "K-4711", "form_fields[message]": assert_body,
                  "form_fields[field_c4a91e2]": "on", "form_fields[field_7be2d0a]": ""},
    "ninja": {"nf-field-5": "Erika Mustermann", "nf-field-6": REPLY, "nf-field-7": "vertrag",
              "nf-field-8": assert_body, "nf-field-9": "1", "nf-field-10": "0",
              "nf-field-hp": ""},
    "react": {"name": "Erika Mustermann", "email": REPLY, "topic": "contract",
              "customerId": "K-4711", "message": assert_body, "privacy": "True"},
    "react-select": {"name": "Erika Mustermann", "email": REPLY, "topic": "vertrag",
                     "message": assert_body},
    "choices": {"name": "Erika Mustermann", "email": REPLY, "thema": "vertrag",
                "nachricht": assert_body, "datenschutz": "ja"},
    "select2": {"kunde_name": "Erika Mustermann", "kunde_email": REPLY, "thema": "vertrag",
                "nachricht": assert_body, "datenschutz": "1"},
    "xorigin-inner": {"vorname": "Erika", "nachname": "Mustermann", "email": REPLY,
                      "anliegen": "konto", "nachricht": assert_body, "dsgvo": "on",
                      "werbung": "", "website": ""},
    "toast": {"name": "Erika Mustermann", "email": REPLY, "message": assert_body,
              "privacy": "1", "_gotcha": ""},
    "redirect-danke": {"name": "Erika Mustermann", "email": REPLY, "telefon": "+49 30 1234567",
                       "betreff": SUBJECT, "nachricht": assert_body},
    "redirect-thankyou": {"your_name": "Erika Mustermann", "your_email": REPLY,
                          "policy_number": "K-4711", "your_message": assert_body},
    "anrede": {"anrede": "Frau", "vorname": "Erika", "nachname": "Mustermann", "email": REPLY,
               "telefon": "+49 30 1234567", "nachricht": assert_body, "datenschutz": "1",
               "newsletter": ""},
    "garden": {"email": REPLY, "summary": SUBJECT, "product_area": "Account & cancellation",
               "order_id": "A-100234", "description": assert_body,
               "contact_me_by_fax_only": ""},
}
SANDBOX = [("cf7", "cf7"), ("gravity", "gravity"), ("hubspot", "hubspot"),
           ("zendesk", "zendesk"), ("placeholder", "placeholder"), ("iframe", "iframe-inner"),
           ("multistep", "multistep"), ("jsinline", "jsinline"), ("nonbutton", "nonbutton")]


def check_received(received: dict[str, list[str]], expect: dict[str, Any]) -> None:
    for name, want in expect.items():
        got = only(received, name)
        if callable(want):
            want(got)
        else:
            assert got == want, f"{name}: got {got!r}, want {want!r}"


# -- the sandbox and test forms, submitted --------------------------------------------
@browser
@pytest.mark.browser
@pytest.mark.parametrize("page,submitted_as", SANDBOX)
def test_sandbox_form_submitted(tmp_path: Path, sandbox: Any, shared_session: Any, page: str,
                                submitted_as: str) -> None:
    p = Probe(tmp_path, sandbox.url(page), shared_session)
    n = len(sandbox.submissions)
    result = p.channel.send(p.pc)
    # the send time is the site's own: the Date header of its answer to the submission
    assert result.time_source == "http-date-header"
    assert abs(result.sent_at.timestamp() - sandbox.accepted_at[n]) <= 1.0
    new = sandbox.submissions[n:]
    assert [name for name, _ in new] == [submitted_as]
    fields = new[0][1]
    assert email_of(fields) == REPLY
    check_received(fields, EXPECT[submitted_as])
    assert not check(form_spec(sandbox.page(submitted_as)), fields)
    ev = p.evidence()
    for kind in ("screenshot-before", "screenshot-after", "form-values", "form-result"):
        assert ev[kind].is_file() and ev[kind].stat().st_size > 0, kind
    assert "/webform/acme_webform_kuendigung_erika_1/" in str(ev["form-result"])
    res = json.loads(ev["form-result"].read_text())
    assert res["outcome"] == "success" and res["final_url"]
    values = json.loads(ev["form-values"].read_text())
    assert any(f["kind"] == "email" and f["value"] == REPLY for f in values["filled"])


@browser
@pytest.mark.browser
@pytest.mark.parametrize("page", ["powermail", "garden", "conditional", "cookiebanner"])
def test_test_only_form_submitted(tmp_path: Path, testforms: Any, shared_session: Any,
                                  page: str) -> None:
    p = Probe(tmp_path, testforms.url(page), shared_session)
    n = len(testforms.submissions)
    result = p.channel.send(p.pc)
    assert result.sent_at <= p.clock.now()
    new = testforms.submissions[n:]
    assert len(new) == 1 and new[0][0] == page
    check_received(new[0][1], EXPECT[page])


# Faithful copies of real-world form families: (page, form whose submission counts)
REAL_WORLD = ["wpforms", "elementor", "ninja", "react", "react-select", "choices", "select2",
              ("xorigin", "xorigin-inner"), ("xorigin-lazy", "xorigin-inner"),
              "toast", "redirect-danke", "redirect-thankyou", "anrede"]


def _real_world(case: Any, testforms: Any, other_origin: Any) -> tuple[str, str, Any]:
    """(URL, submitted-as name, the server that takes the submission)."""
    page, submitted_as = case if isinstance(case, tuple) else (case, case)
    if page.startswith("xorigin"):  # the form's frame comes from another origin (port)
        import urllib.parse
        inner = other_origin.url(submitted_as)
        return (testforms.url(page) + "?embed=" + urllib.parse.quote(inner, safe=""),
                submitted_as, other_origin)
    return testforms.url(page), submitted_as, testforms


@browser
@pytest.mark.browser
@pytest.mark.parametrize("case", REAL_WORLD, ids=lambda c: c[0] if isinstance(c, tuple) else c)
def test_real_world_form_submitted(tmp_path: Path, testforms: Any, other_origin: Any,
                                   shared_session: Any, case: Any) -> None:
    url, submitted_as, server = _real_world(case, testforms, other_origin)
    p = Probe(tmp_path, url, shared_session)
    n, r = len(server.submissions), len(server.rejected)
    p.channel.send(p.pc)
    assert server.rejected[r:] == []
    new = server.submissions[n:]
    assert [name for name, _ in new] == [submitted_as]
    fields = new[0][1]
    assert not check(form_spec(server.page(submitted_as)), fields)  # the site's own checks
    check_received(fields, EXPECT[submitted_as])
    ev = p.evidence()
    for kind in ("screenshot-before", "screenshot-after", "form-values", "form-result"):
        assert ev[kind].is_file() and ev[kind].stat().st_size > 0, kind
    res = json.loads(ev["form-result"].read_text())
    assert res["outcome"] == "success", res
    values = json.loads(ev["form-values"].read_text())
    assert any(f["kind"] == "email" and f["value"] == REPLY for f in values["filled"])


@browser
@pytest.mark.browser
def test_react_page_behaves_like_a_controlled_form(testforms: Any) -> None:
    """The React-style page is a fair test: a value set through the element's own property
    (then an input event) is not taken, the next render writes the state back, and the
    button stays disabled; typing is taken."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = browser_mod.launch(pw)
        try:
            page = b.new_page()
            page.goto(testforms.url("react"))
            name = page.locator("[data-key=name]")
            name.wait_for()
            name.evaluate("el => { el.value = 'Erika Mustermann'; "
                          "el.dispatchEvent(new Event('input', {bubbles: true})); }")
            page.locator("[data-key=email]").press_sequentially("a@b.de")
            assert name.input_value() == ""  # the state won
            assert page.locator("#send").is_disabled()
            name.press_sequentially("Erika Mustermann")
            assert name.input_value() == "Erika Mustermann"
        finally:
            b.close()


@browser
@pytest.mark.browser
def test_fading_confirmation_is_shot_when_shown(tmp_path: Path, testforms: Any,
                                                shared_session: Any) -> None:
    """The toast fades in (and is gone after 2 s): the screenshot after submitting shows
    it at full strength, not half-transparent."""
    from PIL import Image

    p = Probe(tmp_path, testforms.url("toast"), shared_session)
    p.channel.send(p.pc)
    shot = Image.open(p.evidence()["screenshot-after"]).convert("RGB")
    x, y = shot.width - 16 - 8, 16 + 8  # inside the toast (top right, 16px from the edges)
    r, g, b = shot.getpixel((x, y))  # type: ignore[misc]
    assert abs(r - 0x19) < 12 and abs(g - 0x87) < 12 and abs(b - 0x54) < 12, (r, g, b)


@browser
@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("case", REAL_WORLD, ids=lambda c: c[0] if isinstance(c, tuple) else c)
def test_real_world_dry_run_posts_nothing(tmp_path: Path, testforms: Any, other_origin: Any,
                                          shared_session: Any, case: Any) -> None:
    url, _, server = _real_world(case, testforms, other_origin)
    p = Probe(tmp_path, url, shared_session)
    n, r = len(server.submissions), len(server.rejected)
    facts = p.channel.dry_run(p.pc)
    assert (len(server.submissions), len(server.rejected)) == (n, r)
    assert facts["outcome"] is None and facts["submit_button"]
    kinds = {f["kind"]: f for f in facts["fields"]}
    assert kinds["email"]["value"] == REPLY and kinds["message"]["action"] == "fill"
    assert p.evidence()["screenshot-before"].is_file()
    assert "screenshot-after" not in p.evidence()


@browser
@pytest.mark.browser
def test_send_time_is_confirmation_time(tmp_path: Path, sandbox: Any, shared_session: Any
                                        ) -> None:
    p = Probe(tmp_path, sandbox.url("jsinline"), shared_session)  # answers after 300 ms
    before = p.clock.now()
    result = p.channel.send(p.pc)
    # the site's Date header: its own time, in whole seconds
    assert result.time_source == "http-date-header"
    assert before.replace(microsecond=0) <= result.sent_at <= p.clock.now()
    assert result.detail["confirmation"] == "Ihre Nachricht wurde erfolgreich versendet."


# -- failures are honest --------------------------------------------------------------
@browser
@pytest.mark.browser
@pytest.mark.parametrize("srv,page", [("sandbox", "recaptcha"), ("sandbox", "captcha"),
                                      ("testforms", "turnstile")])
def test_captcha_is_blocked_and_not_submitted(tmp_path: Path, request: Any, shared_session: Any,
                                              srv: str, page: str) -> None:
    server = request.getfixturevalue(srv)
    p = Probe(tmp_path, server.url(page), shared_session)
    n, r = len(server.submissions), len(server.rejected)
    with pytest.raises(ProbeBlocked) as err:
        p.channel.send(p.pc)
    assert err.value.reason == "captcha"
    assert err.value.detail["kind"] in ("recaptcha", "hcaptcha", "turnstile")
    assert len(server.submissions) == n and len(server.rejected) == r
    ev = p.evidence()
    assert {"screenshot-before", "form-values", "form-result"} <= set(ev)
    assert json.loads(ev["form-result"].read_text())["outcome"] == "captcha"


@browser
@pytest.mark.browser
def test_server_side_validation_error(tmp_path: Path, testforms: Any, shared_session: Any
                                      ) -> None:
    p = Probe(tmp_path, testforms.url("validation"), shared_session, phone="")
    n = len(testforms.rejected)
    with pytest.raises(ProbeError) as err:
        p.channel.send(p.pc)
    assert not err.value.temporary and not isinstance(err.value, ProbeBlocked)
    assert "Pflichtfeld" in str(err.value)
    assert testforms.rejected[n][0] == "validation"
    assert json.loads(p.evidence()["form-result"].read_text())["outcome"] == "validation"


@browser
@pytest.mark.browser
def test_browser_validation_stops_before_submitting(tmp_path: Path, testforms: Any,
                                                    shared_session: Any) -> None:
    """A required field the persona has no value for: nothing is invented, nothing is sent,
    and the error names the field and the YAML that gives it a value."""
    p = Probe(tmp_path, testforms.url("native-required"), shared_session, phone="")
    n, r = len(testforms.submissions), len(testforms.rejected)
    with pytest.raises(ProbeError, match="Telefonnummer") as err:
        p.channel.send(p.pc)
    assert not err.value.temporary
    assert "fields: {phone: {value:" in str(err.value)
    assert (len(testforms.submissions), len(testforms.rejected)) == (n, r)


@browser
@pytest.mark.browser
def test_http_error(tmp_path: Path, testforms: Any, shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("server-error"), shared_session)
    with pytest.raises(ProbeError, match="HTTP 500") as err:
        p.channel.send(p.pc)
    assert not err.value.temporary
    assert json.loads(p.evidence()["form-result"].read_text())["status"] == 500


@browser
@pytest.mark.browser
def test_nothing_happens(tmp_path: Path, testforms: Any, shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("dead-button"), shared_session, timeout=6)
    with pytest.raises(ProbeError, match="nothing happened") as err:
        p.channel.send(p.pc)
    assert not err.value.temporary
    assert "screenshot-after" in p.evidence()


@browser
@pytest.mark.browser
def test_submitted_but_no_answer_is_outcome_unknown(tmp_path: Path, testforms: Any,
                                                    shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("hang"), shared_session, timeout=4)
    with pytest.raises(OutcomeUnknown, match="did not answer"):
        p.channel.send(p.pc)
    assert json.loads(p.evidence()["form-result"].read_text())["outcome"] == "unknown"


@browser
@pytest.mark.browser
def test_page_that_never_loads_is_temporary(tmp_path: Path, shared_session: Any) -> None:
    with socket.socket() as s:  # accepts connections, never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/kontakt"
        p = Probe(tmp_path, url, shared_session, timeout=3)
        start = time.monotonic()
        with pytest.raises(ProbeError) as err:
            p.channel.send(p.pc)
    assert err.value.temporary and "did not load" in str(err.value)
    # the error's screenshot of the unloaded page is bounded too, not Playwright's 30 s
    assert time.monotonic() - start < 20
    assert not isinstance(err.value, OutcomeUnknown)


# -- dry run, probe-form, overrides ------------------------------------------------
@browser
@pytest.mark.browser
def test_dry_run_fills_but_submits_nothing(tmp_path: Path, sandbox: Any, shared_session: Any
                                           ) -> None:
    p = Probe(tmp_path, sandbox.url("hubspot"), shared_session)
    n, r = len(sandbox.submissions), len(sandbox.rejected)
    facts = p.channel.dry_run(p.pc)
    assert (len(sandbox.submissions), len(sandbox.rejected)) == (n, r)
    kinds = {f["kind"]: f for f in facts["fields"]}
    assert kinds["email"]["value"] == REPLY and kinds["consent"]["action"] == "check"
    assert kinds["marketing"]["action"] == "leave"
    assert facts["outcome"] is None and facts["submit_button"] == "input 'Submit'"
    assert any("email ← reply address" in line for line in facts["why"])
    assert p.evidence()["screenshot-before"].is_file()
    assert "screenshot-after" not in p.evidence()


@browser
@pytest.mark.browser
def test_probe_form_explains_the_mapping(tmp_path: Path, sandbox: Any) -> None:
    persona = Persona(id="x", name="Max Muster", email="max@example.org", salutation="Herr")
    scenario = Scenario(id="s", subject="Rechnung falsch", body="Meine Rechnung ist zu hoch.")
    n = len(sandbox.submissions)
    report = probe_form(sandbox.url("cf7"), persona, scenario, tmp_path / "out", timeout=20)
    assert len(sandbox.submissions) == n
    text = report.text()
    assert ("email ← persona.email = 'max@example.org' (input type=email, label "
            "'Ihre E-Mail-Adresse'") in text
    assert "topic ← option = 'Rechnung'" in text
    assert "marketing: left alone" in text
    assert (tmp_path / "out" / "before.png").is_file()
    assert report.filled["full_name"] == "Max Muster"


@browser
@pytest.mark.browser
def test_study_overrides(tmp_path: Path, sandbox: Any, shared_session: Any) -> None:
    target = {"url": sandbox.url("cf7"),
              "fields": {"topic": {"label": "Thema", "choose": "Sonstiges"},
                         "subject": {"selector": "input[name=your-subject]",
                                     "value": "Kündigung Vertrag 4711"}},
              "success": "Sie wurde gesendet"}
    p = Probe(tmp_path, target, shared_session)
    n = len(sandbox.submissions)
    p.channel.send(p.pc)
    fields = sandbox.submissions[n][1]
    assert only(fields, "thema") == "Sonstiges"
    assert only(fields, "your-subject") == "Kündigung Vertrag 4711"
    assert only(fields, "your-email") == REPLY


@browser
@pytest.mark.browser
def test_one_browser_fresh_context_and_close(tmp_path: Path, sandbox: Any) -> None:
    from servicebench.probes.webform.pool import SessionPool

    p = Probe(tmp_path, sandbox.url("placeholder"), None)
    p.channel.pool = SessionPool(1)
    p.channel.send(p.pc)
    first = p.channel.pool.run(lambda s: id(s.browser()))
    p.channel.send(p.pc)
    assert p.channel.pool.run(lambda s: id(s.browser())) == first
    # each probe's context is closed again; only the next probe's, prepared ahead, is open,
    # and it is untouched (no page loaded, no cookies)
    left = p.channel.pool.run(lambda s: [(c is (s._spare or (None,))[0], [pg.url for pg in
                                          c.pages], c.cookies()) for c in s.browser().contexts])
    assert left == [(True, ["about:blank"], [])]
    workers = list(p.channel.pool._threads)
    p.channel.close()
    assert workers and not any(t.is_alive() for t in workers)  # browsers closed, threads done


@browser
@pytest.mark.browser
def test_runner_fills_forms_in_parallel(tmp_path: Path, sandbox: Any) -> None:
    """Bounded concurrency: the runner keeps up to ``parallel`` forms open at once."""
    import threading

    from servicebench.runner import run

    write_study(tmp_path, sandbox.url("placeholder"))
    text = (tmp_path / "study.yaml").read_text()
    extra = "".join(f"  - {{id: co{i}, name: Co{i}, channels: {{webform: "
                    f"{json.dumps(sandbox.url('placeholder'))}}}}}\n" for i in range(3))
    (tmp_path / "study.yaml").write_text(text + extra)
    study = load_study(tmp_path)
    n = len(sandbox.submissions)
    seen: set[str] = set()
    original = WebformChannel._send

    def spy(self: Any, session: Any, pc: Any) -> Any:
        seen.add(threading.current_thread().name)
        return original(self, session, pc)

    WebformChannel._send = spy  # type: ignore[method-assign]
    try:
        summary = run(study, Store(tmp_path), SystemClock(), collect=False)
    finally:
        WebformChannel._send = original  # type: ignore[method-assign]
    assert summary.sent == 4, summary
    assert len(sandbox.submissions) - n == 4
    from servicebench.probes.webform import default_parallel

    # the default pool (two per CPU core, at least 2), not one worker per form
    assert len(seen) == min(4, default_parallel()) and default_parallel() >= 2


# -- no browser needed --------------------------------------------------------------
def test_schema_and_targets(tmp_path: Path) -> None:
    assert get_channel("webform") is WebformChannel
    assert WebformChannel.validate_target("https://example.org/kontakt") == []
    assert WebformChannel.validate_target({"url": "http://x.test/k", "fields": {
        "message": "#anliegen", "topic": {"label": "Kategorie", "choose": "Vertrag"}}}) == []
    assert WebformChannel.validate_target("ftp://example.org/")
    assert WebformChannel.validate_target("kontakt.html")
    assert WebformChannel.validate_target({"url": "https://x.test", "fields": {"foo": "#x"}})
    assert WebformChannel.target_of({"url": "https://x.test/a"}) == "https://x.test/a"
    write_study(tmp_path, {"url": "https://x.test/k", "success": "Danke",
                           "fields": {"phone": False}})
    assert load_study(tmp_path).companies[0].channels["webform"]["success"] == "Danke"
    write_study(tmp_path, {"url": "https://x.test/k", "sucess": "typo"})
    with pytest.raises(StudyError, match="webform"):
        load_study(tmp_path)
    write_study(tmp_path, "mailto:info@example.org")
    with pytest.raises(StudyError, match="not a web address"):
        load_study(tmp_path)


def test_no_browser_is_not_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser_mod.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(browser_mod, "playwright_chromium_installed", lambda: False)
    monkeypatch.setattr(browser_mod, "system_chromium", lambda headless=False: None)
    write_study(tmp_path, "https://example.org/kontakt")
    env = ChannelEnv(load_study(tmp_path), Store(tmp_path), SystemClock())
    with pytest.raises(NotConfigured, match="apt-get install chromium"):
        WebformChannel(env).check_configured()
    assert browser_mod.main([]) == 1
    monkeypatch.setenv(browser_mod.CHROMIUM_ENV, str(tmp_path / "nope"))
    with pytest.raises(NotConfigured, match="SERVICEBENCH_CHROMIUM"):
        browser_mod.find_chromium()


@browser
@pytest.mark.browser
def test_browser_check_command() -> None:
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "servicebench.browser", "--check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Chromium" in out.stdout


def test_find_chromium_prefers_playwright_then_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser_mod.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(browser_mod, "playwright_chromium_installed", lambda: True)
    assert browser_mod.find_chromium() is None
    monkeypatch.setattr(browser_mod, "playwright_chromium_installed", lambda: False)
    monkeypatch.setattr(browser_mod, "system_chromium", lambda headless=False: "/usr/bin/chromium")
    assert browser_mod.find_chromium() == "/usr/bin/chromium"


def test_headless_work_prefers_the_system_headless_shell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Headless probes use Debian's chromium-headless-shell where installed (as Playwright
    uses its own headless shell); a headed run needs the full browser."""
    installed = {"chromium": "/usr/bin/chromium",
                 "chromium-headless-shell": "/usr/bin/chromium-headless-shell"}
    monkeypatch.setattr(browser_mod.shutil, "which", lambda name: installed.get(name))
    monkeypatch.delenv(browser_mod.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(browser_mod, "playwright_chromium_installed", lambda: False)
    assert browser_mod.find_chromium() == "/usr/bin/chromium-headless-shell"
    assert browser_mod.find_chromium(headless=False) == "/usr/bin/chromium"
    del installed["chromium-headless-shell"]
    assert browser_mod.find_chromium() == "/usr/bin/chromium"


def test_choosing_options() -> None:
    fi = FormInput(persona=None, subject="Rechnung doppelt abgebucht", body="Hallo ...",
                   email="a@b.c")
    opts = [{"value": "", "text": "Bitte wählen"}, {"value": "1", "text": "Lieferung"},
            {"value": "2", "text": "Rechnung & Zahlung"}, {"value": "3", "text": "Sonstiges"}]
    assert choose_option(opts, fi)[0]["value"] == "2"
    fi.subject = "Eine Frage"
    assert choose_option(opts, fi)[0]["value"] == "3"  # the catch-all, never the placeholder
    assert choose_option(opts, fi, "lieferung")[0]["value"] == "1"
    assert choose_option(opts[:1], fi)[0] is None
    sal = [{"value": "", "text": "--"}, {"value": "mr", "text": "Mr."},
           {"value": "ms", "text": "Ms."}]
    assert choose_salutation(sal, "Frau", True)[0]["value"] == "ms"
    assert choose_salutation(sal, "", False)[0] is None


def test_form_server_parses_what_builders_send() -> None:
    assert parse_body("application/x-www-form-urlencoded", b"a=1&b=%C3%BC&a=2") == {
        "a": ["1", "2"], "b": ["ü"]}
    assert parse_body("application/json", json.dumps(
        {"fields": [{"name": "email", "value": "x@y.z"}]}).encode()) == {"email": ["x@y.z"]}
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"msg\"\r\n\r\nK\xc3\xbcndigung\r\n"
            b"--XX--\r\n")
    assert parse_body("multipart/form-data; boundary=XX", body) == {"msg": ["Kündigung"]}
    spec = {"required": ["email"], "honeypots": ["hp"]}
    assert check(spec, {"email": ["a@b.cd"], "hp": [""]}) == []
    assert check(spec, {"email": ["a@b.cd"], "hp": ["spam"]}) == [("hp", "spam")]
    assert check(spec, {"email": [" "]})[0][0] == "email"


@browser
@pytest.mark.browser
def test_only_requests_after_an_action_hold_the_wait(testforms: Any) -> None:
    """A request already in flight (a chat widget's long poll) does not make every choice
    wait; one the choice started does, until it is answered."""
    from playwright.sync_api import sync_playwright

    from servicebench.probes.webform.waits import Requests

    with sync_playwright() as pw:
        b = browser_mod.launch(pw)
        try:
            page = b.new_page()
            requests = Requests(page)

            def until(cond: Any) -> bool:  # events arrive while Playwright is waiting
                for _ in range(200):
                    if cond():
                        return True
                    page.wait_for_timeout(10)
                return False

            page.goto(testforms.url("conditional"))
            page.evaluate("() => { fetch('/latency/4000'); }")  # the long poll
            assert until(requests.busy)
            before = requests.started
            assert not requests.busy(before)
            page.select_option("#anliegen", "vertrag")  # asks the server (400 ms)
            assert until(lambda: requests.busy(before))
            page.wait_for_selector("#vnr", timeout=5000)
            assert until(lambda: not requests.busy(before))
            assert requests.busy()  # the long poll is still open
        finally:
            b.close()


def test_confirmation_container_counts_without_known_words() -> None:
    """A builder's confirmation container (.elementor-message-success, .alert-success ...)
    is a success even when its words are not recognised; the same text elsewhere is not, and
    an error in such a container is not."""
    from servicebench.probes.webform.verdict import SubmitWatch, judge, snapshot

    class Page:
        def on(self, *a: Any) -> None:
            pass

    def state(text: str, successes: list[str]) -> dict[str, Any]:
        return {"text": text, "url": "https://x.test/kontakt", "errors": [], "invalid": [],
                "captcha": [], "visibleSids": [], "successes": successes}

    before = snapshot([state("Kontakt\nName\nSenden", [])])
    watch = SubmitWatch(Page(), [])
    msg = "Ihre Angaben sind bei uns gelandet."
    assert judge(before, [state("Kontakt\n" + msg, [msg])], watch, None, set()) == (
        "success", f"message in a confirmation container: {msg}")
    assert judge(before, [state("Kontakt\n" + msg, [])], watch, None, set()) is None
    assert judge(before, [state("Kontakt", ["Senden fehlgeschlagen, bitte erneut."])], watch,
                 None, set()) is None
    assert judge(before, [state("Your submission was successful.", [])], watch, None,
                 set())[0] == "success"


# -- field constraints: maxlength, pattern, masks, required fields without a value ----------
SHORT = "Wie kann ich meinen Vertrag kündigen, und welche Frist gilt?"


def _sent(server: Any, n: int, r: int) -> list[Any]:
    """Everything the server got since (n, r): accepted and rejected submissions."""
    return server.submissions[n:] + server.rejected[r:]


@browser
@pytest.mark.browser
def test_message_over_maxlength_sends_the_short_text(tmp_path: Path, testforms: Any,
                                                     shared_session: Any) -> None:
    """The body is longer than the textarea's maxlength: the scenario's short text goes in
    whole (never a cut body); the subject is cut at a word, with a warning."""
    p = Probe(tmp_path, testforms.url("maxlength"), shared_session, short=SHORT)
    n, r = len(testforms.submissions), len(testforms.rejected)
    sent = p.channel.send(p.pc)
    # the probe is stored with what was sent: replies are matched by quotes of the short
    # text and by the subject the form took
    assert sent.detail["body"] == SHORT and sent.detail["subject"] == "Frage zur Kündigung"
    assert sent.detail["quote_keys"] == quote_keys(SHORT)
    assert testforms.rejected[r:] == []
    new = testforms.submissions[n:]
    assert [name for name, _ in new] == ["maxlength"]
    assert only(new[0][1], "nachricht") == SHORT
    assert only(new[0][1], "betreff") == "Frage zur Kündigung"
    values = json.loads(p.evidence()["form-values"].read_text())
    assert values["message_text"] == "short"
    msg = next(f for f in values["filled"] if f["kind"] == "message")
    assert msg["value"] == SHORT and msg["source"] == "scenario short"
    assert any(w.startswith("subject:") and "20" in w for w in values["warnings"])


@browser
@pytest.mark.browser
def test_message_over_maxlength_without_short_is_not_sent(tmp_path: Path, testforms: Any,
                                                          shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("maxlength"), shared_session)
    n, r = len(testforms.submissions), len(testforms.rejected)
    with pytest.raises(ProbeError) as ei:
        p.channel.send(p.pc)
    assert not ei.value.temporary
    msg = str(ei.value)
    assert "at most 80 characters" in msg and "'short'" in msg and "Nachricht" in msg
    assert _sent(testforms, n, r) == []  # nothing POSTed
    values = json.loads(p.evidence()["form-values"].read_text())
    assert values["message_text"] == "none" and values["blockers"]
    res = json.loads(p.evidence()["form-result"].read_text())
    assert res["outcome"] == "not-submitted"
    # the dry run shows it
    facts = p.channel.dry_run(p.pc)
    assert any("at most 80" in b for b in facts["blockers"])
    assert any("would not be submitted" in line for line in facts["why"])
    assert _sent(testforms, n, r) == []


@browser
@pytest.mark.browser
def test_message_cut_by_a_script_is_not_sent(tmp_path: Path, testforms: Any,
                                             shared_session: Any) -> None:
    """No maxlength in the markup, but the page's script cuts the text: the read-back after
    typing catches it; the short text goes in where it arrives whole, else nothing is sent."""
    p = Probe(tmp_path, testforms.url("counter"), shared_session)
    n, r = len(testforms.submissions), len(testforms.rejected)
    with pytest.raises(ProbeError) as ei:
        p.channel.send(p.pc)
    assert not ei.value.temporary
    assert "only 100 of" in str(ei.value) and "at most 100 characters" in str(ei.value)
    assert _sent(testforms, n, r) == []
    assert json.loads(p.evidence()["form-values"].read_text())["message_text"] == "none"
    p = Probe(tmp_path / "short", testforms.url("counter"), shared_session, short=SHORT)
    p.channel.send(p.pc)
    assert testforms.rejected[r:] == []
    new = testforms.submissions[n:]
    assert [name for name, _ in new] == ["counter"]
    assert only(new[0][1], "nachricht") == SHORT
    assert json.loads(p.evidence()["form-values"].read_text())["message_text"] == "short"


@browser
@pytest.mark.browser
@pytest.mark.parametrize("page,want", [("phone-pattern", "0301234567"),
                                       ("phone-mask", "030 1234567")])
def test_phone_takes_the_form_the_field_accepts(tmp_path: Path, testforms: Any,
                                                shared_session: Any, page: str,
                                                want: str) -> None:
    """A digits-only pattern and an input mask that drops the '+' both refuse
    '+49 30 1234567'; the national number goes in, as the field wants it."""
    p = Probe(tmp_path, testforms.url(page), shared_session)
    n, r = len(testforms.submissions), len(testforms.rejected)
    p.channel.send(p.pc)
    assert testforms.rejected[r:] == []
    new = testforms.submissions[n:]
    assert [name for name, _ in new] == [page]
    assert only(new[0][1], "telefon") == want
    assert_body(only(new[0][1], "nachricht"))


@browser
@pytest.mark.browser
def test_required_pattern_nothing_fits_fails_naming_it(tmp_path: Path, testforms: Any,
                                                       shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("phone-pattern"), shared_session, phone="keine Angabe")
    n, r = len(testforms.submissions), len(testforms.rejected)
    with pytest.raises(ProbeError) as ei:
        p.channel.send(p.pc)
    assert not ei.value.temporary
    assert "'[0-9]+'" in str(ei.value) and "Telefon" in str(ei.value)
    assert _sent(testforms, n, r) == []


@browser
@pytest.mark.browser
def test_required_field_without_value_is_not_invented(tmp_path: Path, testforms: Any,
                                                      shared_session: Any) -> None:
    p = Probe(tmp_path, testforms.url("street"), shared_session)
    n, r = len(testforms.submissions), len(testforms.rejected)
    with pytest.raises(ProbeError) as ei:
        p.channel.send(p.pc)
    msg = str(ei.value)
    assert not ei.value.temporary
    assert "Straße und Hausnummer" in msg and "fields: {street: {value:" in msg, msg
    assert "company acme" in msg and "'Land" not in msg  # preselected: nothing missing
    assert "Anzahl der Verträge" in msg
    assert _sent(testforms, n, r) == []
    # the YAML the message names, written into the study with values, gets the form sent
    import re

    import yaml
    fields: dict[str, Any] = {}
    for snippet in re.findall(r"webform: (\{url: .*?\}\}\})", msg):
        cfg = yaml.safe_load(snippet)
        assert cfg["url"] == testforms.url("street")
        fields.update(cfg["fields"])
    assert fields == {"street": {"value": "..."},
                      "anzahl_der_vertraege": {"label": "Anzahl der Verträge", "value": "..."}}
    fields["street"]["value"], fields["anzahl_der_vertraege"]["value"] = "Musterstraße 1", "2"
    p = Probe(tmp_path / "with", {"url": testforms.url("street"), "fields": fields},
              shared_session)
    n, r = len(testforms.submissions), len(testforms.rejected)
    p.channel.send(p.pc)
    assert testforms.rejected[r:] == []
    new = testforms.submissions[n:]
    assert [name for name, _ in new] == ["street"]
    assert only(new[0][1], "strasse") == "Musterstraße 1"
    assert only(new[0][1], "plz") == "10115" and only(new[0][1], "anzahl") == "2"


def test_constraint_helpers() -> None:
    from servicebench.probes.webform.constraints import cut_at_word, js_len, phone_variants
    assert cut_at_word(SUBJECT, 20) == "Frage zur Kündigung"
    assert cut_at_word("Kündigung", 4) == "Künd"  # one long word: cut inside it
    assert js_len("a\r\nb") == 3 and js_len("😀") == 2
    assert phone_variants("+49 30 1234567") == [
        "+49 30 1234567", "+49301234567", "030 1234567", "0301234567", "0049301234567"]
    assert phone_variants("+1 212 5550100")[2] == "212 5550100"  # no trunk 0 there


@browser
@pytest.mark.browser
def test_probe_form_command_shows_what_would_fail(tmp_path: Path, testforms: Any) -> None:
    """`servicebench probe-form` prints the field limits: the cut subject as a warning, the
    message that does not fit as a reason the form would not be submitted."""
    from click.testing import CliRunner

    from servicebench.cli import cli

    write_study(tmp_path / "s", testforms.url("maxlength"))
    n, r = len(testforms.submissions), len(testforms.rejected)
    res = CliRunner().invoke(cli, ["probe-form", testforms.url("maxlength"), "--study",
                                   str(tmp_path / "s"), "--out", str(tmp_path / "out"),
                                   "--timeout", "20"])
    assert res.exit_code == 0, res.output
    assert "! would not be submitted: message field" in res.output
    assert "at most 80 characters" in res.output and "'short'" in res.output
    assert "warning: subject: the field takes at most 20 characters" in res.output
    assert _sent(testforms, n, r) == []


def _field(control: str, label: str, **kw: Any) -> Any:
    from servicebench.probes.webform.fields import Field
    return Field(frame=0, sid=label, control=control, type=kw.pop("type", control), name=label,
                 id="", autocomplete="", label=label, aria="", placeholder="", near="",
                 title="", classes="", required=kw.pop("required", ""), hidden="",
                 tabindex=None, form=0, order=0, **kw)


def test_fit_keeps_the_question_whole() -> None:
    """Without a browser: which text each limit leads to, and what is only a warning."""
    from servicebench.probes.webform.constraints import fit
    from servicebench.probes.webform.fields import Decision

    persona = Persona(id="x", name="Erika Mustermann", email="e@example.org")
    body = ("Guten Tag,\n\nwie kann ich meinen Vertrag kündigen, und welche Frist gilt "
            "dabei?\n\nGruß\nErika")
    fi = FormInput(persona=persona, subject=SUBJECT, body=body, email=REPLY, short=SHORT)

    def decide(kind: str, f: Any, value: str, source: str = "x") -> Any:
        return Decision(f, kind, "fill", value=value, source=source)

    msg = decide("message", _field("textarea", "Nachricht", maxlength=70), body)
    subj = decide("subject", _field("text", "Betreff", maxlength=20), SUBJECT)
    num = decide("anzahl", _field("text", "Anzahl", type="number", min="1", max="9"), "12")
    out = fit([msg, subj, num], fi)
    assert (msg.value, msg.source, msg.action) == (SHORT, "scenario short", "fill")
    assert subj.value == "Frage zur Kündigung" and not out.blockers
    assert any("outside the field's range 1..9" in w for w in out.warnings)
    # a body that fits (line breaks count once) is left alone
    fits = decide("message", _field("textarea", "N", maxlength=len(body)), body)
    assert not fit([fits], fi).warnings and fits.value == body
    # the study's own message text is never swapped for the short one
    own = decide("message", _field("textarea", "N", maxlength=20), body, "study fields")
    out = fit([own], fi)
    assert own.action == "leave" and "at most 20" in out.blockers[0]
    # no short text: the question is not cut, the probe is blocked
    bare = FormInput(persona=persona, subject=SUBJECT, body=body, email=REPLY)
    m2 = decide("message", _field("textarea", "Nachricht", maxlength=20), body)
    out = fit([m2], bare)
    assert m2.action == "leave" and "has no short text" in out.blockers[0]
