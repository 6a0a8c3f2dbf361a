"""What the browser sees: JavaScript run in every frame to list form controls, buttons,
forms and CAPTCHA widgets, and to read the page state after a submission.

Each element found gets a ``data-sb-id`` attribute so later steps can address it with the
CSS selector ``[data-sb-id="..."]`` (Playwright's CSS engine also pierces open shadow DOM).
"""

from __future__ import annotations

from typing import Any

_COMMON = r"""
const ATTR = 'data-sb-id';
const norm = s => (s || '').replace(/[\s\u00a0]+/g, ' ').trim();
const SKIP = new Set(['SELECT', 'OPTION', 'TEXTAREA', 'SCRIPT', 'STYLE', 'NOSCRIPT', 'INPUT',
                      'TEMPLATE', 'svg', 'SVG', 'IFRAME']);
function all(root, out) {
  for (const el of root.querySelectorAll('*')) {
    out.push(el);
    if (el.shadowRoot) all(el.shadowRoot, out);
  }
  return out;
}
function up(n) {
  const p = n.parentNode;
  return p && p.nodeType === 11 ? p.host : p;
}
function textOf(node, limit, withHidden) {
  if (!node) return '';
  const out = [];
  let len = 0;
  const walk = n => {
    if (len > (limit || 400)) return;
    if (n.nodeType === 3) { out.push(n.nodeValue); len += n.nodeValue.length; return; }
    if (n.nodeType !== 1 || SKIP.has(n.tagName)) return;
    if (!withHidden) {
      const cs = getComputedStyle(n);
      if (cs.display === 'none' || cs.visibility === 'hidden') return;
    }
    for (const c of n.childNodes) walk(c);
    if (n.shadowRoot) for (const c of n.shadowRoot.childNodes) walk(c);
  };
  walk(node);
  return norm(out.join(' ')).slice(0, limit || 400);
}
function hiddenReason(el) {
  if (!el.isConnected) return 'detached';
  let n = el;
  while (n && n.nodeType === 1) {
    const cs = getComputedStyle(n);
    if (cs.display === 'none') return 'display:none';
    if (cs.visibility === 'hidden' || cs.visibility === 'collapse') return 'visibility:hidden';
    if (parseFloat(cs.opacity) < 0.05) return 'opacity:0';
    if (n.getAttribute('aria-hidden') === 'true') return 'aria-hidden';
    if (n.hidden) return 'hidden attribute';
    if (/inset\((50|100)%/.test(cs.clipPath || '')) return 'clip-path';
    if (n !== el && /hidden|clip/.test(cs.overflow)) {
      const r = n.getBoundingClientRect();
      if (r.width < 3 || r.height < 3) return 'clipped by a collapsed container';
    }
    n = up(n);
  }
  const r = el.getBoundingClientRect();
  if (r.width < 3 || r.height < 3) return 'tiny (' + Math.round(r.width) + 'x' +
    Math.round(r.height) + 'px)';
  const de = document.documentElement;
  const dw = Math.max(de.scrollWidth, innerWidth), dh = Math.max(de.scrollHeight, innerHeight);
  const x = r.left + scrollX, y = r.top + scrollY;
  if (x + r.width <= 0 || y + r.height <= 0 || x >= dw || y >= dh) return 'off-screen';
  return '';
}
"""

SCAN_JS = "(opts) => {" + _COMMON + r"""
if (!window.__sbNext) window.__sbNext = 1;
const prefix = opts.prefix;
const els = all(document, []);
const order = new Map(els.map((e, i) => [e, i]));
const forms = els.filter(e => e.tagName === 'FORM');
const SKIP_TYPES = new Set(['hidden', 'submit', 'button', 'image', 'reset', 'file', 'password',
                            'search', 'range', 'color']);
function sid(el) {
  let v = el.getAttribute(ATTR);
  if (!v) { v = prefix + (window.__sbNext++); el.setAttribute(ATTR, v); }
  return v;
}
function pickFromList(el) {
  // an editable combobox that is only a search box for a list (react-select, Headless UI,
  // Downshift): it has no name of its own and a named hidden input beside it carries the
  // choice. One with a name (an address autocomplete) is typed into.
  if (el.getAttribute('name')) return false;
  let n = up(el);
  for (let i = 0; i < 5 && n && n.nodeType === 1 && n.tagName !== 'FORM'; i++, n = up(n)) {
    if (n.querySelector('input[type=hidden][name]')) return true;
  }
  return false;
}
function isCombo(el) {
  if (el.tagName === 'SELECT') return false;
  const role = el.getAttribute('role');
  if (el.tagName === 'INPUT' && !el.readOnly && role === 'combobox') return pickFromList(el);
  return role === 'combobox' || el.getAttribute('aria-haspopup') === 'listbox' ||
    (el.classList && el.classList.contains('nesty-input'));
}
function isControl(el) {
  const t = el.tagName;
  if (t === 'INPUT') return !SKIP_TYPES.has((el.type || 'text').toLowerCase());
  if (t === 'SELECT' || t === 'TEXTAREA') return true;
  if (el.isContentEditable && !(up(el) && up(el).isContentEditable)) return true;
  return isCombo(el);
}
const controls = [];
const comboRoots = [];
for (const el of els) {
  if (!isControl(el)) continue;
  if (comboRoots.some(c => c.contains(el))) continue;
  if (el.getAttribute('aria-haspopup') === 'listbox' && up(el) && up(el).closest &&
      up(el).closest('[role=combobox]')) continue;
  if (isCombo(el)) comboRoots.push(el);
  controls.push(el);
}
const ctrlSet = new Set(controls);
function controlsIn(node, self) {
  const names = new Set();
  let n = 0;
  for (const c of controls) {
    if (c === self || !node.contains(c)) continue;
    if (c.type === 'radio' && self && c.name && c.name === self.name) continue;
    if (c.type === 'radio' && c.name) { if (names.has(c.name)) continue; names.add(c.name); }
    n++;
  }
  return n;
}
function byIds(el, ids) {
  const root = el.getRootNode();
  return norm(ids.split(/\s+/).map(id => {
    const e = (root.getElementById ? root.getElementById(id) : null) ||
      document.getElementById(id);
    return e ? textOf(e, 300, true) : '';
  }).join(' '));
}
function labelText(el) {
  const parts = [];
  const lb = el.getAttribute('aria-labelledby');
  if (lb) parts.push(byIds(el, lb));
  const labels = new Set(el.labels ? [...el.labels] : []);
  if (el.id) {
    try {
      for (const l of el.getRootNode().querySelectorAll('label[for="' + CSS.escape(el.id) + '"]'))
        labels.add(l);
    } catch (e) { /* ignore */ }
  }
  const wrap = el.closest && el.closest('label');
  if (wrap) labels.add(wrap);
  // a custom widget's label usually points at its hidden companion input
  if (isCombo(el) && up(el)) {
    for (const h of up(el).querySelectorAll('input[type=hidden][id], select[id]')) {
      for (const l of document.querySelectorAll('label[for="' + CSS.escape(h.id) + '"]'))
        labels.add(l);
    }
  }
  for (const l of labels) parts.push(textOf(l, 300, true));
  const uniq = [];
  for (const p of parts.map(norm)) if (p && !uniq.some(u => u.includes(p))) uniq.push(p);
  return uniq.join(' ').slice(0, 400);
}
function nearText(el) {
  // bare text right before the control: "Customer Number: <input>"
  let t = '', s = el.previousSibling;
  while (s) {
    if (s.nodeType === 3) t = s.nodeValue + ' ' + t;
    else if (s.nodeType === 1 && s.tagName === 'BR') { if (norm(t)) break; }
    else if (s.nodeType === 1 && /^(B|STRONG|SPAN|EM|I|SMALL|FONT)$/.test(s.tagName) &&
             controlsIn(s, el) === 0) t = textOf(s, 100) + ' ' + t;
    else break;
    s = s.previousSibling;
  }
  if (norm(t)) return norm(t).slice(0, 200);
  let n = el;
  for (let i = 0; i < 4 && up(n) && up(n).nodeType === 1; i++) {
    const p = up(n);
    if (p.tagName === 'FORM' || p.tagName === 'BODY' || p.tagName === 'HTML') break;
    if (controlsIn(p, el) > 0) break;
    const t = textOf(p, 300);
    if (t) return t;
    n = p;
  }
  n = el;
  for (let i = 0; i < 3 && n; i++) {
    const s = n.previousElementSibling;
    if (s) {
      if (controlsIn(s, el) === 0) { const t = textOf(s, 200); if (t) return t; }
      break;
    }
    n = up(n);
    if (!n || n.nodeType !== 1 || n.tagName === 'FORM' || controlsIn(n, el) > 0) break;
  }
  return '';
}
function groupLabel(radios) {
  const first = radios[0];
  const fs = first.closest('fieldset');
  if (fs && radios.every(r => fs.contains(r))) {
    const lg = fs.querySelector('legend');
    if (lg) return textOf(lg, 300, true);
  }
  const rg = first.closest('[role=radiogroup],[role=group]');
  if (rg && radios.every(r => rg.contains(r))) {
    if (rg.getAttribute('aria-label')) return norm(rg.getAttribute('aria-label'));
    if (rg.getAttribute('aria-labelledby')) return byIds(rg, rg.getAttribute('aria-labelledby'));
  }
  let anc = up(first);
  while (anc && anc.nodeType === 1 && !radios.every(r => anc.contains(r))) anc = up(anc);
  const optTexts = radios.map(r => labelText(r)).filter(Boolean);
  for (let i = 0; i < 3 && anc && anc.nodeType === 1 && anc.tagName !== 'FORM'; i++) {
    if (controlsIn(anc, first) > 0) break;
    let t = textOf(anc, 600);
    for (const o of optTexts) t = t.replace(o, ' ');
    t = norm(t);
    if (t) return t.slice(0, 300);
    const prev = anc.previousElementSibling;
    if (prev && controlsIn(prev, first) === 0 && textOf(prev, 200)) return textOf(prev, 200);
    anc = up(anc);
  }
  return '';
}
function requiredOf(el, label) {
  if (el.required) return 'required attribute';
  if (el.getAttribute('aria-required') === 'true') return 'aria-required';
  if (/\(optional\)|\(freiwillig\)|\boptional\b/i.test(label)) return '';
  if (/\*|\(pflicht|pflichtfeld|\(required\)|\brequired\b|erforderlich/i.test(label))
    return 'marked in label';
  let n = el;
  for (let i = 0; i < 3 && n && n.nodeType === 1; i++) {
    const c = typeof n.className === 'string' ? n.className : '';
    if (/(^|[\s_-])(is-)?required\b|validates-as-required|contains_required/i.test(c) &&
        !/not-required|optional/i.test(c)) return 'class ' + c.split(/\s+/).find(
          x => /required/i.test(x));
    n = up(n);
  }
  return '';
}
function labelVisible(el) {
  const labels = el.labels ? [...el.labels] : [];
  const wrap = el.closest('label');
  if (wrap) labels.push(wrap);
  return labels.some(l => !hiddenReason(l));
}
function formKey(el) {
  const f = el.form || (el.closest && el.closest('form'));
  return f ? forms.indexOf(f) : -1;
}
const out = [];
const radioGroups = new Map();
for (const el of controls) {
  const tag = el.tagName.toLowerCase();
  const type = tag === 'input' && !el.readOnly && isCombo(el) ? 'combobox'
    : tag === 'input' ? (el.type || 'text').toLowerCase()
    : (isCombo(el) ? 'combobox' : (el.isContentEditable && tag !== 'textarea' ? 'editable' : tag));
  let hidden = hiddenReason(el);
  if (hidden && (type === 'checkbox' || type === 'radio') && labelVisible(el)) hidden = '';
  let standin = null;
  if (hidden && tag === 'select' && up(el)) {
    // select2 / chosen / nice-select hide the real select beside a visible stand-in
    for (const s of up(el).children) {
      if (s !== el && /select|chosen|choices|dropdown/i.test(s.className || '') &&
          !hiddenReason(s)) { hidden = ''; standin = s; break; }
    }
  }
  const label = labelText(el);
  const c = {
    sid: sid(el), tag, type, order: order.get(el) || 0,
    name: el.getAttribute('name') || '', id: el.id || '',
    autocomplete: (el.getAttribute('autocomplete') || '').toLowerCase(),
    placeholder: el.getAttribute('placeholder') || el.getAttribute('data-placeholder') || '',
    aria: el.getAttribute('aria-label') || '', title: el.getAttribute('title') || '',
    label, near: label ? '' : nearText(el), hidden,
    tabindex: el.getAttribute('tabindex'), readonly: !!el.readOnly, disabled: !!el.disabled,
    form: formKey(el), value: '', checked: !!el.checked, options: [], group: '',
    classes: [el, up(el), up(up(el) || el)].filter(x => x && x.nodeType === 1)
      .map(x => typeof x.className === 'string' ? x.className : '').join(' ').slice(0, 300),
    required: '',
    // constraints the browser enforces: a text is cut at maxlength, a pattern or a number
    // range makes the field invalid (read as attributes: -1 / '' when absent)
    maxlength: typeof el.maxLength === 'number' && el.maxLength >= 0 ? el.maxLength : null,
    minlength: typeof el.minLength === 'number' && el.minLength > 0 ? el.minLength : null,
    pattern: el.getAttribute('pattern') || '',
    min: el.getAttribute('min') || '', max: el.getAttribute('max') || '',
    step: el.getAttribute('step') || '',
  };
  if (type === 'editable') c.value = textOf(el, 200, true);
  else if (type === 'combobox') c.value = textOf(el, 200, true) || el.value || '';
  else c.value = el.value || '';
  if (tag === 'select') {
    c.multiple = !!el.multiple;
    c.options = [...el.options].slice(0, 300).map(o => ({value: o.value, text: norm(o.text),
      selected: o.selected, disabled: o.disabled}));
  }
  let box = null;
  for (let n = up(el), i = 0; standin && i < 3 && n && n.nodeType === 1 &&
       n.tagName !== 'FORM'; i++, n = up(n)) {
    if (n.matches('[role=listbox], [role=combobox], [aria-haspopup], [tabindex]') &&
        n.contains(standin)) { box = n; break; }
  }
  box = box || standin;
  if (standin && box.querySelectorAll('[role=option], [data-value], li').length >
      el.options.length) {
    // Choices.js and the like keep only the chosen option in the hidden select and hold
    // the others themselves (shown when the box opens): the box is what a customer uses.
    // Widgets that keep every option in the select (Select2) are set through it.
    c.sid = sid(box);
    c.type = 'combobox';
    c.options = [];
    c.value = textOf(standin, 200);
    c.expanded = box.getAttribute('aria-expanded');
  }
  if (type === 'combobox') {
    const h = up(el) && up(el).querySelector('input[type=hidden][name]');
    c.name = c.name || (h ? h.name : '');
    c.expanded = el.getAttribute('aria-expanded');
  }
  c.required = requiredOf(el, c.label || c.near);
  if (type === 'radio' && c.name) {
    c.group = c.name;
    if (!radioGroups.has(c.name)) radioGroups.set(c.name, []);
    radioGroups.get(c.name).push(el);
  }
  out.push(c);
}
const groups = {};
for (const [name, radios] of radioGroups) {
  const gl = groupLabel(radios);
  groups[name] = {label: gl,
    required: radios.some(r => r.required || r.getAttribute('aria-required') === 'true') ||
      /\*|pflicht|required|erforderlich/i.test(gl) ? 'required' : ''};
}
const buttons = [];
const seen = new Set();
for (const el of els) {
  if (ctrlSet.has(el)) continue;
  const t = el.tagName;
  const type = (el.getAttribute('type') || '').toLowerCase();
  let clickable = t === 'BUTTON' || (t === 'INPUT' && ['submit', 'button', 'image'].includes(type))
    || el.getAttribute('role') === 'button' || el.hasAttribute('onclick') ||
    (t === 'A' && el.hasAttribute('href'));
  if (!clickable && /^(DIV|SPAN|A|LI|P|LABEL)$/.test(t) && el.childElementCount <= 3) {
    const cs = getComputedStyle(el);
    clickable = cs.cursor === 'pointer' && !(up(el) && up(el).nodeType === 1 &&
      getComputedStyle(up(el)).cursor === 'pointer');
  }
  if (!clickable || [...seen].some(s => s.contains(el))) continue;
  if (el.closest('label') || el.closest('[role=listbox]')) continue;
  const text = t === 'INPUT' ? (el.value || el.getAttribute('alt') ||
    (type === 'submit' ? 'Submit' : ''))
    : textOf(el, 120, false);
  const label = norm(text || el.getAttribute('aria-label') || el.getAttribute('title') || '');
  if (!label || label.length > 80) continue;
  const hidden = hiddenReason(el);
  if (hidden) continue;
  seen.add(el);
  buttons.push({sid: sid(el), tag: t.toLowerCase(), type, text: label,
    order: order.get(el) || 0, form: formKey(el), disabled: !!el.disabled,
    href: el.getAttribute('href') || '', id: el.id || '',
    classes: typeof el.className === 'string' ? el.className.slice(0, 200) : ''});
}
const formInfo = forms.map((f, i) => ({key: i, id: f.id || '', name: f.getAttribute('name') || '',
  action: f.getAttribute('action') || '', method: (f.getAttribute('method') || 'get').toLowerCase(),
  classes: typeof f.className === 'string' ? f.className.slice(0, 200) : '',
  role: f.getAttribute('role') || '', novalidate: f.noValidate, hidden: hiddenReason(f)}));
return {url: location.href, title: document.title, controls: out, groups, buttons,
  forms: formInfo};
}"""

STATE_JS = "(opts) => {" + _COMMON + r"""
const els = all(document, []);
const errSel = '[role=alert], [aria-live], .error, .errors, .invalid-feedback, .help-block, ' +
  '[class*=error], [class*=invalid], [class*=validation], .wpcf7-not-valid-tip, ' +
  '.gfield_description, .hs-error-msgs, .parsley-errors-list, .notification, .alert, .notice';
const errors = [];
for (const el of els) {
  if (!el.matches || !el.matches(errSel) || hiddenReason(el)) continue;
  const t = textOf(el, 300);
  if (t && !errors.includes(t)) errors.push(t);
}
// message containers the builders mark as confirmations on every site
// (.elementor-message-success, .wpforms-confirmation-container, .gform_confirmation_message,
// .alert-success): their text counts even where its words are not recognised
const SUCCESS_CLASS =
  /(^|[\s_-])(success|successful|confirmation|thank-?you|thanks|danke)([\s_-]|$)/i;
const successes = [];
for (const el of els) {
  const cls = typeof el.className === 'string' ? el.className : '';
  if (!cls || !SUCCESS_CLASS.test(cls) || /^(BUTTON|A|INPUT|FORM|LABEL|SELECT|TEXTAREA|OPTION)$/
      .test(el.tagName) || el.querySelector('input, select, textarea, button') ||
      hiddenReason(el)) continue;
  const t = textOf(el, 300);
  if (t.length >= 8 && /\s/.test(t) && !successes.includes(t)) successes.push(t);
}
const invalid = [];
for (const el of els) {
  if (el.getAttribute && el.getAttribute('aria-invalid') === 'true' && !hiddenReason(el))
    invalid.push(el.getAttribute('name') || el.id || el.tagName.toLowerCase());
}
const captcha = [];
const CAP = [
  ['recaptcha', '.g-recaptcha, iframe[src*="recaptcha/api2/anchor"], ' +
    'iframe[src*="recaptcha/enterprise/anchor"], iframe[title*="reCAPTCHA"]'],
  ['recaptcha-challenge', 'iframe[src*="recaptcha/api2/bframe"], ' +
    'iframe[src*="recaptcha/enterprise/bframe"]'],
  ['hcaptcha', '.h-captcha, iframe[src*="hcaptcha.com"]'],
  ['turnstile', '.cf-turnstile, iframe[src*="challenges.cloudflare.com"]'],
  ['friendlycaptcha', '.frc-captcha, iframe[src*="friendlycaptcha"]'],
  ['captcha', '[data-sitekey], img[src*="captcha" i], img[alt*="captcha" i], ' +
    'input[name*="captcha" i]:not([type=hidden]), [class*="captcha" i]:not(.grecaptcha-badge)'],
];
for (const [kind, sel] of CAP) {
  for (const el of document.querySelectorAll(sel)) {
    const size = (el.getAttribute('data-size') || '').toLowerCase();
    const invisible = size === 'invisible' || !!el.closest('.grecaptcha-badge');
    captcha.push({kind, visible: !hiddenReason(el) && !invisible, invisible,
      what: el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ?
        '.' + el.className.split(/\s+/)[0] : '') + (el.src ? ' ' + el.src.slice(0, 80) : '')});
  }
}
for (const s of document.querySelectorAll('script[src]')) {
  const m = /(recaptcha|hcaptcha|turnstile|friendlycaptcha|friendly-challenge)/i.exec(s.src);
  if (m) captcha.push({kind: m[1].toLowerCase(), visible: false, invisible: true,
    what: 'script ' + s.src.slice(0, 100)});
}
const visibleSids = [];
for (const el of document.querySelectorAll('[' + ATTR + ']')) {
  if (!hiddenReason(el)) visibleSids.push(el.getAttribute(ATTR));
}
let validity = null;
if (opts && opts.formSid) {
  const el = document.querySelector('[' + ATTR + '="' + opts.formSid + '"]');
  const f = el && (el.form || el.closest('form'));
  if (f && !f.noValidate) {
    validity = [];
    for (const c of f.elements) {
      if (c.willValidate && !c.checkValidity()) validity.push({name: c.name || c.id,
        message: c.validationMessage, sid: c.getAttribute(ATTR) || ''});
    }
  }
}
const body = document.body;
return {url: location.href, title: document.title,
  text: body ? (body.innerText || '').slice(0, 50000) : '',
  errors: errors.slice(0, 40), successes: successes.slice(0, 20), invalid, captcha,
  visibleSids, validity,
  ready: document.readyState};
}"""


def scan_frame(frame: Any, prefix: str) -> dict[str, Any]:
    """Run the scan in one Playwright frame."""
    return frame.evaluate(SCAN_JS, {"prefix": prefix})


def frame_state(frame: Any, form_sid: str | None = None) -> dict[str, Any]:
    """Visible text, error messages, invalid fields and CAPTCHA widgets of one frame."""
    return frame.evaluate(STATE_JS, {"formSid": form_sid})
