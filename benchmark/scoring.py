"""The overall index: per-inquiry criteria, weights from ``scoring:``, grades, bootstrap.

Scoring rule: every inquiry with a decided outcome (answered or not answered; pending,
failed, blocked and bounced inquiries are left out) is scored as a customer experienced it,
on four criteria between 0 and 1: reachability (1 if a person answered), speed (the score of
the time to the first human reply from the speed bands, or 0.5 ** (time / half-life)),
quality (share of the scenario's checklist the first human reply covers) and personal tone
(the reply greets the customer by name). An inquiry without an answer scores 0 on every
criterion. A criterion that does not apply (quality when the scenario has no checklist, tone
on a phone call, chat or visit the tester did not rate) is left out, not counted as 0. The
sub-scores of a company on a channel are the means over its inquiries (0-100), and its index
on that channel is the weighted mean of the sub-scores that apply. The overall index of a
company is the weighted mean of its channel indices over the channels it was tested on: the
channel weights are renormalised to those channels, so a company is never marked down for a
channel it was not tested on.

Interval rule: the 95 % intervals of the index and of the rank come from a seeded bootstrap:
the inquiries of each company and channel are resampled with replacement, all indices and
ranks recomputed, and the 2.5 % and 97.5 % points of the replicates taken. Resampling cannot
show the uncertainty of a handful of results, so for a cell with fewer than five inquiries
(marked as a small sample), or whose inquiries all scored alike, the interval is widened to
the Wilson interval of index/100 as a share of its inquiries (conservative: a score between 0
and 1 varies at most as much as a yes/no answer); a company's overall interval then also
covers the Wilson interval with the effective number of inquiries of its weighted mean. The
rank range covers the bootstrap's range and every rank the overlapping index intervals
allow. Companies whose index intervals overlap are not called better or worse than each
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .intervals import SMALL_SAMPLE, wilson_many
from .study import Study, parse_duration

CRITERIA = ("reachability", "speed", "quality", "tone")
DEFAULT_CRITERIA = {"reachability": 40.0, "speed": 30.0, "quality": 20.0, "tone": 10.0}
HOUR = 3600.0


@dataclass(frozen=True)
class Band:
    within_seconds: float
    score: float  # 0-100


@dataclass(frozen=True)
class Grade:
    min: float
    de: str
    en: str

    def label(self, language: str) -> str:
        return self.de if language == "de" else self.en


DEFAULT_BANDS = (Band(1 * HOUR, 100), Band(4 * HOUR, 85), Band(24 * HOUR, 70),
                 Band(72 * HOUR, 40))
DEFAULT_GRADES = (Grade(85, "sehr gut", "very good"), Grade(70, "gut", "good"),
                  Grade(55, "befriedigend", "satisfactory"),
                  Grade(40, "ausreichend", "adequate"), Grade(0, "mangelhaft", "poor"))


@dataclass
class Scoring:
    """The study's ``scoring:`` section with defaults filled in."""

    channel_weights: dict[str, float] | None = None  # None: every channel weight 1
    criteria: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CRITERIA))
    bands: tuple[Band, ...] = DEFAULT_BANDS
    beyond_bands: float = 10.0  # score of an answer later than the last band
    half_life: float | None = None  # seconds; replaces the bands when set
    grades: tuple[Grade, ...] = DEFAULT_GRADES
    samples: int = 1000
    seed: int = 20260301
    explicit: bool = False  # whether the study set the section

    def channel_weight(self, channel: str) -> float:
        if self.channel_weights is None:
            return 1.0
        return float(self.channel_weights.get(channel, 0.0))

    def speed(self, seconds: float) -> float:
        """The speed criterion (0-1) of an answer after ``seconds``."""
        if self.half_life:
            return float(0.5 ** (max(0.0, seconds) / self.half_life))
        for band in self.bands:
            if seconds <= band.within_seconds:
                return band.score / 100.0
        return self.beyond_bands / 100.0

    def grade(self, index: float | None, language: str) -> str | None:
        if index is None:
            return None
        for g in self.grades:
            if index >= g.min - 1e-9:
                return g.label(language)
        return self.grades[-1].label(language) if self.grades else None


def scoring_config(study: Study) -> Scoring:
    """The ``scoring:`` section of a study (already schema-validated), defaults when absent."""
    raw: dict[str, Any] = dict(study.settings.get("scoring") or {})
    cfg = Scoring(explicit=bool(raw))
    if "channels" in raw:
        cfg.channel_weights = {str(k): float(v) for k, v in raw["channels"].items()}
    if "criteria" in raw:
        cfg.criteria = {c: float(raw["criteria"].get(c, 0.0)) for c in CRITERIA}
    speed = raw.get("speed") or {}
    if "bands" in speed:
        cfg.bands = tuple(sorted((Band(parse_duration(b["within"]).total_seconds(),
                                       float(b["score"])) for b in speed["bands"]),
                                 key=lambda b: b.within_seconds))
    if "later" in speed:
        cfg.beyond_bands = float(speed["later"])
    if "half_life" in speed:
        cfg.half_life = parse_duration(speed["half_life"]).total_seconds()
    if "grades" in raw:
        cfg.grades = tuple(sorted(
            (Grade(float(g["min"]), g.get("de") or g.get("label") or g.get("en", ""),
                   g.get("en") or g.get("label") or g.get("de", "")) for g in raw["grades"]),
            key=lambda g: -g.min))
    boot = raw.get("bootstrap") or {}
    cfg.samples = int(boot.get("samples", cfg.samples))
    cfg.seed = int(boot.get("seed", cfg.seed))
    return cfg


def with_human_quality(outcomes: pd.DataFrame, study: Study, store: Any,
                       now: Any) -> pd.DataFrame:
    """``outcomes`` plus ``quality_rating``: the quality people gave a reply (servicebench
    rate: adjudicated, else the raters' mean, 0-1) where it exists; the quality criterion
    then uses it instead of checklist coverage. Reads nothing more when nobody rated yet."""
    try:
        rated = store.one("SELECT 1 FROM ratings WHERE current = 1 LIMIT 1") or store.one(
            "SELECT 1 FROM adjudications LIMIT 1")
    except Exception:  # noqa: BLE001  (a store without the rating tables)
        rated = None
    out = outcomes.copy()
    out["quality_rating"] = None
    if not rated or outcomes.empty:
        return out
    from .rating.quality import quality_scores

    q = quality_scores(study, store, now, outcomes)
    human = q[q["quality_source"].isin(["raters", "adjudicated"])]
    ratings = dict(zip(human["probe_id"].astype(int), human["quality"].astype(float),
                       strict=True))
    out["quality_rating"] = [ratings.get(int(p)) for p in out["probe_id"]]
    return out


# -- per-inquiry criteria -------------------------------------------------------------------
class Rows:
    """Some rows of a frame as numpy columns, each column sliced on first use: a group of a
    few inquiries is read much faster than as its own DataFrame (the scale of issue 12).
    ``rows["col"]`` is a column's array, ``rows[mask]`` the rows where ``mask`` is true."""

    def __init__(self, columns: dict[str, np.ndarray], positions: np.ndarray) -> None:
        self._columns = columns
        self._positions = positions
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def groups(cls, frame: pd.DataFrame, keys: list[str]) -> list[tuple[Any, Rows]]:
        """(key, rows) per group in the order of ``frame.groupby(keys, sort=True)``; a key is
        a tuple for several key columns, else the value."""
        columns = {c: frame[c].to_numpy() for c in frame.columns}
        indices = frame.groupby(keys, sort=True).indices
        out = []
        for key, pos in indices.items():
            if len(keys) == 1 and isinstance(key, tuple):
                key = key[0]
            out.append((key, cls(columns, np.asarray(pos))))
        out.sort(key=lambda kv: kv[0])
        return out

    def __getitem__(self, item: str | np.ndarray) -> Any:
        if isinstance(item, str):
            col = self._cache.get(item)
            if col is None:
                col = self._cache[item] = self._columns[item][self._positions]
            return col
        return Rows(self._columns, self._positions[np.asarray(item, dtype=bool)])

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)


def _numbers(values: Any) -> np.ndarray:
    return np.asarray(pd.to_numeric(np.asarray(values), errors="coerce"), dtype=float)


def criteria_matrix(measured: pd.DataFrame | Rows, cfg: Scoring) -> np.ndarray:
    """One row per measured inquiry, one column per criterion (0-1, NaN = does not apply).
    A ``quality_rating`` column (0-1, e.g. from human ratings) replaces checklist coverage
    where it has a value."""
    answered = np.asarray(measured["outcome"]) == "answered"
    secs = np.asarray(measured["seconds_to_first_human_reply"])
    reach = answered.astype(float)
    speed = np.array([cfg.speed(float(t)) if a and t is not None and t == t else 0.0
                      for a, t in zip(answered, secs, strict=True)], dtype=float)
    cov = _numbers(measured["checklist_coverage"])
    has_facts = np.nan_to_num(_numbers(measured["n_facts"])) > 0
    quality = np.where(has_facts, np.where(answered, np.nan_to_num(cov), 0.0), np.nan)
    if "quality_rating" in measured.columns:
        rating = _numbers(measured["quality_rating"])
        quality = np.where(np.isnan(rating), quality, rating)
    applies = np.asarray(measured["greeting_applies"]).astype(bool)
    sal = np.array([v is True or v == True for v in measured["personal_salutation"]],  # noqa: E712
                   dtype=float)
    tone = np.where(applies, np.where(answered, sal, 0.0), np.nan)
    return np.column_stack([reach, speed, quality, tone]).reshape(len(measured), len(CRITERIA))


def _weights(cfg: Scoring) -> np.ndarray:
    return np.array([cfg.criteria.get(c, 0.0) for c in CRITERIA], dtype=float)


def index_from_means(means: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean (0-100) of criterion means (last axis), leaving out NaN criteria."""
    use = ~np.isnan(means) & (w > 0)
    total = np.where(use, w, 0.0).sum(axis=-1)
    value = np.where(use, np.nan_to_num(means) * w, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * value / np.where(total > 0, total, 1.0), np.nan)


def _col_means(x: np.ndarray, axis: int) -> np.ndarray:
    """nanmean without the all-NaN warning."""
    count = (~np.isnan(x)).sum(axis=axis)
    total = np.nansum(x, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


# -- cells, companies, bootstrap ------------------------------------------------------------
@dataclass
class CellScore:
    index: float | None
    subscores: dict[str, float | None]
    replicates: np.ndarray  # bootstrap indices (NaN when the cell has no measured inquiry)
    n: int = 0
    low: float | None = None  # the 95 % interval (see the interval rule)
    high: float | None = None
    widened: bool = False  # small or uniform sample: the Wilson bound was used


def _cell_interval(point: float, reps: np.ndarray, n: int) -> tuple[float, float, bool]:
    """Bootstrap percentile interval; for fewer than 5 inquiries, or when every resample
    gives the same index (all inquiries scored alike), widened to the Wilson interval of
    index/100 as a share of n (a score between 0 and 1 varies at most as much as a yes/no
    answer), because resampling a handful of identical results shows no uncertainty."""
    low, high = interval(reps)
    assert low is not None and high is not None
    if n >= SMALL_SAMPLE and high - low > 1e-9:
        return low, high, False
    _, wl, wh = wilson_many(np.array([n * point / 100.0]), np.array([float(n)]))
    return min(low, 100.0 * wl[0]), max(high, 100.0 * wh[0]), True  # type: ignore[operator]


def score_cells(cells: Sequence[tuple[Any, pd.DataFrame | Rows]],
                cfg: Scoring) -> dict[Any, CellScore]:
    """Index, sub-scores and bootstrap replicates per cell (key, outcomes of that cell).

    The random generator is seeded from ``cfg.seed`` and cells are drawn in the given order,
    so the same data and order give the same intervals."""
    rng = np.random.default_rng(cfg.seed)
    w = _weights(cfg)
    out: dict[Any, CellScore] = {}
    for key, group in cells:
        outcome = np.asarray(group["outcome"])
        x = criteria_matrix(group[(outcome == "answered") | (outcome == "not_answered")], cfg)
        if len(x) == 0:
            out[key] = CellScore(None, {c: None for c in CRITERIA},
                                 np.full(cfg.samples, np.nan))
            continue
        means = _col_means(x, 0)
        point = float(index_from_means(means, w))
        # a resample = how often each inquiry is drawn (multinomial counts), so the resampled
        # criterion means are two matrix products instead of a samples x n x 4 array
        counts = rng.multinomial(len(x), np.full(len(x), 1.0 / len(x)), size=cfg.samples)
        present = ~np.isnan(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_means = (counts @ np.where(present, x, 0.0)) / (counts @ present)
        reps = index_from_means(boot_means, w)
        subs = {c: None if np.isnan(m) else 100.0 * float(m)
                for c, m in zip(CRITERIA, means, strict=True)}
        if np.isnan(point):
            out[key] = CellScore(None, subs, reps, len(x))
            continue
        low, high, widened = _cell_interval(point, reps, len(x))
        out[key] = CellScore(point, subs, reps, len(x), low, high, widened)
    return out


def combine_channels(cells: dict[str, CellScore], cfg: Scoring) -> CellScore:
    """A company's overall index from its channel cells: weights renormalised over the
    channels with an index and a positive weight. The interval is the bootstrap's; when a
    channel's interval was widened (small sample) it also covers the Wilson interval with
    Kish's effective number of inquiries, (sum of weights)^2 / sum(weight^2 / n).
    ``subscores`` holds the channels used as keys."""
    used = [ch for ch, c in sorted(cells.items())
            if c.index is not None and cfg.channel_weight(ch) > 0]
    if not used:
        return CellScore(None, {}, np.full(cfg.samples, np.nan))
    w = np.array([cfg.channel_weight(ch) for ch in used])
    point = float(sum(wi * cells[ch].index for wi, ch in zip(w, used, strict=True)) / w.sum())
    reps = np.stack([cells[ch].replicates for ch in used], axis=1)
    reps = np.nansum(reps * w, axis=1) / w.sum()
    low, high = interval(reps)
    widened = any(cells[ch].widened for ch in used)
    if widened and low is not None and high is not None:
        # Kish's effective number of inquiries of a weighted mean of channel means
        n_eff = float(w.sum() ** 2 / sum(wi ** 2 / cells[ch].n
                                        for wi, ch in zip(w, used, strict=True)))
        _, wl, wh = wilson_many(np.array([n_eff * point / 100.0]), np.array([n_eff]))
        low, high = min(low, 100.0 * wl[0]), max(high, 100.0 * wh[0])  # type: ignore[operator]
    return CellScore(point, {ch: None for ch in used}, reps,
                     sum(cells[ch].n for ch in used), low, high, widened)


def interval(reps: np.ndarray) -> tuple[float | None, float | None]:
    """The 2.5 % and 97.5 % points of bootstrap replicates."""
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return None, None
    low, high = np.percentile(reps, [2.5, 97.5])
    return float(low), float(high)


def competition_ranks(values: Sequence[float | None]) -> list[int | None]:
    """1, 1, 3 ... by value, higher first (values rounded to 0.01); None stays unranked."""
    keys = [None if v is None or v != v else round(float(v), 2) for v in values]
    return [None if k is None else 1 + sum(1 for o in keys if o is not None and o > k)
            for k in keys]


def rank_ranges(points: Sequence[float | None], reps: Sequence[np.ndarray],
                intervals: Sequence[tuple[float | None, float | None]] | None = None,
                ) -> list[tuple[int | None, int | None, int | None]]:
    """(rank, best, worst) per entry: the point rank; the range covers the 95 % range of the
    bootstrap ranks (2.5 % and 97.5 % points) and, given ``intervals``, every rank the index
    intervals allow (best: 1 + entries whose interval lies wholly above; worst: 1 + other
    entries whose interval reaches this one's lower end), so a rank range never claims an
    order the intervals do not support."""
    ranks = competition_ranks(points)
    idx = [i for i, r in enumerate(ranks) if r is not None]
    out: list[tuple[int | None, int | None, int | None]] = [(None, None, None)] * len(points)
    if not idx:
        return out
    mat = np.stack([np.round(reps[i], 2) for i in idx], axis=1)  # samples x entries
    mat = np.where(np.isnan(mat), -np.inf, mat)
    ordered = np.sort(mat, axis=1)
    boot_ranks = np.empty(mat.shape, dtype=int)
    for s in range(mat.shape[0]):  # rank = 1 + number of entries with a higher index
        boot_ranks[s] = 1 + mat.shape[1] - np.searchsorted(ordered[s], mat[s], side="right")
    for j, i in enumerate(idx):
        col = boot_ranks[:, j]
        best = int(np.percentile(col, 2.5, method="lower"))
        worst = int(np.percentile(col, 97.5, method="higher"))
        r = ranks[i]
        assert r is not None
        if intervals is not None and None not in intervals[i]:
            lo, hi = intervals[i]
            others = [intervals[k] for k in idx if k != i and None not in intervals[k]]
            best = min(best, 1 + sum(1 for o in others if o[0] > hi))  # type: ignore[operator]
            worst = max(worst, 1 + sum(1 for o in others if o[1] >= lo))  # type: ignore[operator]
        out[i] = (r, min(best, r), max(worst, r))
    return out


def overlaps(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> bool:
    """Whether two intervals overlap (an unknown interval overlaps everything)."""
    if None in a or None in b:
        return True
    return not (a[0] > b[1] or b[0] > a[1])  # type: ignore[operator]


def comparison(a: dict[str, Any], b: dict[str, Any]) -> str:
    """``better``, ``worse`` or ``indistinguishable`` for two table rows by their index
    intervals: only non-overlapping intervals allow calling one better."""
    ia = (a.get("index_ci_low"), a.get("index_ci_high"))
    ib = (b.get("index_ci_low"), b.get("index_ci_high"))
    if a.get("index") is None or b.get("index") is None or overlaps(ia, ib):
        return "indistinguishable"
    return "better" if a["index"] > b["index"] else "worse"
