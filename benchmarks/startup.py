"""Wall time of ``servicebench collect`` when there is no new mail (the start-up cost).

    python benchmarks/startup.py [--runs N] [--companies N]

Starts Dovecot, writes a study (email probes; TLS to the mailbox), runs one collect to
settle the sync state and the validation cache, then times N more as separate processes,
as a user or cron would run them. For comparison it times the bare interpreter and one
IMAP login + SELECT + UID SEARCH, which is the work that cannot be avoided.
"""

from __future__ import annotations

import argparse
import imaplib
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import need_dovecot, summary, write_study  # noqa: E402


def timed(cmd: list[str], runs: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``runs`` runs; their CPU times (user + system) go to ``cpu``, which a
    busy machine inflates less than wall time."""
    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--companies", type=int, default=50)
    args = ap.parse_args(argv)
    cli = str(Path(sys.executable).with_name("servicebench"))
    dv = need_dovecot()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_study(Path(tmp) / "study", dv, args.companies, 10)
            subprocess.run([cli, "collect", str(folder)], check=True, stdout=subprocess.DEVNULL)
            py_cpu: list[float] = []
            python = timed([sys.executable, "-c", "pass"], args.runs, py_cpu)

            def imap_only() -> None:
                ctx = ssl.create_default_context(cafile=str(dv.cert))
                c = imaplib.IMAP4_SSL("127.0.0.1", dv.tls_port, ssl_context=ctx)
                c.login(dv.user, dv.password)
                c.select("INBOX", readonly=True)
                c.uid("SEARCH", None, "UID 1:*")
                c.logout()

            imap = []
            for _ in range(args.runs):
                t = time.perf_counter()
                imap_only()
                imap.append(time.perf_counter() - t)
            cpu: list[float] = []
            collect = timed([cli, "collect", str(folder)], args.runs, cpu)
            print(f"python -c pass:                 {summary(python)}; CPU {summary(py_cpu)}")
            print(f"IMAP login+select+search alone: {summary(imap)}")
            print(f"servicebench collect, no mail:  {summary(collect)}; CPU {summary(cpu)}")
    finally:
        dv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
