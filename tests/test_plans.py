"""Send plans: windows, opening hours, holidays, balance, seeds, minimum gap, validation."""

from __future__ import annotations

import json
import random
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from servicebench.cli import cli
from servicebench.errors import StudyError
from servicebench.plans import Calendar, build_plan, parse_hours, window_for
from servicebench.store import Store
from servicebench.study import load_study

HOURS_CHOICES = ["mon-fri 09:00-17:00", "mon-fri 08:00-12:00 13:00-18:00, sat 10:00-14:00",
                 "tue+thu 14:00-16:00", "weekdays 10:00-11:00", "sat-sun 10:00-12:00"]


def study_text(companies: int = 4, schedule: str = "", hours: list[str] | None = None,
               personas: int = 2) -> str:
    comp = []
    for i in range(companies):
        h = f", hours: \"{hours[i]}\"" if hours and hours[i] else ""
        comp.append(f"  - {{id: c{i}, name: C{i}{h}, channels: {{email: c{i}@c{i}.example, "
                    f"phone: \"+49 {i}\", chat: \"https://c{i}.example/chat\"}}}}")
    pers = "\n".join(f"  - {{id: p{i}, name: P{i} X, email: p{i}@shop.example}}"
                     for i in range(personas))
    return textwrap.dedent("""\
        study: {id: plantest, title: Plan test, timezone: Europe/Berlin}
        schedule:
        """) + textwrap.indent(schedule, "  ") + "\npersonas:\n" + pers + textwrap.dedent("""
        scenarios:
          - {id: s1, subject: Question one, body: Hello one}
          - {id: s2, subject: Question two, body: Hello two}
        companies:
        """) + "\n".join(comp) + "\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / "s"
    folder.mkdir(exist_ok=True)
    (folder / "study.yaml").write_text(text)
    return load_study(folder, environ={})


ANCHOR = datetime(2026, 12, 14, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin
FAR = ANCHOR + timedelta(days=400)


def test_parse_hours_accepts_the_documented_forms_and_explains_errors() -> None:
    h = parse_hours("mon-fri 08:00-12:00 13:00-18:00, sat 10:00-14:00")
    assert h.spans[0] == ((480, 720), (780, 1080)) and h.spans[5] == ((600, 840),)
    assert h.spans[6] == ()
    assert parse_hours("always").spans[6] == ((0, 1440),)
    assert parse_hours("fri-mon 09:00-10:00").spans[6] == ((540, 600),)
    assert parse_hours("Mo-Fr 8-18, Sa 9-13 Uhr").spans[5] == ((540, 780),)  # German
    for bad, word in [("mon-fri", "which hours"), ("mon-fri 17:00-09:00", "before it ends"),
                      ("monday-frx 09:00-17:00", "days are"), ("mon 9.00-17.00", "time span")]:
        with pytest.raises(ValueError, match=word):
            parse_hours(bad)


def test_manual_probes_are_never_planned_outside_opening_hours_or_on_holidays(
        tmp_path: Path) -> None:
    """Property over seeds: random opening hours, spacing, gaps, windows and waves."""
    for seed in range(60):
        rng = random.Random(seed)
        n = rng.randint(2, 5)
        hours = [rng.choice(HOURS_CHOICES + [""]) for _ in range(n)]
        sched = (f"seed: {seed}\nspacing: {rng.choice(['7m', '45m', '3h'])}\n"
                 f"min_gap: {rng.choice(['0s', '90m', '1d'])}\ncountry: DE\n"
                 f"waves: {rng.randint(1, 3)}\nevery: 1w\n"
                 "hours: \"mon-fri 09:00-17:00\"\n"
                 "windows: {email: \"mon-fri 08:00-20:00\"}\n")
        study = load(tmp_path, study_text(n, sched, hours))
        anchor = ANCHOR + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        plan = build_plan(study, anchor, FAR)
        assert len(plan) == n * 2 * 3 * 2 * (study.schedule["waves"])
        cal = Calendar(study)
        for p in plan:
            company = study.company(p.company_id)
            local = p.due_at.astimezone(study.tz)
            assert cal.holiday(local.date()) is None, (seed, p)
            if p.channel in ("phone", "chat"):
                allowed = parse_hours(company.hours or "mon-fri 09:00-17:00")
            else:
                allowed = parse_hours("mon-fri 08:00-20:00")
            assert allowed.contains(local), (seed, p.key, local, allowed.text)
            assert p.due_at >= anchor


def test_same_seed_same_plan_other_seed_other_order(tmp_path: Path) -> None:
    text = study_text(5, "seed: 1\nspacing: 10m\n")
    a = [(p.key, p.due_at) for p in build_plan(load(tmp_path, text), ANCHOR, FAR)]
    b = [(p.key, p.due_at) for p in build_plan(load(tmp_path, text), ANCHOR, FAR)]
    c = [(p.key, p.due_at) for p in build_plan(load(tmp_path, text.replace("seed: 1",
                                                                            "seed: 2")),
                                               ANCHOR, FAR)]
    assert a == b
    assert sorted(k for k, _ in a) == sorted(k for k, _ in c)
    assert [k for k, _ in sorted(a, key=lambda x: x[1])] != \
        [k for k, _ in sorted(c, key=lambda x: x[1])]


def test_every_company_gets_the_first_slot_once_over_as_many_waves(tmp_path: Path) -> None:
    study = load(tmp_path, study_text(4, "seed: 9\nspacing: 20m\nwaves: 4\nevery: 1w\n"
                                      "windows: {default: \"mon-fri 09:00-17:00\"}\n"))
    plan = build_plan(study, ANCHOR, FAR)
    firsts = []
    for wave in range(1, 5):
        probes = sorted((p for p in plan if p.wave == wave),
                        key=lambda p: p.due_at)
        firsts.append(probes[0].company_id)
        assert probes[0].due_at.astimezone(study.tz).strftime("%a %H:%M") == "Mon 09:00"
    assert sorted(firsts) == ["c0", "c1", "c2", "c3"]
    # personas are balanced too: each persona probes each company equally often
    per = Counter((p.company_id, p.persona_id) for p in plan)
    assert len(set(per.values())) == 1


def test_minimum_gap_between_probes_to_the_same_company(tmp_path: Path) -> None:
    study = load(tmp_path, study_text(3, "seed: 3\nspacing: 5m\nmin_gap: 4h\n"))
    plan = build_plan(study, ANCHOR, FAR)
    by_company: dict[str, list[datetime]] = {}
    for p in plan:
        by_company.setdefault(p.company_id, []).append(p.due_at)
    for times in by_company.values():
        times.sort()
        assert all(b - a >= timedelta(hours=4) for a, b in zip(times, times[1:], strict=False))


def test_holidays_follow_the_country_and_region(tmp_path: Path) -> None:
    # 2026-01-06 (Epiphany) is a holiday in Bavaria, not in Berlin
    by = load(tmp_path, study_text(1, "country: DE\nsubdivision: BY\n"))
    be = load(tmp_path, study_text(1, "country: DE\nsubdivision: BE\n"))
    epiphany = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert Calendar(by).holiday(epiphany.date())
    assert not Calendar(be).holiday(epiphany.date())
    hours = window_for(by, by.companies[0], "phone")
    assert Calendar(by).next_allowed(epiphany, hours).astimezone(by.tz).day == 7
    off = load(tmp_path, study_text(1, "country: DE\nsubdivision: BY\nholidays: false\n"))
    assert Calendar(off).holiday(epiphany.date()) is None


def test_explicit_wave_dates(tmp_path: Path) -> None:
    study = load(tmp_path, study_text(2, "dates: [2026-12-07, \"2027-01-11T14:00:00+01:00\"]\n"))
    plan = build_plan(study, ANCHOR, FAR)
    starts = {w: min(p.due_at for p in plan if p.wave == w) for w in (1, 2)}
    assert starts[1].astimezone(study.tz).isoformat() == "2026-12-07T09:00:00+01:00"
    assert starts[2].astimezone(study.tz).isoformat() == "2027-01-11T14:00:00+01:00"


@pytest.mark.parametrize("schedule,key,message", [
    ("windows: {email: \"mon-fri 18:00-09:00\"}", "schedule.windows.email", "before it ends"),
    ("windows: {fax: \"mon-fri 09:00-17:00\"}", "schedule.windows.fax", "unknown channel"),
    ("country: XX", "schedule.country", "no public-holiday calendar"),
    ("dates: [next monday]", "schedule.dates[0]", "not a date"),
    ("dates: [2026-12-07]\nwaves: 3", "schedule.dates", "either dates or waves"),
    ("waves: 0", "schedule.waves", "minimum"),
    ("every: weekly", "schedule.every", "duration"),
    ("min_gap: soon", "schedule.min_gap", "duration"),
    ("min_gap: 9999999d", "schedule.min_gap", "ten years"),
    ("dates: [9999-12-31]", "the schedule runs past the year", ""),
    ("every: 9999999d", "schedule.every", "ten years"),
])
def test_bad_schedule_is_reported_with_line_and_key(tmp_path: Path, schedule: str, key: str,
                                                    message: str) -> None:
    with pytest.raises(StudyError) as err:
        load(tmp_path, study_text(2, schedule + "\n"))
    text = str(err.value)
    assert key in text and message in text, text
    assert "study.yaml:" in text


def test_bad_company_hours_named(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"companies\[1\]\.hours: .*time span"):
        load(tmp_path, study_text(2, "seed: 1\n", ["", "mon-fri nine-five"]))


def test_dry_run_json_lists_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    text = study_text(2, "start: \"2026-12-14T07:00:00+01:00\"\nspacing: 15m\nseed: 4\n"
                      "waves: 2\nevery: 1w\nwindows: {default: \"mon-fri 09:00-17:00\"}\n")
    load(tmp_path, text)
    folder = tmp_path / "s"
    result = CliRunner().invoke(cli, ["run", str(folder), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["seed"] == "4" and data["timezone"] == "Europe/Berlin"
    probes = data["probes"]
    assert len(probes) == 2 * 2 * 3 * 2 * 2
    assert {p["wave"] for p in probes} == {1, 2}
    assert probes == sorted(probes, key=lambda p: p["due_at"])
    assert probes[0]["due_local"] == "2026-12-14T09:00:00+01:00"
    phone = [p for p in probes if p["channel"] == "phone"]
    assert all(p["manual"] and p["window"] == "mon-fri 09:00-17:00" for p in phone)
    assert "email" in data["skipped_channels"]  # no mailbox section in this study
    assert Store(folder).probes() == []


def test_the_phone_channel_hours_are_the_calling_window(tmp_path: Path) -> None:
    text = study_text(2, "seed: 2\n", ["mon-fri 09:00-17:00", ""]).replace(
        'phone: "+49 1"', 'phone: {number: "+49 1", hours: "Sa 10-12"}')
    study = load(tmp_path, text)
    calls = [p for p in build_plan(study, ANCHOR, FAR) if p.channel == "phone"]
    mine = [p.due_at.astimezone(study.tz) for p in calls if p.company_id == "c1"]
    assert mine and all(t.strftime("%a") == "Sat" and 10 <= t.hour < 12 for t in mine)
    with pytest.raises(StudyError, match=r"companies\[0\]\.channels\.phone\.hours"):
        load(tmp_path, text.replace('phone: "+49 0"', 'phone: {number: "+49 0", hours: '
                                    '"when someone is there"}'))


def test_a_monitor_started_late_plans_the_running_and_the_next_wave_only(
        tmp_path: Path) -> None:
    study = load(tmp_path, study_text(2, "start: \"2025-01-06T09:00:00+01:00\"\n"
                                      "every: 1d\nseed: 1\n"))
    from servicebench.runner import plan

    folder = tmp_path / "s"
    store = Store(folder)
    now = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)
    plan(study, store, now)
    waves = sorted({p["wave"] for p in store.probes()})
    assert waves == [708, 709]  # 2025-01-06 + 707 days = 2026-12-14: today's and tomorrow's
    plan(study, store, now + timedelta(days=1))
    assert sorted({p["wave"] for p in store.probes()}) == [708, 709, 710]
