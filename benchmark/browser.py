"""Finding and launching the Chromium that drives web forms.

Playwright's own Chromium is the default. Where it is missing (no ``playwright install``),
a Chromium named by ``SERVICEBENCH_CHROMIUM`` or a system Chromium is used instead: for
headless work the system's headless shell (Debian's ``chromium-headless-shell``) where it is
installed, as Playwright itself uses its own headless shell for headless runs (it needs about
half the CPU per form of the full browser in new-headless mode); otherwise Debian's
``chromium`` or Ubuntu's ``chromium-browser``.

``python -m servicebench.browser --check`` exits 0 if a usable browser exists and 1 with a
message saying what to install otherwise (the ``dev`` setup script relies on this).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NotConfigured

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM_ENV = "SERVICEBENCH_CHROMIUM"
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "/usr/bin/chromium",
                    "/usr/bin/chromium-browser", "/snap/bin/chromium")
#: the old-headless build of Chromium: no windowing or compositor, cheaper per page
SYSTEM_HEADLESS_SHELLS = ("chromium-headless-shell", "/usr/bin/chromium-headless-shell",
                          "chrome-headless-shell")
#: flags that make Chromium quiet and usable as root, in containers and without a GPU
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
INSTALL_HINT = (
    "no Chromium found for web forms. Install one of: Playwright's Chromium "
    "(`python -m playwright install chromium`), your system's Chromium (Debian: "
    "`apt-get install chromium`, Ubuntu: `apt-get install chromium-browser`), or set "
    f"{CHROMIUM_ENV}=/path/to/chrome")


class BrowserMissing(NotConfigured):
    """No usable Chromium on this machine."""


def _browsers_root() -> Path:
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH", "")
    if env and env != "0":
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", str(Path.home()))) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "ms-playwright"


def playwright_chromium_installed() -> bool:
    """Whether ``playwright install chromium`` has been run (full or headless-shell build)."""
    root = _browsers_root()
    patterns = ("chromium-*/chrome-*/chrome", "chromium-*/chrome-*/chrome.exe",
                "chromium-*/chrome-mac*/*.app",
                "chromium_headless_shell-*/chrome-*/*headless_shell*")
    return any(glob.glob(str(root / p)) for p in patterns)


def system_chromium(headless: bool = False) -> str | None:
    """A Chromium installed on the system; for ``headless`` its headless shell first."""
    for name in (SYSTEM_HEADLESS_SHELLS if headless else ()) + SYSTEM_CHROMIUMS:
        path = shutil.which(name)
        if path:
            return path
    return None


def find_chromium(headless: bool = True) -> str | None:
    """The Chromium executable to launch: None means Playwright's own (installed), a path
    means a configured or system Chromium. Raises :class:`BrowserMissing` if there is none."""
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    if configured:
        path = shutil.which(configured) or configured
        if not os.access(path, os.X_OK):
            raise BrowserMissing(f"{CHROMIUM_ENV}={configured!r} is not an executable file")
        return path
    if playwright_chromium_installed():
        return None
    path = system_chromium(headless)
    if path:
        return path
    raise BrowserMissing(INSTALL_HINT)


def launch(playwright: Playwright, headless: bool = True) -> Browser:
    """Launch Chromium through ``playwright`` (a started ``sync_playwright()``)."""
    executable = find_chromium(headless)
    try:
        return playwright.chromium.launch(headless=headless, executable_path=executable,
                                          args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - Playwright raises its own Error types
        fallback = system_chromium(headless) if executable is None else None
        if fallback and "Executable doesn't exist" in str(exc):
            return playwright.chromium.launch(headless=headless, executable_path=fallback,
                                              args=CHROMIUM_ARGS)
        raise BrowserMissing(f"Chromium could not be started ({executable or 'Playwright'}"
                             f"'s): {str(exc).splitlines()[0]}. {INSTALL_HINT}") from exc


def check() -> tuple[bool, str]:
    """Launch and close a browser once; return (usable, message)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False, "the playwright Python package is missing (pip install playwright)"
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            version = browser.version
            browser.close()
    except NotConfigured as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001
        return False, f"Chromium could not be started: {exc}. {INSTALL_HINT}"
    where = find_chromium() or "Playwright's Chromium"
    return True, f"Chromium {version} ({where})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicebench.browser")
    parser.add_argument("--check", action="store_true",
                        help="exit 0 if a usable browser exists, 1 otherwise")
    args = parser.parse_args(argv)
    if not args.check:
        try:
            print(find_chromium() or "playwright")
        except NotConfigured as exc:
            print(f"servicebench: {exc}", file=sys.stderr)
            return 1
        return 0
    ok, message = check()
    print(f"servicebench: {message}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
