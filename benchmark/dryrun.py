"""``run --dry-run``: print exactly what would be sent, and send nothing."""

from __future__ import annotations

from collections.abc import Callable

from .clock import Clock
from .errors import ProbeError
from .runner import Runner, plan, probe_context
from .store import Store
from .study import Study


def dry_run(study: Study, store: Store, clock: Clock, echo: Callable[[str], None],
            only: list[str] | None = None) -> int:
    """Preview every probe that is still to be sent. Writes no probe state (the plan is
    kept in memory only: planning is repeated on the real run)."""
    outer = store.db.in_transaction
    store.db.execute("SAVEPOINT dry_run" if outer else "BEGIN")
    try:
        plan(study, store, clock.now())
        with Runner(study, store, clock, None, only) as runner:
            for name, why in runner.skipped.items():
                echo(f"[channel {name} would be skipped: {why}]")
            rows = [r for r in store.probes(state="planned") if r["channel"] in runner.channels]
            for n, row in enumerate(rows, 1):
                ch = runner.channels[row["channel"]]
                pc = probe_context(study, row)
                echo(f"=== {n}/{len(rows)}: {pc.company.name} · {ch.label or ch.name} · "
                     f"{pc.scenario.id} · {pc.persona.name} · due {row['due_at']}")
                if ch.kind == "manual":
                    echo(f"(manual: a tester contacts {pc.target}; log it with servicebench log)")
                echo(study.redact(ch.preview(pc)))
                try:
                    facts = ch.dry_run(pc)
                except ProbeError as exc:
                    facts = {"dry run failed": str(exc)}
                for k, v in facts.items():
                    echo(f"  {k}: {v}")
                echo("")
            echo(f"Dry run: {len(rows)} probe(s) would be sent. Nothing was sent.")
            return len(rows)
    finally:  # a plain ROLLBACK leaves the file untouched (RELEASE would commit a header)
        if outer:
            store.db.execute("ROLLBACK TO dry_run")
            store.db.execute("RELEASE dry_run")
        else:
            store.db.execute("ROLLBACK")
