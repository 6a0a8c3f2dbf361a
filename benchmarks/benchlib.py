"""Shared pieces of the benchmark scripts: a Dovecot server, a study folder pointing at it.

Dovecot is Debian's ``dovecot-imapd`` started in a temporary folder, as the tests do
(``tests/servers.py``); the study folder reads its mailbox with TLS.
"""

from __future__ import annotations

import atexit
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Dovecot, dovecot_available, start_dovecot  # noqa: E402
from tlsutil import make_self_signed  # noqa: E402

SCENARIOS = [
    ("tariff", "Switching tariff before my contract ends",
     "Hello,\n\nI have a contract with {{ company.name }} that still runs for eight months. "
     "Can I switch to a bigger tariff before the contract ends? I would also like to know "
     "whether the new price applies from the day of the switch or from the next invoice. "
     "I am writing as {{ persona.name }}, a customer of {{ company.name }} for six years."
     "\n\nThank you, {{ persona.name }}"),
    ("invoice", "Question about my invoice",
     "Good morning,\n\nmy invoice from {{ company.name }} for October shows a roaming charge "
     "of 12.40 euros although I was at home all month. Please explain the charge or refund "
     "it. I am writing as {{ persona.name }}, and the customer number is on the invoice."
     "\n\nKind regards, {{ persona.name }}"),
    ("moving", "Moving house with my contract",
     "Hi,\n\nI am moving to another city next month and want to take my contract with "
     "{{ company.name }} along. Is a move possible without a new minimum term, and how early "
     "must I tell you about it? I am writing as {{ persona.name }} from the old address."
     "\n\nBest, {{ persona.name }}"),
]


def need_dovecot() -> Dovecot:
    if not dovecot_available():
        sys.exit("Dovecot is not installed (apt-get install dovecot-imapd)")
    tls = tempfile.mkdtemp(prefix="servicebench-bench-tls-")
    atexit.register(shutil.rmtree, tls, True)
    cert, key = make_self_signed(tls)
    return start_dovecot(cert, key)


def write_study(folder: Path, dv: Dovecot, companies: int, personas: int) -> Path:
    """A study of ``companies`` x 3 scenarios x ``personas`` email probes on ``dv``."""
    folder.mkdir(parents=True, exist_ok=True)
    comp = "\n".join(f"  - {{id: co{i}, name: Company{i}, channels: "
                     f"{{email: service@co{i}.example}}}}" for i in range(companies))
    pers = "\n".join(f"  - {{id: p{i}, name: Person{i} Shopper, email: p{i}@shopper.example}}"
                     for i in range(personas))
    scen = "\n".join(f"  - id: {sid}\n    subject: \"{subj}\"\n    body: {body!r}"
                     for sid, subj, body in SCENARIOS)
    (folder / "study.yaml").write_text(textwrap.dedent(f"""\
        study: {{id: bench, title: Benchmark, language: en, window: 7d}}
        mailbox:
          smtp: {{host: 127.0.0.1, port: 1, security: none}}
          imap: {{host: 127.0.0.1, port: {dv.tls_port}, security: tls, username: "${{U}}",
                 password: "${{P}}", ca_file: "{dv.cert}"}}
        personas:
        """) + pers + "\nscenarios:\n" + scen + "\ncompanies:\n" + comp + "\n")
    (folder / ".env").write_text(f"U={dv.user}\nP={dv.password}\n")
    return folder


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} s, min {min(values):.3f} s, "
            f"max {max(values):.3f} s over {len(values)} runs")
