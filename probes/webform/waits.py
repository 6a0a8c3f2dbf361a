"""Waiting on the page instead of sleeping: DOM changes, navigations, quiet, all bounded.

Each frame gets a MutationObserver (installed on first use, again after a navigation) that
counts changes to the document and notes the time of the last one; our own ``data-sb-*``
marker attributes do not count. :func:`wait_change` returns as soon as the frame changes
or navigates, :func:`wait_quiet` as soon as it has not changed for a short while; both give
up after a bounded time, so a page that never settles cannot hold a form up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

_WATCH = """(() => { if (!window.__sbWatch) {
  const w = {id: Math.random(), n: 0, last: performance.now()};
  window.__sbWatch = w;
  new MutationObserver(rs => { if (rs.some(r => !(r.type === 'attributes'
      && (r.attributeName || '').startsWith('data-sb')))) { w.n++; w.last = performance.now(); } })
    .observe(document, {subtree: true, childList: true, attributes: true,
                        characterData: true}); }
  return window.__sbWatch; })()"""
MARK_JS = f"() => {{ const w = {_WATCH}; return [w.id, w.n]; }}"
CHANGED_JS = f"([id, n]) => {{ const w = {_WATCH}; return w.id !== id || w.n !== n; }}"
QUIET_JS = f"(q) => {{ const w = {_WATCH}; return performance.now() - w.last >= q; }}"
POLL_MS = 25  # how often the browser checks its own flag (no round trip per check)


def has_document(frame: Any) -> bool:
    """Whether a frame has a document to look into. An iframe whose first navigation has not
    started (``loading="lazy"`` far below the viewport) has none, and anything evaluated in it
    would wait until it loads, which may be never."""
    try:
        return bool(frame.url)
    except Exception:  # noqa: BLE001 - detached
        return False


LOAD_LAZY_FRAMES_JS = """() => { let n = 0;
  for (const f of document.querySelectorAll('iframe[loading=lazy]')) { f.loading = 'eager'; n++; }
  return n; }"""


def load_lazy_frames(page: Any) -> int:
    """Load iframes that wait to be scrolled near (``loading="lazy"``), as scrolling down to
    them would; returns how many there were."""
    n = 0
    for frame in page.frames:
        if has_document(frame):
            try:
                n += int(frame.evaluate(LOAD_LAZY_FRAMES_JS))
            except Exception:  # noqa: BLE001 - navigating or detached frame
                continue
    return n


def mark(frame: Any) -> Any:
    """The frame's change counter now (installs the observer); None if it is navigating."""
    try:
        return frame.evaluate(MARK_JS)
    except Exception:  # noqa: BLE001 - detached or navigating frame
        return None


def wait_change(frame: Any, since: Any, timeout_ms: float) -> bool:
    """Until the frame's document changed after ``since`` (a :func:`mark`) or navigated.
    True if it changed, False after ``timeout_ms``."""
    if since is None:
        return True
    if timeout_ms <= 0:  # only a look: has it changed already?
        try:
            return bool(frame.evaluate(CHANGED_JS, since))
        except Exception:  # noqa: BLE001 - navigating: a change
            return True
    try:
        frame.wait_for_function(CHANGED_JS, arg=since, polling=POLL_MS,
                                timeout=max(1, int(timeout_ms)))
        return True
    except Exception as exc:  # noqa: BLE001 - a navigation destroys the context: a change
        return "Timeout" not in type(exc).__name__ and "Timeout" not in str(exc)[:80]


def wait_quiet(frame: Any, quiet_ms: float = 80, max_ms: float = 1000) -> None:
    """Until the frame has not changed for ``quiet_ms`` (at most ``max_ms``)."""
    try:
        frame.wait_for_function(QUIET_JS, arg=quiet_ms, polling=POLL_MS,
                                timeout=max(1, int(max_ms)))
    except Exception:  # noqa: BLE001 - still busy, or navigating: go on and look
        pass


def wait_settled(page: Any, frame: Any, since: Any, change_ms: float,
                 quiet_ms: float = 80, max_ms: float = 1500) -> bool:
    """After an action: wait for the frame to react (up to ``change_ms``), then for it to be
    quiet. True if it changed."""
    start = time.monotonic()
    changed = wait_change(frame, since, change_ms)
    if changed:
        try:
            page.wait_for_load_state("domcontentloaded",
                                     timeout=max(1, int(max_ms)))
        except Exception:  # noqa: BLE001
            pass
        left = max_ms - (time.monotonic() - start) * 1000
        if left > 0:
            wait_quiet(frame, quiet_ms, left)
    return changed


class Requests:
    """The page's requests still in flight (fetches, XHRs, documents, scripts, frames): a
    page that reacts to an input by asking its server is given time to draw the answer."""

    KINDS = ("xhr", "fetch", "document", "script")

    def __init__(self, page: Any) -> None:
        self.pending: dict[int, int] = {}  # request -> its number in the order started
        self.started = 0
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, req: Any) -> None:
        try:
            if req.resource_type in self.KINDS:
                self.started += 1
                self.pending[id(req)] = self.started
        except Exception:  # noqa: BLE001
            pass

    def _end(self, req: Any) -> None:
        self.pending.pop(id(req), None)

    def busy(self, since: int = 0) -> bool:
        """Whether a request started after the ``since``-th (``started`` at the time) is
        still in flight: a chat widget's long poll from before the action does not count."""
        return any(n > since for n in self.pending.values())


def wait_reaction(page: Any, frame: Any, since: Any, busy: Callable[[], bool],
                  first_ms: float = 40, max_ms: float = 1500, quiet_ms: float = 50) -> bool:
    """After a choice (a select, a box, a radio): wait ``first_ms`` for the page to react;
    while a request it started is still in flight, keep waiting (up to ``max_ms``) for its
    answer to change the page; then wait for quiet. True if the page changed."""
    start = time.monotonic()
    changed = wait_change(frame, since, first_ms)
    while not changed and busy():
        left = max_ms - (time.monotonic() - start) * 1000
        if left <= 0:
            break
        changed = wait_change(frame, since, min(100, left))
    if changed:
        left = max_ms - (time.monotonic() - start) * 1000
        wait_settled(page, frame, None, 0, quiet_ms, max(quiet_ms * 2, left))
    return changed


# No CSS transition or animation still running (a confirmation fading or sliding in); endless
# ones (spinners) do not count.
_ANIMATIONS_DONE_JS = """() => !(document.getAnimations ? document.getAnimations() : []).some(a =>
  a.playState === 'running' && a.effect && isFinite(a.effect.getComputedTiming().endTime))"""


def wait_animations(frames: list[Any], max_ms: float = 1000) -> None:
    """Until the frames' finite CSS transitions/animations have finished (at most ``max_ms``
    each, also where a frame is still navigating): a screenshot then shows a message that
    fades in at full strength."""
    for frame in dict.fromkeys(frames):
        try:
            frame.wait_for_function(_ANIMATIONS_DONE_JS, polling=POLL_MS,
                                    timeout=max(1, int(max_ms)))
        except Exception:  # noqa: BLE001 - still animating, navigating or detached
            pass
