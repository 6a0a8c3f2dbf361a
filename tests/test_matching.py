"""Matching by lookup gives exactly what a scan over every probe gives, rule by rule."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from servicebench.mailparse import addresses, body_text, header, message_ids, parse_message
from servicebench.matching import ProbeIndex, clean_subject, domain_of, normalize, quote_keys
from servicebench.study import Company, Persona, Scenario, Study

BODIES = [
    "Hello,\n\nI have a contract with {c} that still runs for eight months. Can I switch to a "
    "bigger tariff before the contract ends? I would also like to know whether the price of "
    "the new tariff applies from the day of the switch. I am writing as {p}, a customer of "
    "{c} for years now.\n\nThank you, {p}",
    "Good morning,\n\nmy invoice from {c} for October shows a roaming charge of 12.40 euros "
    "although I was at home all month. Please explain the charge or refund it. The customer "
    "number is on the invoice.\n\nKind regards, {p}",
    "Hi,\n\nI am moving to another city next month and want to take my internet contract "
    "along. Is a move possible without a new minimum term, and how early must I tell you "
    "about it?\n\nBest, {p}",
]
SUBJECTS = ["Switching tariff before my contract ends", "Question about my invoice",
            "Moving house with my contract"]


def _study(n_companies: int) -> Study:
    companies = [Company(f"co{i}", f"Company{i}", {"email": f"service@co{i}.example"},
                         [f"co{i}.example"] + ([f"help{i}.example"] if i % 3 == 0 else []))
                 for i in range(n_companies)]
    personas = [Persona(f"p{i}", f"Person{i} Tester", f"p{i}@shopper.example") for i in range(10)]
    scenarios = [Scenario(f"s{i}", SUBJECTS[i], BODIES[i]) for i in range(len(BODIES))]
    return Study(Path("."), "t", "t", "en", "UTC", timedelta(days=7), personas, scenarios,
                 companies, None, timedelta(0), {})


def _rows(study: Study, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        c = study.companies[i % len(study.companies)]
        s = i % len(study.scenarios)
        p = study.personas[(i // len(study.companies)) % len(study.personas)]
        body = study.scenarios[s].body.format(c=c.name, p=p.name)
        rows.append({"id": i + 1, "company_id": c.id, "scenario_id": f"s{s}",
                     "channel": "email" if i % 4 else "webform",
                     "external_id": f"<m{i}.x@shopper.example>" if i % 4 else None,
                     "reply_address": f"p+{i:05x}@shopper.example" if i % 5 else None,
                     "detail": json.dumps({"subject": SUBJECTS[s] if i % 7 else f"Case {i}",
                                           "body": body,
                                           "message_id": f"<m{i}.x@shopper.example>",
                                           "quote_keys": quote_keys(body)})})
    return rows


def scan_match(index: ProbeIndex, msg, raw: bytes):  # noqa: ANN001, ANN201
    """The matching as it was before: every rule a scan over all probes."""
    for hdr, rule in (("In-Reply-To", "in-reply-to"), ("References", "references")):
        for mid in reversed(message_ids(header(msg, hdr))):
            if mid in index.by_id:
                return index.by_id[mid].id, rule, f"{hdr} names {mid}"
    rcpts = []
    for h in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        rcpts += addresses(msg, h)
    for a in rcpts:
        if a in index.by_address:
            return index.by_address[a].id, "address", f"sent to {a}"
    own_ids = set(message_ids(header(msg, "Message-ID")))
    for mid, p in index.by_id.items():
        if mid not in own_ids and mid.encode() in raw:
            return p.id, "original-id", f"contains {mid}"
    sender = (addresses(msg, "From") or [""])[0]
    sdomain = domain_of(sender) if sender else ""
    text = normalize(body_text(msg))
    quoted = [p for p in index.probes if any(k and k in text for k in p.keys)]
    if len(quoted) > 1 and sdomain:
        quoted = [p for p in quoted if sdomain in p.domains] or quoted
    if len(quoted) == 1:
        return quoted[0].id, "quote", "quotes the probe's text"
    if len(quoted) > 1:
        ids = ", ".join(str(p.id) for p in quoted)
        return None, None, f"ambiguous: quotes the text of probes {ids}"
    subject = clean_subject(header(msg, "Subject"))
    if sdomain and subject:
        cands = [p for p in index.probes
                 if sdomain in p.domains and p.subject and p.subject in subject]
        if len(cands) == 1:
            return cands[0].id, "subject+sender", f"from {sdomain}, subject matches"
        if len(cands) > 1:
            return None, None, ("ambiguous: subject and sender fit probes "
                                f"{', '.join(str(p.id) for p in cands)}")
    return None, None, "no rule matched"


def _messages(study: Study, rows: list[dict], rng: random.Random, n: int) -> list[bytes]:
    out = []
    for j in range(n):
        r = rng.choice(rows)
        detail = json.loads(r["detail"])
        m = EmailMessage()
        dom = rng.choice([f"{r['company_id']}.example", "help0.example", "other.example",
                          f"co{rng.randrange(len(study.companies))}.example"])
        m["From"] = f"Agent <agent@{dom}>"
        m["Message-ID"] = f"<reply{j}@{dom}>"
        kind = rng.randrange(9)
        to = "someone@shopper.example"
        if kind == 0:
            m["In-Reply-To"] = detail["message_id"]
        elif kind == 1:
            m["References"] = f"<x@y> {detail['message_id']} <z@w>"
        elif kind == 2 and r["reply_address"]:
            to = r["reply_address"]
        m["To"] = to
        subj = rng.choice([f"Re: {detail['subject']}", "[Ticket #12] " + detail["subject"],
                           "Newsletter", ""])
        m["Subject"] = subj
        body = "Dear customer,\n\nthank you for asking. It is possible at any time.\n"
        if kind == 3:
            body += f"\n--- original ---\nMessage-ID: {detail['message_id']}\n"
        if kind in (4, 5):
            quote = detail["body"] if kind == 4 else rng.choice(detail["quote_keys"])
            body += "\n" + "\n".join("> " + line for line in quote.splitlines())
        if kind == 6:  # a quote of one probe's sentence cut inside a word
            body += "\nxx" + detail["body"][3:60].upper()
        if kind == 7:
            body += "\n" + rng.choice(BODIES).format(c="Nobody", p="Nobody")
        m.set_content(body)
        out.append(m.as_bytes())
    return out


def test_lookup_matches_like_a_scan() -> None:
    rng = random.Random(13)
    study = _study(12)
    rows = _rows(study, 150)
    index = ProbeIndex(study, rows)
    rules: dict = {}
    for raw in _messages(study, rows, rng, 600):
        msg = parse_message(raw)
        got = index.match(msg, raw)
        assert got == scan_match(index, msg, raw), raw.decode()[:400]
        rules[got[1]] = rules.get(got[1], 0) + 1
        if got[1] is None and got[2].startswith("ambiguous"):
            rules["ambiguous"] = rules.get("ambiguous", 0) + 1
    # every rule was exercised, including ambiguity
    for rule in ("in-reply-to", "references", "address", "original-id", "quote",
                 "subject+sender", None, "ambiguous"):
        assert rules.get(rule), (rule, rules)


def test_quote_of_short_key_and_ids_without_brackets() -> None:
    study = _study(2)
    rows = [{"id": 1, "company_id": "co0", "scenario_id": "s0", "channel": "webform",
             "external_id": None, "reply_address": None,
             "detail": json.dumps({"subject": "x", "message_id": "plain-id-123",
                                   "quote_keys": ["averyveryverylongwordwithoutspaces"
                                                  "thatislongerthanfortychars",
                                                  "two wordsbutlongenoughtobeaquotekey"
                                                  "xxxxxxxx"]})},
            {"id": 2, "company_id": "co1", "scenario_id": "s0", "channel": "webform",
             "external_id": None, "reply_address": None,
             "detail": json.dumps({"subject": "y", "quote_keys": [
                 "the rarest run of words inside this key is here"]})}]
    index = ProbeIndex(study, rows)
    for body, want in (("see plain-id-123 above", (1, "original-id")),
                       ("zzAVERYVERYVERYLONGWORDWITHOUTSPACESTHATISLONGERTHANFORTYCHARSzz",
                        (1, "quote")),
                       ("> The rarest run of words\n> inside this key is here.", (2, "quote")),
                       ("the rarest run of words inside this key", (None, None))):
        m = EmailMessage()
        m["From"] = "a@b.example"
        m["To"] = "c@d.example"
        m.set_content(body)
        raw = m.as_bytes()
        got = index.match(parse_message(raw), raw)
        assert got[:2] == want, body
        assert got == scan_match(index, parse_message(raw), raw)
