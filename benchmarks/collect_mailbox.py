"""First ``collect`` of a big mailbox on Dovecot: messages per second, and the cost of
matching one message at different numbers of probes.

    python benchmarks/collect_mailbox.py [--messages N] [--probes 150,1500]

For each number of probes P (companies x 3 scenarios x 10 personas): a study whose P email
probes are sent (written to its database as ``runner`` does after sending), and a Dovecot
Maildir of N messages: replies to 84 % of the probes (by In-Reply-To, reply address, quoted
text in a new ticket, subject and sender, bounces quoting the Message-ID; an
acknowledgement and a human answer each) and, for the rest, newsletters and other mail. The
folder is indexed by Dovecot before timing (as a real mailbox is). Then it times

- a plain IMAP fetch of every message (the floor: what the network and server cost),
- ``servicebench collect`` as a separate process (evidence, parse, match, classify, store),
- :meth:`ProbeIndex.match` alone over the same messages (CPU microseconds per message,
  headers already parsed).
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import random
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import need_dovecot, write_study  # noqa: E402

from servicebench.clock import utc_iso  # noqa: E402
from servicebench.mailparse import parse_message  # noqa: E402
from servicebench.matching import ProbeIndex, quote_keys  # noqa: E402
from servicebench.runner import plan, probe_context  # noqa: E402
from servicebench.store import Store  # noqa: E402
from servicebench.study import load_study  # noqa: E402

PERSONAS = 10
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HUMAN = ("Dear {name},\n\nthank you for your message. I have checked your contract: a switch "
         "is possible at any time, the new price applies from the next invoice.\n\nKind "
         "regards\nMaria Schulz\nCustomer Service {company}\n")
ACK = ("Thank you for contacting {company}. We have received your request and will answer "
       "within 3 working days. Your ticket number is {ticket}.\n\nThis is an automatic "
       "message, please do not reply.\n")
NEWS = ("Our November offers: 20 % off all smartphones, free shipping this week only. "
        "Unsubscribe at https://news.example/u/{n}\n")


def sent_probes(folder: Path) -> list[dict]:
    """Plan the study and mark every probe sent, as the runner does after SMTP's 250."""
    study = load_study(folder)
    store = Store(folder)
    plan(study, store, T0)
    out = []
    with store.transaction():
        for i, row in enumerate(store.probes()):
            pc = probe_context(study, row)
            sent = T0 + timedelta(minutes=i)
            detail = {"message_id": pc.message_id, "subject": pc.subject, "body": pc.body,
                      "quote_keys": quote_keys(pc.body)}
            store.db.execute(
                "UPDATE probes SET state='sent', sent_at=?, sent_time_source='bench',"
                " window_ends_at=?, external_id=?, reply_address=?, detail=? WHERE id=?",
                (utc_iso(sent), utc_iso(sent + study.window), pc.message_id, pc.reply_address,
                 json.dumps(detail), row["id"]))
            out.append({"id": row["id"], "company": pc.company, "persona": pc.persona,
                        "reply": pc.reply_address, "mid": pc.message_id,
                        "subject": pc.subject, "body": pc.body, "sent": sent})
    store.close()
    return out


def _quote(body: str) -> str:
    return "\n".join("> " + line for line in body.splitlines())


def messages(probes: list[dict], n: int, rng: random.Random) -> list[tuple[bytes, datetime]]:
    out: list[tuple[bytes, datetime]] = []
    for p in probes:
        if rng.random() > 0.84:
            continue
        dom = f"{p['company'].id}.example"
        way = rng.choices(["irt", "address", "quote", "subject", "bounce"],
                          [55, 20, 12, 8, 5])[0]
        kinds = ["bounce"] if way == "bounce" else ["ack", "human"]
        for k, kind in enumerate(kinds):
            m = EmailMessage()
            when = p["sent"] + timedelta(hours=1 + 20 * k, minutes=rng.randrange(60))
            m["Date"] = format_datetime(when)
            m["Message-ID"] = f"<r{p['id']}.{k}.{rng.randrange(10**9)}@{dom}>"
            to = p["persona"].email if way in ("quote", "subject") else p["reply"]
            m["To"] = to
            text = (ACK if kind == "ack" else HUMAN).format(
                name=p["persona"].name, company=p["company"].name,
                ticket=rng.randrange(10**6, 10**7))
            if kind == "bounce":
                m["From"] = "MAILER-DAEMON@mx.shopper.example"
                m["Subject"] = "Undelivered Mail Returned to Sender"
                text = ("This is the mail system. Your message could not be delivered to "
                        f"service@{dom}: mailbox unavailable.\n\n--- original headers ---\n"
                        f"Message-ID: {p['mid']}\nSubject: {p['subject']}\n")
            else:
                m["From"] = f"{p['company'].name} Service <service@{dom}>"
                if way == "irt":
                    m["In-Reply-To"] = p["mid"]
                    m["References"] = p["mid"]
                m["Subject"] = ({"quote": f"[Ticket #{rng.randrange(10**5)}] Your request",
                                 "subject": f"AW: {p['subject']}"}.get(way)
                                or f"Re: {p['subject']}")
                if kind == "human" or way == "quote":
                    text += f"\n\nOn {format_datetime(p['sent'])} you wrote:\n" + _quote(
                        p["body"])
            m.set_content(text)
            out.append((m.as_bytes(), when))
    while len(out) < n:
        m = EmailMessage()
        j = len(out)
        dom = rng.choice(["news.example", "shop.example", "bank.example", "friends.example"])
        when = T0 + timedelta(minutes=rng.randrange(60 * 24 * 30))
        m["From"] = f"Info <info@{dom}>"
        m["To"] = rng.choice(probes)["persona"].email
        m["Subject"] = f"News {j}: offers of the week"
        m["Date"] = format_datetime(when)
        m["Message-ID"] = f"<n{j}@{dom}>"
        m["List-Unsubscribe"] = f"<https://{dom}/u/{j}>"
        m.set_content(NEWS.format(n=j) * rng.randrange(1, 6))
        out.append((m.as_bytes(), when))
    rng.shuffle(out)
    return out[:n]


def fill_maildir(dv, mails: list[tuple[bytes, datetime]]) -> None:  # noqa: ANN001
    md = dv.folder / "home" / dv.user / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True, exist_ok=True)
    for i, (raw, when) in enumerate(mails):
        f = md / "cur" / f"{int(when.timestamp())}.M{i}P1.bench,S={len(raw)}:2,"
        f.write_bytes(raw.replace(b"\r\n", b"\n"))
        os.utime(f, (when.timestamp(), when.timestamp()))
    uid = os.getuid() or 65534
    for root, dirs, files in os.walk(dv.folder / "home"):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, os.getgid() or 65534)


def imap_fetch_all(dv) -> tuple[float, int]:  # noqa: ANN001
    ctx = ssl.create_default_context(cafile=str(dv.cert))
    c = imaplib.IMAP4_SSL("127.0.0.1", dv.tls_port, ssl_context=ctx)
    c.login(dv.user, dv.password)
    c.select("INBOX", readonly=True)
    _, data = c.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    t = time.perf_counter()
    for i in range(0, len(uids), 25):
        c.uid("FETCH", b",".join(uids[i:i + 25]).decode(), "(UID INTERNALDATE BODY.PEEK[])")
    elapsed = time.perf_counter() - t
    c.logout()
    return elapsed, len(uids)


def match_cost(folder: Path, mails: list[tuple[bytes, datetime]]) -> tuple[float, dict]:
    study = load_study(folder)
    store = Store(folder)
    index = ProbeIndex(study, store.probes(state="sent"))
    parsed = [(parse_message(raw), raw) for raw, _ in mails[:3000]]
    rules: dict = {}
    for msg, raw in parsed:  # the first pass also parses the headers it reads (lazily)
        _, rule, _ = index.match(msg, raw)
        rules[rule] = rules.get(rule, 0) + 1
    t = time.process_time()
    for _ in range(3):  # the matching itself
        for msg, raw in parsed:
            index.match(msg, raw)
    per = (time.process_time() - t) / (3 * len(parsed)) * 1e6
    store.close()
    return per, rules


def run(n: int, probes: int, keep: bool) -> None:
    companies = max(1, probes // (3 * PERSONAS))
    dv = need_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="servicebench-bench-"))
    try:
        folder = write_study(tmp / "study", dv, companies, PERSONAS)
        t = time.perf_counter()
        ps = sent_probes(folder)
        mails = messages(ps, n, random.Random(13))
        fill_maildir(dv, mails)
        setup = time.perf_counter() - t
        t = time.perf_counter()
        fetch, count = imap_fetch_all(dv)  # also makes Dovecot index the folder
        index_and_fetch = time.perf_counter() - t
        fetch, count = imap_fetch_all(dv)
        cli = str(Path(sys.executable).with_name("servicebench"))
        t = time.perf_counter()
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([cli, "collect", str(folder)], check=True)
        collect = time.perf_counter() - t
        c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        collect_cpu = c2.ru_utime + c2.ru_stime - c.ru_utime - c.ru_stime
        per, rules = match_cost(folder, mails)
        store = Store(folder)
        matched = store.one("SELECT count(*) FROM messages WHERE probe_id IS NOT NULL")[0]
        total = store.one("SELECT count(*) FROM messages")[0]
        store.close()
        print(f"\n== {count} messages, {len(ps)} probes ({companies} companies), set-up "
              f"{setup:.0f} s, first index+fetch {index_and_fetch:.1f} s")
        print(f"plain IMAP fetch of every message: {fetch:6.1f} s  {count / fetch:8.0f} msg/s")
        print(f"servicebench collect (first):      {collect:6.1f} s  {count / collect:8.0f} msg/s"
              f"  ({total} stored, {matched} matched to a probe)")
        print(f"  its CPU time (what it costs on an otherwise idle core): {collect_cpu:6.1f} s "
              f"{count / collect_cpu:8.0f} msg/s; load average {os.getloadavg()[0]:.1f}")
        print(f"ProbeIndex.match alone (CPU):      {per:6.1f} us per message  rules: "
              + ", ".join(f"{k or 'none'} {v}" for k, v in sorted(rules.items(),
                                                                   key=lambda kv: -kv[1])))
    finally:
        dv.stop()
        if not keep:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--probes", default="150,1500", help="comma-separated numbers of probes")
    ap.add_argument("--keep", action="store_true", help="keep the study folder")
    args = ap.parse_args(argv)
    for p in (int(x) for x in args.probes.split(",")):
        run(args.messages, p, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
