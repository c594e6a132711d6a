"""A seasonal spc line end to end on a real store, without kernels: each day is judged against
its own weekday's baseline (read through the pipeline's StepHistory), its verdict records the
season, and the chart draws each point against that season's limits; a point whose season (or
new phase) still collects its baseline is drawn without limits, and its tooltip's phase says it
collects (not II, though it comes after the phase II marker). Such a point was not judged: its
status (the legend's colour) and its "rules broken" say it collects its baseline, in grey, not
"in control" in blue, while the points judged after the new baseline say "in control" or their
rule. What the viewer shows is computed by evaluating the spec's own expressions (node)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from builders import chart_rows

from jupyter_dataops import run_checks
from jupyter_dataops.pipeline.execution.context import StepHistory
from jupyter_dataops.pipeline.views.chart_spec import (
    COLLECTING,
    COLLECTING_COLOUR,
    IN_CONTROL,
    NOT_JUDGED,
)
from jupyter_dataops.pipeline.views.charts import VEGALITE_V5, metric_chart
from jupyter_dataops.widgets.chart import MetricChartWidget

SPEC = "warn: spc row_count: seasonal weekday, baseline 2"
VEGA_LITE_SCHEMA = Path(__file__).parents[2] / "data" / "spc" / "vega-lite-v5.schema.json.gz"


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

    # the tooltip's phase, in the answer the panel, the widget and %dataops_chart share: the
    # Friday after the phase II marker is collecting, the judged days are phase II, the other
    # collecting days (before the marker) phase I
    answer = chart.to_dict(points=False)
    marker = phase2_marker(answer["spec"])
    rows = chart_rows(answer["spec"])
    phase = dict(zip([r["p"] for r in rows], phases(answer["spec"], rows), strict=True))
    x = {r["p"]: r["x"] for r in rows}
    assert x[friday] > marker and phase[friday] == COLLECTING
    assert {phase[p.partition] for p in judged} == {"II"}
    assert all(x[p.partition] < marker for p in collecting if p.partition != friday)
    assert {phase[p.partition] for p in collecting if p.partition != friday} == {"I"}
    # none of the collecting days was judged (no limits), before the marker or after: grey,
    # "collecting baseline"; the judged days in control (blue) or the rule their verdict broke
    shown = {r["p"]: r for r in viewed(answer["spec"], rows)}
    assert {shown[p.partition]["status"] for p in collecting} == {COLLECTING}
    assert {shown[p.partition]["rules"] for p in collecting} == {NOT_JUDGED}
    for p in judged:
        assert shown[p.partition]["status"] == (p.rules[0] if p.rules else IN_CONTROL)
    assert IN_CONTROL in {shown[p.partition]["status"] for p in judged}
    legend = colours(answer["spec"])
    assert list(legend)[:2] == [IN_CONTROL, COLLECTING] and legend[COLLECTING] == COLLECTING_COLOUR
    assert len(set(legend.values())) == len(legend)


def phase2_marker(spec: dict) -> float:
    """Where the spec draws its phase II marker."""
    (x,) = {
        v["x"]
        for layer in spec["layer"]
        for v in layer.get("data", {}).get("values", [])
        if v.get("label") == "phase II \u2192"
    }
    return x


def phases(spec: dict, rows: list[dict]) -> list[str]:
    """Each row's phase as the viewer computes it (``viewed``)."""
    return [row["phase"] for row in viewed(spec, rows)]


def viewed(spec: dict, rows: list[dict]) -> list[dict]:
    """The rows as the viewer makes them: the spec's own ``calculate`` steps after its last
    lookup (status, rules broken, phase), evaluated in order by a JavaScript engine (node:
    Vega's expressions are JavaScript's) on the rows with their looked-up fields
    (``chart_rows``), each step reading what the ones before it wrote."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to evaluate the chart spec's expressions (CI installs it)")
    steps = spec["transform"]
    last = max(i for i, t in enumerate(steps) if "lookup" in t)
    after = [t for t in steps[last + 1 :] if "calculate" in t]
    assert [t["as"] for t in after][-1] == "phase" and len(after) == len(steps) - last - 1
    body = "".join(f"datum[{json.dumps(t['as'])}] = ({t['calculate']});" for t in after)
    script = (
        "const MAX_VALUE = Number.MAX_VALUE;"
        "const rows = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        f"rows.forEach((datum) => {{ {body} }});"
        "process.stdout.write(JSON.stringify(rows));"
    )
    done = subprocess.run(
        [node, "-e", script], input=json.dumps(rows), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def colours(spec: dict) -> dict[str, str]:
    """The points' colour scale (status -> colour), the legend's entries in its order."""
    (scale,) = [
        lyr["encoding"]["color"]["scale"]
        for lyr in spec["layer"]
        if lyr.get("encoding", {}).get("color", {}).get("field") == "status"
    ]
    assert len(scale["domain"]) == len(scale["range"])
    return dict(zip(scale["domain"], scale["range"], strict=True))


def record_new_phase(store, line: str, *, values=(10, 11, 10, 11, 30, 31, 30, 31)) -> list[str]:
    """A day per value under ``line`` (baseline 2); from the 5th a new phase (dataops spc
    rebaseline), at 30 by default. Returns the days."""
    days = [f"2026-09-{d:02d}" for d in range(1, len(values) + 1)]
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        if i == 4:
            store.add_spc_phase("sales", "load", "row_count", from_partition=day, reason="new feed")
        pr = store.create_pipeline_run("sales", partition=day)
        sr = store.create_step_run(pr, "load")
        store.start_step_run(sr)
        hist = StepHistory(store, "load", "sales", str(sr), suite="orders")
        res = run_checks(pl.DataFrame({"x": range(value)}), line, name="orders", history=hist)
        store.record_suite(sr, res)
        store.finish_step_run(sr, "success")
    return days


def test_a_point_of_a_new_phase_still_collecting_is_drawn_without_limits(store):
    days = record_new_phase(store, "warn: spc row_count: baseline 2")
    chart = metric_chart(store, "load", "row_count")
    by_day = {p.partition: p for p in chart.points}
    # phase I's baseline runs are drawn against the limits they give (10.5)
    assert by_day[days[0]].center == pytest.approx(10.5) and by_day[days[0]].baseline
    for day in days[4:6]:  # collecting phase 2's baseline: not phase 1's limits, none
        p = by_day[day]
        assert p.check_status == "baseline" and (p.center, p.lcl, p.ucl) == (None, None, None)
    for day in days[6:]:  # judged against phase 2's own baseline (30, 31)
        assert by_day[day].center == pytest.approx(30.5) and by_day[day].check_status == "pass"

    # the tooltip's phase in the answer: phase 2's collecting days, after the phase II marker
    # (between days 2 and 3), say so; the days judged say II
    spec = chart.to_dict(points=False)["spec"]
    rows = chart_rows(spec)
    phase = dict(zip([r["p"] for r in rows], phases(spec, rows), strict=True))
    assert phase2_marker(spec) == 2.5
    assert [phase[d] for d in days] == ["I", "I", "II", "II", COLLECTING, COLLECTING, "II", "II"]


def test_a_point_collected_for_a_new_baseline_says_so_in_its_tooltip_and_colour(store):
    # phase I's baseline (10, 11), two days judged against it, a new phase whose first two days
    # collect its baseline (30, 31), then three days judged against that: the last beyond its
    # limits (UCL 33.2)
    values = (10, 11, 10, 11, 30, 31, 30, 31, 40)
    days = record_new_phase(store, "warn: spc row_count: baseline 2", values=values)
    chart = metric_chart(store, "load", "row_count")
    stored = [p.check_status for p in chart.points]
    assert stored == ["baseline"] * 2 + ["pass"] * 2 + ["baseline"] * 2 + ["pass"] * 2 + ["warn"]
    spec = chart.to_dict(points=False)["spec"]  # what the panel gets (the REST answer)
    with gzip.open(VEGA_LITE_SCHEMA) as f:
        assert not list(jsonschema.Draft7Validator(json.load(f)).iter_errors(spec))
    rows = {r["p"]: r for r in viewed(spec, chart_rows(spec))}
    collected, judged = days[4:6], days[6:]
    for day in collected:  # the tooltip: not judged, collecting (its phase too)
        assert (rows[day]["status"], rows[day]["rules"]) == (COLLECTING, NOT_JUDGED), day
        assert rows[day]["phase"] == COLLECTING and rows[day]["c"] is None, day
    for day in days[:4] + judged[:2]:  # judged against phase I's or the new baseline's limits
        assert (rows[day]["status"], rows[day]["rules"]) == (IN_CONTROL, IN_CONTROL), day
    last = rows[days[-1]]
    assert last["status"] == "WE1" and last["rules"].startswith("WE1: ")
    assert [rows[d]["phase"] for d in judged] == ["II"] * 3

    # the points' colour and legend: a neutral grey of their own, neither in-control blue nor
    # a rule's colour; the tooltip shows the rules broken and the phase
    legend = colours(spec)
    assert list(legend) == [IN_CONTROL, COLLECTING, "WE1"]
    assert legend[COLLECTING] == COLLECTING_COLOUR and len(set(legend.values())) == 3
    (points,) = [lyr for lyr in spec["layer"] if "color" in lyr.get("encoding", {})]
    assert {"rules", "phase"} <= {t["field"] for t in points["encoding"]["tooltip"]}

    # the notebook widget draws the same spec
    widget = MetricChartWidget(store, "load", "row_count", pipeline="sales")
    drawn = widget.output.outputs[0]["data"][VEGALITE_V5]
    shown = {r["p"]: r["status"] for r in viewed(drawn, chart_rows(drawn))}
    assert [shown[d] for d in days] == [rows[d]["status"] for d in days]
    assert colours(drawn) == legend


def test_a_cusum_point_of_a_new_phase_still_collecting_says_so(store):
    # a judged CUSUM is drawn through its altair picture, whose rows carry their phase as data
    days = record_new_phase(store, "warn: spc row_count: chart cusum, baseline 2")
    chart = metric_chart(store, "load", "row_count")
    assert chart.judged and chart.chart == "cusum"
    rows = chart_rows(chart.to_dict(points=False)["spec"])  # an upper and a lower sum a day
    phase = {(r["partition"], r["side"]): r["phase"] for r in rows}
    assert len(phase) == 2 * len(days)
    for side in ("upper", "lower"):
        got = [phase[d, side] for d in days]
        assert got == ["I", "I", "II", "II", COLLECTING, COLLECTING, "II", "II"], side
    # its signal: the collecting days were not judged (grey), though their sums are far out
    status = {(r["partition"], r["side"]): r["status"] for r in rows}
    for side in ("upper", "lower"):
        got = [status[d, side] for d in days]
        assert got == [IN_CONTROL] * 4 + [COLLECTING] * 2 + [IN_CONTROL] * 2, side
    assert max(r["sum"] for r in rows if r["partition"] in days[4:6]) > 5  # beyond h
    legend = colours(chart.to_dict(points=False)["spec"])
    assert legend == {IN_CONTROL: "#4c78a8", COLLECTING: COLLECTING_COLOUR}
