"""Did the submission work? CAPTCHA detection, German and English success and error
messages, and watching the network for the request that carried the form's data."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .kinds import fold
from .scan import frame_state
from .waits import has_document, mark, wait_change, wait_quiet


def _re(*alts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alts))


SUCCESS = _re(
    r"vielen dank", r"herzlichen dank", r"danke (fuer|schoen|sehr)", r"^\W*danke\W*$",
    r"wir haben ihre (nachricht|anfrage|e-?mail|mitteilung|kontaktanfrage)",
    r"(nachricht|anfrage|e-?mail|mitteilung|formular|daten|ticket)\w* (wurde|ist) "
    r"(erfolgreich |bei uns )?(gesendet|versendet|verschickt|uebermittelt|abgeschickt|"
    r"uebertragen|empfangen|eingegangen|angekommen|erstellt|eingereicht)",
    r"erfolgreich (gesendet|versendet|verschickt|uebermittelt|abgeschickt|eingereicht)",
    r"wir (melden|kuemmern) uns", r"wir werden uns .{0,40}(melden|kuemmern|zurueck)",
    r"(anfrage|nachricht) (ist )?eingegangen", r"\bthank you\b", r"\bthanks (for|!|\.)",
    r"^\W*thanks\W*$",
    r"your (message|request|inquiry|enquiry|submission|ticket|form)\w* (has been|was|is) "
    r"(successfully )?(sent|received|submitted|created|delivered)",
    r"successfully (sent|submitted|received)", r"we('ll| will) (get back|be in touch|respond|"
    r"reply|contact you|review)", r"we have received", r"\bmessage sent\b", r"request received",
    r"(sent|submitted) successfully",
    r"(submission|request|message|enquiry|inquiry|form)\w* (was|has been|is) successful",
    r"(uebermittlung|einsendung|anfrage|nachricht|versand|formular)\w* (war|ist|wurde) "
    r"erfolgreich\W*$")
ERROR = _re(
    r"fehler", r"ungueltig", r"bitte (fuellen|geben|ueberpruefen|pruefen|waehlen|korrigieren|"
    r"akzeptieren|bestaetigen|stimmen)", r"pflichtfeld", r"(ist|sind) (ein )?erforderlich",
    r"muss ausgefuellt", r"muessen ausgefuellt", r"(konnte|konnten) nicht", r"fehlgeschlagen",
    r"versuchen sie es (bitte )?(spaeter )?(noch einmal|erneut)", r"problem mit ihrer",
    r"nicht korrekt", r"nicht gueltig", r"darf nicht leer", r"\berror\b", r"\binvalid\b",
    r"\bis required\b", r"field is required", r"required field", r"please (fill|enter|complete|"
    r"correct|check|select|provide|accept|agree|review)", r"could not be (sent|submitted)",
    r"\bfailed\b", r"try again", r"problem with your", r"something went wrong",
    r"is not valid", r"must (be|contain|not)", r"can'?t be blank", r"cannot be (empty|blank)",
    r"not allowed", r"forbidden", r"internal server error", r"service unavailable",
    r"bad request", r"zugriff verweigert", r"access denied")
SPAM = _re(r"captcha", r"\bspam", r"robot", r"roboter", r"\bbot\b", r"not a human",
           r"kein mensch", r"human verification", r"verify you are human", r"sicherheitspruefung")
SUCCESS_URL = re.compile(r"danke|thank|success|erfolg|bestaetig|confirm|gesendet|sent|merci|"
                         r"submitted|received", re.I)
INTERACTIVE = ("recaptcha", "recaptcha-challenge", "hcaptcha", "turnstile", "friendlycaptcha",
               "captcha")


def blocking_captcha(states: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first visible CAPTCHA widget on the page (any frame), or None."""
    for st in states:
        for c in st.get("captcha", []):
            if c["visible"] and c["kind"] in INTERACTIVE:
                return {**c, "frame": st.get("url", "")}
    return None


def invisible_captchas(states: list[dict[str, Any]]) -> list[str]:
    return sorted({c["kind"] for st in states for c in st.get("captcha", []) if c["invisible"]})


def new_lines(before: str, after: str) -> list[str]:
    """Lines of ``after`` that were not in ``before`` (as a multiset)."""
    old = Counter(line.strip() for line in before.splitlines() if line.strip())
    out = []
    for line in (x.strip() for x in after.splitlines()):
        if not line:
            continue
        if old[line] > 0:
            old[line] -= 1
        else:
            out.append(line)
    return out


def all_states(page: Any, form_sid: str | None = None) -> list[dict[str, Any]]:
    out = []
    for fr in page.frames:
        if not has_document(fr):
            continue
        try:
            out.append(frame_state(fr, form_sid))
        except Exception:  # noqa: BLE001 - navigating or detached frames
            continue
    return out


class SubmitWatch:
    """Records the requests after the submit click that carry the form's data."""

    def __init__(self, page: Any, markers: list[str]) -> None:
        self.page = page
        self.markers = _marker_bytes([m for m in markers if m])
        self.carrying: list[dict[str, Any]] = []
        self.documents: list[dict[str, Any]] = []  # navigations of any frame after the click
        self.active = False
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def start(self) -> None:
        self.active = True

    def detach(self) -> None:
        for ev, fn in (("request", self._request), ("response", self._response),
                       ("requestfailed", self._failed)):
            try:
                self.page.remove_listener(ev, fn)
            except Exception:  # noqa: BLE001
                pass

    def _request(self, req: Any) -> None:
        if not self.active:
            return
        try:
            body = req.post_data_buffer or b""
        except Exception:  # noqa: BLE001
            body = b""
        blob = req.url.encode() + b"\n" + body
        if any(m in blob for m in self.markers):
            self.carrying.append({"url": req.url, "method": req.method, "status": None,
                                  "req": req, "failed": None})
        if req.is_navigation_request():
            self.documents.append({"url": req.url, "method": req.method, "status": None,
                                   "req": req, "main": req.frame == self.page.main_frame})

    def _response(self, resp: Any) -> None:
        for rec in self.carrying + self.documents:
            if rec["req"] is resp.request:
                rec["status"] = resp.status
                try:
                    rec["date"] = resp.headers.get("date")
                except Exception:  # noqa: BLE001
                    rec["date"] = None

    def server_date(self) -> str | None:
        """The Date header of the server's answer to the submission: its own timestamp of
        when it took the form (whole seconds)."""
        for rec in self.carrying:
            if rec.get("date") and rec["status"] is not None and rec["status"] < 400:
                return str(rec["date"])
        return None

    def _failed(self, req: Any) -> None:
        for rec in self.carrying + self.documents:
            if rec["req"] is req:
                rec["failed"] = req.failure or "failed"

    @property
    def submitted(self) -> bool:
        return bool(self.carrying)

    def status(self) -> int | None:
        """Final status: the last document loaded after the click, else the submission's."""
        docs = [d for d in self.documents if d["status"] is not None and d["status"] < 300
                or d["status"] and d["status"] >= 400]
        if docs:
            return docs[-1]["status"]
        done = [c for c in self.carrying if c["status"] is not None]
        return done[-1]["status"] if done else None

    def pending(self) -> bool:
        return any(c["status"] is None and not c.get("failed") for c in self.carrying)

    def summary(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "req"} for r in self.carrying]


def _marker_bytes(markers: list[str]) -> list[bytes]:
    out: set[bytes] = set()
    for m in markers:
        for form in (m, urllib.parse.quote_plus(m), urllib.parse.quote(m, safe=""),
                     m.replace("@", "\\u0040")):
            out.add(form.encode())
    return sorted(out)


@dataclass
class Verdict:
    outcome: str  # success | validation | http-error | captcha | nothing | unknown
    message: str
    at: Any = None  # clock time of the first sign of this outcome
    status: int | None = None
    final_url: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def judge(before: dict[str, Any], states: list[dict[str, Any]], watch: SubmitWatch,
          success: str | None, form_sids: set[str]) -> tuple[str, str] | None:
    """One look at the page: an outcome and its evidence, or None if undecided yet."""
    text = "\n".join(st["text"] for st in states)
    url = states[0]["url"] if states else ""
    lines = new_lines(before["text"], text)
    new_errors = [e for st in states for e in st["errors"] if e not in before["errors"]]
    cap = blocking_captcha(states)
    if cap and cap["what"] not in before["captchas"]:
        return "captcha", f"a CAPTCHA challenge appeared ({cap['kind']}: {cap['what']})"
    status = watch.status()
    ok_lines = [ln for ln in lines if SUCCESS.search(fold(ln))]
    ok_lines += [f"message in a confirmation container: {t}" for st in states
                 for t in st.get("successes", []) if t not in before.get("successes", [])
                 and not ERROR.search(fold(t)) and not any(t in o for o in ok_lines)]
    if success:
        want = fold(success)
        n_before, n_after = fold(before["text"]).count(want), fold(text).count(want)
        ok_lines = [f"expected text '{success}'"] if n_after > n_before else []
    err_lines = list(dict.fromkeys(ln for ln in lines + new_errors if ERROR.search(fold(ln))
                                   and not SUCCESS.search(fold(ln))))
    err_lines = [e for e in err_lines if not any(e != o and e in o for o in err_lines)]
    invalid = [n for st in states for n in st["invalid"] if n not in before["invalid"]]
    spam = [ln for ln in err_lines if SPAM.search(fold(ln))]
    if spam:
        return "captcha", f"the site rejected the submission as spam/robot: {spam[0][:200]}"
    if status in (400, 422) and (err_lines or invalid) and not ok_lines:
        return "validation", f"HTTP {status}: " + "; ".join(err_lines[:4] or invalid[:8])
    if status is not None and status >= 400:
        shown = "; ".join(err_lines[:3]) or (lines[0][:200] if lines else "")
        return "http-error", f"HTTP {status} after submitting" + (f": {shown}" if shown else "")
    if ok_lines and (err_lines or invalid):
        return "ambiguous", (f"both success ({ok_lines[0][:120]}) and error "
                             f"({(err_lines or invalid)[0]!s:.120}) messages")
    if ok_lines:
        return "success", ok_lines[0][:300]
    if err_lines or invalid:
        what = "; ".join(err_lines[:4])
        if invalid:
            what += ("; " if what else "") + "invalid fields: " + ", ".join(invalid[:8])
        return "validation", what
    if url != before["url"] and SUCCESS_URL.search(url.split("?")[0]) and not SUCCESS_URL.search(
            before["url"].split("?")[0]):
        return "success", f"went on to {url}"
    visible = {s for st in states for s in st["visibleSids"]}
    if watch.submitted and not watch.pending() and status is not None and status < 300 and \
            form_sids and not (form_sids & visible):
        return "form-gone", f"the form disappeared after HTTP {status}"
    return None


def await_verdict(page: Any, before: dict[str, Any], watch: SubmitWatch, success: str | None,
                  form_sids: set[str], timeout: float, now: Callable[[], Any],
                  frame: Any = None) -> Verdict:
    """Look at the page whenever it changes (a DOM change, a navigation, or the submission's
    answer) until the outcome is clear or ``timeout`` seconds have passed.

    A confirmation, an error or a CAPTCHA counts once it is still there when the page has
    gone quiet (the first stable match); a form that merely disappeared, or a page showing
    both success and error, must hold for two seconds.
    """
    frame = frame or page.main_frame
    start = time.monotonic()
    settle = min(8.0, max(2.0, timeout / 3))
    seen: tuple[str, str] | None = None
    seen_at, seen_since = None, 0.0
    while True:
        since = mark(frame)
        elapsed = time.monotonic() - start
        states = all_states(page)
        got = judge(before, states, watch, success, form_sids) if states else None
        if got and seen and got[0] == seen[0]:
            held = time.monotonic() - seen_since
            if got[0] not in ("form-gone", "ambiguous") or held >= 2.0:
                outcome = "success" if got[0] == "form-gone" else got[0]
                outcome = "unknown" if outcome == "ambiguous" else outcome
                return _verdict(outcome, got[1], seen_at, watch, states)
        elif got:
            seen, seen_at, seen_since = got, now(), time.monotonic()
            if got[0] not in ("form-gone", "ambiguous"):
                wait_quiet(frame, 50, 600)  # then look once more: stable?
                continue
        else:
            seen = None
        if not watch.submitted and not watch.documents and elapsed >= settle:
            return _verdict("nothing", "nothing happened after clicking submit: no request "
                            "carried the form's data and the page did not change", now(),
                            watch, states)
        if elapsed >= timeout:
            if watch.submitted:
                why = "the server did not answer" if watch.pending() else (
                    "no confirmation or error message could be recognised")
                return _verdict("unknown", f"submitted, but {why} within {timeout:.0f}s", now(),
                                watch, states)
            return _verdict("nothing", "no request carried the form's data within "
                            f"{timeout:.0f}s", now(), watch, states)
        # the next look: when the form's frame changes or navigates; an answer that changes
        # nothing on the page (an HTTP error) is seen within the bounded wait
        wait_change(frame, since, 150)


def _verdict(outcome: str, message: str, at: Any, watch: SubmitWatch,
             states: list[dict[str, Any]]) -> Verdict:
    return Verdict(outcome, message, at, watch.status(),
                   states[0]["url"] if states else "",
                   {"server_date": watch.server_date(), "requests": watch.summary(),
                    "documents": [{k: v for k, v in d.items() if k != "req"}
                                  for d in watch.documents]})


def snapshot(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The page before the submit click, to compare with afterwards."""
    return {"text": "\n".join(st["text"] for st in states),
            "url": states[0]["url"] if states else "",
            "errors": [e for st in states for e in st["errors"]],
            "successes": [t for st in states for t in st.get("successes", [])],
            "invalid": [n for st in states for n in st["invalid"]],
            "captchas": [c["what"] for st in states for c in st["captcha"] if c["visible"]]}
