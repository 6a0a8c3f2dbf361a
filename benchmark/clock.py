"""Clocks. The tool and the sandbox read time only through a :class:`Clock`.

An :class:`AcceleratedClock` runs ``factor`` times faster than real time from a fixed
virtual start, so a week-long study can run in a couple of minutes while every timestamp
reads like a real study's. Two processes share one accelerated clock through its spec
string (``SERVICEBENCH_CLOCK``), e.g. ``2026-11-02T08:00:00+00:00@1764000000.0x5040``:
virtual start, real epoch at which it began, factor.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .errors import ServicebenchError

CLOCK_ENV = "SERVICEBENCH_CLOCK"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds ``seconds`` of clock time take."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def real_seconds(self, seconds: float) -> float:
        return seconds

    def spec(self) -> str:
        return "system"


class AcceleratedClock:
    """Virtual time = ``start`` + (real time since ``epoch``) x ``factor``."""

    def __init__(self, start: datetime, factor: float, epoch: float | None = None) -> None:
        if not math.isfinite(factor) or factor <= 0 or factor > 1e9:
            raise ServicebenchError(f"clock factor {factor!r} must be a positive finite number "
                                    "(at most 1e9)")
        self.start = start.astimezone(UTC)
        self.factor = float(factor)
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.epoch) * self.factor)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.factor

    def spec(self) -> str:
        return f"{self.start.isoformat()}@{self.epoch!r}x{self.factor!r}"

    @classmethod
    def from_spec(cls, spec: str) -> AcceleratedClock:
        try:
            start_s, rest = spec.rsplit("@", 1)
            epoch_s, factor_s = rest.split("x", 1)
            epoch = float(epoch_s)
            if not math.isfinite(epoch):
                raise ValueError(epoch_s)
            return cls(datetime.fromisoformat(start_s), float(factor_s), epoch)
        except (ValueError, OverflowError) as exc:
            raise ServicebenchError(
                f"{CLOCK_ENV}={spec!r} is not a clock spec (START@EPOCHxFACTOR)"
            ) from exc


def clock_from_env() -> Clock:
    """The clock named by ``SERVICEBENCH_CLOCK``, or the system clock."""
    spec = os.environ.get(CLOCK_ENV, "").strip()
    if not spec or spec == "system":
        return SystemClock()
    return AcceleratedClock.from_spec(spec)


def utc_iso(dt: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the one format stored in the database."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


MIN_YEAR, MAX_YEAR = 1970, 2200  # dates outside this range are typing errors


def check_date(dt: datetime, what: str) -> datetime:
    """``dt`` if it lies in a sane range (and converts to UTC), else ValueError naming ``what``.
    Year 9999 plus a window would overflow Python's datetime."""
    try:
        utc = dt.astimezone(UTC) if dt.tzinfo else dt
    except (OverflowError, ValueError):
        raise ValueError(f"{what}: {dt.isoformat()} is out of range") from None
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"{what}: the year {utc.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return dt
