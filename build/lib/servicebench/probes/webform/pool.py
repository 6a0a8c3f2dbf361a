"""A bounded pool of browser workers.

Playwright's sync API ties every object to the thread that made it, so each worker thread
owns one :class:`BrowserSession` (one Chromium, reused for all its probes, a fresh context
per probe) and does all browser work for the jobs it is handed. ``run`` may be called from
several threads at once; at most ``size`` forms are open at the same time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .session import BrowserSession

T = TypeVar("T")
_STOP = object()


class SessionPool:
    def __init__(self, size: int, headless: bool = True) -> None:
        self.size = max(1, size)
        self.headless = headless
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        with self._lock:
            while len(self._threads) < self.size:
                t = threading.Thread(target=self._work, daemon=True,
                                     name=f"webform-{len(self._threads) + 1}")
                t.start()
                self._threads.append(t)

    def _work(self) -> None:
        session = BrowserSession(headless=self.headless)
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                fn, fut = job
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    fut.set_result(fn(session))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(exc)
        finally:
            session.close()

    def run(self, fn: Callable[[BrowserSession], T]) -> T:
        """Run ``fn(session)`` on a worker's browser session and return its result."""
        self._ensure_started()
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut.result()

    def close(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(_STOP)
        for t in threads:
            t.join(timeout=30)
