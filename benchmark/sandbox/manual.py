"""``servicebench sandbox``: the sandbox on fixed ports for manual use, until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..clock import CLOCK_ENV, AcceleratedClock, Clock, SystemClock


def run_sandbox(folder: Path, smtp_port: int, imap_port: int, web_port: int, speed: float,
                language: str, echo: Callable[[str], None]) -> None:
    from .core import Sandbox, default_companies

    clock: Clock = SystemClock()
    if speed != 1:
        clock = AcceleratedClock(datetime.now(UTC).replace(microsecond=0), speed)
    sb = Sandbox(clock, folder, default_companies(language), smtp_port=smtp_port,
                 imap_port=imap_port, web_port=web_port)
    sb.start()
    try:
        echo("servicebench sandbox is running. In another terminal:")
        for k, v in sb.env().items():
            echo(f"  export {k}={v}")
        if isinstance(clock, AcceleratedClock):
            echo(f"  export {CLOCK_ENV}='{clock.spec()}'")
        echo("  servicebench run studies/sandbox-demo --watch")
        echo("Simulated companies (address → behaviour):")
        for c in sb.companies:
            form = f", form {sb.form_url(c)}" if sb.form_url(c) else ""
            echo(f"  {c.support:<36} {c.behaviour}{form}")
        echo(f"True reply times are written to {sb.truth_path}. Ctrl-C stops.")
        while True:
            time.sleep(3600)
    finally:
        sb.stop()
