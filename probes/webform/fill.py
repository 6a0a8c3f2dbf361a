"""Carrying out the decisions in the browser: typing, selecting, ticking, and opening
custom dropdowns (ARIA comboboxes, Zendesk's "nesty" lists) to click an option."""

from __future__ import annotations

import logging
import time
from typing import Any

from .choose import choose_option, real_options
from .constraints import js_len, phone_key, phone_variants
from .fields import Decision, FormInput
from .waits import mark, wait_change

log = logging.getLogger("servicebench.webform")

SET_VALUE_JS = """(el, v) => {
  const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype
    : el.tagName === 'SELECT' ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  const setter = Object.getOwnPropertyDescriptor(proto, 'value').set;
  setter.call(el, v);
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  return el.value;
}"""
SET_CHECKED_JS = """(el) => {
  if (!el.checked) el.click();
  if (!el.checked) { el.checked = true;
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true})); }
  return el.checked;
}"""
OPTIONS_JS = """(el) => {
  const vis = e => { const r = e.getBoundingClientRect(); const cs = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && cs.display !== 'none'; };
  let roots = [];
  for (const a of ['aria-controls', 'aria-owns']) {
    const id = el.getAttribute(a) || (el.querySelector('[' + a + ']') || {getAttribute: () => null})
      .getAttribute(a);
    if (id) for (const x of id.split(/\\s+/)) {
      const r = document.getElementById(x); if (r) roots.push(r); }
  }
  let opts = [];
  for (const r of roots) opts.push(...r.querySelectorAll('[role=option], li'));
  if (!opts.filter(vis).length) opts = [...document.querySelectorAll(
    '[role=option], [role=listbox] li, .nesty-panel li, [class*=dropdown] li, [class*=menu] li')];
  opts = opts.filter(vis).filter(o => !o.querySelector('[role=option]'));
  let n = window.__sbOpt || 1;
  return opts.slice(0, 300).map(o => {
    if (!o.getAttribute('data-sb-opt')) o.setAttribute('data-sb-opt', 'o' + (n++));
    window.__sbOpt = n;
    return {sid: o.getAttribute('data-sb-opt'), text: (o.innerText || o.textContent || '')
      .replace(/\\s+/g, ' ').trim(), value: o.getAttribute('data-value') ||
      o.getAttribute('value') || o.id || '',
      disabled: o.getAttribute('aria-disabled') === 'true'};
  });
}"""


class FillError(Exception):
    """A field could not be filled the way it was decided."""


class Unfit(FillError):
    """What the field holds is not what was meant, and submitting it would send something
    else than the study asks (a changed message, a required field nothing fits)."""


def apply(frame: Any, decisions: list[Decision], fi: FormInput, timeout_ms: int = 5000,
          overrides: dict[str, Any] | None = None,
          blockers: list[str] | None = None) -> list[str]:
    """Carry out every non-``leave`` decision in ``frame``. Returns warnings (fields that
    could not be set, values the field changed); decisions are updated with what was
    actually chosen. Reasons not to submit at all go into ``blockers``."""
    warnings: list[str] = []
    for d in decisions:
        if d.action == "leave" or d.field is None:
            continue
        try:
            note = _apply_one(frame, d, fi, timeout_ms, (overrides or {}).get(d.kind))
            if note:
                warnings.append(note)
        except Unfit as exc:
            (blockers if blockers is not None else warnings).append(str(exc))
            d.blocked = True
            d.reason += " [NOT SUBMITTABLE: " + str(exc)[:160] + "]"
        except Exception as exc:  # noqa: BLE001 - report, go on with the other fields
            msg = f"{d.kind}: could not set {d.field.describe()}: {str(exc).splitlines()[0]}"
            log.info(msg)
            warnings.append(msg)
            d.reason += " [FAILED: " + str(exc).splitlines()[0][:120] + "]"
    return warnings


def _apply_one(frame: Any, d: Decision, fi: FormInput, timeout_ms: int,
               spec: Any) -> str | None:
    f = d.field
    assert f is not None
    loc = frame.locator(f.selector).first
    if d.action == "fill":
        if f.control == "editable":
            loc.click(timeout=timeout_ms)
            frame.page.keyboard.press("Control+A")
            frame.page.keyboard.insert_text(d.value)
            _blur(loc)
            if d.kind == "message":  # a rich-text editor: its text, paragraphs as it likes
                got = loc.inner_text(timeout=timeout_ms)
                if not same(d.value, got, "message"):
                    raise Unfit(f"the message editor ({f.describe()}) does not hold the "
                                f"scenario's text after typing it ({_gist(d.value, got)}); a "
                                "changed question is not submitted")
        else:
            return fill_text(frame, d, loc, timeout_ms, fi.short)
    elif d.action == "check":
        _check(frame, f.selector, timeout_ms)
    elif d.action == "select" and f.control == "select":
        assert d.option is not None
        try:
            loc.select_option(value=d.option["value"], timeout=timeout_ms, force=bool(f.hidden))
        except Exception:  # noqa: BLE001 - hidden behind a select2-like widget
            loc.evaluate(SET_VALUE_JS, d.option["value"])
    elif d.action == "select" and f.control == "radio":
        assert d.option is not None
        _check(frame, f'[data-sb-id="{d.option["sid"]}"]', timeout_ms)
    elif d.action == "choose":
        _choose_custom(frame, d, fi, timeout_ms, spec)


# what the field holds and what its constraints say of it (the validity API; a value that
# is missing is not judged here, nor a page's own setCustomValidity, which many pages set
# until their blur handler runs), then leave it as a person would
READBACK_JS = """el => {
  const v = ('value' in el && typeof el.value === 'string') ? el.value : null;
  let bad = '';
  const s = el.validity;
  if (s && v !== null && v !== '') {
    const why = [['patternMismatch', 'pattern'], ['typeMismatch', 'type'],
      ['tooLong', 'maxlength'], ['tooShort', 'minlength'], ['rangeUnderflow', 'min'],
      ['rangeOverflow', 'max'], ['stepMismatch', 'step'], ['badInput', 'input']]
      .filter(([k]) => s[k]).map(([, w]) => w);
    if (why.length) bad = why.join(', ') + (el.validationMessage ?
      ': ' + el.validationMessage : '');
  }
  el.dispatchEvent(new Event('blur'));
  return [v, bad];
}"""
# the element by CSS selector, in the document or in any open shadow root; then the function
# (put in by Python: the page's Content-Security-Policy may forbid eval, not our scripts)
_ON_ELEMENT_JS = """([sel, arg]) => {
  const find = root => { const el = root.querySelector(sel); if (el) return el;
    for (const h of root.querySelectorAll('*')) if (h.shadowRoot) {
      const f = find(h.shadowRoot); if (f) return f; }
    return null; };
  const el = find(document);
  if (!el) throw new Error('element ' + sel + ' is gone');
  return (FN)(el, arg);
}"""


def on_element(frame: Any, selector: str, js: str, arg: Any = None) -> Any:
    """Run ``js`` (``el => ...``) on the element ``selector`` (a plain CSS selector, such as a
    field's ``[data-sb-id=...]``) in one round trip. ``Locator.evaluate`` first waits for the
    element through Playwright's selector engine, which costs about ten times as much; this
    is for elements just found by a scan."""
    return frame.evaluate(_ON_ELEMENT_JS.replace("FN", js), [selector, arg])


# Focus a visible, enabled, editable text field and select what it holds, as Playwright's
# fill does before it inserts the text; false where that is not so (then Playwright's fill,
# with its waiting, takes over).
FOCUS_TEXT_JS = """el => {
  const text = el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' &&
    ['', 'text', 'email', 'tel', 'url', 'search', 'password', 'number']
      .includes((el.getAttribute('type') || '').toLowerCase()));
  if (!text || el.disabled || el.readOnly || !el.isConnected) return false;
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  if (r.width === 0 || r.height === 0 || cs.visibility !== 'visible') return false;
  el.focus();
  if (el.getRootNode().activeElement !== el) return false;
  el.select();
  return true;
}"""


def _type_in(frame: Any, selector: str, value: str) -> bool:
    """Type ``value`` into a text field as Playwright's fill does (focus, select all, insert
    the text as one input event), without its wait for an animation frame per check: a
    tenth of the time per field. False if the field is not a plain, usable text field."""
    if not on_element(frame, selector, FOCUS_TEXT_JS):
        return False
    frame.page.keyboard.insert_text(value)
    return True


def _blur(loc: Any) -> None:
    try:
        loc.evaluate("el => el.dispatchEvent(new Event('blur'))")  # after slow typing only
    except Exception:  # noqa: BLE001
        pass


def _check(frame: Any, selector: str, timeout_ms: int) -> None:
    loc = frame.locator(selector).first
    try:  # a no-op if ticked already; raises unless the box ends up ticked
        loc.check(timeout=min(timeout_ms, 500))
        return
    except Exception:  # noqa: BLE001 - styled boxes hide the input under their label
        try:
            label = frame.locator(f"label:has({selector})").or_(
                frame.locator(f"label[for='{loc.get_attribute('id') or '-'}']")).first
            label.click(timeout=min(timeout_ms, 2000), position={"x": 3, "y": 3})
        except Exception:  # noqa: BLE001 - a link inside the label, an overlay...
            pass
    if not loc.is_checked():
        loc.evaluate(SET_CHECKED_JS)
    if not loc.is_checked():
        raise FillError("box stays unticked")


def _choose_custom(frame: Any, d: Decision, fi: FormInput, timeout_ms: int, spec: Any) -> None:
    """Open a custom dropdown, read its options, click the best one."""
    f = d.field
    assert f is not None
    trigger = frame.locator(f.selector).first
    trigger.click(timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    options: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        since = mark(frame)
        options = trigger.evaluate(OPTIONS_JS)
        if real_options(options):
            break
        wait_change(frame, since, min(500, (deadline - time.monotonic()) * 1000))
    wanted = spec.get("choose") if isinstance(spec, dict) else None
    if d.kind == "salutation" and not wanted:
        from .choose import choose_salutation
        opt, why = choose_salutation(options, fi.persona.salutation, bool(f.required))
    else:
        opt, why = choose_option(options, fi, wanted or None)
    if opt is None:
        frame.page.keyboard.press("Escape")
        raise FillError(f"no option to choose: {why}")
    frame.locator(f'[data-sb-opt="{opt["sid"]}"]').first.click(timeout=timeout_ms)
    d.value, d.option, d.source = opt["text"], opt, "option"
    d.reason += f"; {why}"
    f.options = options


def _put(frame: Any, selector: str, loc: Any, value: str, timeout_ms: int) -> tuple[str, str]:
    """Type ``value`` into a text field; (what it holds then, its validity problem or '')."""
    try:
        if not (value and _type_in(frame, selector, value)):
            loc.fill(value, timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - covered or odd widgets: set it like a script
        loc.evaluate(SET_VALUE_JS, value)
    # one round trip: what the field holds now, and leave it (blur) as a person would
    got, bad = on_element(frame, selector, READBACK_JS)
    if not isinstance(got, str):
        got = loc.input_value(timeout=timeout_ms)  # not a text control: say so
    if value and not same(value, got, loose=True):
        # masked inputs (phone, postcode) reformat as one types; type slowly instead
        loc.fill("", timeout=timeout_ms)
        loc.press_sequentially(value, delay=15, timeout=timeout_ms)
        got, bad = on_element(frame, selector, READBACK_JS)
    return (got if isinstance(got, str) else ""), bad or ""


def same(meant: str, got: str, kind: str = "", loose: bool = False) -> bool:
    """Whether a field holds what was meant. Whitespace and line endings never count; an
    input mask's spaces, brackets and dashes in a phone number do not either."""
    if " ".join(meant.split()) == " ".join(got.split()):
        return True
    if kind == "phone":
        return phone_key(meant) == phone_key(got)
    if loose or kind in ("postcode", "postcode_city"):
        return meant.replace(" ", "") == got.replace(" ", "")
    return False


def fill_text(frame: Any, d: Decision, loc: Any, timeout_ms: int,
              short: str = "") -> str | None:
    """Fill a text field and check what it holds: a message the page changed is replaced by
    the scenario's ``short`` text if that arrives whole, else not submitted; a phone number
    is tried in the forms the field accepts; a value the field's constraints refuse is taken
    out again. Returns a warning, or None."""
    f = d.field
    assert f is not None
    tries = phone_variants(d.value) if d.kind == "phone" and d.value else [d.value]
    seen: list[str] = []
    for value in tries:
        got, bad = _put(frame, f.selector, loc, value, timeout_ms)
        if not d.value:
            return None
        # a phone number must still be the same number, the message the same text; other
        # fields may reformat (upper case, a date mask) as long as the browser accepts them
        strict = d.kind in ("phone", "message")
        if not bad and (same(value, got, d.kind) or not strict):
            if value != d.value:
                d.reason += f"; the field accepts the number only as {value!r}"
                d.value = value
            if not same(value, got, d.kind, loose=True):
                return f"{d.kind}: the field turned {value!r} into {got!r} ({f.describe()})"
            return None
        seen.append(f"{value!r} -> {got!r}" + (f" ({bad})" if bad else ""))
    if d.kind == "message":
        gist = _gist(d.value, got)
        short = short.strip()
        if short and d.source not in ("scenario short", "study fields"):
            got2, bad2 = _put(frame, f.selector, loc, short, timeout_ms)
            if not bad2 and same(short, got2, "message"):
                d.reason += f"; the page changed the full text ({gist}): short text entered"
                d.value, d.source = short, "scenario short"
                return (f"message: the field did not hold the scenario's text ({gist}); the "
                        f"scenario's short text ({len(short)} characters) went in instead")
        kept = js_len(got)
        todo = (f"write the scenario a 'short' text of at most {kept} characters"
                if got.strip() and " ".join(d.value.split()).startswith(" ".join(got.split()))
                else "fill this form by hand or name the message field in the study's fields")
        raise Unfit(f"the message field ({f.describe()}) does not hold the scenario's text "
                    f"after typing it ({gist}); a changed question is not submitted: {todo}")
    loc.fill("", timeout=timeout_ms)  # nothing half-valid is left in the field
    pattern = f" pattern {f.pattern!r}" if f.pattern else ""
    what = (f"{d.kind} field ({f.describe()}){pattern} takes none of the persona's values: "
            + "; ".join(seen[:5]))
    if f.required:
        raise Unfit(f"required {what}; give the field a value it accepts in the study's "
                    f"fields ({d.kind}: {{value: ...}}) or change {d.source or 'the value'}")
    d.action, d.value = "leave", ""
    d.reason += "; left empty: the field accepts none of the values"
    return f"{what}; left empty (optional)"


def _gist(meant: str, got: str) -> str:
    if not got.strip():
        return "it stayed empty"
    if " ".join(meant.split()).startswith(" ".join(got.split())):
        return f"only {len(got)} of {len(meant)} characters arrived"
    return f"{len(got)} characters instead of {len(meant)}"
