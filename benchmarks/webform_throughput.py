"""Forms submitted per minute against the sandbox FormServer.

    python benchmarks/webform_throughput.py [--rounds N] [--pool N]

Three measurements over the sandbox's nine forms (``--rounds`` times through them):

1. one reused browser, a fresh context per form, the next context prepared while the
   current form is being answered (what a pool worker does);
2. a browser started for every form;
3. the default pool (``webform: {parallel}``; two per CPU core) of workers, each with its
   own reused browser, fed from one queue as the runner does.

Every form must be confirmed ("success") and leave its evidence (screenshot before and
after, values, result); the script says how many did.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servicebench.clock import SystemClock  # noqa: E402
from servicebench.probes.webform import default_parallel  # noqa: E402
from servicebench.probes.webform.fields import FormInput  # noqa: E402
from servicebench.probes.webform.flow import FormVisit  # noqa: E402
from servicebench.probes.webform.pool import SessionPool  # noqa: E402
from servicebench.probes.webform.report import sample_persona, sample_scenario  # noqa: E402
from servicebench.probes.webform.session import BrowserSession, page_of  # noqa: E402
from servicebench.sandbox.web import FormServer  # noqa: E402

FORMS = ["cf7", "gravity", "hubspot", "zendesk", "placeholder", "iframe", "multistep",
         "jsinline", "nonbutton"]
EVIDENCE = ("before.png", "values.json", "after.png", "result.json")


def submit_one(session: BrowserSession, url: str, out: Path, n: int,
               prepare_next: bool = True) -> str:
    persona, scenario = sample_persona(), sample_scenario()
    fi = FormInput(persona=persona, subject=scenario.subject, body=scenario.body,
                   email=f"bench-{n}@replies.example.org", topic=scenario.topic)

    def save(name: str, data: bytes, kind: str) -> str:
        (out / f"{n}-{name}").write_bytes(data)
        return name

    ctx = session.context("en")
    try:
        visit = FormVisit(page_of(ctx), url, fi, timeout=30, now=SystemClock().now, save=save,
                          on_submit=(lambda: session.prepare("en")) if prepare_next else None)
        outcome = visit.run(submit=True).outcome
    finally:
        ctx.close()
    evidenced = all((out / f"{n}-{name}").is_file() for name in EVIDENCE)
    return outcome if evidenced else f"{outcome} without evidence"


def measure(label: str, n: int, run: Callable[[], list[str]]) -> float:
    start = time.monotonic()
    outcomes = run()
    elapsed = time.monotonic() - start
    ok = sum(o == "success" for o in outcomes)
    rate = n / elapsed * 60
    print(f"{label:<44} {n:>3} forms {elapsed:6.1f} s {rate:7.1f} forms/min "
          f"({ok} confirmed with evidence)")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2, help="times through the 9 sandbox forms")
    ap.add_argument("--pool", type=int, default=default_parallel(),
                    help="workers for the pool measurement (default: as the channel)")
    args = ap.parse_args(argv)
    server = FormServer().start()
    urls = [server.url(f) for f in FORMS] * args.rounds
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            shared = BrowserSession()
            shared.browser()  # launch outside the timing, as a run does once
            a = measure("one browser, fresh context per form", len(urls),
                        lambda: [submit_one(shared, u, out, i) for i, u in enumerate(urls)])
            shared.close()

            def fresh(url: str, i: int) -> str:
                s = BrowserSession()
                try:
                    # no next context to prepare: this browser closes after its one form
                    return submit_one(s, url, out, 10_000 + i, prepare_next=False)
                finally:
                    s.close()

            b = measure("browser started per form", len(urls),
                        lambda: [fresh(u, i) for i, u in enumerate(urls)])
            pool = SessionPool(args.pool)
            pool.run(lambda s: s.browser())  # start one worker's browser outside the timing
            with ThreadPoolExecutor(args.pool) as ex:
                burst = urls * 2
                c = measure(f"pool of {args.pool} (default {default_parallel()}), reused "
                            "browsers", len(burst),
                            lambda: list(ex.map(lambda iu: pool.run(
                                lambda s: submit_one(s, iu[1], out, 20_000 + iu[0])),
                                enumerate(burst))))
            pool.close()
            print(f"reusing the browser: {a / b:.2f}x a browser per form; pool: {c:.0f} "
                  f"forms/min ({len(server.submissions)} submissions received)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
