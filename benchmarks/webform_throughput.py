"""Forms submitted per minute against the sandbox FormServer: one reused browser with a
fresh context per form, versus a browser started for every form.

    python benchmarks/webform_throughput.py [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servicebench.clock import SystemClock  # noqa: E402
from servicebench.probes.webform.fields import FormInput  # noqa: E402
from servicebench.probes.webform.flow import FormVisit  # noqa: E402
from servicebench.probes.webform.report import sample_persona, sample_scenario  # noqa: E402
from servicebench.probes.webform.session import BrowserSession  # noqa: E402
from servicebench.sandbox.web import FormServer  # noqa: E402

FORMS = ["cf7", "gravity", "hubspot", "zendesk", "placeholder", "iframe", "multistep",
         "jsinline", "nonbutton"]


def submit_one(session: BrowserSession, url: str, out: Path, n: int) -> str:
    persona, scenario = sample_persona(), sample_scenario()
    fi = FormInput(persona=persona, subject=scenario.subject, body=scenario.body,
                   email=f"bench-{n}@replies.example.org", topic=scenario.topic)

    def save(name: str, data: bytes, kind: str) -> str:
        (out / f"{n}-{name}").write_bytes(data)
        return name

    ctx = session.context()
    try:
        visit = FormVisit(ctx.new_page(), url, fi, timeout=30, now=SystemClock().now, save=save)
        return visit.run(submit=True).outcome
    finally:
        ctx.close()


def measure(label: str, urls: list[str], out: Path,
            run: Callable[[str, int], str]) -> tuple[float, int]:
    start, ok = time.monotonic(), 0
    for i, url in enumerate(urls):
        ok += run(url, i) == "success"
    elapsed = time.monotonic() - start
    rate = len(urls) / elapsed * 60
    print(f"{label:<38} {len(urls):>3} forms  {elapsed:6.1f} s  {rate:6.1f} forms/min"
          f"  ({ok} confirmed)")
    return rate, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2, help="times through the 9 sandbox forms")
    args = ap.parse_args(argv)
    server = FormServer().start()
    urls = [server.url(f) for f in FORMS] * args.rounds
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            shared = BrowserSession()
            shared.browser()  # launch outside the timing, as a run does once

            def reused(url: str, i: int) -> str:
                return submit_one(shared, url, out, i)

            def fresh(url: str, i: int) -> str:
                s = BrowserSession()
                try:
                    return submit_one(s, url, out, 10_000 + i)
                finally:
                    s.close()

            a, _ = measure("one browser, fresh context per form", urls, out, reused)
            shared.close()
            b, _ = measure("browser started per form", urls, out, fresh)
            print(f"speed-up from reusing the browser: {a / b:.2f}x "
                  f"({len(server.submissions)} submissions received)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
