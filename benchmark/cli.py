"""The command line. The only module that imports click: the core raises typed errors,
and :func:`main` turns them into messages and exit codes (as sqlite-utils does)."""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .clock import clock_from_env
from .errors import ServicebenchError, StudyError
from .terminal import clean

F = TypeVar("F", bound=Callable[..., Any])
SQLITE_ID = click.IntRange(1, 2**63 - 1)  # ids as SQLite can hold them
PORT = click.IntRange(0, 65535)


class FiniteRange(click.FloatRange):
    """A float range that also refuses NaN (which every comparison lets through)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        rv = super().convert(value, param, ctx)
        if rv != rv:
            self.fail(f"{value!r} is not a number", param, ctx)
        return rv


SPEED = FiniteRange(0.001, 1e7)
_redact: Callable[[str], str] = str  # set once a study (and so its secrets) is loaded


# -- shared options (decorator factories, as sqlite-utils' output_options) ---------------
def study_argument(fn: F) -> F:
    """The study folder argument (default: the current folder)."""
    return click.argument("folder", type=click.Path(file_okay=True, path_type=Path),
                          default=".", required=False)(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def channel_option(fn: F) -> F:
    return click.option("--channel", "channels", multiple=True, metavar="NAME",
                        help="Only these channels (repeatable).")(fn)


def wait_option(fn: F) -> F:
    from .lock import DEFAULT_WAIT

    return click.option("--wait", "wait", type=FiniteRange(0, 86400), default=DEFAULT_WAIT,
                        show_default=True, metavar="SECONDS",
                        help="If another servicebench process is working on the study, wait "
                             "this long for it (0: give up at once).")(fn)


def decision_options(fn: F) -> F:
    """The study folder, who decides and why: for commands that record a person's decision."""
    fn = click.option("--note", default="", help="Why (kept with the decision).")(fn)
    fn = click.option("--by", help="Who decides (default: your user name).")(fn)
    return click.option("--folder", type=click.Path(path_type=Path), default=".",
                        show_default=True, help="The study folder.")(fn)


def as_of_option(fn: F) -> F:
    return click.option(
        "--as-of", "as_of", metavar="TIME",
        help="Cut-off: figures as they stood at this ISO date-time (without an offset: in the "
             "study's time zone), or 'now'. Default: the cut-off stored with the study (the "
             "demo stores one), else now by the study clock.")(fn)


def _parse_as_of(value: str | None, study: Any) -> Any:
    """``--as-of`` as an aware datetime (None: the default)."""
    from datetime import datetime

    if value is None:
        return None
    if value.strip().lower() == "now":
        return clock_from_env().now()
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time such as "
                                 "2026-03-05T12:00 or 2026-03-05T12:00+01:00",
                                 param_hint="--as-of") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=study.tz)


def handle_errors(fn: F) -> F:
    """The one error boundary: every failure becomes a clear message and an exit code; an
    unexpected exception prints one line and where its full trace was written."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Abort,
                click.exceptions.Exit, SystemExit):
            raise
        except ServicebenchError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted. Stored data is safe; run the command again to go on.",
                       err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): not an error; keep Python from
            # complaining again while it flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except sqlite3.Error as exc:
            from .store import db_error_message

            _fail(db_error_message(_folder_of(kwargs) / "study.db", exc), 1)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}", 1)
        except RecursionError:
            _fail("the input is nested too deeply to be processed", 2)
        except Exception as exc:  # noqa: BLE001 - the boundary: never a raw traceback
            _other_error(exc, kwargs, fn.__name__)

    return wrapper  # type: ignore[return-value]


def _other_error(exc: Exception, kwargs: dict[str, Any], command: str) -> None:
    from jinja2 import TemplateError, TemplateSyntaxError

    if isinstance(exc, TemplateError):
        where = ""
        if isinstance(exc, TemplateSyntaxError):
            where = f"{exc.filename or exc.name or 'template'}:{exc.lineno}: "
        _fail(f"report template error: {where}{exc.message or exc} (check the templates given "
              "with --templates)", 2)
    else:
        from .crashlog import write_crash_log

        log = write_crash_log(_folder_of(kwargs), command, _redact)
        _fail(f"unexpected error ({type(exc).__name__}: {_redact(str(exc))[:200]}); "
              f"the full trace is in {log}. Please report it with that file.", 1)


def _fail(message: str, code: int) -> None:
    click.secho(f"Error: {_redact(message)}", fg="red", err=True)
    sys.exit(code)


def _folder_of(kwargs: dict[str, Any]) -> Path:
    for key in ("folder", "study_folder"):
        value = kwargs.get(key)
        if isinstance(value, Path):
            return value if value.is_dir() or value.suffix == "" else value.parent
    return Path(".")


def _locked(study: Any, command: str, wait: float) -> Any:
    """Hold the study's lock (see servicebench.lock) for the rest of the command."""
    from .lock import StudyLock

    lock = StudyLock(study.folder, command, wait)
    lock.acquire()
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(lock.release)
    return lock


def _load(folder: Path, require_secrets: bool = True) -> Any:
    from .study import load_study

    study = load_study(folder, require_secrets=require_secrets)
    _setup_logging(study.redact)
    return study


def _store(study: Any) -> Any:
    from .store import Store

    store = Store(study.folder)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(store.close)
    return store


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = ()
        return True


def _setup_logging(redact: Callable[[str], str]) -> None:
    global _redact
    _redact = redact
    log = logging.getLogger("servicebench")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
    for h in log.handlers:
        h.filters = [_RedactingFilter(redact)]


def _echo_progress(message: str) -> None:
    click.echo(f"  {message}")


@click.group()
@click.version_option(__version__, prog_name="servicebench")
def cli() -> None:
    """servicebench: send the same customer inquiry to many companies by email, web form and
    social channels, collect every reply, and compare how fast and how well they answered."""


# -- study files ---------------------------------------------------------------------------
@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--language", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language of the starter study and its report.")
@click.option("--force", is_flag=True, help="Overwrite an existing study.yaml.")
@handle_errors
def init(folder: Path, language: str, force: bool) -> None:
    """Write a commented starter study into FOLDER."""
    from .scaffold import write_starter_study

    path = write_starter_study(folder, language, force)
    click.echo(f"Wrote {path}. Edit it, then run: servicebench validate {folder}")


@cli.command()
@study_argument
@json_option
@handle_errors
def validate(folder: Path, as_json: bool) -> None:
    """Check study.yaml and report every problem with its line."""
    from .errors import EXIT_BAD_INPUT
    from .study import check_templates

    try:
        study = _load(folder)
        check_templates(study)
    except StudyError as exc:
        if not as_json:
            raise
        problems = [{"file": p.file, "line": p.line, "key": p.key, "message": p.message}
                    for p in exc.problems]
        click.echo(json.dumps({"ok": False, "exit_code": EXIT_BAD_INPUT, "error": exc.args[0],
                               "problems": problems}, indent=2, ensure_ascii=False))
        sys.exit(EXIT_BAD_INPUT)
    n = sum(len(c.channels) for c in study.companies)
    if as_json:
        click.echo(json.dumps({"ok": True, "exit_code": 0, "file": str(study.file),
                               "companies": len(study.companies), "channel_addresses": n,
                               "scenarios": len(study.scenarios),
                               "personas": len(study.personas)}, indent=2))
        return
    click.echo(f"{study.file}: OK ({len(study.companies)} companies, {n} channel addresses, "
               f"{len(study.scenarios)} scenarios, {len(study.personas)} personas)")


@cli.command()
@handle_errors
def schema() -> None:
    """Print the JSON Schema of study.yaml (for editor autocompletion)."""
    from .schema import study_schema

    click.echo(json.dumps(study_schema(), indent=2, ensure_ascii=False))


# -- running -------------------------------------------------------------------------------
def alert_options(fn: F) -> F:
    """Monitor-mode alert thresholds (see README "Monitor mode")."""
    fn = click.option("--alert-email", metavar="ADDRESS",
                      help="Also mail alerts to ADDRESS through the study's SMTP account.")(fn)
    fn = click.option("--alert-webhook", metavar="URL",
                      help="Also POST alerts as JSON to URL.")(fn)
    return click.option("--alert", "alerts", multiple=True, metavar="RULE",
                        help="Alert threshold (repeatable): no-human-reply=24h, "
                             "no-reply=3d, send-failed. Alerts are written to alerts.log "
                             "and make the exit code 4.")(fn)


def _alert_hook(study: Any, store: Any, clock: Any, rules: list[Any], webhook: str | None,
                email: str | None, as_json: bool) -> Callable[[Any], None]:
    from . import alerts as al
    from .errors import ServicebenchError as SbError

    def hook(summary: Any) -> None:
        if not rules:
            return
        new = al.check(study, store, clock.now(), rules)
        if not new:
            return
        summary.alerts.extend(new)
        for a in new:
            if not as_json:
                click.secho(al.line(a), fg="red")
        for what, send in (("webhook", webhook and (lambda: al.post_webhook(
                webhook, study, new))), ("email", email and (lambda: al.send_email(
                    study, email, new, clock.now())))):
            if not send:
                continue
            try:
                send()
            except (SbError, OSError) as exc:
                summary.notes.append(f"alert {what}: {study.redact(str(exc))}")

    return hook


def _finish_run(summary: Any, as_json: bool) -> None:
    """Print the summary (text or JSON) and exit with its code (README "Exit codes")."""
    code = summary.exit_code()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        sys.exit(code)
    for name, why in summary.skipped_channels.items():
        click.secho(f"  skipped channel {name}: {why}", fg="yellow")
    click.echo(f"Planned {summary.planned} new, sent {summary.sent}, failed {summary.failed}, "
               f"blocked {summary.blocked}, unknown {summary.unknown}, retry later "
               f"{summary.retry_later}; collected {summary.collected} new message(s).")
    if summary.next_try_at:
        click.echo(f"  next try of a temporary failure due at {summary.next_try_at}")
    if summary.held:
        click.secho(f"  {summary.held} due probe(s) stay planned: their channel was skipped "
                    "or disabled", fg="yellow")
    for note in summary.notes:
        click.secho(f"  note: {note}", fg="yellow")
    if code:
        click.secho(f"Exit code {code}: " + {1: "nothing could be done", 3: "partly done",
                                               4: "alert"}.get(code, "error"),
                    fg="red", err=True)
    sys.exit(code)


@cli.command()
@study_argument
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option("--watch", is_flag=True,
              help="Keep sending and collecting until every reply window has closed "
                   "(a monitor study: until stopped; IMAP IDLE where offered).")
@click.option("--poll", default="5m", show_default=True,
              help="With --watch: how often to collect (e.g. 30s, 5m).")
@channel_option
@alert_options
@json_option
@wait_option
@handle_errors
def run(folder: Path, dry_run: bool, watch: bool, poll: str, channels: tuple[str, ...],
        alerts: tuple[str, ...], alert_webhook: str | None, alert_email: str | None,
        as_json: bool, wait: float) -> None:
    """Send every due probe, then collect replies. Exit code 0 done, 1 nothing could be
    done, 2 bad input, 3 partly done (some probes failed or wait), 4 an alert fired."""
    from . import runner
    from .alerts import parse_rule
    from .study import parse_duration

    try:
        poll_every = parse_duration(poll)
    except ValueError as exc:
        raise StudyError(f"--poll: {exc}") from None
    rules = [parse_rule(a) for a in alerts]
    study = _load(folder)
    _locked(study, "run", wait)
    store = _store(study)
    clock = clock_from_env()
    only = list(channels) or None
    if dry_run:
        if as_json:
            from .dryrun import plan_listing

            click.echo(json.dumps(plan_listing(study, store, clock, only), indent=2,
                                  ensure_ascii=False))
            return
        from .dryrun import dry_run as do_dry_run

        do_dry_run(study, store, clock, click.echo, only)
        return
    hook = _alert_hook(study, store, clock, rules, alert_webhook, alert_email, as_json)
    progress = (lambda _m: None) if as_json else _echo_progress
    if not as_json:
        click.echo(f"Study {study.id}: sending due probes")
    if watch:
        with runner.stop_on_signals() as stop:
            summary = runner.watch(study, store, clock, progress=progress, poll=poll_every,
                                   only=only, stop=stop, after_collect=hook)
    else:
        summary = runner.run(study, store, clock, progress=progress, only=only)
        hook(summary)
    _finish_run(summary, as_json)


@cli.command()
@click.argument("probes", nargs=-1)
@click.option("--folder", type=click.Path(path_type=Path), default=".", show_default=True,
              help="The study folder.")
@click.option("--failed", is_flag=True, help="Every failed probe.")
@json_option
@wait_option
@handle_errors
def retry(probes: tuple[str, ...], folder: Path, failed: bool, as_json: bool,
          wait: float) -> None:
    """Plan failed probes (ids or keys, or --failed) again after fixing the cause; the
    failed attempt stays on record. The next run sends them."""
    from .retry import retry_probes

    study = _load(folder, require_secrets=False)
    _locked(study, "retry", wait)
    result = retry_probes(study, _store(study), clock_from_env().now(), list(probes), failed)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        for r in result.replanned:
            click.echo(f"  probe {r['id']} ({r['key']}): planned again, due {r['due_at']}")
        for why in result.refused:
            click.secho(f"  {why}", fg="yellow")
        click.echo(f"{len(result.replanned)} probe(s) planned again; send them with: "
                   f"servicebench run {folder}")
    if result.refused and not result.replanned:
        sys.exit(2)


@cli.command()
@study_argument
@channel_option
@json_option
@wait_option
@handle_errors
def collect(folder: Path, channels: tuple[str, ...], as_json: bool, wait: float) -> None:
    """Fetch new replies, store them raw, match and classify them. Exit code 1 when no
    channel could collect, 3 when some could not (or were skipped)."""
    from .errors import EXIT_ERROR, EXIT_PARTIAL
    from .runner import Runner, RunSummary

    study = _load(folder)
    _locked(study, "collect", wait)
    store = _store(study)
    summary = RunSummary()
    with Runner(study, store, clock_from_env(), None if as_json else _echo_progress,
                list(channels) or None) as r:
        summary.skipped_channels = dict(r.skipped)
        if not as_json:
            for name, why in r.skipped.items():
                click.secho(f"  skipped channel {name}: {why}", fg="yellow")
        r.collect(summary)
    failed = len(summary.collect_errors) + len(summary.skipped_channels)
    code = 0 if not failed else (EXIT_ERROR if not summary.collected_ok else EXIT_PARTIAL)
    if as_json:
        click.echo(json.dumps({"exit_code": code, "collected": summary.collected,
                               "channels_ok": summary.collected_ok,
                               "collect_errors": summary.collect_errors,
                               "credentials_refused": summary.refused,
                               "skipped_channels": summary.skipped_channels,
                               "notes": summary.notes}, indent=2, ensure_ascii=False))
        sys.exit(code)
    click.echo(f"Collected {summary.collected} new message(s).")
    for note in summary.notes:
        click.secho(f"  note: {note}", fg="yellow")
    sys.exit(code)


@cli.command()
@study_argument
@click.option("--wave", type=click.IntRange(1, 100_000), help="Only this wave.")
@json_option
@handle_errors
def status(folder: Path, wave: int | None, as_json: bool) -> None:
    """Show probes per company and channel: planned, sent, failed, replied, waiting..."""
    from .status import status_rows

    study = _load(folder, require_secrets=False)
    rows = status_rows(study, _store(study), clock_from_env().now(), wave)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    cols = ["company", "channel", "planned", "sent", "failed", "blocked", "unknown",
            "replied", "human", "waiting", "window_closed"]
    _table(rows, cols)


def _table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


@cli.command()
@study_argument
@click.option("--unmatched", is_flag=True, help="Only messages that match no probe.")
@click.option("--uncertain", is_flag=True,
              help="Only messages whose classification was a close call (see: review).")
@click.option("--problems", is_flag=True,
              help="Only messages that could not be processed (stored, but not classified).")
@json_option
@handle_errors
def inbox(folder: Path, unmatched: bool, uncertain: bool, problems: bool,
          as_json: bool) -> None:
    """List received messages with their probe, kind and reasons."""
    from .rating.overrides import effective_messages, is_uncertain

    study = _load(folder, require_secrets=False)
    store = _store(study)
    rows = effective_messages(store, store.messages(unmatched=unmatched, problems=problems))
    for r in rows:
        r["uncertain"] = is_uncertain(r)
    if uncertain:
        rows = [r for r in rows if r["uncertain"]]
    if as_json:
        for r in rows:
            r.pop("text", None)
        click.echo(json.dumps(rows, indent=2, ensure_ascii=True))
        return
    if not rows:
        click.echo("No uncertain messages." if uncertain else
                   "No problem messages." if problems else
                   "No unmatched messages." if unmatched else "No messages.")
        return
    for r in rows:
        probe = f"probe {r['probe_id']} ({r['match_method']})" if r["probe_id"] else "unmatched"
        spam = f"  [found in spam: {clean(r['folder'])}]" if r.get("in_spam") else ""
        mark = "  [uncertain]" if r["uncertain"] else ""
        by = (f"  [set by {clean(r['decided_by'])}; classifier: {r['auto_kind']}]"
              if r["decided_by"] else "")
        click.echo(f"#{r['id']}  {r['received_at']}  {r['kind'] or '-':<10} {probe}{spam}{mark}"
                   f"{by}")
        click.echo(f"     from {clean(r['sender'], 200)}: {clean(r['subject'], 300)}")
        if r.get("problem"):
            click.echo(f"     problem: {clean(r['problem'], 300)}")
        click.echo(f"     evidence: {clean(r['evidence'])}")
    if unmatched or problems:
        click.echo("Assign one by hand with: servicebench assign MESSAGE PROBE")
    if uncertain:
        click.echo("Decide them with: servicebench review (or: reclassify MESSAGE --as KIND)")


@cli.command()
@click.argument("message_id", type=SQLITE_ID)
@click.argument("probe_id", type=SQLITE_ID, required=False)
@click.option("--folder", type=click.Path(path_type=Path), default=".", show_default=True,
              help="The study folder.")
@click.option("--unassign", is_flag=True, help="Detach the message from its probe.")
@wait_option
@handle_errors
def assign(message_id: int, probe_id: int | None, folder: Path, unassign: bool,
           wait: float) -> None:
    """Assign a received message to a probe by hand (see: inbox --unmatched)."""
    study = _load(folder, require_secrets=False)
    if probe_id is None and not unassign:
        raise StudyError("name the probe to assign to, or use --unassign")
    _locked(study, "assign", wait)
    _store(study).assign_message(message_id, None if unassign else probe_id)
    what = "unassigned" if unassign else f"assigned to probe {probe_id}"
    click.echo(f"Message {message_id} {what}.")


@cli.command()
@click.argument("probe_id", type=SQLITE_ID)
@click.option("--folder", type=click.Path(path_type=Path), default=".", show_default=True,
              help="The study folder.")
@click.option("--sent", "decision", flag_value="sent", help="The probe did go out.")
@click.option("--not-sent", "decision", flag_value="not-sent",
              help="The probe did not go out; it will be sent on the next run.")
@click.option("--sent-at", help="With --sent: when it was accepted (ISO date-time).")
@wait_option
@handle_errors
def resolve(probe_id: int, folder: Path, decision: str | None, sent_at: str | None,
            wait: float) -> None:
    """Decide by hand the outcome of a probe whose sending was interrupted."""
    from .resolve import resolve_probe

    study = _load(folder, require_secrets=False)
    if decision is None:
        raise StudyError("say --sent (with --sent-at) or --not-sent")
    _locked(study, "resolve", wait)
    click.echo(resolve_probe(study, _store(study), clock_from_env(), probe_id, decision,
                             sent_at))


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@handle_errors
def classify(files: tuple[Path, ...], as_json: bool) -> None:
    """Show how message files (.eml) are classified, and why."""
    from .classify import classify_file

    results = []
    for f in files:
        c = classify_file(f)
        results.append({"file": str(f), **c.to_dict()})
        if not as_json:
            flag = ", uncertain: check by hand" if c.uncertain else ""
            click.echo(f"{clean(f)}: {c.kind} ({c.subkind}, "
                       f"{c.probabilities.get(c.kind, 0):.0%}{flag})")
            for r in c.reasons:
                click.echo(f"  - {clean(r)}")
    if as_json:
        click.echo(json.dumps(results if len(results) > 1 else results[0], indent=2,
                              ensure_ascii=False))


# -- answer quality: review, reclassify, rating sheets --------------------------------------
KIND_CHOICES = ["human", "automated", "bounce", "unrelated"]


@cli.command()
@study_argument
@click.option("--all", "show_all", is_flag=True,
              help="Also messages a person has decided already.")
@click.option("--by", help="Who decides (default: your user name).")
@wait_option
@handle_errors
def review(folder: Path, show_all: bool, by: str | None, wait: float) -> None:
    """Walk through uncertain classifications and decide each: human, automated, bounce,
    unrelated, or skip."""
    from .metrics import message_reasons
    from .rating.overrides import decide, uncertain_messages

    study = _load(folder, require_secrets=False)
    _locked(study, "review", wait)
    store = _store(study)
    todo = uncertain_messages(store, undecided_only=not show_all)
    if not todo:
        click.echo("No uncertain classifications to review.")
        return
    keys = {"h": "human", "a": "automated", "b": "bounce", "u": "unrelated"}
    done = 0
    for i, m in enumerate(todo, 1):
        click.echo(click.style(f"\n[{i}/{len(todo)}] message #{m['id']}", bold=True)
                   + f"  {m['received_at']}  probe {m['probe_id'] or '-'}  now: {m['kind']}"
                   + (f" (set by {m['decided_by']})" if m["decided_by"] else ""))
        click.echo(_printable(f"from {m['sender']}: {m['subject']}"))
        click.echo("-" * 60)
        text = _printable((m["text"] or "").strip())
        click.echo(text[:1500] + (" …" if len(text) > 1500 else ""))
        click.echo("-" * 60)
        for reason in message_reasons(m)[:12]:
            click.echo(f"  - {_printable(reason)}")
        choice = click.prompt("[h]uman, [a]utomated, [b]ounce, [u]nrelated, [s]kip, [q]uit",
                              type=click.Choice(["h", "a", "b", "u", "s", "q"]),
                              show_choices=False)
        if choice == "q":
            break
        if choice == "s":
            continue
        decide(store, m["id"], keys[choice], clock_from_env().now(), by=by, source="review")
        done += 1
    click.echo(f"Recorded {done} decision(s). They override the classifier everywhere.")


def _printable(text: str) -> str:
    """Received text without terminal control sequences (a message must not drive the
    reviewer's terminal)."""
    import re

    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", text)


@cli.command()
@click.argument("message_id", type=SQLITE_ID)
@click.option("--as", "kind", type=click.Choice(KIND_CHOICES), required=True,
              help="The kind the message really is.")
@decision_options
@wait_option
@handle_errors
def reclassify(message_id: int, kind: str, folder: Path, by: str | None, note: str,
               wait: float) -> None:
    """Set a message's kind by hand; the decision overrides the classifier everywhere."""
    from .rating.overrides import decide

    study = _load(folder, require_secrets=False)
    _locked(study, "reclassify", wait)
    m = decide(_store(study), message_id, kind, clock_from_env().now(), by=by,
               source="reclassify", note=note)
    click.echo(f"Message {message_id}: {m['auto_kind']} -> {m['kind']} (by {m['decided_by']}).")


@cli.group()
def rate() -> None:
    """Blinded human rating of answer quality: export sheets, import them, agreement."""


@rate.command("export")
@study_argument
@click.option("--raters", type=click.IntRange(1, 50), default=2, show_default=True,
              help="How many raters (one sheet each).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: the study folder's rating/).")
@click.option("--csv", "write_csv", is_flag=True, help="Also write each sheet as CSV.")
@click.option("--hide-channel", is_flag=True, help="Leave out the channel column.")
@click.option("--seed", help="Seed of the random row order (default: a new random one).")
@wait_option
@handle_errors
def rate_export(folder: Path, raters: int, out: Path | None, write_csv: bool,
                hide_channel: bool, seed: str | None, wait: float) -> None:
    """Write one blinded rating sheet (XLSX) per rater."""
    from .rating.sheets import export_sheets

    study = _load(folder, require_secrets=False)
    _locked(study, "rate export", wait)
    paths = export_sheets(study, _store(study), raters, out or study.folder / "rating",
                          clock_from_env().now(), write_csv=write_csv,
                          hide_channel=hide_channel, seed=seed)
    for p in paths:
        click.echo(f"Wrote {p}")
    click.echo("Give each rater one file; import it with: servicebench rate import FILE "
               "--rater NAME")


@rate.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rater", required=True, help="The rater's name (one name per sheet).")
@click.option("--folder", type=click.Path(path_type=Path), default=".", show_default=True,
              help="The study folder.")
@wait_option
@handle_errors
def rate_import(file: Path, rater: str, folder: Path, wait: float) -> None:
    """Import a filled rating sheet; nothing is imported if any cell is wrong."""
    from .rating.sheets import import_sheet

    study = _load(folder, require_secrets=False)
    _locked(study, "rate import", wait)
    r = import_sheet(study, _store(study), file, rater, clock_from_env().now())
    what = "replaced the earlier import" if r["replaced"] else "imported"
    click.echo(f"Rater {r['rater']}: {r['items']} item(s), {r['values']} value(s) {what}.")


@rate.command("agreement")
@study_argument
@click.option("--top", type=int, default=10, show_default=True,
              help="How many of the largest disagreements to list.")
@json_option
@handle_errors
def rate_agreement(folder: Path, top: int, as_json: bool) -> None:
    """Krippendorff's alpha per criterion, and the largest disagreements."""
    from .rating.agreement import agreement

    study = _load(folder, require_secrets=False)
    a = agreement(study, _store(study), top=top)
    if as_json:
        click.echo(json.dumps(a.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(a.raters)} rater(s): {', '.join(a.raters) or '-'}; {a.n_items} item(s); "
               f"{a.n_adjudicated} value(s) adjudicated")
    rows = [{"criterion": c.criterion, "level": c.level,
             "alpha": "-" if c.alpha is None else f"{c.alpha:.3f}", "items": c.n_items,
             "raters": c.n_raters, "units": c.n_units} for c in a.criteria]
    _table(rows, ["criterion", "level", "alpha", "items", "raters", "units"])
    if a.disagreements:
        click.echo("\nLargest disagreements (settle with: servicebench rate adjudicate):")
        for d in a.disagreements:
            fact = f" fact {d['fact']}" if d["fact"] else ""
            vals = ", ".join(f"{k}: {v}" for k, v in d["values"].items())
            final = f"  -> final {d['final']}" if d["final"] else ""
            click.echo(f"  {d['item_id']}  {d['criterion']}{fact}  {vals}{final}")


@rate.command("adjudicate")
@click.argument("item")
@click.argument("criterion")
@click.argument("value")
@click.option("--fact", default="", help="For per-fact criteria: the fact id.")
@decision_options
@wait_option
@handle_errors
def rate_adjudicate(item: str, criterion: str, value: str, fact: str, folder: Path,
                    by: str | None, note: str, wait: float) -> None:
    """Record the final value of a criterion for an item where raters disagree."""
    from .rating.agreement import adjudicate

    study = _load(folder, require_secrets=False)
    _locked(study, "rate adjudicate", wait)
    r = adjudicate(study, _store(study), item, criterion, value, clock_from_env().now(),
                   fact=fact, by=by, note=note)
    fact_text = f" fact {fact}" if fact else ""
    click.echo(f"{item} {criterion}{fact_text}: final value {r['value']} "
               f"(by {r['decided_by']}).")


# -- output --------------------------------------------------------------------------------
@cli.command()
@study_argument
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(path_type=Path), help="Output file.")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of templates that override report_templates/.")
@click.option("--language", type=click.Choice(["de", "en"]),
              help="Report language (default: the study's language).")
@click.option("--appendix", type=click.Choice(["cards", "none"]),
              help="Per-inquiry evidence cards in the appendix (default: cards up to 100 "
                   "inquiries, none above).")
@click.option("--anonymise", is_flag=True,
              help='Replace company names with "Company A", "Company B"... everywhere.')
@click.option("--redact-people", is_flag=True,
              help="Replace agents' names in quoted replies with [Name].")
@as_of_option
@handle_errors
def report(folder: Path, fmt: str, out: Path | None, templates: Path | None,
           language: str | None, appendix: str | None, anonymise: bool,
           redact_people: bool, as_of: str | None) -> None:
    """Render the comparison report as PDF or HTML."""
    from .api import Study
    from .i18n import texts

    study = Study(_load(folder, require_secrets=False))
    cut = _parse_as_of(as_of, study.config)
    path = study.report(format=fmt, out=out, templates=templates, as_of=cut, language=language,
                        appendix=appendix, anonymise=anonymise, redact_people=redact_people)
    click.echo(f"{texts(language or study.config.language)['cli_wrote']} {path}")


@cli.command()
@study_argument
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: the study folder's exports/).")
@click.option("--wave", type=click.IntRange(1, 100_000),
              help="Figures of this wave only (default: all waves; probes carry a wave column).")
@click.option("--language", type=click.Choice(["de", "en"]),
              help="Language of the column dictionary and labels (default: the study's).")
@click.option("--excel", is_flag=True,
              help="CSV for Excel: byte-order mark, and for German semicolons and decimal "
                   "commas.")
@as_of_option
@json_option
@handle_errors
def export(folder: Path, fmt: str, out: Path | None, wave: int | None, language: str | None,
           excel: bool, as_of: str | None, as_json: bool) -> None:
    """Write per-probe and per-company tables as CSV or XLSX (with a wave column)."""
    from .api import Study
    from .i18n import texts

    study = Study(_load(folder, require_secrets=False))
    cut = _parse_as_of(as_of, study.config)
    paths = study.export(format=fmt, out=out, as_of=cut, wave=wave, language=language,
                         excel=excel)
    if as_json:
        click.echo(json.dumps({"exit_code": 0, "files": [str(p) for p in paths]}, indent=2))
        return
    for p in paths:
        click.echo(f"{texts(language or study.config.language)['cli_wrote']} {p}")


@cli.command("probe-form")
@click.argument("url")
@click.option("--study", "study_folder", type=click.Path(path_type=Path),
              help="Take persona and scenario from this study.")
@click.option("--persona", help="Persona id (with --study; default: the first).")
@click.option("--scenario", help="Scenario id (with --study; default: the first).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Where to write the screenshot and mapping.")
@click.option("--timeout", type=FiniteRange(0.1, 3600), default=45.0, show_default=True,
              help="Seconds to wait for the page.")
@json_option
@handle_errors
def probe_form(url: str, study_folder: Path | None, persona: str | None, scenario: str | None,
               out: Path, timeout: float, as_json: bool) -> None:
    """Open a contact form, fill it and screenshot it, and print the field mapping and why.
    Nothing is submitted."""
    from servicebench.probes.webform.report import probe_form as do_probe_form

    p = s = None
    if study_folder is not None:
        study = _load(study_folder, require_secrets=False)
        try:
            p = study.persona(persona) if persona else study.personas[0]
            s = study.scenario(scenario) if scenario else study.scenarios[0]
        except StopIteration:
            raise StudyError(f"no persona {persona!r} or scenario {scenario!r} in "
                             f"{study.file}") from None
    report = do_probe_form(url, p, s, out, timeout=timeout)
    click.echo(json.dumps(report.mapping(), indent=2, ensure_ascii=False) if as_json
               else report.text())


@cli.command("log")
@study_argument
@click.option("--probe", "probe_ref", help="Probe id or key (company|channel|scenario|persona|"
              "wave); asked for if missing.")
@click.option("--started-at", help="When the contact began (ISO date-time, study time zone).")
@click.option("--menu-at", help="When the phone menu answered (date-time or 14:05).")
@click.option("--person-at", help="When a person answered (date-time or 14:05).")
@click.option("--ended-at", help="When the contact ended (date-time or 14:05).")
@click.option("--outcome", type=click.Choice(["answered", "gave_up", "no_connection"]),
              help="How it ended.")
@click.option("--attempts", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Tries it took.")
@click.option("--gave-up-after", type=FiniteRange(0, 100_000),
              help="With gave_up: minutes waited.")
@click.option("--checklist", multiple=True, help="A fact id the person answered (repeatable).")
@click.option("--notes", default="", help="Free text.")
@click.option("--greeting/--no-greeting", default=None,
              help="Whether the person greeted the tester by name (default: not judged, so "
                   "the greeting criterion does not apply).")
@click.option("--replace", is_flag=True, help="Replace an earlier log of this probe.")
@click.option("--import", "import_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Import contacts from a CSV file instead.")
@wait_option
@handle_errors
def log_cmd(folder: Path, probe_ref: str | None, started_at: str | None, menu_at: str | None,
            person_at: str | None, ended_at: str | None, outcome: str | None, attempts: int,
            gave_up_after: float | None, checklist: tuple[str, ...], notes: str,
            greeting: bool | None, replace: bool, import_csv: Path | None,
            wait: float) -> None:
    """Record a manual contact (phone, chat, visit): asks for what is not given as options."""
    from servicebench.probes import manual

    from .runner import plan

    study = _load(folder, require_secrets=False)
    _locked(study, "log", wait)
    store = _store(study)
    clock = clock_from_env()
    plan(study, store, clock.now())
    if import_csv is not None:
        n = manual.import_contacts_csv(study, store, import_csv, clock.now())
        click.echo(f"Imported {n} contact(s) from {import_csv}.")
        return
    probe_id = _manual_probe(store, probe_ref)
    row = store.probe(probe_id)
    scenario = study.scenario(row["scenario_id"])

    def when(value: str | None, what: str, day_of: Any, prompt: bool) -> Any:
        while True:
            if value is None and prompt:
                value = click.prompt(f"{what} (ISO date-time or HH:MM, empty: none)",
                                     default="", show_default=False)
            try:
                return manual.parse_contact_time(study, value or "", day_of, what)
            except ValueError as exc:
                if not prompt:
                    raise StudyError(str(exc)) from None
                click.echo(f"  {exc}")
                value = None

    interactive = started_at is None or outcome is None
    start = when(started_at or (None if interactive else ""), "started at", None, interactive)
    if start is None:
        start = clock.now().astimezone(study.tz)
    if outcome is None:
        outcome = click.prompt("outcome", type=click.Choice(["answered", "gave_up",
                                                             "no_connection"]))
    menu = when(menu_at, "menu answered at", start, interactive and menu_at is None)
    person = when(person_at, "person answered at", start,
                  interactive and person_at is None and outcome == "answered")
    end = when(ended_at, "ended at", start, interactive and ended_at is None)
    items = list(checklist)
    if interactive and outcome == "answered" and not items and scenario.expect:
        click.echo("Checklist: " + ", ".join(f"{f.id} ({f.label})" for f in scenario.expect))
        items = click.prompt("fact ids answered (comma separated)", default="",
                             show_default=False).replace(",", " ").split()
    if interactive and not notes:
        notes = click.prompt("notes", default="", show_default=False)
    manual.log_contact(study, store, probe_id, started_at=start, menu_at=menu,
                       person_at=person, ended_at=end, outcome=outcome, attempts=attempts,
                       gave_up_after_minutes=gave_up_after, checklist=items, notes=notes,
                       now=clock.now(), replace=replace, greeting=greeting)
    click.echo(f"Logged contact for probe {probe_id} ({row['key']}): {outcome}.")


def _manual_probe(store: Any, ref: str | None) -> int:
    from .channels import get_channel

    manual_rows = [r for r in store.probes() if get_channel(r["channel"]).kind == "manual"]
    if ref is None:
        if not manual_rows:
            raise StudyError("this study plans no manual contacts (phone, chat, visit)")
        for r in manual_rows:
            click.echo(f"  {r['id']:>4}  {r['state']:<8} {r['key']}  → {r['target']}")
        ref = str(click.prompt("probe id", type=SQLITE_ID))
    if ref.isdigit():
        if not 0 < int(ref) < 2**63:
            raise StudyError(f"no probe {ref}; see: servicebench status")
        return int(ref)
    found = store.one("SELECT id FROM probes WHERE key = ?", (ref,))
    if found is None:
        raise StudyError(f"no probe {ref!r}; see: servicebench status")
    return int(found["id"])


# -- sandbox and demo ----------------------------------------------------------------------
@cli.command()
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path),
              default="sandbox-data", show_default=True,
              help="Where the sandbox writes ground_truth.csv.")
@click.option("--smtp-port", type=PORT, default=2525, show_default=True, help="SMTP port.")
@click.option("--imap-port", type=PORT, default=1143, show_default=True, help="IMAP port.")
@click.option("--web-port", type=PORT, default=8025, show_default=True,
              help="Port of the contact-form web server.")
@click.option("--speed", type=SPEED, default=1.0, show_default=True,
              help="Clock factor: 1 = real time, 5040 = a week in two minutes.")
@click.option("--language", type=click.Choice(["en", "de"]), default="en", show_default=True,
              help="Language the simulated companies answer in.")
@handle_errors
def sandbox(folder: Path, smtp_port: int, imap_port: int, web_port: int, speed: float,
            language: str) -> None:
    """Run the local sandbox (simulated companies) until Ctrl-C."""
    from .sandbox.manual import run_sandbox

    run_sandbox(folder, smtp_port, imap_port, web_port, speed, language, click.echo)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="demo-output",
              show_default=True, help="Folder for the report, exports and ground truth.")
@click.option("--speed", type=SPEED, default=None,
              help="Clock factor (default: a 7-day window passes in about 75 seconds).")
@click.option("--no-forms", is_flag=True,
              help="Leave out the web forms (no browser needed).")
@handle_errors
def demo(out: Path, speed: float | None, no_forms: bool) -> None:
    """Run the whole pipeline against the sandbox and write a report."""
    from .demo import run_demo

    run_demo(out, speed=speed, forms=not no_forms, echo=click.echo)


def main() -> None:
    cli(prog_name="servicebench")



if __name__ == "__main__":
    main()
