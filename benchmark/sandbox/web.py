"""A real HTTP server for the sandbox's contact forms.

Serves ``forms_dir/<name>.html`` at ``/forms/<name>`` and takes submissions at
``/submit/<name>`` (urlencoded, multipart or JSON, as the real form builders send them).
Each form file carries its server-side rules in a ``<script type="application/x-sandbox-form">``
JSON block, which browsers ignore::

    {"required": ["your-name", "your-email"], "honeypots": ["website"],
     "captcha": "g-recaptcha-response", "reply": "redirect", "success": "Vielen Dank ..."}

``reply`` is how the site answers, like the builder it imitates: ``redirect`` (303 to a
thank-you page: ``/thanks/<name>``, or the spec's ``redirect_to`` path such as ``/danke``,
served with its ``thanks_page`` text), ``html`` (a page with the message), ``cf7`` (Contact
Form 7's JSON), ``hubspot`` (JSON, 400 with errors), ``json`` (``{"ok": true}``), ``wp-ajax``
(WordPress admin-ajax style, always HTTP 200: ``{"success": bool, "data": {...}}``, as
WPForms, Elementor and Ninja Forms answer), ``error500`` or ``hang``.
Missing required fields, a filled honeypot, or a value that differs from the spec's
``values`` (exact), ``contains`` (substring) or ``unticked`` (must be empty) get 400/422 or the
builder's error JSON, and ``on_submission(form_name, fields)`` is called only for accepted
submissions. Ninja Forms' ``formData`` (JSON inside an urlencoded body) is unpacked into
``nf-field-<id>`` fields.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FORMS_DIR = Path(__file__).parent / "forms"
SPEC_RE = re.compile(r'<script type="application/x-sandbox-form">(.*?)</script>', re.S)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Fields = dict[str, list[str]]


def form_spec(page: str) -> dict[str, Any]:
    m = SPEC_RE.search(page)
    return json.loads(m.group(1)) if m else {}


def email_of(fields: Fields) -> str | None:
    """The email address a submission gave (the first value that looks like one)."""
    for name in sorted(fields, key=lambda n: ("mail" not in n.lower(), n)):
        for v in fields[name]:
            if EMAIL_RE.match(v.strip()):
                return v.strip()
    return None


def parse_body(ctype: str, body: bytes) -> Fields:
    """Form fields of a POST body: urlencoded, multipart/form-data or JSON."""
    out: Fields = {}
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name is not None and part.get_filename() is None:
                raw = part.get_payload(decode=True) or b""
                charset = part.get_content_charset() or "utf-8"
                out.setdefault(str(name), []).append(raw.decode(charset, "replace"))
        return out
    if ctype.startswith("application/json"):
        data = json.loads(body or b"{}")
        items: list[tuple[str, Any]] = []
        if isinstance(data, dict) and isinstance(data.get("fields"), list):  # HubSpot
            items = [(f.get("name", ""), f.get("value", "")) for f in data["fields"]]
        elif isinstance(data, dict):
            items = list(data.items())
        for k, v in items:
            for x in v if isinstance(v, list) else [v]:
                out.setdefault(str(k), []).append("" if x is None else str(x))
        return out
    for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        out.setdefault(k, []).append(v)
    if "formData" in out:  # Ninja Forms: {"fields": {"5": {"value": ...}}, ...}
        data = json.loads(out["formData"][0] or "{}")
        for fid, f in (data.get("fields") or {}).items():
            val = f.get("value", "") if isinstance(f, dict) else f
            out.setdefault(f"nf-field-{fid}", []).append("" if val is None else str(val))
    return out


def check(spec: dict[str, Any], fields: Fields) -> list[tuple[str, str]]:
    """Problems with a submission as (field, message), like the builder would report."""
    problems = []
    for name in spec.get("required", []):
        if not any(v.strip() for v in fields.get(name, [])):
            problems.append((name, "Dieses Feld ist ein Pflichtfeld."))
    for name in spec.get("emails", []):
        vals = [v for v in fields.get(name, []) if v.strip()]
        if vals and not EMAIL_RE.match(vals[0].strip()):
            problems.append((name, "Die E-Mail-Adresse ist ungültig."))
    for a, b in spec.get("equal", []):
        if fields.get(a) != fields.get(b):
            problems.append((b, "Die Angaben stimmen nicht überein."))
    for name in spec.get("honeypots", []):
        if any(v.strip() for v in fields.get(name, [])):
            problems.append((name, "spam"))
    for name, want in spec.get("values", {}).items():
        got = [v.strip() for v in fields.get(name, [])]
        if got != [want]:
            problems.append((name, f"Unerwarteter Wert {got!r}."))
    for name, part in spec.get("contains", {}).items():
        if not any(part in v for v in fields.get(name, [])):
            problems.append((name, "Der erwartete Text fehlt."))
    for name in spec.get("unticked", []):
        if any(v.strip() for v in fields.get(name, [])):
            problems.append((name, "Diese Box hätte leer bleiben müssen."))
    cap = spec.get("captcha")
    if cap and not any(v.strip() for v in fields.get(cap, [])):
        problems.append((cap, "Captcha fehlgeschlagen."))
    return problems


class FormServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, forms_dir: Path | str | None = None,
                 on_submission: Callable[[str, Fields, Any], None] | None = None,
                 clock: Any = None) -> None:
        self.host, self.forms_dir = host, Path(forms_dir or FORMS_DIR)
        self.on_submission = on_submission
        self.clock = clock  # the sandbox's clock; stamps accepted submissions
        self.submissions: list[tuple[str, Fields]] = []
        self.accepted_at: list[Any] = []  # clock time of each accepted submission
        self.rejected: list[tuple[str, Fields, list[tuple[str, str]]]] = []
        self.hang_seconds = 120.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, form_name: str) -> str:
        return f"http://{self.host}:{self.port}/forms/{form_name}"

    def start(self) -> FormServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="form-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FormServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def page(self, name: str) -> str | None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            return None
        path = self.forms_dir / f"{name}.html"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def thanks_page(self, path: str) -> str | None:
        """The thank-you page a form's ``redirect_to`` names (``/danke``), or None."""
        if path.startswith(("/forms/", "/submit/", "/thanks/", "/latency/")) or path == "/":
            return None
        for page in sorted(self.forms_dir.glob("*.html")):
            spec = form_spec(page.read_text(encoding="utf-8"))
            if spec.get("redirect_to") == path:
                return _page(spec.get("thanks_title", "Danke"), spec.get(
                    "thanks_page", f"<h1>{html.escape(spec.get('success', 'Danke'))}</h1>"))
        return None

    def accept(self, name: str, fields: Fields) -> Any:
        """Record an accepted submission; returns its time (the server's clock), which the
        response's Date header carries, as a real web server's would."""
        # whole seconds, as the Date header (and a web server's log) records it
        stamp = self.clock.now().replace(microsecond=0) if self.clock else None
        with self._lock:
            self.submissions.append((name, fields))
            self.accepted_at.append(stamp or time.time())
        if self.on_submission:
            self.on_submission(name, fields, stamp)
        return stamp


def _handler(server: FormServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        stamp: Any = None  # time of the request being answered, on the server's clock

        def date_time_string(self, timestamp: float | None = None) -> str:
            """The Date header: the sandbox clock's time, not the machine's."""
            when = self.stamp or (server.clock.now() if server.clock else None)
            if timestamp is None and when is not None:
                return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)
            return super().date_time_string(timestamp)

        def send(self, status: int, body: str | bytes, ctype: str = "text/html; charset=utf-8",
                 headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the browser gave up waiting

        def do_GET(self) -> None:  # noqa: N802
            path = urllib.parse.urlsplit(self.path).path
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "forms":
                page = server.page(parts[1])
                if page is not None:
                    return self.send(200, page)
            if len(parts) == 2 and parts[0] == "thanks":
                page = server.page(parts[1])
                msg = form_spec(page).get("success", "Vielen Dank!") if page else "Vielen Dank!"
                return self.send(200, _page("Danke", f"<h1>{html.escape(msg)}</h1>"))
            thanks = server.thanks_page(path)
            if thanks is not None:
                return self.send(200, thanks)
            if len(parts) == 2 and parts[0] == "latency" and parts[1].isdigit():
                # a server that takes its time: forms that ask it which fields to show
                server._stop.wait(min(int(parts[1]), 5000) / 1000)
                return self.send(204, b"", "text/plain")
            if path in ("/", "/forms"):
                names = sorted(p.stem for p in server.forms_dir.glob("*.html"))
                links = "".join(f'<li><a href="/forms/{n}">{n}</a></li>' for n in names)
                return self.send(200, _page("Formulare", f"<ul>{links}</ul>"))
            self.send(404, _page("Nicht gefunden", "<h1>404 Seite nicht gefunden</h1>"))

        def do_POST(self) -> None:  # noqa: N802
            self.stamp = None
            path = urllib.parse.urlsplit(self.path).path
            parts = path.strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            page = server.page(parts[1]) if len(parts) == 2 and parts[0] == "submit" else None
            if page is None:
                return self.send(404, _page("Nicht gefunden", "<h1>404</h1>"))
            name, spec = parts[1], form_spec(page)
            try:
                fields = parse_body(self.headers.get("Content-Type", ""), body)
            except (ValueError, UnicodeDecodeError):
                return self.send(400, _page("Fehler", "<h1>400 Bad Request</h1>"))
            reply = spec.get("reply", "html")
            if reply == "hang":
                server._stop.wait(server.hang_seconds)
                return self.send(504, "timeout", "text/plain")
            if reply == "error500":
                return self.send(500, _page("Fehler", "<h1>500 Internal Server Error</h1>"))
            problems = check(spec, fields)
            if problems:
                with server._lock:
                    server.rejected.append((name, fields, problems))
                return self._reject(reply, problems)
            self.stamp = server.accept(name, fields)
            msg = spec.get("success", "Vielen Dank! Ihre Nachricht wurde gesendet.")
            if reply == "redirect":
                to = spec.get("redirect_to") or f"/thanks/{name}"
                return self.send(303, "", headers={"Location": to})
            if reply == "wp-ajax":
                return self.send(200, json.dumps({"success": True, "data": {"message": msg}}),
                                 "application/json")
            if reply == "cf7":
                return self.send(200, json.dumps({"status": "mail_sent", "message": msg}),
                                 "application/json")
            if reply == "hubspot":
                return self.send(200, json.dumps({"inlineMessage": msg}), "application/json")
            if reply == "json":
                return self.send(200, json.dumps({"ok": True, "message": msg}),
                                 "application/json")
            self.send(200, _page("Danke", f'<div class="success"><h1>{html.escape(msg)}</h1>'
                                          "</div>"))

        def _reject(self, reply: str, problems: list[tuple[str, str]]) -> None:
            spam = any(m == "spam" or "Captcha" in m for _, m in problems)
            if reply == "cf7":
                body = {"status": "spam" if spam else "validation_failed",
                        "message": "Beim Senden der Nachricht ist ein Fehler aufgetreten. "
                                   "Bitte versuche es später noch einmal." if spam else
                                   "Ein oder mehrere Felder haben einen Fehler. Bitte überprüfe "
                                   "sie und versuche es erneut.",
                        "invalid_fields": [{"field": f, "message": m} for f, m in problems]}
                return self.send(200, json.dumps(body), "application/json")
            if reply == "wp-ajax":  # WordPress answers errors with HTTP 200 too
                body = {"success": False, "data": {
                    "message": "Bitte überprüfen Sie Ihre Angaben." if not spam else "Spam.",
                    "errors": {f: m for f, m in problems}}}
                return self.send(200, json.dumps(body), "application/json")
            if reply in ("hubspot", "json"):
                body = {"status": "error", "message": "Bitte füllen Sie alle Pflichtfelder aus."
                        if not spam else "Spam erkannt.",
                        "errors": [{"field": f, "message": m, "errorType": "REQUIRED_FIELD"}
                                   for f, m in problems]}
                return self.send(400, json.dumps(body), "application/json")
            items = "".join(f"<li>{html.escape(f)}: {html.escape(m)}</li>" for f, m in problems)
            self.send(422, _page("Fehler", '<div class="error"><h1>Es gab ein Problem mit Ihrer '
                                 f"Übermittlung.</h1><ul>{items}</ul></div>"))

    return Handler


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body>{body}</body></html>")


def serve_forever(port: int = 8025) -> None:  # pragma: no cover - manual use
    srv = FormServer(port=port).start()
    print(f"forms at http://127.0.0.1:{srv.port}/")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
