"""Seasonal individuals charts: one centre and one pair of limits per season.

Daily business data has a weekly rhythm: one I chart over all days gets limits wide enough to
hold both weekdays and weekends, and misses a Monday that arrives at weekend level. A seasonal
chart keeps one frozen baseline per season (each weekday, month or hour of the day): the first
``baseline`` points of that season give its centre and sigma exactly as qcc 2.7's I chart does
(centre = mean, sigma = MR̄/d2(2), the moving ranges taken between consecutive points of the same
season), and each point is judged against its own season's limits. Run rules read the points as
distances from their season's centre in their season's sigmas, so a run of low Mondays, Tuesdays
and Wednesdays is one run.

Pure: takes ``(season, value)`` pairs (the caller knows each run's date; ``season_of`` names its
season) and returns numbers. Imports nothing beyond numpy and this package.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from jupyter_dataops.errors import SpcError

from . import rules as _rules
from .charts import DEFAULT_RULES, individuals_sigma

#: what a season can be: the day of the week, the month of the year, the hour of the day
SEASONS: tuple[str, ...] = ("weekday", "month", "hour")


def season_of(kind: str, when: dt.date | dt.datetime) -> str:
    """The season of a moment: ``Monday``..``Sunday``, ``January``..``December`` or ``00``..``23``
    (an hour needs a datetime; a date is its midnight)."""
    if kind == "weekday":
        return calendar.day_name[when.weekday()]
    if kind == "month":
        return calendar.month_name[when.month]
    if kind == "hour":
        return f"{when.hour:02d}" if isinstance(when, dt.datetime) else "00"
    raise SpcError(f"unknown season {kind!r}; use one of {', '.join(SEASONS)}")


def season_words(season: str) -> str:
    """A season in a sentence: ``Mondays``, ``January``, ``hour 07``."""
    if season in calendar.day_name:
        return season + "s"
    if season.isdigit():
        return f"hour {season}"
    return season


@dataclass(frozen=True)
class SeasonLimits:
    """One season's frozen baseline: centre, sigma and limits of its I chart."""

    season: str
    center: float
    sigma: float
    lcl: float
    ucl: float
    points: int  # the baseline's size


@dataclass
class SeasonalChart:
    """Every point judged against its season's limits (NaN while its season collects).

    ``judged[i]``: the point's season had its baseline; ``violations``: rule -> indices of the
    judged points that broke it (indices into the whole series); ``collecting``: season ->
    points it has so far, for the seasons still collecting.
    """

    seasons: list[str]
    values: np.ndarray
    center: np.ndarray
    sigma: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    judged: np.ndarray
    limits: dict[str, SeasonLimits]
    baseline: int
    rules: list[str] = field(default_factory=list)
    violations: dict[str, list[int]] = field(default_factory=dict)
    collecting: dict[str, int] = field(default_factory=dict)

    def broken_at(self, index: int) -> list[str]:
        """The rules the point at ``index`` broke (negative indices count from the end)."""
        i = index % len(self.values)
        return [r for r, idx in self.violations.items() if i in idx]


def season_limits(
    series: Iterable[tuple[str, float]], baseline: int, nsigmas: float = 3
) -> dict[str, SeasonLimits]:
    """Centre and limits of each season with at least ``baseline`` points: its first
    ``baseline`` values, as qcc's I chart with ``phase1 = baseline`` computes them."""
    if baseline < 2:
        raise SpcError(f"a seasonal baseline needs at least 2 points per season, not {baseline}")
    by_season: dict[str, list[float]] = {}
    for season, value in series:
        by_season.setdefault(season, []).append(float(value))
    out: dict[str, SeasonLimits] = {}
    for season, values in by_season.items():
        if len(values) < baseline:
            continue
        base = np.asarray(values[:baseline], dtype=np.float64)
        center = float(base.mean())
        sigma = individuals_sigma(base, "mr")
        out[season] = SeasonLimits(
            season, center, sigma, center - nsigmas * sigma, center + nsigmas * sigma, baseline
        )
    return out


def seasonal_chart(
    series: Sequence[tuple[str, float]],
    baseline: int,
    *,
    rules: str | Iterable[str] | None = DEFAULT_RULES,
    nsigmas: float = 3,
) -> SeasonalChart:
    """Judge each ``(season, value)`` point (oldest first) against its season's limits.

    Rules run over the judged points only, in order, on their distances from their season's
    centre; a season whose sigma is 0 (constant baseline) flags any other value as beyond limits.
    """
    seasons = [str(s) for s, _ in series]
    values = np.asarray([float(v) for _, v in series], dtype=np.float64)
    limits = season_limits(series, baseline, nsigmas)
    n = values.size
    center = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    for i, s in enumerate(seasons):
        if s in limits:
            center[i], sigma[i] = limits[s].center, limits[s].sigma
    judged = ~np.isnan(center)
    lcl, ucl = center - nsigmas * sigma, center + nsigmas * sigma
    counts: dict[str, int] = {}
    for s in seasons:
        counts[s] = counts.get(s, 0) + 1
    collecting = {s: k for s, k in counts.items() if s not in limits}
    rule_names = _rules.expand(rules)
    violations: dict[str, list[int]] = {r: [] for r in rule_names}
    idx = np.flatnonzero(judged)
    if idx.size:
        x, c, se = values[idx], center[idx], sigma[idx]
        # standardised distances: a constant season (sigma 0) is judged by equality alone
        z = np.zeros(idx.size)
        ok = se > 0
        z[ok] = (x[ok] - c[ok]) / se[ok]
        off = ~ok & (x != c)
        z[off] = np.copysign(1e12, x[off] - c[off])  # beyond any limit, finite for the rules
        found = _rules.evaluate(z, 0.0, 1.0, rule_names, lcl=-nsigmas, ucl=nsigmas)
        violations = {r: [int(idx[j]) for j in found.get(r, [])] for r in rule_names}
    return SeasonalChart(
        seasons=seasons,
        values=values,
        center=center,
        sigma=sigma,
        lcl=lcl,
        ucl=ucl,
        judged=judged,
        limits=limits,
        baseline=baseline,
        rules=rule_names,
        violations=violations,
        collecting=collecting,
    )
