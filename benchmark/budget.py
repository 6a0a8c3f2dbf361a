"""A time budget for work on untrusted input (a received message, a scenario template).

In the main thread the budget is enforced with ``SIGALRM``: Python code and the regular
expression engine are interrupted when it runs out. In other threads (where signals cannot
be delivered) the inputs' size caps are the only bound.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExceeded(BaseException):  # noqa: N818 - a BaseException so `except Exception` in
    """The work took longer than its budget."""  # a parser cannot swallow it


@contextmanager
def time_budget(seconds: float, what: str = "work") -> Iterator[None]:
    """Raise :class:`BudgetExceeded` in the block if it runs longer than ``seconds``.

    An interval timer that is already running (e.g. a test runner's timeout) keeps working:
    if it is due first, its own handler runs; afterwards it is re-armed with what is left."""
    if (seconds <= 0 or threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "setitimer")):
        yield
        return
    previous_handler = signal.getsignal(signal.SIGALRM)
    outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    outer_first = 0 < outer_left < seconds
    started = time.monotonic()

    def on_alarm(signum: int, frame: object) -> None:
        if outer_first and callable(previous_handler):
            previous_handler(signum, frame)  # type: ignore[arg-type]
            return
        raise BudgetExceeded(f"{what} took longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, outer_left if outer_first else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_left > 0:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), outer_interval)
