"""Time and peak memory of report (PDF, HTML) and export (XLSX, CSV) at growing study sizes.

    python benchmarks/report_scale.py [--sizes 50,150,500] [--channels email,webform,phone]
                                      [--tasks pdf,html,xlsx,csv] [--keep DIR]

Each size gets a synthetic study (benchmarks/synthetic_study.py: 2 scenarios per channel, so
500 companies x 3 channels = 3,000 inquiries); each task runs in a fresh process, so its
peak resident memory (ru_maxrss of that child) is its own. The PDF is rendered without the
appendix cards (the default above 100 inquiries). Wall time depends on what else runs on the
machine; CPU time (user + sys) is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = {
    "report pdf": ["report", "--format", "pdf", "--appendix", "none", "--out", "{out}/r.pdf"],
    "report html": ["report", "--format", "html", "--appendix", "none", "--out",
                    "{out}/r.html"],
    "export xlsx": ["export", "--format", "xlsx", "--out", "{out}/x"],
    "export csv": ["export", "--format", "csv", "--out", "{out}/c"],
}


def run(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,150,500")
    ap.add_argument("--channels", default="email,webform,phone")
    ap.add_argument("--keep", type=Path, help="Keep the studies in this folder.")
    ap.add_argument("--tasks", default="pdf,html,xlsx,csv",
                    help="Which tasks to run (pdf, html, xlsx, csv).")
    a = ap.parse_args(argv)
    base = a.keep or Path(tempfile.mkdtemp(prefix="sb-scale-"))
    cli = [sys.executable, "-m", "servicebench.cli"]
    print(f"{'companies':>9} {'probes':>6}  {'task':<12} {'wall s':>7} {'cpu s':>7} "
          f"{'peak MiB':>8}")
    for n in [int(x) for x in a.sizes.split(",")]:
        study = base / f"study-{n}"
        if not (study / "study.yaml").exists():
            subprocess.run([sys.executable, str(HERE / "synthetic_study.py"), "--companies",
                            str(n), "--channels", a.channels, "--out", str(study)], check=True,
                           stdout=subprocess.DEVNULL)
        n_probes = n * len(a.channels.split(",")) * 2
        for name, args in TASKS.items():
            if name.split()[-1] not in a.tasks.split(","):
                continue
            cmd = cli + [args[0], str(study)] + [x.format(out=study) for x in args[1:]]
            wall, cpu, rss = run(cmd)
            print(f"{n:>9} {n_probes:>6}  {name:<12} {wall:>7.1f} {cpu:>7.1f} {rss:>8.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
