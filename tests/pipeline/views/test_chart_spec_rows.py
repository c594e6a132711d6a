"""The chart's spec carries each point's own centre and limits and its run's parameters, looked up
from small tables: limits constant over the window add nothing per row, limits that move (a
rolling line, run by run) are each point's own as its verdict recorded them, and each point's
tooltip and the broken-rule list name its run, partition and parameters (secrets ``***``).

Real checks (``run_checks``, spc lines judged against the store's real history) recorded in a real
run store (SQLite, and PostgreSQL via DATAOPS_TEST_PG_URL); the spec is checked against the
Vega-Lite v5 schema.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from builders import chart_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_dataops import run_checks
from jupyter_dataops.pipeline.views.chart_spec import IN_CONTROL, rounded, rounded_all
from jupyter_dataops.pipeline.views.charts import VEGALITE_V5, metric_chart
from jupyter_dataops.widgets.chart import MetricChartWidget

SCHEMA = Path(__file__).parents[2] / "data" / "spc" / "vega-lite-v5.schema.json.gz"


@pytest.fixture(scope="module")
def validator():
    with gzip.open(SCHEMA) as f:
        return jsonschema.Draft7Validator(json.load(f))


def record(store, values, spec, *, partitions=None, parameters=None) -> list[int]:
    """A finished production run of ``load`` per value, its frame's ``x`` all that value, the
    suite judged against the store's history; the step run ids."""
    ids = []
    store.upsert_step("factory", "load", notebook="load.ipynb")
    for i, v in enumerate(values):
        partition = partitions[i] if partitions else None
        prid = store.create_pipeline_run("factory", partition=partition)
        params = parameters(i) if parameters else None
        srid = store.create_step_run(prid, "load", parameters=params)
        store.start_step_run(srid)
        history = lambda key: store.metric_history("load", key, pipeline="factory")  # noqa: E731
        frame = pl.DataFrame({"x": [v, v]})
        store.record_suite(srid, run_checks(frame, spec, name="q", history=history))
        store.finish_step_run(srid, "success")
        store.finish_pipeline_run(prid)
        ids.append(srid)
    return ids


def schema_errors(validator, spec) -> list[str]:
    return [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(spec)]


STABLE = [10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 10.3, 9.7, 10.1, 9.9, 10.2, 9.8, 10.0, 14.0]


def test_limits_constant_over_the_window_are_one_table_entry_and_nothing_per_row(store, validator):
    ids = record(store, STABLE, "spc avg(x): baseline 5")
    chart = metric_chart(store, "load", "avg(x)", pipeline="factory")
    spec = chart.spec()
    assert schema_errors(validator, spec) == []
    (limits,) = [t for t in spec["transform"] if t.get("lookup") == "g"]
    (entry,) = limits["from"]["data"]["values"]
    assert (entry["c"], entry["l"], entry["u"]) == tuple(
        rounded(chart.limits[k]) for k in ("center", "lcl", "ucl")
    )
    assert "g" not in spec["data"]["values"][0]  # no column: every point is on entry 0
    # the limits are drawn from the points' own fields, as step lines
    lines = [lyr for lyr in spec["layer"] if lyr["mark"].get("interpolate") == "step"]
    assert {lyr["encoding"]["y"]["field"] for lyr in lines if lyr["mark"]["type"] == "line"} == {
        "c",
        "l",
        "u",
    }
    assert all("data" not in lyr for lyr in lines)
    # the last run broke the limits as its check recorded; its row names the rule, no other
    broken = store.spc_verdicts("load", "avg(x)", pipeline="factory")[-1]["spc"]["broken"]
    flagged = {row["r"]: row["status"] for row in chart_rows(spec) if row["status"] != IN_CONTROL}
    assert broken and flagged == {ids[-1]: broken[0]}


def test_limits_that_move_along_the_series_are_each_points_own_as_its_verdict_recorded(
    store, validator
):
    # a rolling line: each run judged against the 3 runs before it, so the limits move
    values = [10.0, 10.4, 9.8, 10.2, 9.9, 12.0, 12.3, 11.8, 12.1, 12.2, 11.9, 12.4]
    ids = record(store, values, "spc avg(x): baseline 3 rolling")
    chart = metric_chart(store, "load", "avg(x)", pipeline="factory")
    spec = chart.spec()
    assert schema_errors(validator, spec) == []
    rows = chart_rows(spec)
    recorded = {
        c["step_run_id"]: c["spc"]
        for c in store.spc_verdicts("load", "avg(x)", pipeline="factory")
        if c["spc"]["judged"]
    }
    assert len(recorded) == len(values) - 3
    for row in rows:
        if row["r"] in recorded:
            verdict = recorded[row["r"]]
            assert (row["c"], row["l"], row["u"]) == tuple(
                rounded(verdict[k]) for k in ("center", "lcl", "ucl")
            )
            # the zones follow the recorded limits: UCL = centre + 3 sigma
            assert row["c"] + 3 * row["s"] == pytest.approx(row["u"], rel=1e-6)
    moved = {(row["c"], row["l"], row["u"]) for row in rows if row["r"] in recorded}
    assert len(moved) > 1
    table = next(t for t in spec["transform"] if t.get("lookup") == "g")["from"]["data"]["values"]
    assert len(table) == len({(e["c"], e["l"], e["u"], e["s"]) for e in table})
    assert sum(bool(row.get("g")) for row in rows) >= len(moved) - 1
    assert [r["r"] for r in rows] == ids


def test_tooltips_and_broken_rules_name_the_partition_and_parameters_with_secrets_hidden(
    store, validator
):
    days = [f"2026-09-{d:02d}" for d in range(1, 15)]

    def parameters(i: int) -> dict:
        return {"day": days[i], "region": "eu west", "api_token": "s3cr3t-value"}

    record(store, STABLE, "spc avg(x): baseline 5", partitions=days, parameters=parameters)
    chart = metric_chart(store, "load", "avg(x)", pipeline="factory")
    spec = chart.mimebundle()[VEGALITE_V5]
    assert schema_errors(validator, spec) == []
    assert "s3cr3t" not in json.dumps(spec)
    rows = chart_rows(spec)
    # the day repeats the partition, so the tooltip leaves it out; the token is hidden
    assert {r["parameters"] for r in rows} == {"region='eu west', api_token=***"}
    assert [r["p"] for r in rows] == days
    tooltip = next(lyr for lyr in spec["layer"] if "tooltip" in lyr["encoding"])
    fields = [t["field"] for t in tooltip["encoding"]["tooltip"]]
    assert fields[:3] == ["p", "run", "parameters"]
    # the broken-rule list names the partition and parameters (REST answer and widget)
    (violation,) = chart.to_dict(points=False)["violations"]
    assert violation["partition"] == "2026-09-14"
    assert violation["parameters"] == "region='eu west', api_token=***"
    widget = MetricChartWidget(store, "load", "avg(x)", pipeline="factory")
    rule = violation["rule"]
    item = widget.rules_list.value.split(f'data-rule="{rule}">')[1].split("</li>")[0]
    assert "partition 2026-09-14; region=&#x27;eu west&#x27;, api_token=***" in item
    assert "s3cr3t" not in widget.rules_list.value


def test_partition_axis_labels_a_few_ticks_whatever_the_window(store):
    days = [f"2026-{m:02d}-{d:02d}" for m in (8, 9) for d in range(1, 21)]
    record(store, [1.0] * len(days), "row_count > 0", partitions=days)
    spec = metric_chart(store, "load", "row_count", pipeline="factory").spec()
    points = next(lyr for lyr in spec["layer"] if "tooltip" in lyr["encoding"])
    axis = points["encoding"]["x"]["axis"]
    assert 1 < len(axis["values"]) <= 15
    labels = json.loads(axis["labelExpr"].split("[''")[0])
    by_x = {r["x"]: r["p"] for r in chart_rows(spec)}
    assert labels == {str(x): by_x[x] for x in axis["values"]}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(), st.integers(-(10**16), 10**16).map(float)),
        max_size=40,
    )
)
def test_the_columns_numbers_are_rounded_on_arrays_as_one_by_one(values):
    # the spec's columns round 10,000 values at once; each must be what `rounded` gives it
    # (7 significant digits, whole numbers as ints, None for a missing or non-finite value)
    got = rounded_all(values)
    want = [rounded(v) for v in values]
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]
