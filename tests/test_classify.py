"""Tests for servicebench.classify: a corpus of realistic received mails plus hostile input.

Fixture files are named ``<expected-kind>__<short-name>.eml``. Every file is classified twice:
without any context (as the ``classify`` command would on a loose file) and with the context
the runner has (persona name, probe text, whether In-Reply-To points at the probe).
"""

from __future__ import annotations

import builtins
import json
import socket
import time
from pathlib import Path

import pytest

from servicebench.classify import (
    KINDS,
    Classification,
    classify_file,
    classify_message,
    classify_text,
)
from servicebench.errors import ClassifyError

FIXTURES = Path(__file__).parent / "fixtures" / "emails"
FILES = sorted(FIXTURES.glob("*.eml"))
PROBE_ID = b"<probe-7f3a2c91@mystery.example.net>"
PERSONA = "Anna Berger"

PROBE_DE = """Guten Tag,

ich würde gern in Ihrem Shop bestellen und habe vorher zwei Fragen: Kann ich auf Rechnung \
bezahlen, und wie lange dauert die Lieferung nach Österreich (Wien)? Fallen dafür zusätzliche \
Versandkosten an?

Vielen Dank im Voraus und viele Grüße
Anna Berger"""

PROBE_EN = """Hello,

I'm thinking about ordering from your online shop and have two questions before I do: can I \
pay by invoice (bank transfer) instead of credit card, and how long does delivery to Ireland \
(Dublin) usually take? Are there extra shipping costs or customs fees?

Thanks in advance,
Anna Berger"""


def expected(path: Path) -> str:
    return path.name.split("__", 1)[0]


def probe_for(path: Path) -> str:
    return PROBE_EN if "-en" in path.name else PROBE_DE


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def show(c: Classification) -> str:
    return f"{c.kind}/{c.subkind} {c.score}\n" + "\n".join(c.reasons)


# ------------------------------------------------------------------------------ corpus


def test_corpus_covers_every_kind() -> None:
    assert len(FILES) >= 30
    for kind in KINDS:
        assert sum(expected(p) == kind for p in FILES) >= 3, kind
    assert all(expected(p) in KINDS for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixture_without_context(path: Path) -> None:
    c = classify_file(path)
    assert c.kind == expected(path), show(c)
    assert c.reasons and all(isinstance(r, str) and r for r in c.reasons)
    assert set(c.score) == set(KINDS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixture_with_runner_context(path: Path) -> None:
    raw = path.read_bytes()
    head = raw.split(b"\n\n", 1)[0].lower()
    replies = PROBE_ID.lower() in head and b"in-reply-to" in head
    c = classify_message(raw, replies_to_probe=replies, probe_text=probe_for(path),
                         persona_name=PERSONA)
    assert c.kind == expected(path), show(c)


SUBKINDS = [
    ("automated__outlook-ooo-de.eml", "out-of-office", "Automatische Antwort"),
    ("automated__outlook-ooo-en-html.eml", "out-of-office", "out of the office"),
    ("automated__gmail-vacation-en.eml", "out-of-office", "Auto-Submitted: auto-replied"),
    ("automated__zendesk-request-received-en.eml", "ticket-acknowledgement", "has been received"),
    ("automated__zendesk-anfrage-eingegangen-de-html.eml", "ticket-acknowledgement",
     "ist eingegangen"),
    ("automated__freshdesk-ticket-received-en.eml", "ticket-acknowledgement", "Ticket Received"),
    ("automated__salesforce-case-created-de.eml", "ticket-acknowledgement",
     "automatisch erstellt"),
    ("automated__headerless-ack-de.eml", "ticket-acknowledgement", "Ihre Anfrage erhalten"),
    ("automated__otrs-autoreply-de.eml", "ticket-acknowledgement", "Eingangsbestätigung"),
    ("automated__csat-survey-de.eml", "survey", "Wie zufrieden"),
    ("automated__contact-form-redirect-de.eml", "contact-form-redirect", "nicht mehr betreut"),
    ("automated__exchange-rule-autoreply-de.eml", "ticket-acknowledgement",
     "X-MS-Exchange-Inbox-Rules-Loop"),
    ("automated__delay-dsn-gmail.eml", "delivery-delay", "not a final bounce"),
    ("automated__delay-exim-warning.eml", "delivery-delay", "not a final bounce"),
    ("automated__malformed-binary-junk-auto-replied.eml", "auto-reply", "auto-replied"),
    ("bounce__postfix-dsn-user-unknown.eml", "delivery-failure", "delivery-status"),
    ("bounce__exchange-ndr-unzustellbar-de.eml", "delivery-failure", "Unzustellbar"),
    ("bounce__gmail-address-not-found.eml", "delivery-failure", "DSN action failed"),
    ("bounce__exim-failed-no-dsn.eml", "delivery-failure", "X-Failed-Recipients"),
    ("bounce__qmail-failure-notice.eml", "delivery-failure", "failure notice"),
    ("bounce__mailbox-full-de.eml", "delivery-failure", "Mailbox full"),
    ("human__zendesk-agent-reply-de.eml", "agent-reply",
     "Zendesk agent reply (automation headers overridden: Auto-Submitted: auto-generated"),
    ("human__zendesk-solved-agent-reply-en-noreply-csat.eml", "agent-reply", "no-reply sender"),
    ("human__otrs-agent-reply-de-noreply.eml", "agent-reply", "OTRS/Znuny agent reply"),
    ("human__salesforce-agent-reply-de.eml", "agent-reply", "Salesforce"),
    ("human__hubspot-agent-reply-en-list-unsubscribe.eml", "agent-reply", "I've looked into"),
    ("human__plain-reply-de-small-shop.eml", "personal-reply", "Thomas Weber"),
    ("human__outlook-reply-de-html-only.eml", "personal-reply", "Katrin Vogel"),
    ("human__iphone-reply-de.eml", "personal-reply", "iPhone"),
    ("human__malformed-bad-charset.eml", "personal-reply", "charset"),
    ("unrelated__newsletter-de.eml", "newsletter", "List-Unsubscribe"),
    ("unrelated__shop-promo-de-brevo.eml", "marketing", "Rabatt"),
]


@pytest.mark.parametrize(("name", "subkind", "reason"), SUBKINDS, ids=[s[0] for s in SUBKINDS])
def test_subkind_and_reason(name: str, subkind: str, reason: str) -> None:
    c = classify_file(FIXTURES / name)
    assert c.subkind == subkind, show(c)
    assert any(reason.lower() in r.lower() for r in c.reasons), show(c)


def test_helpdesk_headers_do_not_make_an_agent_reply_automated() -> None:
    c = classify_file(FIXTURES / "human__zendesk-agent-reply-de.eml")
    assert c.kind == "human"
    assert any("weight reduced" in r and "Auto-Submitted" in r for r in c.reasons), show(c)
    assert c.score["human"] > c.score["automated"] + 3


def test_zendesk_ack_shows_only_the_customers_comment() -> None:
    c = classify_file(FIXTURES / "automated__zendesk-request-received-en.eml")
    assert any("notification" in r and "Anna Berger" in r for r in c.reasons), show(c)


def test_specifics_of_the_inquiry_count_as_human_evidence() -> None:
    raw = load("human__plain-reply-en-no-quote.eml")
    plain = classify_message(raw)
    informed = classify_message(raw, probe_text=PROBE_EN, persona_name=PERSONA)
    assert informed.score["human"] > plain.score["human"]
    assert any("specifics of the inquiry" in r for r in informed.reasons), show(informed)
    # the reason names the reply's own words, not the 7-letter stems they are compared by
    (why,) = [r for r in informed.reasons if "specifics of the inquiry" in r]
    named = why.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert all(w.lower() in raw.decode(errors="replace").lower() for w in named), why
    assert any(len(w) > 7 for w in named), why


def test_a_reply_to_the_probe_is_never_unrelated() -> None:
    raw = load("unrelated__newsletter-de.eml")
    c = classify_message(raw, replies_to_probe=True)
    assert c.kind != "unrelated", show(c)
    assert any("not unrelated" in r for r in c.reasons)


def test_bulk_looking_message_that_quotes_the_probe_is_not_unrelated() -> None:
    quoted = "\n".join("> " + line for line in PROBE_DE.splitlines())
    raw = (
        "From: Wohnwelt24 <news@wohnwelt24.example>\nTo: Anna Berger <anna.berger@example.net>\n"
        "Subject: Unsere Antwort und ein Angebot für Sie\nList-Unsubscribe: <https://x.example/u>\n"
        "List-Id: <kunden.wohnwelt24.example>\nPrecedence: bulk\nContent-Type: text/plain; "
        "charset=utf-8\n\nGuten Tag Frau Berger,\n\nja, Kauf auf Rechnung ist möglich, die "
        "Lieferung nach Wien dauert 3 Tage.\n\nJetzt entdecken: bis zu 30 % Rabatt auf Sofas! "
        "Newsletter abbestellen: https://x.example/u\n\n" + quoted + "\n"
    ).encode()
    c = classify_message(raw, probe_text=PROBE_DE, persona_name=PERSONA)
    assert c.kind != "unrelated", show(c)
    assert any("quotes the probe" in r for r in c.reasons), show(c)


def test_newsletter_without_any_reference_is_unrelated_even_with_context() -> None:
    c = classify_message(load("unrelated__marketing-en-mailchimp.eml"), probe_text=PROBE_EN,
                         persona_name=PERSONA)
    assert c.kind == "unrelated", show(c)


def test_fast_response_time_is_evidence_of_automation() -> None:
    raw = ("From: Shop <info@shop.example>\nTo: anna.berger@example.net\nSubject: Re: Frage\n"
           "Content-Type: text/plain; charset=utf-8\n\nHallo,\n\ndas schauen wir uns gern an und "
           "kommen darauf zurück.\n\nGrüße\n").encode()
    assert classify_message(raw).kind == "human"
    c = classify_message(raw, response_seconds=8)
    assert c.kind == "automated", show(c)
    assert any(r.startswith("timing:") for r in c.reasons)


def test_read_receipt_and_dsn_structure() -> None:
    raw = (b"From: anna@x.example\nTo: y@x.example\nSubject: Gelesen: Frage\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n"
           b"--b\nContent-Type: text/plain\n\nIhre Nachricht wurde gelesen.\n--b\n"
           b"Content-Type: message/disposition-notification\n\nDisposition: manual-action/"
           b"MDN-sent-manually; displayed\n--b--\n")
    c = classify_message(raw)
    assert (c.kind, c.subkind) == ("automated", "read-receipt"), show(c)


def test_to_dict_is_json_serialisable() -> None:
    c = classify_file(FIXTURES / "human__freshdesk-agent-reply-en.eml")
    data = json.loads(json.dumps(c.to_dict()))
    assert data["kind"] == "human"
    assert set(data) == {"kind", "subkind", "reasons", "score", "uncertain", "probabilities"}
    assert isinstance(data["uncertain"], bool)
    assert set(data["probabilities"]) == set(KINDS)
    assert abs(sum(data["probabilities"].values()) - 1) < 1e-3


# ---------------------------------------------------------------------- classify_file


def test_classify_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ClassifyError, match="no such message file"):
        classify_file(tmp_path / "missing.eml")
    with pytest.raises(ClassifyError, match="folder"):
        classify_file(tmp_path)
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    with pytest.raises(ClassifyError, match="empty"):
        classify_file(empty)
    msg = tmp_path / "outlook.msg"
    msg.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(ClassifyError, match=r"\.eml"):
        classify_file(msg)


# ---------------------------------------------------------------------- hostile input

H = b"From: a@b.example\nTo: c@d.example\nSubject: x\nMIME-Version: 1.0\n"
HOSTILE = {
    "empty": b"",
    "whitespace": b"\n\n  \r\n",
    "random-bytes": bytes((i * 7919) % 251 for i in range(200_000)),
    "nul-bytes": b"\x00" * 10_000,
    "no-headers": b"just some text without any header at all, ich habe das gepr\xfcft",
    "huge-text": H + b"Content-Type: text/plain\n\n" + b"Wir haben Ihre Anfrage. " * 500_000,
    "deep-nesting": H + b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(3000)),
    "many-parts": H + b"Content-Type: multipart/mixed; boundary=z\n\n" + b"".join(
        b"--z\nContent-Type: text/plain\n\npart %d\n" % i for i in range(3000)) + b"--z--\n",
    "script-flood": H + b"Content-Type: text/html\n\n" + b"<script" * 200_000,
    "comment-flood": H + b"Content-Type: text/html\n\n" + b"<!--" * 200_000,
    "tag-flood": H + b"Content-Type: text/html\n\n" + b"<a " * 200_000,
    "entity-flood": H + b"Content-Type: text/html\n\n" + b"&#" * 200_000,
    "idna-charset": H + b"Content-Type: text/plain; charset=idna\n\nHallo \xff, gepr\xfcft",
    "bogus-charset": H + b"Content-Type: text/plain; charset=\"\xff\xfe\"\n\nHallo",
    "broken-base64": H + b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!*",
    "broken-qp": H + b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=Z",
    "many-headers": b"".join(b"X-H%d: %s\n" % (i, b"v" * 40) for i in range(30_000)) + b"\nbody",
    "long-header": b"Subject: =?utf-8?q?" + b"=C3=A4" * 200_000 + b"?=\n\nbody",
    "dsn-flood": H + b"Content-Type: multipart/report; report-type=delivery-status; boundary=q\n\n"
    b"--q\nContent-Type: message/delivery-status\n\n" + b"Action: failed\n\n" * 20_000 + b"--q--",
    "file-urls": H + b"Content-Type: text/html\n\n<img src=\"file:///etc/passwd\"><iframe src="
    b"\"http://127.0.0.1:9/\"></iframe><link href=\"http://127.0.0.1:9/x.css\">Hallo",
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_input_never_raises(raw: bytes) -> None:
    start = time.monotonic()
    c = classify_message(raw, probe_text=PROBE_DE, persona_name=PERSONA)
    assert time.monotonic() - start < 15
    assert c.kind in KINDS and c.subkind and c.reasons
    json.dumps(c.to_dict())


def test_unreadable_input_is_flagged_not_counted_as_human() -> None:
    for name in ("empty", "random-bytes", "nul-bytes", "script-flood"):
        c = classify_message(HOSTILE[name])
        assert c.kind == "automated", (name, show(c))
        assert any("check it by hand" in r for r in c.reasons), (name, show(c))


def test_wrong_argument_types_never_raise() -> None:
    assert classify_message("From: a@b\n\nHallo, ich habe das geprüft.").kind in KINDS  # type: ignore[arg-type]
    assert classify_message(None).subkind == "unclassifiable"  # type: ignore[arg-type]
    assert classify_text(None).kind in KINDS  # type: ignore[arg-type]
    assert classify_text(b"\xff\xfe bytes").kind in KINDS  # type: ignore[arg-type]


def test_nothing_named_in_a_message_is_fetched_or_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open = builtins.open

    def spy_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def no_network(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("network access attempted")

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    raw = load("automated__hostile-html-file-urls.eml")
    c = classify_message(raw)
    assert c.kind == "automated", show(c)
    assert not any("passwd" in f or "shadow" in f or "win.ini" in f for f in opened)
    # text inside an unclosed HTML comment is invisible, so it is no evidence either
    assert not any("ich habe geprüft" in r for r in c.reasons), show(c)


# ------------------------------------------------------------------------ classify_text

SOCIAL = [
    ("human", "personal-reply", dict(
        text="@anna_berger Yes! We ship to Dublin in 2-4 days and you can pay by invoice. -Tom")),
    ("human", "personal-reply", dict(
        text="@anna_berger Ja, Kauf auf Rechnung geht auch nach Österreich, die Lieferzeit nach "
             "Wien beträgt ca. 3-5 Werktage 🙂 ^MK")),
    ("human", "personal-reply", dict(
        text="Hi Anna, I've checked with our warehouse: delivery to Dublin takes 3 days and "
             "costs €7. Feel free to DM us if you need anything else! ^AB")),
    ("automated", "canned-dm-request", dict(
        text="Hi Anna, thanks for reaching out! Please send us a DM with your order number and "
             "we'll look into it. ^JS")),
    ("automated", "canned-dm-request", dict(
        text="Hallo Anna, schick uns bitte eine PN mit deiner Kundennummer, dann schauen wir uns "
             "das gerne an! /Lisa")),
    ("automated", "canned-dm-request", dict(
        text="Hallo! Bitte schreiben Sie uns eine Direktnachricht, damit wir helfen können.")),
    ("automated", "bot-account", dict(text="Ja, das geht.", is_bot_account=True)),
    ("automated", "bot-account", dict(
        text="Hi! I'm the Acme assistant. Ask me anything.", author="AcmeBot")),
    ("automated", "ticket-acknowledgement", dict(
        text="Thanks for your message! Our social media team is available Mon-Fri 9am-5pm. "
             "We'll get back to you as soon as possible.")),
]


@pytest.mark.parametrize(("kind", "subkind", "kwargs"), SOCIAL,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SOCIAL)])
def test_classify_text(kind: str, subkind: str, kwargs: dict) -> None:
    c = classify_text(**kwargs)
    assert (c.kind, c.subkind) == (kind, subkind), show(c)


def test_classify_text_mastodon_html_and_probe_context() -> None:
    html = ('<p><span class="h-card"><a href="https://social.example/@anna" class="u-url '
            'mention">@<span>anna</span></a></span> Ja, Kauf auf Rechnung ist auch nach '
            '&Ouml;sterreich m&ouml;glich, die Lieferung nach Wien dauert 3 Tage.</p>')
    c = classify_text(html, persona_name=PERSONA, probe_text=PROBE_DE)
    assert c.kind == "human", show(c)
    assert any("specifics of the inquiry" in r for r in c.reasons), show(c)


def test_classify_text_promotion_that_is_no_reply_is_unrelated() -> None:
    c = classify_text("Black Friday: 25% off everything! Use code BF25. Shop now 👉 "
                      "https://shop.example", replies_to_probe=False)
    assert c.kind == "unrelated", show(c)
    assert classify_text("Black Friday: 25% off everything! Shop now").kind != "unrelated"


def test_acknowledgement_echoing_the_customers_words_stays_automated() -> None:
    # no probe text given, and the echoed inquiry is full of first-person customer language
    raw = ("From: Service <service@shop.example>\nTo: kunde@example.net\nSubject: Ihre Anfrage\n"
           "Content-Type: text/plain; charset=utf-8\n\nGuten Tag,\n\nwir haben Ihre Nachricht "
           "erhalten und melden uns schnellstmöglich.\n\nIhre Nachricht:\nIch habe am 3.11. bei "
           "Ihnen bestellt und mir gestern Ihre Seite angesehen. Ich habe Ihnen auch eine Mail "
           "geschickt, aber keine Antwort bekommen. I have sent you two emails already.\n\n"
           "Ihr Kundenservice\n").encode()
    c = classify_message(raw)
    assert c.kind == "automated", show(c)
    assert c.subkind == "ticket-acknowledgement", show(c)


def test_person_answering_about_a_bounce_is_not_a_bounce() -> None:
    raw = ("From: Petra Lang <p.lang@shop.example>\nTo: Anna Berger <anna@example.net>\n"
           "Subject: AW: Unzustellbar: Frage\nIn-Reply-To: <x@example.net>\n"
           "Content-Type: text/plain; charset=utf-8\n\nHallo Frau Berger,\n\nIhre erste Mail "
           "kam bei uns als unzustellbar zurück, die alte Adresse gibt es nicht mehr. Zu Ihrer "
           "Frage: ja, wir liefern nach Wien.\n\nViele Grüße\nPetra Lang\n").encode()
    c = classify_message(raw)
    assert c.kind == "human", show(c)


def test_first_name_below_a_closing_with_words() -> None:
    raw = ("From: Laden <info@laden.example>\nTo: a@example.net\nSubject: Re: Frage\n"
           "Content-Type: text/plain; charset=utf-8\n\nHallo,\n\nklar, das geht.\n\n"
           "Grüße aus Freiburg\nThomas\n").encode()
    c = classify_message(raw)
    assert any("signed by a person 'Thomas'" in r for r in c.reasons), show(c)


def test_personalised_newsletter_is_still_unrelated() -> None:
    raw = ("From: Wohnwelt24 <newsletter@wohnwelt24.example>\nTo: Anna Berger <a@example.net>\n"
           "Subject: Anna, Ihre Winter-Angebote\nList-Unsubscribe: <https://x.example/u>\n"
           "List-Id: <news.wohnwelt24.example>\nPrecedence: bulk\nContent-Type: text/plain; "
           "charset=utf-8\n\nHallo Anna Berger,\n\njetzt bestellen und sparen: bis zu 30 % "
           "Rabatt auf Sofas, Lieferung auch nach Österreich, Versandkosten geschenkt.\n\n"
           "Jetzt entdecken!\n\nNewsletter abbestellen: https://x.example/u\n").encode()
    c = classify_message(raw, probe_text=PROBE_DE, persona_name=PERSONA)
    assert c.kind == "unrelated", show(c)


def test_anchor_gate_finds_what_substring_search_finds() -> None:
    """The one-pass keyword gate (Aho-Corasick) sees exactly the anchor words a substring test
    per anchor sees, overlapping and nested words included, so no rule is skipped wrongly."""
    import random

    from servicebench.classify import rules as rules_mod
    from servicebench.classify.anchors import gate_text
    from servicebench.classify.evidence import anchors_in

    lists = [v for v in vars(rules_mod).values()
             if isinstance(v, list) and v and hasattr(v[0], "anchors")]
    words = [a for rs in lists for r in rs for a in (r.anchors or ())]
    rng = random.Random(7)
    for _ in range(2000):
        rules = rng.choice(lists)
        low = gate_text("".join(
            rng.choice(words) if rng.random() < 0.3 else rng.choice(["ab", " ", "Ünter", "ß"])
            for _ in range(rng.randint(0, 30))))
        want = {a for r in rules for a in (r.anchors or ()) if a in low}
        assert anchors_in(rules, low) == want, low
