"""The ``webform`` channel: fill and submit a company's contact form in Chromium.

Replies come by email to the per-probe reply address entered in the form, so the email
channel matches them; this channel has no ``collect``.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import urllib.parse
from datetime import timedelta
from typing import Any, ClassVar

from servicebench.channels import Channel, ChannelEnv, OutcomeUnknown, ProbeContext, SendResult
from servicebench.errors import NotConfigured, ProbeBlocked, ProbeError
from servicebench.matching import quote_keys

from .fields import FormInput
from .flow import FormVisit
from .kinds import KINDS
from .pool import SessionPool
from .report import FormReport, probe_form
from .session import BrowserSession, page_of

__all__ = ["WebformChannel", "FormReport", "probe_form"]

DEFAULT_TIMEOUT = 45.0
MAX_PARALLEL = 8


def default_parallel() -> int:
    """Forms at once by default: filling a form is mostly waiting (for pages, for the site's
    answer), so two per CPU core, at least 2 and at most MAX_PARALLEL."""
    return max(2, min(MAX_PARALLEL, 2 * (os.cpu_count() or 1)))


FIELD_SPEC: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1, "description": "CSS selector of the field"},
        {"const": False, "description": "false: leave this field empty"},
        {"type": "object", "additionalProperties": False, "minProperties": 1,
         "properties": {
             "selector": {"type": "string", "minLength": 1},
             "label": {"type": "string", "minLength": 1,
                       "description": "find the field by its visible label"},
             "choose": {"type": "string", "description": "option to pick (select, radios, "
                                                         "custom dropdown)"},
             "value": {"type": ["string", "number"], "description": "text to enter"},
             "check": {"type": "boolean"},
         }},
    ],
    "description": "a CSS selector, false, or {selector|label, choose|value|check}",
}


class WebformChannel(Channel):
    name = "webform"
    replies_by_email = True
    label = "Web form"
    company_schema: ClassVar[dict[str, Any]] = {
        "description": "the contact form's URL, or {url, fields, success}",
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "additionalProperties": False, "required": ["url"],
             "properties": {
                 "url": {"type": "string", "minLength": 1},
                 "fields": {"type": "object", "additionalProperties": FIELD_SPEC,
                            "description": "per-field overrides: message, email, topic..."},
                 "success": {"type": "string", "minLength": 1,
                             "description": "text the confirmation shows"},
             }},
        ],
    }
    study_key = "webform"
    study_schema: ClassVar[dict[str, Any]] = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "timeout": {"oneOf": [{"type": "number", "exclusiveMinimum": 0},
                                  {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[sm]\s*$"}],
                        "description": "how long to wait for a page or a verdict (default 45s)"},
            "headless": {"type": "boolean", "description": "false shows the browser window"},
            "parallel": {"type": "integer", "minimum": 1, "maximum": MAX_PARALLEL,
                         "description": "forms filled at the same time (default: two per "
                                        "CPU core, at least 2, at most 8)"},
            "full_page": {"type": "boolean", "description": "full-page screenshots "
                          "(default: the filled form's region before submitting and the "
                          "visible part of the page after)"},
        },
    }

    def __init__(self, env: ChannelEnv) -> None:
        super().__init__(env)
        settings = (env.study.settings or {}).get("webform") or {} if env.study else {}
        self.timeout = _seconds(env.options.get("webform_timeout",
                                                settings.get("timeout", DEFAULT_TIMEOUT)))
        self.parallel = int(env.options.get("webform_parallel",
                                            settings.get("parallel") or default_parallel()))
        self.full_page = bool(settings.get("full_page", False))
        self.pool = SessionPool(self.parallel, headless=bool(env.options.get(
            "webform_headless", settings.get("headless", True))))

    # -- configuration ------------------------------------------------------------------
    def check_configured(self) -> None:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            raise NotConfigured("web forms need the playwright package: pip install "
                                "playwright") from exc
        from servicebench.browser import find_chromium
        find_chromium()

    @classmethod
    def target_of(cls, config: Any) -> str:
        return str(config.get("url", "")) if isinstance(config, dict) else str(config)

    @classmethod
    def validate_target(cls, config: Any) -> list[str]:
        url = cls.target_of(config)
        parts = urllib.parse.urlsplit(url)
        problems = []
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{url!r} is not a web address; use an http:// or https:// URL "
                            "of the contact form")
        fields = config.get("fields") if isinstance(config, dict) else None
        for key, spec in (fields or {}).items() if isinstance(fields, dict) else ():
            if key not in KINDS and key not in ("consent", "marketing") and not (
                    isinstance(spec, dict) and {"value", "choose", "check"} & set(spec)):
                problems.append(f"fields.{key}: not a known field ({', '.join(sorted(KINDS))}); "
                                "give it a value, choose or check")
        return problems

    # -- sending ------------------------------------------------------------------------
    def _config(self, pc: ProbeContext) -> dict[str, Any]:
        cfg = pc.target if isinstance(pc.target, dict) else pc.company.channels.get(self.name)
        return cfg if isinstance(cfg, dict) else {"url": self.target_of(pc.target)}

    def _input(self, pc: ProbeContext) -> FormInput:
        cfg = self._config(pc)
        return FormInput(persona=pc.persona, subject=pc.subject, body=pc.body,
                         email=pc.reply_address, email_source="reply address (per probe)",
                         topic=pc.scenario.topic, overrides=dict(cfg.get("fields") or {}),
                         success=cfg.get("success"), short=self.env.short_text(pc),
                         company=pc.company.id)

    def preview(self, pc: ProbeContext) -> str:
        cfg = self._config(pc)
        lines = [f"Web form: {cfg['url']}", f"Reply address entered: {pc.reply_address}"]
        if cfg.get("fields"):
            lines.append("Field overrides: " + json.dumps(cfg["fields"], ensure_ascii=False))
        if pc.scenario.topic:
            lines.append(f"Topic hint: {pc.scenario.topic}")
        return "\n".join(lines + [f"Subject: {pc.subject}", "", pc.body])

    def _visit(self, session: BrowserSession, pc: ProbeContext,
               submit: bool) -> tuple[FormVisit, Any]:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", pc.key).strip("_") or str(pc.probe_id)
        prefix = f"webform/{safe}/" + ("" if submit else "dry-run/")

        def save(name: str, data: bytes, kind: str) -> str:
            return self.env.store.write_evidence(prefix + name, data, probe_id=pc.probe_id,
                                                 kind=kind, now=self.env.clock.now()).path

        language = getattr(self.env.study, "language", "de")
        ctx = session.context(language)
        page = page_of(ctx)
        return FormVisit(page, self._config(pc)["url"], self._input(pc), timeout=self.timeout,
                         now=self.env.clock.now, save=save, full_page=self.full_page,
                         on_submit=lambda: session.prepare(language)), ctx

    def dry_run(self, pc: ProbeContext) -> dict[str, Any]:
        return self.pool.run(lambda session: self._dry_run(session, pc))

    def _dry_run(self, session: BrowserSession, pc: ProbeContext) -> dict[str, Any]:
        visit, ctx = self._visit(session, pc, submit=False)
        try:
            report = visit.run(submit=False)
        finally:
            ctx.close()
        return {**report.mapping(), "why": report.lines()}

    def send(self, pc: ProbeContext) -> SendResult:
        """Fill and submit on one of the pool's browsers (thread-safe: the runner may send
        up to ``parallel`` forms at once)."""
        return self.pool.run(lambda session: self._send(session, pc))

    def _send(self, session: BrowserSession, pc: ProbeContext) -> SendResult:
        visit, ctx = self._visit(session, pc, submit=True)
        try:
            report = visit.run(submit=True)
        except ProbeError as exc:
            msg = str(exc)
            if "result" not in visit.report.evidence:
                _try(lambda: visit._finish("error", msg))
            raise
        except Exception as exc:  # noqa: BLE001 - browser crash, closed page...
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _try(lambda: visit._finish("error", first))
            if visit.report.submitted_click:
                raise OutcomeUnknown(f"the browser failed after the submit click: {first}") from exc
            raise ProbeError(f"web form could not be filled: {first}", temporary=True) from exc
        finally:
            _try(ctx.close)
        return _result(report)

    def close(self) -> None:
        self.pool.close()


def _text_entered(report: FormReport) -> dict[str, Any]:
    """The probe's stored subject and text, where the form took other ones than the study's:
    the scenario's short text (the full one did not fit), a subject cut to the field's
    length. Replies are matched by quotes of what was sent and judged against it."""
    out: dict[str, Any] = {}
    entered = {d.kind: d.value for d in report.decisions
               if d.action == "fill" and d.kind in ("message", "subject") and d.value}
    if report.message_text == "short" and entered.get("message"):
        out["body"] = entered["message"]
        out["quote_keys"] = quote_keys(entered["message"])
    if entered.get("subject"):
        out["subject"] = entered["subject"]
    return out


def _result(report: FormReport) -> SendResult:
    v = report.verdict
    detail = {"url": report.url, "final_url": report.final_url, "status": report.status,
              "confirmation": report.message, "filled": report.filled,
              "evidence": report.evidence, "steps": report.steps,
              "message_text": report.message_text or None}  # "full" or "short"
    detail.update(_text_entered(report))
    if report.invisible_captchas:
        detail["invisible_captchas"] = report.invisible_captchas
    if report.outcome == "success":
        sent_at, source = v.at, "form-confirmation"
        server_time = _http_date(v.facts.get("server_date"), v.at)
        if server_time is not None:
            sent_at, source = server_time, "http-date-header"
        return SendResult(sent_at=sent_at, time_source=source,
                          external_id=_ticket_id(report.message), detail=detail)
    if report.outcome == "captcha":
        raise ProbeBlocked("captcha", {"message": report.message, **detail})
    if report.outcome == "unknown":
        raise OutcomeUnknown(f"web form {report.url}: {report.message}")
    what = {"validation": "the form reported an error", "http-error": "the site answered "
            "with an HTTP error", "nothing": "the submission did not go through"}.get(
        report.outcome, report.outcome)
    raise ProbeError(f"web form {report.url}: {what}: {report.message}", temporary=False)


def _http_date(value: str | None, around: Any) -> Any:
    """The site's own time of the submission (its Date header), if plausible: within a
    day of when we saw the confirmation. Whole seconds only."""
    if not value or around is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None or abs(when - around) > timedelta(days=1):
        return None
    return when


def _ticket_id(message: str) -> str | None:
    m = re.search(r"(?:ticket|anfrage|vorgang|request|case|referenz|reference)\w*\s*"
                  r"(?:nr\.?|nummer|number|no\.?|id)?\s*[:#]\s*([A-Za-z0-9-]{4,})", message, re.I)
    return m.group(1) if m else None


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([sm]?)\s*", str(value))
    if not m:
        return DEFAULT_TIMEOUT
    return float(m.group(1)) * (60 if m.group(2) == "m" else 1)


def _try(fn: Any) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - evidence is best effort once something broke
        pass
