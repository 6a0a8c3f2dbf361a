"""``servicebench sandbox``: the sandbox on fixed ports for manual use, until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..clock import CLOCK_ENV, AcceleratedClock, Clock, SystemClock


def run_sandbox(folder: Path, smtp_port: int, imap_port: int, web_port: int, speed: float,
                language: str, echo: Callable[[str], None], *,
                social_ports: tuple[int, int, int] | None = None) -> None:
    """Run until Ctrl-C. The Mastodon, X and Bluesky servers listen on ``social_ports``
    (default: the three ports after ``web_port``)."""
    from .core import Sandbox, default_companies
    from .social_sim import NETWORKS, handles, study_handle

    clock: Clock = SystemClock()
    if speed != 1:
        clock = AcceleratedClock(datetime.now(UTC).replace(microsecond=0), speed)
    m_port, x_port, b_port = social_ports or (web_port + 1, web_port + 2, web_port + 3)
    sb = Sandbox(clock, folder, default_companies(language), smtp_port=smtp_port,
                 imap_port=imap_port, web_port=web_port, mastodon_port=m_port, x_port=x_port,
                 bsky_port=b_port)
    sb.start()
    try:
        echo("servicebench sandbox is running. In another terminal:")
        for k, v in sb.env().items():
            echo(f"  export {k}={v}")
        if isinstance(clock, AcceleratedClock):
            echo(f"  export {CLOCK_ENV}='{clock.spec()}'")
        from ..demo import DEMO_STUDY

        echo(f"  cp -r {DEMO_STUDY.parent} my-demo    # a copy, so the study's state stays "
             "out of the repository")
        echo("  servicebench run my-demo --watch")
        if sb.social is not None:
            s = sb.social
            echo(f"Social servers: Mastodon API {s.mastodon.url} (instance "
                 f"{s.mastodon.domain}), X API v2 {s.x.url}, Bluesky XRPC {s.bsky.url}")
        echo("Simulated companies (address → behaviour):")
        for c in sb.companies:
            form = f", form {sb.form_url(c)}" if sb.form_url(c) else ""
            echo(f"  {c.support:<36} {c.behaviour}{form}")
            if sb.social is not None:
                hs = handles(c)
                echo("      " + ", ".join(
                    f"{n} {study_handle(n, hs[n].main)}" + (
                        f" (people answer from {study_handle(n, hs[n].also)})"
                        if c.reply_from_also else "") for n in NETWORKS))
        echo(f"True reply times are written to {sb.truth_path}. Ctrl-C stops.")
        while True:
            time.sleep(3600)
    finally:
        sb.stop()
