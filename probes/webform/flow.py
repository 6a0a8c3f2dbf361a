"""One visit to a contact form: open it, find the form (in any frame), fill it step by step,
then (unless it is a dry run) submit it and judge the outcome, saving evidence throughout."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from servicebench.errors import ProbeBlocked, ProbeError

from .buttons import classify_buttons, dismiss_cookie_banner
from .constraints import fit, message_text, unfilled_required
from .fields import Decision, Field, FormInput, fields_from_scan, label_matches, map_fields
from .fill import apply
from .kinds import KINDS
from .report import FormReport
from .scan import scan_frame
from .verdict import (
    SubmitWatch,
    all_states,
    await_verdict,
    blocking_captcha,
    invisible_captchas,
    snapshot,
)
from .waits import (
    Requests,
    has_document,
    load_lazy_frames,
    mark,
    wait_animations,
    wait_change,
    wait_reaction,
    wait_settled,
)

Save = Callable[[str, bytes, str], str]  # (name, data, kind) -> stored path
SELECTOR_INFO_JS = """(el, sid) => { if (!el.getAttribute('data-sb-id'))
  el.setAttribute('data-sb-id', sid); return {sid: el.getAttribute('data-sb-id'),
  tag: el.tagName.toLowerCase(), type: (el.type || '').toLowerCase()}; }"""
VALUE_KINDS = ("fill", "select", "choose", "check")
# a screenshot waits at most this long (a page that never finished loading would otherwise
# hold the probe for Playwright's default 30 s before its error is recorded)
SHOT_MS = 5000


class FormVisit:
    def __init__(self, page: Any, url: str, fi: FormInput, *, timeout: float,
                 now: Callable[[], Any], save: Save, full_page: bool = False,
                 on_submit: Callable[[], None] | None = None) -> None:
        self.page, self.url, self.fi = page, url, fi
        self.timeout, self.now, self.save = timeout, now, save
        self.full_page = full_page  # full-page screenshots instead of form region/viewport
        self.on_submit = on_submit  # work to do while the site processes the submission
        self.report = FormReport(url=url)
        self.requests = Requests(page)
        self.decided: dict[str, Decision] = {}
        self.hidden: dict[str, Decision] = {}
        self._scan_no = 0
        self.frame_index = 0
        self.form_key = -1

    # -- opening and finding the form --------------------------------------------------
    def open(self) -> None:
        ms = int(self.timeout * 1000)
        try:
            resp = self.page.goto(self.url, wait_until="domcontentloaded", timeout=ms)
        except Exception as exc:  # noqa: BLE001 - Playwright's TimeoutError / net errors
            first = str(exc).splitlines()[0]
            raise ProbeError(f"form page {self.url} did not load: {first}", temporary=True) from exc
        status = resp.status if resp else None
        self.report.page_status = status
        if status is not None and status >= 400:
            raise ProbeError(f"form page {self.url} answered HTTP {status}",
                             temporary=status >= 500 or status in (408, 429))
        try:  # scripts and frames; no wait for network idle: find_form waits for the form
            self.page.wait_for_load_state("load", timeout=min(ms, 5000))
        except Exception:  # noqa: BLE001 - a page whose subresources hang
            pass
        if dismiss_cookie_banner(self.page):
            self.report.notes.append("dismissed a cookie banner")

    def scan(self) -> tuple[list[Field], dict[int, list[dict[str, Any]]]]:
        self._scan_no += 1
        fields: list[Field] = []
        buttons: dict[int, list[dict[str, Any]]] = {}
        for i, fr in enumerate(self.page.frames):
            if not has_document(fr):  # a lazy iframe not loaded yet
                continue
            try:
                res = scan_frame(fr, f"s{self._scan_no}f{i}-")
            except Exception:  # noqa: BLE001 - detached or navigating frame
                continue
            fields += fields_from_scan(i, res)
            buttons[i] = res["buttons"]
        return fields, buttons

    def find_form(self) -> tuple[list[Field], list[dict[str, Any]]]:
        start = time.monotonic()
        looked = False
        while True:
            since = mark(self.page.main_frame)
            fields, buttons = self.scan()
            best, best_score = None, 0.0
            groups: dict[tuple[int, int], list[Field]] = {}
            for f in fields:
                groups.setdefault((f.frame, f.form), []).append(f)
            for key, group in groups.items():
                s = _form_score(group, self.fi)
                if s > best_score:
                    best, best_score = key, s
            if best is not None and best_score >= 5:
                self.frame_index, self.form_key = best
                frame = self.page.frames[best[0]]
                self.report.frame_url = frame.url
                return groups[best], buttons.get(best[0], [])
            elapsed = time.monotonic() - start
            if elapsed > self.timeout or (elapsed > min(self.timeout, 15.0) and fields == []):
                raise ProbeError(f"no contact form found on {self.page.url} within "
                                 f"{elapsed:.0f}s", temporary=False)
            if not looked and load_lazy_frames(self.page):
                # the form may be in an iframe that loads only when scrolled near
                self.report.notes.append("loaded lazy iframes to look for the form in them")
            looked = True
            wait_change(self.page.main_frame, since, 500)  # a form drawn by a script

    @property
    def frame(self) -> Any:
        return self.page.frames[self.frame_index]

    # -- filling -------------------------------------------------------------------------
    def fill(self) -> dict[str, Any] | None:
        """Fill every step; return the submit button (None if there is none)."""
        fields, buttons = self.find_form()
        forced = self._resolve_overrides(fields)
        for step in range(1, 9):
            self.report.steps = step
            for _ in range(4):  # fields that appear after a choice (conditional fields)
                new = [f for f in fields if f.sid not in self.decided and not (
                    f.sid in self.hidden and f.hidden)]
                if not new:
                    break
                todo = map_fields(new, self.fi, {k: v for k, v in forced.items()
                                                if v[0] is None or v[0].sid not in self.decided})
                # kinds already filled in an earlier pass are not filled twice
                done_kinds = {d.kind for d in self.decided.values() if d.action != "leave"}
                for d in todo:
                    if d.kind in done_kinds and d.kind not in ("consent", "checkbox", "marketing",
                                                               "choice", "other", "honeypot",
                                                               "hidden"):
                        d.action, d.reason = "leave", f"{d.kind} was filled already"
                    if d.field and d.kind == "hidden":
                        self.hidden[d.field.sid] = d  # may show up in a later step
                    elif d.field:
                        self.decided[d.field.sid] = d
                fitted = fit(todo, self.fi)  # maxlength and the like, before typing
                self.report.warnings += fitted.warnings
                self.report.blockers += fitted.blockers
                since, asked = mark(self.frame), self.requests.started
                self.report.warnings += apply(self.frame, todo, self.fi,
                                              overrides=self.fi.overrides,
                                              blockers=self.report.blockers)
                self.report.message_text = message_text(todo, self.report.message_text)
                # conditional fields: let the page react to what was entered, then look
                # again. Choices (selects, boxes, radios, dropdowns) are what reveal fields,
                # often after a request, so they get a while to show a change; typed text
                # rarely does, and a page that reacted at once is caught by the rescan.
                if any(d.action in ("select", "choose", "check") for d in todo):
                    wait_reaction(self.page, self.frame, since,
                                  lambda asked=asked: self.requests.busy(asked))
                else:
                    wait_settled(self.page, self.frame, since, change_ms=0, quiet_ms=50,
                                 max_ms=1000)
                fields, buttons = self._rescan()
            submit, nxt = classify_buttons(buttons, self.form_key, fields)
            if submit is not None or nxt is None:
                self.report.submit_button = _button_text(submit)
                self.report.blockers += unfilled_required(
                    [self.decided[f.sid] for f in fields if f.sid in self.decided],
                    self.fi, self.url, {f.sid: f for f in fields})
                return submit
            before = {f.sid for f in fields if not f.hidden}
            since = mark(self.frame)
            self._click(nxt)
            self.report.notes.append(f"step {step}: clicked '{nxt['text']}'")
            wait_settled(self.page, self.frame, since, change_ms=min(self.timeout, 5.0) * 1000,
                         quiet_ms=80, max_ms=3000)
            fields, buttons = self._rescan()
            if {f.sid for f in fields if not f.hidden} == before:
                states = all_states(self.page)
                errs = [e for st in states for e in st["errors"]] + [
                    n for st in states for n in st["invalid"]]
                self._evidence_before()
                raise ProbeError(f"the form did not go past step {step} ('{nxt['text']}'): "
                                 + ("; ".join(errs[:4]) or "no visible reason"), temporary=False)
        raise ProbeError("the form has more than 8 steps; giving up", temporary=False)

    def _rescan(self) -> tuple[list[Field], list[dict[str, Any]]]:
        fields, buttons = self.scan()
        if self.frame_index >= len(self.page.frames):
            return self.find_form()
        mine = [f for f in fields if f.frame == self.frame_index and f.form == self.form_key]
        if not mine:  # a new page after "Next": find the form again
            return self.find_form()
        return mine, buttons.get(self.frame_index, [])

    def _resolve_overrides(self, fields: list[Field]) -> dict[str, tuple[Field | None, Any]]:
        forced: dict[str, tuple[Field | None, Any]] = {}
        for kind, spec in (self.fi.overrides or {}).items():
            if spec is False:
                forced[kind] = (None, False)
                continue
            sel = spec if isinstance(spec, str) else spec.get("selector")
            label = spec.get("label") if isinstance(spec, dict) else None
            if not sel and not label and kind in KINDS:
                continue  # {value: ...} alone: the field is found as usual, value_of gives it
            found: Field | None = None
            if sel:
                loc = self.frame.locator(sel).first
                try:
                    info = loc.evaluate(SELECTOR_INFO_JS, f"ov-{kind}")
                except Exception:  # noqa: BLE001
                    info = None
                if info:
                    found = next((f for f in fields if f.sid == info["sid"]), None) or \
                        _bare_field(info, self.frame_index, kind, fields)
            elif label:
                ranked = sorted(((label_matches(f, label), -f.order, f) for f in fields),
                                key=lambda t: (t[0], t[1]), reverse=True)
                found = ranked[0][2] if ranked and ranked[0][0] > 0 else None
            if found is None:
                self.report.warnings.append(f"fields.{kind}: nothing on the page matches "
                                            f"{sel or label!r}; detected automatically instead")
                if kind in KINDS:
                    continue
            forced[kind] = (found, spec)
        return forced

    def _click(self, button: dict[str, Any]) -> None:
        loc = self.frame.locator(f'[data-sb-id="{button["sid"]}"]').first
        try:
            loc.click(timeout=5000)
        except Exception:  # noqa: BLE001 - covered by an overlay: click it like a script
            loc.evaluate("el => el.click()")

    # -- evidence, submitting, judging ---------------------------------------------------
    def _evidence_before(self) -> None:
        self.report.decisions = list(self.decided.values()) + [
            d for sid, d in self.hidden.items() if sid not in self.decided]
        self.report.evidence["screenshot_before"] = self.save(
            "before.png", self._screenshot(form_region=True), "screenshot-before")
        values = {"url": self.url, "frame": self.report.frame_url,
                  "filled": [d.as_dict() for d in self.report.decisions],
                  "warnings": self.report.warnings, "steps": self.report.steps,
                  # which text the message field got: "full", "short" (the scenario's
                  # short text, the full one did not fit) or "none" (not submitted)
                  "message_text": self.report.message_text or None,
                  "blockers": self.report.blockers}
        self.report.evidence["values"] = self.save(
            "values.json", json.dumps(values, ensure_ascii=False, indent=2).encode(),
            "form-values")

    def _screenshot(self, form_region: bool = False) -> bytes:
        """One screenshot: the filled form's region (before submitting) or the viewport
        (after), or the full page where that was asked for. The caret is left as it is
        (hiding it costs a style recalculation per shot)."""
        if self.full_page:
            return self.page.screenshot(full_page=True, caret="initial", timeout=SHOT_MS * 2)
        sid = next((d.field.sid for d in self.decided.values()
                    if d.field and d.field.form >= 0 and d.action in VALUE_KINDS), None)
        if form_region and sid is not None:
            try:
                form = self.frame.locator(f'[data-sb-id="{sid}"]').first.locator(
                    "xpath=ancestor::form[1]")
                if form.count():
                    return form.screenshot(timeout=SHOT_MS, caret="initial")
            except Exception:  # noqa: BLE001 - hidden or detached: the viewport instead
                pass
        return self.page.screenshot(caret="initial", timeout=SHOT_MS)

    def run(self, submit: bool) -> FormReport:
        self.open()
        button = self.fill()
        states = all_states(self.page)
        self.report.invisible_captchas = invisible_captchas(states)
        cap = blocking_captcha(states)
        self._evidence_before()
        if cap:
            self.report.captcha = cap
        if not submit:
            return self.report
        if cap:
            self._finish("captcha", f"{cap['kind']} widget: {cap['what']}")
            raise ProbeBlocked("captcha", {"kind": cap["kind"], "widget": cap["what"],
                                           "url": self.page.url, **self.report.evidence})
        if self.report.blockers:  # a cut question, a required field without a value...
            what = "; ".join(self.report.blockers)
            self._finish("not-submitted", what)
            raise ProbeError(f"web form {self.url} not submitted: {what}", temporary=False)
        self._check_validity()
        sid = next((d.field.sid for d in self.decided.values() if d.field and d.field.form >= 0
                    and d.action in VALUE_KINDS), None)
        if button is None and sid is None:
            self._finish("nothing", "no submit button found")
            raise ProbeError("no submit button found on the form", temporary=False)
        form_sids = {d.field.sid for d in self.decided.values()
                     if d.field and d.action in VALUE_KINDS}
        before = snapshot(states)
        watch = SubmitWatch(self.page, [self.fi.email, self.fi.subject[:40]])
        watch.start()
        self.report.submitted_click = True
        if button is not None:
            self._click(button)
        else:  # a <form> without a recognisable button: submit it as Enter would
            self.report.notes.append("no submit button recognised; submitted the <form> itself")
            self.frame.locator(f'[data-sb-id="{sid}"]').first.evaluate(
                "el => { const f = el.form || el.closest('form'); f.requestSubmit ? "
                "f.requestSubmit() : f.submit(); }")
        if self.on_submit is not None:
            try:  # e.g. prepare the next browser context while the site answers
                self.on_submit()
            except Exception:  # noqa: BLE001 - an optimisation only
                pass
        verdict = await_verdict(self.page, before, watch, self.fi.success, form_sids,
                                self.timeout, self.now, frame=self.frame)
        watch.detach()
        self.report.verdict = verdict
        self._finish(verdict.outcome, verdict.message, verdict)
        return self.report

    def _check_validity(self) -> None:
        sid = next((d.field.sid for d in self.decided.values() if d.field), None)
        if sid is None:
            return
        st = all_states_one(self.frame, sid)
        bad = st.get("validity") or []
        if bad:
            what = "; ".join(f"{b['name']}: {b['message']}" for b in bad[:6])
            self._finish("validation", f"the browser refuses to submit: {what}")
            raise ProbeError(f"form not submitted, the browser reports invalid fields: {what}",
                             temporary=False)

    def _finish(self, outcome: str, message: str, verdict: Any = None) -> None:
        self.report.outcome, self.report.message = outcome, message
        self.report.final_url = self.page.url
        try:
            if verdict is not None:  # a confirmation that fades in: shoot it when it is in
                wait_animations([self.page.main_frame, self.frame])
            shot = self._screenshot()
            self.report.evidence["screenshot_after"] = self.save("after.png", shot,
                                                                 "screenshot-after")
        except Exception as exc:  # noqa: BLE001 - a crashed page still gets its result file
            self.report.warnings.append(f"no screenshot after submitting: {exc}")
        result = {"outcome": outcome, "message": message, "final_url": self.page.url,
                  "status": verdict.status if verdict else None,
                  "page_status": self.report.page_status,
                  "confirmed_at": str(verdict.at) if verdict and outcome == "success" else None,
                  "facts": verdict.facts if verdict else {},
                  "invisible_captchas": self.report.invisible_captchas}
        self.report.status = result["status"]
        self.report.evidence["result"] = self.save(
            "result.json", json.dumps(result, ensure_ascii=False, indent=2, default=str).encode(),
            "form-result")


def all_states_one(frame: Any, sid: str) -> dict[str, Any]:
    from .scan import frame_state
    try:
        return frame_state(frame, sid)
    except Exception:  # noqa: BLE001
        return {}


def _form_score(group: list[Field], fi: FormInput) -> float:
    """How much a group of fields looks like a contact form. Hidden fields count too (they
    may be later steps), except display:none-free tricks such as off-screen honeypots."""
    visible = [f for f in group if not f.hidden]
    if not visible:
        return 0.0
    steps = [replace(f, hidden="") for f in group if f.hidden.startswith(("display", "hidden"))]
    kinds = {d.kind for d in map_fields(visible + steps, fi) if d.action != "leave" or d.kind in (
        "email", "message", "full_name", "first_name", "last_name")}
    s = 6.0 * ("message" in kinds) + 5.0 * ("email" in kinds) + len(visible) * 0.5
    s += 1.5 * len(kinds & {"full_name", "first_name", "last_name", "subject", "topic", "phone"})
    if len(visible) == 1 and "message" not in kinds:
        s -= 3  # a newsletter or search box
    return s


def _bare_field(info: dict[str, Any], frame: int, kind: str, fields: list[Field]) -> Field:
    control = {"select": "select", "textarea": "textarea"}.get(info["tag"], "text")
    if info["tag"] == "input" and info["type"] in ("checkbox", "radio"):
        control = "checkbox" if info["type"] == "checkbox" else "radio"
    elif info["tag"] not in ("input", "select", "textarea"):
        control = "combobox"
    return Field(frame=frame, sid=info["sid"], control=control, type=info["type"] or info["tag"],
                 name="", id="", autocomplete="", label=kind, aria="", placeholder="", near="",
                 title="", classes="", required="", hidden="", tabindex=None, form=-1,
                 order=max((f.order for f in fields), default=0) + 1)


def _button_text(b: dict[str, Any] | None) -> str:
    return "" if b is None else re.sub(r"\s+", " ", f"{b['tag']} '{b['text']}'")
