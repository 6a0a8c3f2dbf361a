"""A time budget for work on untrusted input (a received message, a scenario template).

In the main thread the budget is enforced with ``SIGALRM``: Python code and the regular
expression engine are interrupted when it runs out. In other threads (where signals cannot
be delivered) the inputs' size caps are the only bound.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExceeded(BaseException):  # noqa: N818 - a BaseException so `except Exception` in
    """The work took longer than its budget."""  # a parser cannot swallow it


@contextmanager
def time_budget(seconds: float, what: str = "work") -> Iterator[None]:
    """Raise :class:`BudgetExceeded` in the block if it runs longer than ``seconds``."""
    if (seconds <= 0 or threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "setitimer")):
        yield
        return
    previous_handler = signal.getsignal(signal.SIGALRM)
    previous_timer = signal.getitimer(signal.ITIMER_REAL)
    if previous_timer[0] > 0:  # a budget is already running (nested): keep the outer one
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise BudgetExceeded(f"{what} took longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
