"""Which clickable thing submits the form, which one goes to the next step, and getting a
cookie banner out of the way the way a customer would (declining where offered)."""

from __future__ import annotations

import re
from typing import Any

from .fields import Field
from .kinds import fold
from .waits import has_document, mark, wait_settled

SUBMIT = re.compile(
    r"senden|absenden|abschicken|verschicken|uebermitteln|einreichen|submit|\bsend\b|"
    r"anfrage (stellen|starten)|jetzt anfragen|kontakt aufnehmen|get in touch|^\W*request\W*$|"
    r"ticket (erstellen|anlegen)|create (ticket|request)|absenden|abschliessen|\bfinish\b|"
    r"^\W*(ok|go|los)\W*$|nachricht senden|contact us|kontaktieren|anfragen\W*$")
NEXT = re.compile(r"\bweiter\b|\bnext\b|continue|fortfahren|naechste|zum naechsten|"
                  r"^\W*(→|»|>)\W*$|\bschritt \d|step \d|\bvor\b")
NEVER = re.compile(
    r"zurueck|\bback\b|previous|vorherig|reset|zuruecksetzen|abbrechen|cancel|loeschen|clear|"
    r"suche|search|login|log in|anmelden|registrier|sign (in|up)|newsletter|abonnieren|"
    r"subscribe|cookie|datenschutz|privacy|impressum|imprint|agb|menu|menue|schliessen|close|"
    r"upload|hochladen|datei|file|chat|teilen|share|drucken|print|hinzufuegen|add\b|entfernen|"
    r"remove|sprache|language|deutsch|english|^\W*[×x✕]\W*$")
REJECT = re.compile(r"ablehnen|nur (notwendige|essenzielle|erforderliche|technisch)|"
                    r"(notwendige|essenzielle|erforderliche) cookies|reject|decline|deny|"
                    r"necessary only|only necessary|essential only|only essential|"
                    r"einstellungen speichern")
ACCEPT = re.compile(r"^\W*(alle\s+)?(cookies\s+)?(akzeptieren|zustimmen|annehmen|erlauben)|"
                    r"accept|allow all|^\W*(ok|got it|verstanden|einverstanden)\W*$|agree")

COOKIE_JS = r"""(wants) => wants.map((want, k) => {
  const rx = new RegExp(want, 'i');
  const out = [];
  const walk = root => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (!el.matches('button, [role=button], a, input[type=button], input[type=submit]')) continue;
    const t = (el.innerText || el.value || el.getAttribute('aria-label') || '')
      .replace(/\s+/g, ' ').trim().toLowerCase().replace(/ä/g, 'ae').replace(/ö/g, 'oe')
      .replace(/ü/g, 'ue').replace(/ß/g, 'ss');
    if (!t || t.length > 60 || !rx.test(t)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2 || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.closest('form') && !/cookie|consent|cmp|privacy/i.test(el.closest('form').className +
        el.closest('form').id)) continue;
    let n = el, ctx = '';
    for (let i = 0; i < 8 && n; i++) { ctx = (n.innerText || n.textContent || '');
      if (/cookie/i.test(ctx) || /cookie|consent|cmp|gdpr|privacy/i.test(
        (typeof n.className === 'string' ? n.className : '') + ' ' + (n.id || ''))) {
        if (!el.getAttribute('data-sb-cookie')) el.setAttribute('data-sb-cookie',
          'c' + k + '-' + out.length);
        out.push(el.getAttribute('data-sb-cookie')); break; }
      n = n.parentElement || (n.parentNode && n.parentNode.host); }
  } };
  walk(document);
  return out;
})"""


def classify_buttons(buttons: list[dict[str, Any]], form_key: int,
                     fields: list[Field]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(submit button, next-step button) of the form, either may be None."""
    first = min((f.order for f in fields if not f.hidden), default=0)
    last = max((f.order for f in fields if not f.hidden), default=0)
    inside = [b for b in buttons if form_key >= 0 and b["form"] == form_key]
    outside = [b for b in buttons if b["form"] == -1 and b["order"] > first]
    best: dict[str, tuple[float, dict[str, Any] | None]] = {"submit": (0, None), "next": (0, None)}
    for pool, bonus in ((inside, 3.0), (outside, 0.0)):
        for b in pool:
            text = fold(b["text"])
            if NEVER.search(text) and not SUBMIT.search(text.replace("absenden", "senden")):
                continue
            kind, s = None, bonus
            if NEXT.search(text) and not re.search(r"senden|submit|send\b", text):
                kind, s = "next", s + 6
            elif SUBMIT.search(text):
                kind, s = "submit", s + 6
            elif b["type"] == "submit" or (b["tag"] == "button" and b["type"] in ("", "submit")
                                           and pool is inside):
                kind, s = "submit", s + 2
            if kind is None:
                continue
            if b["type"] == "submit":
                s += 2
            if b.get("disabled"):
                s -= 2
            if b["order"] > last:
                s += 1.5
            else:
                s -= 1  # clickable things before the last field are rarely the submit
            if pool is outside:
                s -= min(3.0, (b["order"] - last) / 200)  # far below the form: less likely
            if s > best[kind][0]:
                best[kind] = (s, b)
    return best["submit"][1], best["next"][1]


def dismiss_cookie_banner(page: Any) -> bool:
    """Click "reject"/"only necessary" (else "accept") on a cookie banner; True if clicked."""
    found: list[tuple[Any, list[list[str]]]] = []
    for frame in page.frames:  # one look per frame for both kinds of button
        if not has_document(frame):
            continue
        try:
            found.append((frame, frame.evaluate(COOKIE_JS, [REJECT.pattern, ACCEPT.pattern])))
        except Exception:  # noqa: BLE001 - detached or navigating frame
            continue
    for k in (0, 1):  # any frame's "reject" before any frame's "accept"
        for frame, hits_by_kind in found:
            for hit in hits_by_kind[k][:1]:
                try:
                    since = mark(frame)
                    frame.locator(f'[data-sb-cookie="{hit}"]').first.click(timeout=2000)
                    wait_settled(page, frame, since, change_ms=400, quiet_ms=60, max_ms=1000)
                    return True
                except Exception:  # noqa: BLE001
                    continue
    return False
