"""The client report: HTML from Jinja templates, PDF from the same HTML through WeasyPrint.

Received text is untrusted. Jinja autoescapes everything, the HTML references no external
resource (CSS and SVG charts are inline) and carries a Content-Security-Policy, and the PDF
renderer gets a URL fetcher that refuses every URL except ``data:``, so rendering never
fetches a URL or reads a local file named in a message.

Templates come from ``report_templates/``; a user's ``template_dir`` is searched first.
``report.html`` only extends ``base.html``, so a user's own ``report.html`` can
``{% extends "base.html" %}`` and override single blocks (``title_page``, ``summary``,
``charts``, ``companies``, ``methods``, ``styles``...), or replace a partial such as
``_probe.html`` or ``report.css``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from weasyprint.urls import URLFetcher

from .clock import clock_from_env
from .errors import ServicebenchError
from .gc_tuning import relaxed_gc
from .i18n import LANGUAGES, format_duration, format_number, format_percent
from .report_context import build_context, excerpt  # noqa: F401  (excerpt: public API)
from .report_pdf import ReportHTML
from .store import Store
from .study import Study

FORMATS = ("html", "pdf")
APPENDIX = ("cards", "none")
#: above this many probes the per-probe cards are left out unless asked for
CARDS_LIMIT = 100


@dataclass
class ReportOptions:
    """How to render: ``language`` None = the study's; ``appendix`` None = cards up to
    CARDS_LIMIT probes; ``anonymise`` company names; ``redact_people`` in quotes."""
    language: str | None = None
    appendix: str | None = None
    anonymise: bool = False
    redact_people: bool = False

    def check(self) -> None:
        if self.language is not None and self.language not in LANGUAGES:
            raise ServicebenchError(f"unknown report language {self.language!r}; use one of "
                                    f"{', '.join(LANGUAGES)}")
        if self.appendix is not None and self.appendix not in APPENDIX:
            raise ServicebenchError(f"unknown appendix {self.appendix!r}; use one of "
                                    f"{', '.join(APPENDIX)}")


class SafeURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves ``data:`` URLs and refuses everything else."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"report rendering does not fetch {url[:80]!r}")
        return super().fetch(url, headers)


def template_dirs(template_dir: Path | None = None) -> list[Path]:
    """The user's template folder (if any) first, then the packaged templates."""
    from servicebench import report_templates

    dirs = [Path(template_dir)] if template_dir else []
    return dirs + [Path(report_templates.__file__).parent]


def make_environment(template_dir: Path | None, language: str) -> Environment:
    loaders = [FileSystemLoader(str(d)) for d in template_dirs(template_dir)]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["duration"] = lambda s: format_duration(s, language)
    env.filters["percent"] = lambda v: format_percent(v, language)
    env.filters["number"] = lambda v, d=0: format_number(v, language, d)
    return env


def render_report(study: Study, store: Store, fmt: str, out: Path,
                  template_dir: Path | None = None, now: datetime | None = None,
                  options: ReportOptions | None = None) -> Path:
    """Render the report as ``html`` or ``pdf`` to ``out`` (a file, or a folder to put
    ``report.<fmt>`` in) and return the path written."""
    if fmt not in FORMATS:
        raise ServicebenchError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        out = out / f"report.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with relaxed_gc():
        html = render_html(study, store, template_dir=template_dir, now=now, options=options,
                           fmt=fmt, out=out)
        if fmt == "html":
            out.write_text(html, encoding="utf-8")
        else:
            ReportHTML(string=html, base_url=None, url_fetcher=SafeURLFetcher()).write_pdf(out)
    return out


def render_html(study: Study, store: Store, template_dir: Path | None = None,
                now: datetime | None = None, options: ReportOptions | None = None,
                fmt: str = "html", out: Path | None = None) -> str:
    options = options or ReportOptions()
    options.check()
    stored = getattr(store, "stored_as_of", None)  # the cut-off a study keeps (issue 9)
    now = now or (stored() if stored else None) or clock_from_env().now()
    language = options.language or study.language
    env = make_environment(template_dir, language)
    link_base = _link_base(study, out) if fmt == "html" else None
    ctx = build_context(study, store, now, language=language, appendix=options.appendix,
                        cards_limit=CARDS_LIMIT, anonymise=options.anonymise,
                        redact_people=options.redact_people, link_base=link_base,
                        for_print=fmt == "pdf")
    return env.get_template("report.html").render(**ctx)


def _link_base(study: Study, out: Path | None) -> str | None:
    """Relative path from the report's folder to the study folder, for evidence links."""
    if out is None:
        return ""
    try:
        rel = os.path.relpath(Path(study.folder).resolve(), Path(out).parent.resolve())
    except ValueError:  # another drive
        return None
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"


def _channel_label(name: str) -> str:
    """The channel's registry label (kept for servicebench.rating.sheets; the report itself
    uses the translated i18n.channel_name)."""
    from .channels import registry

    cls = registry().get(name)
    return (cls.label if cls is not None and cls.label else name) if name else ""
