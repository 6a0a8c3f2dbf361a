"""Uncertainty: Wilson intervals for shares, Kaplan-Meier curves with Greenwood intervals.

The statistics come from statsmodels (``proportion_confint(method="wilson")`` and
``SurvfuncRight``, whose standard errors are Greenwood's); this module only adapts them to
the shapes the tables and charts use and handles the empty and degenerate cases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05  # 95 % intervals
Z = 1.959963984540054  # standard normal quantile for 95 %
SMALL_SAMPLE = 5  # cells with fewer measured probes are flagged

Curve = list[tuple[float, float]]


def wilson(successes: int, n: int, alpha: float = ALPHA) -> tuple[float | None, float | None]:
    """Wilson score interval for ``successes`` of ``n``; (None, None) when n = 0."""
    if n <= 0:
        return None, None
    low, high = proportion_confint(int(successes), int(n), alpha=alpha, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def wilson_many(k: np.ndarray, n: np.ndarray,
                alpha: float = ALPHA) -> tuple[list[float | None], ...]:
    """Shares k/n with their Wilson intervals, vectorised; None where n = 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n > 0
    safe = np.where(ok, n, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low, high = proportion_confint(np.where(ok, k, 0.0), safe, alpha=alpha,
                                       method="wilson")
    low = np.clip(np.asarray(low, dtype=float), 0.0, 1.0)
    high = np.clip(np.asarray(high, dtype=float), 0.0, 1.0)
    value = [float(a / b) if o else None for a, b, o in zip(k, n, ok, strict=True)]
    return (value, [float(x) if o else None for x, o in zip(low, ok, strict=True)],
            [float(x) if o else None for x, o in zip(high, ok, strict=True)])


@dataclass
class SurvivalCurve:
    """A Kaplan-Meier curve of S(t) = share still without a human reply at t (``times`` in
    seconds, like every duration in the metrics), with pointwise 95 % Greenwood bands
    (log-log transformed, so they stay within 0..1); ``censored_at`` for chart ticks."""

    times: list[float] = field(default_factory=lambda: [0.0])
    survival: list[float] = field(default_factory=lambda: [1.0])
    lower: list[float] = field(default_factory=lambda: [1.0])
    upper: list[float] = field(default_factory=lambda: [1.0])
    n: int = 0
    small_sample: bool = True
    censored_at: list[float] = field(default_factory=list)

    @property
    def steps(self) -> Curve:
        return list(zip(self.times, self.survival, strict=True))


def _fit(durations: Sequence[float], observed: Sequence[bool]) -> SurvfuncRight | None:
    if len(durations) != len(observed):
        raise ValueError("durations and observed differ in length")
    if not durations:
        return None
    t = np.array([max(0.0, float(d)) for d in durations], dtype=float)
    e = np.array([1 if o else 0 for o in observed], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SurvfuncRight(t, e)


def survival(durations: Sequence[float], observed: Sequence[bool]) -> SurvivalCurve:
    """Kaplan-Meier estimate with Greenwood bands (see :func:`kaplan_meier` for the rules)."""
    sf = _fit(durations, observed)
    n = len(durations)
    cens = sorted(float(d) for d, o in zip(durations, observed, strict=True) if not o)
    if sf is None:
        return SurvivalCurve(n=0, small_sample=True)
    times, surv, low, up = [0.0], [1.0], [1.0], [1.0]
    for t, s, se in zip(sf.surv_times, sf.surv_prob, sf.surv_prob_se, strict=True):
        lo, hi = _loglog_band(float(s), float(se))
        if float(t) == 0.0:
            times[0], surv[0], low[0], up[0] = 0.0, float(s), lo, hi
            continue
        times.append(float(t))
        surv.append(float(s))
        low.append(lo)
        up.append(hi)
    last = max(float(d) for d in durations)
    if last > times[-1]:
        times.append(max(0.0, last))
        surv.append(surv[-1])
        low.append(low[-1])
        up.append(up[-1])
    return SurvivalCurve(times, surv, low, up, n, n < SMALL_SAMPLE, cens)


def _loglog_band(s: float, se: float) -> tuple[float, float]:
    """95 % band for S from its Greenwood standard error, on the log(-log S) scale."""
    if s <= 0.0 or s >= 1.0 or not math.isfinite(se) or se <= 0:
        return s, s
    theta = se / (s * abs(math.log(s)))
    return s ** math.exp(Z * theta), s ** math.exp(-Z * theta)


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> Curve:
    """Kaplan-Meier estimate of S(t), the share of probes still without a reply at t.

    Censoring rule: a probe without a human reply is neither counted as answered at zero
    nor dropped; it is known only to have had no reply until its window ended (or until
    the cut-off, while the window is still open) and stays among the probes at risk until
    then. At each reply time t the estimate is multiplied by (1 - replies at t / probes at
    risk at t) (statsmodels' SurvfuncRight). The median is the first time the estimated
    share answered reaches 50 % ("not reached" when it never does); its 95 % interval and
    the bands on the curves come from Greenwood's variance.

    Returns step points ``(t, S)``: ``(0, 1)``, one point per distinct event time, and a
    last point at the longest follow-up when that is a censoring after the last event.
    S(t) is the value of the last point at or before t. At tied times events are counted
    before censorings (the censored probes are still at risk then).
    """
    return survival(durations, observed).steps


def km_survival(curve: Curve, t: float) -> float:
    """S(t) read off a curve (right-continuous steps)."""
    s = 1.0
    for time, value in curve:
        if time > t:
            break
        s = value
    return s


def km_quantile(curve: Curve, q: float) -> float | None:
    """Smallest t with 1 - S(t) >= q (q=0.5: median time to reply); None if not reached."""
    for t, s in curve:
        if 1.0 - s >= q - 1e-12:
            return t
    return None


def km_share_within(curve: Curve, seconds: float) -> float | None:
    """1 - S(seconds); None when no probe was followed that long and replies may still be
    missing (the curve ends, censored, before ``seconds``)."""
    if not curve:
        return None
    last_t, last_s = curve[-1]
    if seconds > last_t and last_s > 0:
        return None
    return 1.0 - km_survival(curve, seconds)


def km_median_ci(durations: Sequence[float],
                 observed: Sequence[bool]) -> tuple[float | None, float | None]:
    """95 % interval of the Kaplan-Meier median (Brookmeyer-Crowley with Greenwood's
    variance, log-log transform, as statsmodels computes it); None where unbounded."""
    sf = _fit(durations, observed)
    if sf is None or not any(observed):
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            low, high = sf.quantile_ci(0.5, alpha=ALPHA, method="cloglog")
        except (ValueError, ZeroDivisionError, IndexError):
            return None, None
    return _finite(low), _finite(high)


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
