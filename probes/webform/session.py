"""One browser for many probes, a fresh context (no shared cookies) for each company."""

from __future__ import annotations

import re
import threading
from typing import Any

from servicebench.browser import launch

_local = threading.local()


def acquire_playwright() -> Any:
    """The thread's Playwright driver (the sync API allows one per thread), started on
    first use and shared by every session in the thread."""
    if getattr(_local, "pw", None) is None:
        from playwright.sync_api import sync_playwright
        _local.pw, _local.users = sync_playwright().start(), 0
    _local.users += 1
    return _local.pw


def release_playwright() -> None:
    if getattr(_local, "pw", None) is None:
        return
    _local.users -= 1
    if _local.users <= 0:
        try:
            _local.pw.stop()
        finally:
            _local.pw = None


def user_agent(browser: Any) -> str:
    """A desktop Chrome user agent without the "HeadlessChrome" tell."""
    major = re.match(r"\d+", browser.version or "")
    version = f"{major.group(0)}.0.0.0" if major else "124.0.0.0"
    return ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{version} Safari/537.36")


def new_context(browser: Any, language: str = "de") -> Any:
    locale = {"de": "de-DE", "en": "en-GB"}.get(language, "en-GB")
    return browser.new_context(
        locale=locale, user_agent=user_agent(browser), viewport={"width": 1280, "height": 900},
        extra_http_headers={"Accept-Language": f"{locale},{language};q=0.9,en;q=0.5"})


class BrowserSession:
    """Starts Playwright and Chromium on first use; restarts Chromium if it crashed."""

    def __init__(self, headless: bool = True) -> None:
        self.headless = headless
        self._pw: Any = None
        self._browser: Any = None
        self._spare: tuple[Any, str] | None = None

    def browser(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._pw is None:
            self._pw = acquire_playwright()
        try:
            self._browser = launch(self._pw, headless=self.headless)
        except Exception:
            self.close()
            raise
        return self._browser

    def context(self, language: str = "de") -> Any:
        """A fresh context (no cookies, no storage shared with any other probe): the one
        prepared ahead if it is for this language, else a new one."""
        spare, self._spare = self._spare, None
        if spare is not None:
            ctx, lang = spare
            if lang == language and self._browser is not None and self._browser.is_connected():
                return ctx
            _close_quietly(ctx)
        return new_context(self.browser(), language)

    def prepare(self, language: str = "de") -> None:
        """Open the next probe's context (with its page) now, e.g. while the current form's
        submission is being answered, so the next form starts at once."""
        if self._spare is None and self._browser is not None and self._browser.is_connected():
            ctx = new_context(self._browser, language)
            ctx.new_page()
            self._spare = (ctx, language)

    def close(self) -> None:
        if self._spare is not None:
            _close_quietly(self._spare[0])
            self._spare = None
        if self._browser is not None:
            try:
                self._browser.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self._browser = None
        if self._pw is not None:
            self._pw = None
            try:
                release_playwright()
            except Exception:  # noqa: BLE001
                pass


def _close_quietly(ctx: Any) -> None:
    try:
        ctx.close()
    except Exception:  # noqa: BLE001 - its browser is gone already
        pass


def page_of(ctx: Any) -> Any:
    """The context's page: the one opened ahead, else a new one."""
    return ctx.pages[0] if ctx.pages else ctx.new_page()
