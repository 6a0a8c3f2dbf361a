"""``run --dry-run``: print exactly what would be sent, and send nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .clock import Clock, parse_utc
from .errors import ProbeError
from .plans import window_for
from .runner import Runner, plan, probe_context
from .store import Store
from .study import Study


@contextmanager
def _undone(store: Store) -> Iterator[None]:
    """Run the block in a transaction (or savepoint) that is rolled back afterwards: the
    plan is made for real, then forgotten. A plain ROLLBACK leaves the file untouched
    (RELEASE would commit a header)."""
    outer = store.db.in_transaction
    store.db.execute("SAVEPOINT dry_run" if outer else "BEGIN")
    try:
        yield
    finally:
        if outer:
            store.db.execute("ROLLBACK TO dry_run")
            store.db.execute("RELEASE dry_run")
        else:
            store.db.execute("ROLLBACK")


def dry_run(study: Study, store: Store, clock: Clock, echo: Callable[[str], None],
            only: list[str] | None = None) -> int:
    """Preview every probe that is still to be sent. Writes no probe state (the plan is
    kept in memory only: planning is repeated on the real run)."""
    with _undone(store):
        plan(study, store, clock.now())
        with Runner(study, store, clock, None, only) as runner:
            for name, why in runner.skipped.items():
                echo(f"[channel {name} would be skipped: {why}]")
            rows = sorted((r for r in store.probes(state="planned")
                           if r["channel"] in runner.channels),
                          key=lambda r: (r["due_at"], r["id"]))
            for n, row in enumerate(rows, 1):
                ch = runner.channels[row["channel"]]
                pc = probe_context(study, row)
                due = parse_utc(row["due_at"])
                local = due.astimezone(study.tz).strftime("%a %Y-%m-%d %H:%M") if due else "?"
                echo(f"=== {n}/{len(rows)}: {pc.company.name} · {ch.label or ch.name} · "
                     f"{pc.scenario.id} · {pc.persona.name} · wave {row['wave']} · due "
                     f"{local} ({study.timezone})")
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


def plan_listing(study: Study, store: Store, clock: Clock,
                 only: list[str] | None = None) -> dict[str, Any]:
    """``run --dry-run --json``: the send plan (every probe still to go, by due time) and
    the channels that would be skipped. Writes nothing."""
    with _undone(store):
        plan(study, store, clock.now())
        with Runner(study, store, clock, None, only) as runner:
            probes = []
            rows = sorted((r for r in store.probes(state="planned")
                           if not only or r["channel"] in only),
                          key=lambda r: (r["due_at"], r["id"]))
            for r in rows:
                due = parse_utc(r["due_at"])
                hours = window_for(study, study.company(r["company_id"]), r["channel"])
                probes.append({
                    "id": r["id"], "key": r["key"], "wave": r["wave"],
                    "company": r["company_id"], "channel": r["channel"],
                    "scenario": r["scenario_id"], "persona": r["persona_id"],
                    "target": r["target"], "due_at": r["due_at"],
                    "due_local": due.astimezone(study.tz).isoformat() if due else None,
                    "weekday": due.astimezone(study.tz).strftime("%a") if due else None,
                    "window": hours.text if hours else None,
                    "manual": r["channel"] in runner.channels
                    and runner.channels[r["channel"]].kind == "manual",
                    "next_attempt_at": r["next_attempt_at"],
                })
            return {"study": study.id, "timezone": study.timezone,
                    "seed": str(study.schedule.get("seed", study.id)),
                    "skipped_channels": dict(runner.skipped), "probes": probes}
