"""The control-chart widget, driven through its ipywidgets objects on a real SQLite run store.

Metric points are recorded the way production runs record them: real ``run_checks`` results on
real frames (``spc`` lines judged against the store's real history) stored with ``record_suite``
under production step runs. The chart type, rules and baseline are the spc line's; a metric no
spc line watches is drawn as an I chart with qcc rules (see ``test_pipeline_charts.py`` for the
chart flagging exactly what the check flagged).
"""

from __future__ import annotations

import polars as pl
import pytest
from builders import chart_rows

from jupyter_dataops import run_checks
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.store import open_store
from jupyter_dataops.widgets.chart import MetricChartWidget

METRIC = "avg(x)"
STABLE = [10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 10.3, 9.7, 10.1, 9.9, 10.2, 9.8]


PLAIN = "row_count = 3\nwarn: avg(x) < 100"


def record(store, values, *, step="load", mode="production", spec=PLAIN):  # noqa: ANN001, ANN201
    """One production step run per value; each run's frame has mean == value."""
    ids = []
    store.upsert_step("demo", step, notebook=f"{step}.ipynb")
    for v in values:
        prid = store.create_pipeline_run("demo", mode=mode)
        srid = store.create_step_run(prid, step)
        store.start_step_run(srid)
        frame = pl.DataFrame({"x": [v - 1.0, v, v + 1.0]})
        history = lambda key: store.metric_history(step, key)  # noqa: E731
        store.record_suite(srid, run_checks(frame, spec, history=history))
        store.finish_step_run(srid, "success")
        store.finish_pipeline_run(prid)
        ids.append(srid)
    return ids


@pytest.fixture
def store_url(tmp_path):  # the widgets' store: one SQLite file (``store``: tests/conftest.py)
    return f"sqlite:///{tmp_path / 'runs.db'}"


def spec_of(widget: MetricChartWidget) -> dict:
    (output,) = widget.output.outputs
    assert output["output_type"] == "display_data"
    return output["data"]["application/vnd.vegalite.v5+json"]


def plotted(widget: MetricChartWidget) -> list[float]:
    spec = spec_of(widget)
    return [row["y"] for row in chart_rows(spec)]


def test_chart_is_an_offline_vegalite_v5_bundle_of_the_production_series(store):
    record(store, STABLE)
    record(store, [55.0], mode="test")  # a promotion gate run is never part of the chart
    widget = MetricChartWidget(store, "load", METRIC)
    spec = spec_of(widget)
    assert spec["$schema"].endswith("/vega-lite/v5.json")
    assert plotted(widget) == pytest.approx(STABLE)
    assert "Individuals" in str(spec["title"])
    assert "12 runs from" in widget.message.value
    assert "In control: no run rule broken in these 12 runs." in widget.rules_list.value


def test_broken_rules_name_the_run_that_broke_them(store):
    ids = record(store, [*STABLE, 30.0])
    widget = MetricChartWidget(store, "load", METRIC)
    assert widget.broken["WE1"] == [len(STABLE)]
    item = widget.rules_list.value.split('data-rule="WE1">')[1].split("</li>")[0]
    assert "1 point beyond the control limits" in item
    assert f"run #{ids[-1]} (" in item and "30)" in item
    assert all(f"run #{i} (" not in item for i in ids[:-1])


def test_the_rules_are_the_spc_lines(store):
    # 8 points above the centre after a low start: a run of 7 (qcc) and of 8 (Western Electric)
    values = [8.0, 8.2, 7.9, 8.1, 7.8, 8.0, 10.5, 10.6, 10.4, 10.7, 10.5, 10.6, 10.4, 10.5]
    ids = record(store, values, spec="spc avg(x): rules western_electric, baseline 6")
    widget = MetricChartWidget(store, "load", METRIC)
    assert "chart i, rules western_electric, baseline 6" in widget.title.value
    assert widget.chart.note is None and widget.chart.line.startswith("spc avg(x)")
    assert "WE4" in widget.broken and "SHIFT7" not in widget.broken
    assert widget.broken["WE4"][0] == 13  # the 8th point in a row above the centre
    assert f"run #{ids[13]} (" in widget.rules_list.value
    assert set(widget.broken) <= {"WE1", "WE2", "WE3", "WE4"}


def test_ewma_and_cusum_lines_list_their_signals(store):
    shifted = [*STABLE, 11.5, 11.6, 11.4, 11.7, 11.5, 11.6]
    ids = record(store, shifted, spec="spc avg(x): chart ewma, baseline 12")
    widget = MetricChartWidget(store, "load", METRIC)
    assert "EWMA" in str(spec_of(widget)["title"])
    assert list(widget.broken) == ["ewma"]
    first = widget.broken["ewma"][0]
    assert first >= len(STABLE)  # the shift, not the stable baseline, signals
    assert f"run #{ids[first]} (" in widget.rules_list.value
    assert "the EWMA left its control limits" in widget.rules_list.value


def test_a_cusum_line_is_drawn_as_a_cusum_chart(store):
    ids = record(
        store, [*STABLE, 11.5, 11.6, 11.4, 11.7], spec="spc avg(x): chart cusum, baseline 12"
    )
    widget = MetricChartWidget(store, "load", METRIC)
    assert "CUSUM" in str(spec_of(widget)["title"])
    assert set(widget.broken) == {"cusum"}
    assert all(i >= len(STABLE) for i in widget.broken["cusum"])
    rows = spec_of(widget)["data"]["values"]
    assert {r["run"] for r in rows} == {f"#{i}" for i in ids}  # two rows (sums) per run


def test_moving_range_line_points_are_runs(store):
    values = [10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0, 10.1, 25.0, 10.0]
    ids = record(store, values, spec="spc avg(x): chart mr, baseline 6")
    widget = MetricChartWidget(store, "load", METRIC)
    assert len(plotted(widget)) == len(values)
    assert widget.point_run(8)["step_run_id"] == ids[8]
    assert "WE1" in widget.broken
    assert f"run #{ids[8]} (" in widget.rules_list.value  # the jump up to 25
    rows = chart_rows(spec_of(widget))
    assert [r["r"] for r in rows] == ids


def test_chart_tooltips_name_the_run_of_each_point(store):
    ids = record(store, STABLE[:5])
    widget = MetricChartWidget(store, "load", METRIC)
    spec = spec_of(widget)
    assert [r["r"] for r in chart_rows(spec)] == ids  # shown as "#id" (a calculate)
    assert {"calculate": "'#' + datum.r", "as": "run"} in spec["transform"]
    assert all(r["t"].endswith("Z") for r in chart_rows(spec))  # UTC, said locally
    tooltips = [
        layer["encoding"]["tooltip"]
        for layer in spec["layer"]
        if "tooltip" in layer.get("encoding", {})
    ]
    assert tooltips and all(t[0]["field"] == "run" for t in tooltips)


def test_points_control_reads_only_the_newest_runs(store):
    values = [10.0 + (i % 5) * 0.1 for i in range(60)]
    record(store, values)
    widget = MetricChartWidget(store, "load", METRIC, last=50)
    assert plotted(widget) == pytest.approx(values[-50:])
    widget.last.value = None
    assert plotted(widget) == pytest.approx(values)
    widget.last.value = 100
    assert len(plotted(widget)) == 60


def test_refresh_draws_runs_recorded_after_the_widget_was_built(store):
    record(store, STABLE)
    widget = MetricChartWidget(store, "load", METRIC)
    ids = record(store, [40.0])
    assert len(plotted(widget)) == len(STABLE)
    widget.refresh_button.click()
    assert plotted(widget)[-1] == pytest.approx(40.0)
    assert f"run #{ids[0]} (" in widget.rules_list.value


def test_unknown_metric_lists_the_metrics_recorded_for_the_step(store):
    record(store, STABLE[:3])
    widget = MetricChartWidget(store, "load", "avg(y)")
    assert widget.output.outputs == ()
    assert "No production values of &#x27;avg(y)&#x27; for step &#x27;load&#x27;" in (
        widget.message.value
    )
    assert "avg(x)" in widget.message.value and "row_count" in widget.message.value


def test_a_single_run_is_not_enough_for_a_chart(store):
    record(store, [10.0])
    widget = MetricChartWidget(store, "load", METRIC)
    assert widget.output.outputs == ()
    assert "Only 1 production run" in widget.message.value
    assert "at least 2" in widget.message.value


def test_a_flat_series_is_explained_for_cusum(store):
    record(store, [10.0] * 5, spec="spc avg(x): chart cusum, baseline 3")
    widget = MetricChartWidget(store, "load", METRIC)
    assert widget.output.outputs == ()
    assert "cannot draw the cusum chart" in widget.message.value
    assert "no variation" in widget.message.value


def test_bad_arguments_are_refused(store):
    with pytest.raises(DataOpsError, match=r"last must be at least 2 runs"):
        MetricChartWidget(store, "load", METRIC, last=1)


def test_an_unwatched_metric_says_no_spc_line_judged_it(store):
    record(store, STABLE)
    widget = MetricChartWidget(store, "load", METRIC)
    assert "No spc line watches avg(x)" in widget.message.value
    assert "no spc line" in widget.title.value


def test_chart_widget_reads_the_project_store(tmp_path, monkeypatch):
    from jupyter_dataops.widgets import chart_widget

    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: demo\nsteps:\n  load:\n    notebook: load.ipynb\n"
    )
    with open_store(f"sqlite:///{tmp_path / '.dataops' / 'dataops.db'}") as s:
        record(s, STABLE[:4])
    widget = chart_widget("load", METRIC, start=str(tmp_path))
    assert plotted(widget) == pytest.approx(STABLE[:4])


def test_a_broken_store_is_reported_in_the_widget_on_refresh(store):
    record(store, STABLE)
    widget = MetricChartWidget(store, "load", METRIC)
    with store.engine.begin() as conn:  # a damaged database file / half-migrated schema
        conn.exec_driver_sql("DROP TABLE metrics")
    widget.refresh_button.click()
    assert "Could not read the run store" in widget.message.value
    assert widget.output.outputs == () and widget.rules_list.value == ""


def test_the_widget_shows_a_window_and_pages_to_older_history(store):
    values = [10.0 + (i % 7) * 0.1 for i in range(130)]
    ids = record(store, values)
    widget = MetricChartWidget(store, "load", METRIC)  # the default window: 90 points
    assert [p["step_run_id"] for p in widget.series] == ids[-90:]
    assert widget.newer_button.disabled and not widget.older_button.disabled
    assert "points 41–130 of 130" in widget.window_label.value
    limits = widget.chart.limits
    widget.older_button.click()
    assert [p["step_run_id"] for p in widget.series] == ids[:40]
    assert [r["x"] for r in chart_rows(spec_of(widget))] == list(range(1, 41))
    assert widget.older_button.disabled and not widget.newer_button.disabled
    assert widget.chart.limits == limits  # the whole baseline's, whatever the window
    widget.newer_button.click()
    assert [p["step_run_id"] for p in widget.series] == ids[40:]
    widget.last.value = 50  # a new window size starts again from the newest points
    assert [p["step_run_id"] for p in widget.series] == ids[-50:]
    assert MetricChartWidget(store, "load", METRIC, window=None).series[0]["step_run_id"] == ids[0]
