"""A seasonal spc line end to end on a real store, without kernels: each day is judged against
its own weekday's baseline (read through the pipeline's StepHistory), its verdict records the
season, and the chart draws each point against that season's limits; a point whose season (or
new phase) still collects its baseline is drawn without limits."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from builders import chart_rows

from jupyter_dataops import run_checks
from jupyter_dataops.pipeline.execution.context import StepHistory
from jupyter_dataops.pipeline.views.charts import metric_chart

SPEC = "warn: spc row_count: seasonal weekday, baseline 2"


def day_value(day: dt.date, i: int) -> int:
    return (30 if day.weekday() >= 5 else 100) + i % 3  # weekends low, small noise


def test_each_point_is_judged_and_drawn_against_its_weekday(store):
    start = dt.date(2026, 9, 7)  # a Monday; three weeks, then a Tuesday at weekend level
    days = [start + dt.timedelta(d) for d in range(21)]
    values = [day_value(d, i) for i, d in enumerate(days)] + [31]
    days.append(start + dt.timedelta(22))
    results = []
    for day, value in zip(days, values, strict=True):
        pr = store.create_pipeline_run("sales", partition=day.isoformat())
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        hist = StepHistory(store, "load", "sales", str(sr), suite="orders")
        res = run_checks(pl.DataFrame({"x": range(value)}), SPEC, name="orders", history=hist)
        store.record_suite(sr, res)
        store.finish_step_run(sr, "success")
        results.append(res.results[0])
    # the first two of each weekday collect, the third is judged against the first two
    assert [r.status for r in results[:14]] == ["baseline"] * 14
    assert results[0].message == "collecting baseline 0/2 for Mondays"
    assert {r.status for r in results[14:21]} == {"pass"}
    last = results[-1]
    assert last.status == "warn" and last.spc["season"] == "Tuesday"
    tuesdays = [values[1], values[8]]  # its baseline: the first two Tuesdays
    assert last.spc["center"] == pytest.approx(sum(tuesdays) / 2)

    chart = metric_chart(store, "load", "row_count")
    by_day = {p.partition: p for p in chart.points}
    for i, day in enumerate(days[14:], start=14):
        first_two = [values[j] for j in range(i % 7, 14, 7)]
        if i == 21:
            first_two = tuesdays
        p = by_day[day.isoformat()]
        assert p.center == pytest.approx(sum(first_two) / 2), day  # its season's centre
    saturday = by_day[days[19].isoformat()]
    assert saturday.center == pytest.approx(31.0) and saturday.ucl < 40  # (32 + 30) / 2
    assert by_day[days[-1].isoformat()].rules == ["WE1"]


def test_a_point_whose_season_still_collects_is_drawn_without_limits(store):
    # baseline 2 per weekday: two weeks, but the first Friday had no run, so the third week's
    # Friday is still "collecting baseline 1/2 for Fridays" while the other days are judged
    start = dt.date(2026, 9, 7)  # a Monday
    days = [start + dt.timedelta(d) for d in range(21) if d != 4]
    messages = {}
    for i, day in enumerate(days):
        pr = store.create_pipeline_run("sales", partition=day.isoformat())
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        hist = StepHistory(store, "load", "sales", str(sr), suite="orders")
        res = run_checks(
            pl.DataFrame({"x": range(day_value(day, i))}), SPEC, name="orders", history=hist
        )
        store.record_suite(sr, res)
        store.finish_step_run(sr, "success")
        messages[day.isoformat()] = res.results[0].message
    friday = (start + dt.timedelta(18)).isoformat()
    assert messages[friday] == "collecting baseline 1/2 for Fridays"

    chart = metric_chart(store, "load", "row_count")
    assert chart.judged  # the first N runs of the series are long collected
    collecting = [p for p in chart.points if p.check_status == "baseline"]
    assert len(collecting) == 14 and friday in {p.partition for p in collecting}
    for p in collecting:  # neither another season's limits nor the plain first-N ones
        assert (p.center, p.lcl, p.ucl) == (None, None, None), p.partition
        assert p.baseline, p.partition  # one of its season's baseline runs (phase I)
    judged = [p for p in chart.points if p.check_status != "baseline"]
    assert len(judged) == 6 and all(p.center is not None and not p.baseline for p in judged)
    assert friday not in {p.partition for p in judged}

    # the picture: the collecting points look up an entry without limits (no line, no zones)
    spec = chart.spec()
    rows = {row["p"]: row for row in chart_rows(spec)}  # each with its entry's limits
    assert (rows[friday]["c"], rows[friday]["u"], rows[friday]["s"]) == (None, None, None)
    assert rows[days[-1].isoformat()]["c"] is not None
    zones = [lyr for lyr in spec["layer"] if lyr["mark"].get("type") == "area"]
    assert zones and all("isValid(datum.s)" in str(lyr["transform"]) for lyr in zones)


def test_a_point_of_a_new_phase_still_collecting_is_drawn_without_limits(store):
    # a plain line, baseline 2; from the 5th day a new phase (dataops spc rebaseline) at 30
    days = [f"2026-09-{d:02d}" for d in range(1, 9)]
    values = [10, 11, 10, 11, 30, 31, 30, 31]
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        if i == 4:
            store.add_spc_phase("sales", "load", "row_count", from_partition=day, reason="new feed")
        pr = store.create_pipeline_run("sales", partition=day)
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        hist = StepHistory(store, "load", "sales", str(sr), suite="orders")
        spec = "warn: spc row_count: baseline 2"
        res = run_checks(pl.DataFrame({"x": range(value)}), spec, name="orders", history=hist)
        store.record_suite(sr, res)
        store.finish_step_run(sr, "success")
    by_day = {p.partition: p for p in metric_chart(store, "load", "row_count").points}
    # phase I's baseline runs are drawn against the limits they give (10.5)
    assert by_day[days[0]].center == pytest.approx(10.5) and by_day[days[0]].baseline
    for day in days[4:6]:  # collecting phase 2's baseline: not phase 1's limits, none
        p = by_day[day]
        assert p.check_status == "baseline" and (p.center, p.lcl, p.ucl) == (None, None, None)
    for day in days[6:]:  # judged against phase 2's own baseline (30, 31)
        assert by_day[day].center == pytest.approx(30.5) and by_day[day].check_status == "pass"
