"""A simulated tester for the demo: makes the study's phone calls and logs each one.

Phone probes are never sent by the tool; a person calls and logs the contact
(:func:`servicebench.probes.manual.log_contact`). In the demo this module plays that person, with
plausible simulated times by the company's behaviour, and adds each call to the sandbox's
ground truth (channel ``phone``; the answer's ``reply_message_id`` is the logged message's
``external_id``, which is what the demo's accuracy check joins on for manual contacts):

========  ==================================================================================
fast      a person answers after 2-6 minutes and covers the whole checklist
helpdesk  a person answers after 10-20 minutes and covers the first checklist item
others    nobody answers: the tester gives up at the study's abandonment limit
========  ==================================================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random
from typing import TYPE_CHECKING

from ..clock import Clock, parse_utc

if TYPE_CHECKING:
    from ..store import Store
    from ..study import Study
    from .core import Sandbox

MIN = 60
# behaviour -> (minutes until a person answers, how many checklist items they answer)
ANSWERS: dict[str, tuple[tuple[float, float], int | None]] = {
    "fast": ((2, 6), None),
    "helpdesk": ((10, 20), 1),
}


def _whole(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def log_phone_calls(study: Study, store: Store, sandbox: Sandbox, clock: Clock,
                    seed: int = 11) -> int:
    """Log a call for every planned phone probe of a sandbox company; returns how many."""
    from servicebench.probes.manual import abandon_limit, log_contact

    rng = Random(seed)
    limit = abandon_limit(study, "phone")
    logged = 0
    for row in store.probes(channel="phone"):
        company = sandbox.by_id.get(row["company_id"])
        due = parse_utc(row["due_at"])
        if row["state"] != "planned" or company is None or due is None:
            continue
        scenario = study.scenario(row["scenario_id"])
        started = _whole(due + timedelta(minutes=rng.uniform(5, 40)))  # later that day
        menu = started + timedelta(seconds=round(rng.uniform(20, 60)))
        plan = ANSWERS.get(company.behaviour)
        person = None
        if plan is not None:
            (lo, hi), n_facts = plan
            person = _whole(menu + timedelta(minutes=rng.uniform(lo, hi)))
            facts = [f.id for f in scenario.expect][:n_facts]
            log_contact(study, store, row["id"], started_at=started, menu_at=menu,
                        person_at=person, ended_at=person + timedelta(
                            seconds=round(rng.uniform(3 * MIN, 8 * MIN))),
                        outcome="answered", checklist=facts, now=clock.now(),
                        notes=f"{company.agent} answered after the menu")
        else:
            log_contact(study, store, row["id"], started_at=started, menu_at=menu,
                        ended_at=started + limit, outcome="gave_up",
                        gave_up_after_minutes=limit.total_seconds() / 60, now=clock.now(),
                        notes="waiting music only; gave up at the limit")
        msg = store.one("SELECT external_id FROM messages WHERE probe_id = ? AND "
                        "source = 'tester-log'", (row["id"],))
        sandbox.record_truth(company.id, "phone", row["key"], row["target"], started,
                             "human" if msg else None, person if msg else None,
                             msg["external_id"] if msg else None)
        logged += 1
    return logged
