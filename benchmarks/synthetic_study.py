"""A realistic synthetic study of any size, written through the project's own store.

    python benchmarks/synthetic_study.py --companies 500 --out /tmp/synth-500
        [--channels email,webform,phone] [--scenarios 2] [--language de] [--seed 1]

Companies differ in quality (some never answer, some answer fast and completely); reply
times follow log-normal distributions per channel (minutes by phone, hours to days by mail),
with automatic acknowledgements, bounces, blocked web forms (with a screenshot) and replies
that greet the persona, answer some checklist items and carry an agent's signature. The
study.yaml validates like any other, so every command (report, export, status) runs on it.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servicebench.clock import utc_iso  # noqa: E402
from servicebench.store import Store  # noqa: E402
from servicebench.study import load_study  # noqa: E402

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)
SYLLABLES = ["tel", "com", "net", "mo", "bi", "la", "vo", "ra", "xa", "fon", "lin", "ko",
             "sta", "ver", "tri", "nova", "pri", "ma", "den", "sol"]
FORMS = ["GmbH", "AG", "SE", "KG", "GmbH & Co. KG"]
AGENTS = ["Anna Schmidt", "Jonas Weber", "Lea Fischer", "Paul Wagner", "Mia Becker",
          "Lukas Hoffmann", "Emma Schulz", "Finn Koch", "Amy Clark", "Tom Baker"]
SCENARIOS = [
    ("tarif", "Tarifwechsel vor Vertragsende", "Tarif",
     [("possible", "Wechsel vor Vertragsende möglich", ["jederzeit möglich", "wechseln"]),
      ("effective", "Nennt den Wirkungszeitpunkt", ["nächsten Monat", "Monatsersten"]),
      ("cost", "Nennt die Kosten", ["kostenlos", "keine Gebühr"])]),
    ("kuendigung", "Wie kündige ich meinen Vertrag?", "Vertrag",
     [("period", "Kündigungsfrist genannt", ["drei Monate", "Kündigungsfrist"]),
      ("form", "Form der Kündigung genannt", ["Textform", "schriftlich"]),
      ("confirm", "Bestätigung zugesagt", ["Bestätigung"])]),
    ("rueckgabe", "Rückgabe meiner Bestellung", "Rückgabe",
     [("days", "Rückgabefrist genannt", ["30 Tage"]),
      ("label", "Rücksendeetikett", ["Rücksendeetikett"]),
      ("refund", "Erstattung erklärt", ["Erstattung"])]),
]
# per channel: (median seconds to a human reply, log-sd, answer factor, time source)
CHANNELS = {"email": (20 * 3600, 1.1, 1.0, "smtp-response-timestamp"),
            "webform": (26 * 3600, 1.2, 0.9, "form-confirmation"),
            "phone": (4 * 60, 0.8, 1.1, "tester-log"),
            "chat": (3 * 60, 0.7, 1.0, "tester-log"),
            "mastodon": (5 * 3600, 1.0, 0.7, "mastodon-created_at")}


def company_names(n: int, rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        core = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        names.add(f"{core} {rng.choice(FORMS)}")
    return sorted(names)


def study_yaml(n: int, channels: list[str], n_scenarios: int, language: str,
               rng: random.Random) -> str:
    lines = ["study:", "  id: synthetic", f'  title: "Synthetische Studie: {n} Unternehmen"',
             f"  language: {language}", "  timezone: Europe/Berlin", "  window: 7d",
             '  client: "Benchmark"', "personas:",
             "  - {id: lena, name: Lena Berger, salutation: Frau, email: lena@example.org}",
             "scenarios:"]
    for sid, subject, topic, facts in SCENARIOS[:n_scenarios]:
        lines += [f"  - id: {sid}", f'    subject: "{subject}"', f'    topic: "{topic}"',
                  "    body: |", "      Guten Tag,", "",
                  f"      {subject} – bitte um kurze Auskunft.", "",
                  "      Viele Grüße", "      {{ persona.name }}", "    expect:"]
        for fid, label, phrases in facts:
            lines.append(f'      - {{id: {fid}, label: "{label}", any: {json.dumps(phrases)}}}')
    lines.append("companies:")
    for i, name in enumerate(company_names(n, rng)):
        cid = f"c{i:04d}"
        chans = {"email": f"service@{cid}.example.de",
                 "webform": f"https://www.{cid}.example.de/kontakt",
                 "phone": f"+49 30 {1000000 + i}", "chat": f"https://www.{cid}.example.de/chat",
                 "mastodon": f"@support@{cid}.example.social"}
        body = ", ".join(f'{c}: "{chans[c]}"' for c in channels)
        lines += [f"  - id: {cid}", f'    name: "{name}"', f"    channels: {{{body}}}"]
    return "\n".join(lines) + "\n"


def reply_text(rng: random.Random, facts: list[tuple[str, str, list[str]]],
               personal: bool) -> tuple[str, str]:
    agent = rng.choice(AGENTS)
    greet = "Sehr geehrte Frau Berger," if personal else "Sehr geehrte Damen und Herren,"
    said = [rng.choice(p) for _, _, p in facts if rng.random() < 0.6]
    body = " ".join(f"Zu Ihrer Frage: {s}." for s in said) or "Wir prüfen Ihr Anliegen."
    return (f"{greet}\n\nvielen Dank für Ihre Anfrage. {body}\n\nMit freundlichen Grüßen\n"
            f"{agent}\nKundenservice\n\n> Guten Tag,\n> bitte um kurze Auskunft."), agent


def screenshot_png(text: str) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 300), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 460, 280), outline="#888")
    draw.text((40, 40), "Kontaktformular", fill="black")
    for k, y in enumerate((80, 120, 160)):
        draw.rectangle((40, y, 440, y + 24), outline="#bbb")
        draw.text((46, y + 6), ["Name", "E-Mail", "Nachricht"][k], fill="#666")
    draw.rectangle((40, 200, 300, 250), outline="#c00")
    draw.text((50, 218), text, fill="#c00")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def generate(out: Path, companies: int, channels: list[str], n_scenarios: int = 2,
             language: str = "de", seed: int = 1) -> Path:
    """Write study.yaml and fill the store; returns the study folder."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.yaml").write_text(study_yaml(companies, channels, n_scenarios, language, rng),
                                    encoding="utf-8")
    study = load_study(out, environ={})
    store = Store(out)
    shot = screenshot_png("CAPTCHA")
    seq = 0
    with store.transaction() as db:
        for company in study.companies:
            quality = rng.betavariate(2, 1.6) if rng.random() > 0.08 else 0.0
            for ch in channels:
                median, sd, factor, source = CHANNELS[ch]
                for si, scenario in enumerate(study.scenarios):
                    seq += 1
                    sent = T0 + timedelta(minutes=2 * seq)
                    facts = SCENARIOS[si][3]
                    state = "sent"
                    if ch == "webform" and rng.random() < 0.05:
                        state = "blocked"
                    cur = db.execute(
                        "INSERT INTO probes (key, company_id, channel, scenario_id, persona_id,"
                        " wave, target, state, due_at, sent_at, sent_time_source,"
                        " window_ends_at, error, updated_at) VALUES"
                        " (?, ?, ?, ?, 'lena', 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (f"{company.id}|{ch}|{scenario.id}|lena|1", company.id, ch,
                         scenario.id, str(company.channels[ch]), state, utc_iso(sent),
                         utc_iso(sent) if state == "sent" else None,
                         source if state == "sent" else None,
                         utc_iso(sent + WINDOW) if state == "sent" else None,
                         "captcha" if state == "blocked" else None, utc_iso(sent)))
                    pid = int(cur.lastrowid)
                    if state == "blocked":
                        rel = f"evidence/forms/{pid}-after.png"
                        (out / rel).parent.mkdir(parents=True, exist_ok=True)
                        (out / rel).write_bytes(shot)
                        db.execute("INSERT INTO evidence (probe_id, kind, path, sha256,"
                                   " created_at) VALUES (?, 'screenshot-after', ?, '', ?)",
                                   (pid, rel, utc_iso(sent)))
                        continue
                    msgs = []
                    if ch in ("email", "webform") and rng.random() < 0.5:
                        msgs.append(("automated", sent + timedelta(seconds=rng.randint(5, 120)),
                                     "Wir haben Ihre Anfrage erhalten. Dies ist eine "
                                     "automatisch erzeugte Nachricht.",
                                     ["header Auto-Submitted: auto-replied [automated +3]"], ""))
                    if ch == "email" and rng.random() < 0.02:
                        msgs.append(("bounce", sent + timedelta(seconds=30),
                                     "Undelivered Mail Returned to Sender", [
                                         "structure: multipart/report delivery-status "
                                         "notification (DSN) [bounce +3]"], ""))
                    elif rng.random() < min(0.97, quality * factor):
                        delay = rng.lognormvariate(0, sd) * median * (1.6 - quality)
                        text, agent = reply_text(rng, facts, rng.random() < quality)
                        msgs.append(("human", sent + timedelta(seconds=delay), text, [
                            "reply: In-Reply-To/References point to the probe",
                            f"text: signed by a person '{agent}' [human +1.5]"],
                            f'"{agent}" <{agent.split()[0].lower()}@{company.id}.example.de>'))
                    for kind, at, text, reasons, sender in msgs:
                        seq += 1
                        db.execute(
                            "INSERT INTO messages (channel, source, external_id, probe_id,"
                            " match_method, received_at, time_source, sender, subject, text,"
                            " kind, reasons, evidence, fetched_at) VALUES"
                            " (?, 'synthetic', ?, ?, 'in-reply-to', ?, 'imap-internaldate', ?,"
                            " ?, ?, ?, ?, ?, ?)",
                            (ch, str(seq), pid, utc_iso(at),
                             sender or f"service@{company.id}.example.de",
                             f"AW: {scenario.subject}", text, kind,
                             json.dumps(reasons, ensure_ascii=False),
                             f"evidence/messages/{seq}.eml", utc_iso(at)))
    store.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--companies", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--channels", default="email,webform,phone")
    ap.add_argument("--scenarios", type=int, default=2, choices=(1, 2, 3))
    ap.add_argument("--language", default="de", choices=("de", "en"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    chans = [c.strip() for c in a.channels.split(",") if c.strip()]
    unknown = [c for c in chans if c not in CHANNELS]
    if unknown:
        ap.error(f"unknown channel(s) {', '.join(unknown)}; use {', '.join(CHANNELS)}")
    if a.out.exists() and any(a.out.iterdir()):
        ap.error(f"{a.out} exists and is not empty")
    path = generate(a.out, a.companies, chans, a.scenarios, a.language, a.seed)
    print(f"Wrote a synthetic study with {a.companies} companies to {path}")


if __name__ == "__main__":
    main()
