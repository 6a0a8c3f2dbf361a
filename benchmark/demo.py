"""``servicebench demo``: the whole pipeline against the sandbox, in a couple of minutes.

The sandbox and the tool share one accelerated clock, so a 7-day reply window passes in
about 75 seconds while every timestamp reads like a real study's. Probes go out by email,
web form, Mastodon, X and Bluesky; the demo then plays the tester who makes the phone calls
(:mod:`.sandbox.tester`). At the end the measured reply times are compared with the
sandbox's ground truth (``accuracy.csv``).
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .clock import CLOCK_ENV, AcceleratedClock, utc_iso
from .store import Store
from .study import STUDY_FILE, load_study

DEMO_STUDY = Path(__file__).resolve().parent.parent / "studies" / "sandbox-demo" / STUDY_FILE
WINDOW_REAL_SECONDS = 75.0


def _demo_study_text() -> str:
    if DEMO_STUDY.exists():
        return DEMO_STUDY.read_text(encoding="utf-8")
    from importlib.resources import files

    return (files("servicebench") / "init_template" / "sandbox-demo.yaml").read_text("utf-8")


def _without_forms(text: str) -> str:
    """The demo study without its web-form channels (no browser)."""
    import re

    text = re.sub(r"(?m)^[ \t]*webform:.*\n", "", text)
    return re.sub(r",\s*webform\b", "", text)


def run_demo(out: Path, *, speed: float | None = None, forms: bool = True,
             echo: Callable[[str], None] = print) -> dict[str, Path]:
    from . import runner
    from .export import export_tables
    from .report import render_report
    from .sandbox.core import Sandbox

    out = Path(out)
    study_dir = out / "study"
    if study_dir.exists():
        shutil.rmtree(study_dir)
    study_dir.mkdir(parents=True)
    if forms:
        from .browser import BrowserMissing, find_chromium

        try:
            find_chromium()
        except BrowserMissing as exc:
            echo(f"No browser for the web-form part, so the demo runs without it: {exc}")
            forms = False
    text = _demo_study_text()
    (study_dir / STUDY_FILE).write_text(text if forms else _without_forms(text),
                                        encoding="utf-8")

    window = timedelta(days=7)
    factor = speed or window.total_seconds() / WINDOW_REAL_SECONDS
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    clock = AcceleratedClock(start, factor)
    os.environ[CLOCK_ENV] = clock.spec()
    t0 = time.monotonic()
    with Sandbox(clock, out / "sandbox", with_forms=forms) as sandbox:
        env = {**os.environ, **sandbox.env()}
        study = load_study(study_dir, environ=env)
        store = Store(study_dir)
        social = sandbox.social
        ports = (f", Mastodon :{social.mastodon.port}, X :{social.x.port}, Bluesky "
                 f":{social.bsky.port}" if social is not None else "")
        echo(f"Sandbox up (SMTP :{sandbox.smtp_port}, IMAP :{sandbox.imap_port}{ports}); "
             f"clock x{factor:.0f}: one simulated day = {86400 / factor:.0f} s")
        summary = runner.watch(study, store, clock, progress=lambda m: echo(f"  {m}"),
                               poll=timedelta(hours=2))
        echo(f"Sent {summary.sent}, failed {summary.failed}, blocked {summary.blocked}; "
             f"collected {summary.collected} messages in {time.monotonic() - t0:.0f} s")
        for name, why in summary.skipped_channels.items():
            echo(f"  skipped channel {name}: {why}")
        from .sandbox.tester import log_phone_calls

        calls = log_phone_calls(study, store, sandbox, clock)
        echo(f"The simulated tester logged {calls} phone calls")
        now = clock.now()
        # the cut-off of this run: report/export of the study default to it, so
        # re-rendering the demo's study later gives the same figures
        store.set_meta("as_of", utc_iso(now), now)
        shutil.copy(sandbox.truth_path, out / "ground_truth.csv")
    paths = {
        "html": render_report(study, store, "html", out / "report.html", None, now),
        "pdf": render_report(study, store, "pdf", out / "report.pdf", None, now),
    }
    for p in export_tables(study, store, "csv", out, now) + export_tables(
            study, store, "xlsx", out, now):
        paths[p.name] = p
    paths["accuracy"] = write_accuracy(store, out / "ground_truth.csv", out / "accuracy.csv")
    worst = max_error(paths["accuracy"])
    per_channel = ", ".join(f"{ch} {d:.3f} s" for ch, d in max_error_by_channel(
        paths["accuracy"]).items())
    echo(f"Measured vs true reply times: largest difference {worst:.3f} s ({per_channel}; "
         f"details: {paths['accuracy']})")
    for p in (paths["pdf"], paths["html"], out / "ground_truth.csv"):
        echo(f"Wrote {p}")
    echo(f"Done in {time.monotonic() - t0:.0f} s. Open {paths['html']} in a browser.")
    os.environ.pop(CLOCK_ENV, None)
    return paths


def write_accuracy(store: Store, truth_csv: Path, out: Path) -> Path:
    """Compare each true reply time with the measured one of the same message.

    The truth names a reply by what the tool stores as its ``message_id`` (Message-ID, post
    URL, DM id) or, for a logged manual contact, which has none, its ``external_id``."""
    from .clock import parse_utc

    with open(truth_csv, newline="") as fh:
        truth = [r for r in csv.DictReader(fh) if r["reply_message_id"]]
    measured: dict[str, Any] = {}
    for r in store.query("SELECT m.message_id, m.external_id, m.received_at, m.kind, "
                         "p.sent_at, p.id AS probe_id "
                         "FROM messages m LEFT JOIN probes p ON p.id = m.probe_id"):
        measured[r["message_id"] or r["external_id"]] = r
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["company_id", "channel", "reply_kind", "measured_kind", "probe_id",
                    "true_delay_seconds", "measured_delay_seconds", "difference_seconds"])
        for t in truth:
            m = measured.get(t["reply_message_id"])
            if m is None or m["probe_id"] is None or not m["sent_at"]:
                w.writerow([t["company_id"], t["channel"], t["reply_kind"],
                            m["kind"] if m else "not collected", "", t["true_delay_seconds"],
                            "", ""])
                continue
            delay = (parse_utc(m["received_at"]) - parse_utc(m["sent_at"])).total_seconds()  # type: ignore[operator]
            w.writerow([t["company_id"], t["channel"], t["reply_kind"], m["kind"],
                        m["probe_id"], t["true_delay_seconds"], f"{delay:.3f}",
                        f"{delay - float(t['true_delay_seconds']):.3f}"])
    return out


def max_error(accuracy_csv: Path) -> float:
    with open(accuracy_csv, newline="") as fh:
        diffs = [abs(float(r["difference_seconds"])) for r in csv.DictReader(fh)
                 if r["difference_seconds"]]
    return max(diffs, default=0.0)


def max_error_by_channel(accuracy_csv: Path) -> dict[str, float]:
    """The largest absolute difference per channel, in the order channels first appear."""
    out: dict[str, float] = {}
    with open(accuracy_csv, newline="") as fh:
        for r in csv.DictReader(fh):
            if r["difference_seconds"]:
                out[r["channel"]] = max(out.get(r["channel"], 0.0),
                                        abs(float(r["difference_seconds"])))
    return out
