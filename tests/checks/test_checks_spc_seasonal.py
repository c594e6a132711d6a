"""``spc METRIC: seasonal weekday|month|hour[, baseline N]`` lines: parse errors at the season's
position, and each run judged against its own season's limits (with the season and the phase
recorded in the verdict)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from jupyter_dataops import parse_spec, run_checks
from jupyter_dataops.errors import DataOpsSyntaxError


class DatedHistory:
    """A history provider with dates, as the pipeline's StepHistory offers one."""

    def __init__(self, points, now, phase=None):
        self.points, self.now, self._phase = points, now, phase

    def __call__(self, key):
        return [v for _, v in self.points]

    def seasonal(self, key):
        return self.points, self.now

    def phase(self, key):
        return self._phase


def weeks(n: int) -> list[tuple[dt.date, float]]:
    start = dt.date(2026, 9, 7)  # a Monday
    out = []
    for d in range(7 * n):
        day = start + dt.timedelta(d)
        base = 30.0 if day.weekday() >= 5 else 100.0
        out.append((day, base + (d % 3) - 1))  # -1, 0, +1: small day-to-day noise
    return out


def frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"x": list(range(rows))})


def test_a_monday_at_weekend_level_fails_its_season_and_records_it():
    spec = "fail: spc row_count: seasonal weekday, baseline 4"
    hist = DatedHistory(weeks(5), dt.date(2026, 10, 12), {"phase": 2, "reason": "new source"})
    res = run_checks(frame(31), spec, history=hist).results[0]
    assert res.status == "fail"
    assert "Mondays: limits" in res.message and "WE1" in res.message
    assert res.spc["season"] == "Monday" and res.spc["seasonal"] == "weekday"
    assert res.spc["phase"] == 2 and res.spc["phase_reason"] == "new source"
    # the Monday baseline: 99, 101, 100, 99 (first 4 Mondays) -> centre 99.75
    assert res.spc["center"] == pytest.approx(99.75)
    ok = run_checks(frame(100), spec, history=hist).results[0]
    assert ok.status == "pass" and "in control" in ok.message
    sat = DatedHistory(weeks(5), dt.date(2026, 10, 10))
    assert run_checks(frame(31), spec, history=sat).results[0].status == "pass"


def test_a_season_still_collecting_says_so():
    hist = DatedHistory(weeks(2), dt.date(2026, 9, 21))
    res = run_checks(frame(5), "spc row_count: seasonal weekday, baseline 5", history=hist)
    (r,) = res.results
    assert r.status == "baseline"
    assert r.message == "collecting baseline 2/5 for Mondays"


def test_a_plain_history_cannot_date_its_points():
    res = run_checks(frame(5), "spc row_count: seasonal month", history=lambda key: [1.0, 2.0])
    assert res.results[0].status == "baseline"
    assert "collecting baseline 0/20 per month" in res.results[0].message


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("spc row_count: seasonal weekdy", 25, "did you mean 'weekday'?"),
        ("spc row_count: baseline 5, seasonal hours", 37, "did you mean 'hour'?"),
        ("spc row_count: chart ewma, seasonal month", 28, "seasonal limits work with chart i"),
        ("spc row_count: seasonal hour, baseline 4 rolling", 16, "drop 'rolling'"),
    ],
)
def test_a_wrong_season_is_a_parse_error_at_its_position(text, column, words):
    with pytest.raises(DataOpsSyntaxError) as info:
        parse_spec(text)
    assert info.value.column == column
    assert words in str(info.value)


def test_the_season_is_part_of_the_line_text():
    (cs,) = parse_spec("spc row_count: seasonal weekday, baseline 5").checks
    assert cs.spc.seasonal == "weekday" and cs.spc.baseline == 5
    assert cs.threshold_text == "chart i, rules qcc, seasonal weekday, baseline 5"
