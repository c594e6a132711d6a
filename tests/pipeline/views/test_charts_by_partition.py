"""Charts by day: on a partitioned pipeline a metric's chart has one point per partition (its
latest run: a re-run replaces the day's point), in partition order, with the partition on the
x-axis and in the tooltip beside the run id. Real checks (``run_checks``) recorded in a real run
store (SQLite, and PostgreSQL via DATAOPS_TEST_PG_URL)."""

from __future__ import annotations

import polars as pl
from builders import chart_rows

from jupyter_dataops import run_checks
from jupyter_dataops.pipeline.views.charts import VEGALITE_V5, metric_chart

SPEC = "row_count > 0\n"


def record(store, partition: str | None, rows: int) -> int:
    """A finished production run of ``load`` for ``partition`` whose frame has ``rows`` rows."""
    prid = store.create_pipeline_run("factory", partition=partition)
    srid = store.create_step_run(prid, "load")
    store.start_step_run(srid)
    store.record_suite(srid, run_checks(pl.DataFrame({"x": list(range(rows))}), SPEC, name="q"))
    store.finish_step_run(srid, "success")
    store.finish_pipeline_run(prid)
    return srid


def test_one_point_per_partition_in_partition_order_labelled_by_day(store):
    ids = {}
    # backfilled out of order, then a re-run of 09-03 with other data
    for day, rows in [("01", 10), ("02", 12), ("05", 15), ("03", 11), ("04", 13)]:
        ids[day] = record(store, f"2026-09-{day}", rows)
    rerun = record(store, "2026-09-03", 30)

    chart = metric_chart(store, "load", "row_count", pipeline="factory")

    days = [f"2026-09-{d}" for d in ("01", "02", "03", "04", "05")]
    assert [p.partition for p in chart.points] == days
    assert [p.value for p in chart.points] == [10, 12, 30, 13, 15]
    assert chart.points[2].step_run_id == rerun != ids["03"]
    assert ids["03"] not in {p.step_run_id for p in chart.points}

    spec = chart.mimebundle()[VEGALITE_V5]
    rows = chart_rows(spec)
    assert [(r["p"], f"#{r['r']}") for r in rows] == [
        (p.partition, f"#{p.step_run_id}") for p in chart.points
    ]
    x_axes = [
        layer["encoding"]["x"]
        for layer in spec["layer"]
        if layer.get("encoding", {}).get("x", {}).get("title") == "partition"
    ]
    assert x_axes
    assert all('"2026-09-03"' in x["axis"]["labelExpr"] for x in x_axes)
    tooltips = [
        [t["field"] for t in layer["encoding"]["tooltip"]]
        for layer in spec["layer"]
        if isinstance(layer.get("encoding", {}).get("tooltip"), list)
    ]
    assert tooltips and all(t[:2] == ["p", "run"] for t in tooltips)
    assert chart.to_dict()["points"][0]["partition"] == "2026-09-01"


def test_a_step_without_partitions_keeps_its_runs_and_sample_axis(store):
    first, second = record(store, None, 10), record(store, None, 12)
    chart = metric_chart(store, "load", "row_count", pipeline="factory")
    assert [(p.step_run_id, p.partition) for p in chart.points] == [(first, None), (second, None)]
    spec = chart.mimebundle()[VEGALITE_V5]
    assert not any("p" in r for r in chart_rows(spec))
    assert all(
        "labelExpr" not in layer["encoding"]["x"].get("axis", {})
        for layer in spec["layer"]
        if "x" in layer.get("encoding", {})
    )
