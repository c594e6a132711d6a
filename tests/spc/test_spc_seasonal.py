"""Seasonal individuals charts (``spc.seasonal``): one frozen baseline per season, limits computed
as qcc's I chart computes them on that season's points, each point judged against its season."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from jupyter_dataops.errors import SpcError
from jupyter_dataops.spc import control_chart
from jupyter_dataops.spc.seasonal import season_limits, season_of, season_words, seasonal_chart

DATA = Path(__file__).parents[1] / "data" / "spc"


def test_limits_per_season_match_a_hand_computation():
    # weekdays near 100, weekends near 30; baseline 3 per season
    series = [("Mon", 100), ("Sat", 30), ("Mon", 104), ("Sat", 34), ("Mon", 98), ("Sat", 29)]
    limits = season_limits(series, 3)
    # Monday: mean 100.6667, moving ranges |104-100|, |98-104| -> MRbar 5, sigma 5/d2(2), qcc's d2(2) = 1.128
    mon = limits["Mon"]
    sigma = 5.0 / 1.128
    assert mon.center == pytest.approx(302 / 3)
    assert mon.sigma == pytest.approx(sigma, rel=1e-6)
    assert (mon.lcl, mon.ucl) == pytest.approx((302 / 3 - 3 * sigma, 302 / 3 + 3 * sigma))
    sat = limits["Sat"]  # ranges 4, 5 -> MRbar 4.5
    assert sat.center == pytest.approx(31.0)
    assert sat.ucl == pytest.approx(31.0 + 3 * 4.5 / 1.128, rel=1e-6)


def test_a_weekday_at_weekend_level_breaks_its_season_but_not_the_plain_chart():
    rng = np.random.default_rng(7)
    days = [dt.date(2026, 9, 1) + dt.timedelta(d) for d in range(56)]
    values = [float(rng.normal(30 if d.weekday() >= 5 else 100, 2)) for d in days]  # 8 weeks
    monday = dt.date(2026, 10, 26)
    series = [(season_of("weekday", d), v) for d, v in zip(days, values, strict=True)]
    series.append((season_of("weekday", monday), 31.0))
    sc = seasonal_chart(series, 5, rules="qcc")
    assert sc.broken_at(-1) == ["WE1"]
    assert sc.seasons[-1] == "Monday" and sc.judged[-1]
    plain = control_chart([v for _, v in series], "i", phase1=35, rules="qcc")
    assert (len(series) - 1) not in plain.violations["WE1"]  # wide limits hold it
    # no normal day after the baselines is flagged by the seasonal chart
    assert [i for i in sc.violations["WE1"] if i < len(series) - 1] == []


def test_viscosity_split_in_two_seasons_gives_qccs_i_chart_of_each_half():
    rows = list(csv.DictReader((DATA / "viscosity.csv").open()))
    x = [float(r["viscosity"]) for r in rows]
    series = [("odd" if i % 2 else "even", v) for i, v in enumerate(x)]
    sc = seasonal_chart(series, 7, rules="qcc")
    for season, idx in (("even", slice(0, None, 2)), ("odd", slice(1, None, 2))):
        part = x[idx]
        qcc = control_chart(part, "i", phase1=7, rules="qcc")  # qcc 2.7's I chart, phase I = 7
        lim = sc.limits[season]
        assert lim.center == pytest.approx(float(qcc.center[0]))
        assert (lim.lcl, lim.ucl) == pytest.approx((float(qcc.lcl[0]), float(qcc.ucl[0])))
        mine = [i // 2 for i in sc.violations["WE1"] if (i % 2 == 1) == (season == "odd")]
        assert mine == qcc.violations["WE1"]


def test_seasons_still_collecting_are_not_judged():
    sc = seasonal_chart([("Mon", 1.0), ("Tue", 2.0), ("Mon", 1.5), ("Mon", 1.2)], 3)
    assert sc.collecting == {"Tue": 1}
    assert list(sc.judged) == [True, False, True, True]
    assert np.isnan(sc.center[1])


def test_season_names_and_words():
    when = dt.datetime(2026, 12, 7, 6, 30)  # a Monday
    assert season_of("weekday", when) == "Monday"
    assert season_of("month", when) == "December"
    assert season_of("hour", when) == "06"
    assert [season_words(s) for s in ("Monday", "December", "06")] == [
        "Mondays",
        "December",
        "hour 06",
    ]
    with pytest.raises(SpcError, match="unknown season 'week'"):
        season_of("week", when)
    with pytest.raises(SpcError, match="at least 2"):
        season_limits([("a", 1.0)], 1)


def test_a_constant_season_flags_any_other_value():
    sc = seasonal_chart([("a", 5.0), ("a", 5.0), ("a", 5.0), ("a", 6.0)], 3)
    assert sc.broken_at(-1) == ["WE1"]
