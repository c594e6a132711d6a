"""Chart pictures render offline: a vega-lite 5 bundle with inline data, valid against the v5
schema (JupyterLab 4's built-in renderer), with zones, step limits, rule tooltips, phase marker."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import polars as pl
import pytest

from jupyter_dataops import spc
from jupyter_dataops.spc.rules import describe

DATA = Path(__file__).parents[1] / "data" / "spc"
V5 = "application/vnd.vegalite.v5+json"


@pytest.fixture(scope="module")
def validator():
    with gzip.open(DATA / "vega-lite-v5.schema.json.gz") as f:
        schema = json.load(f)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def rings():
    df = pl.read_csv(DATA / "pistonrings.csv")
    return [g["diameter"].to_list() for _, g in df.group_by("sample", maintain_order=True)]


@pytest.fixture(scope="module")
def xbar(rings):
    return spc.control_chart(rings, "xbar", phase1=25, rules="nelson")


def _layer(spec, mark):
    return [lyr for lyr in spec["layer"] if lyr["mark"]["type"] == mark]


def _errors(validator, spec):
    return [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(spec)]


def test_results_emit_a_vegalite_v5_bundle_valid_against_the_v5_schema(validator, rings):
    # few points keep validation fast; every layer and encoding is still present
    results = [
        spc.control_chart(rings[30:40], "xbar", phase1=6, rules="nelson"),
        spc.control_chart(rings[:8], "r"),
        spc.control_chart([1, 2, 0, 3, 1, 9], "c"),
        spc.ewma(rings[30:40], phase1=6),
        spc.cusum(rings[30:40], phase1=6),
    ]
    for r in results:
        bundle = r._repr_mimebundle_()
        assert set(bundle) == {V5, "text/plain"}
        spec = bundle[V5]
        assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"
        assert _errors(validator, spec) == []
        assert bundle["text/plain"] == repr(r)
        json.dumps(spec)  # plain JSON, nothing left to fetch


def test_schema_validation_rejects_a_v6_only_spec(validator):
    bad = {"mark": {"type": "point"}, "data": {"values": []}, "encoding": {"x": {"fieldz": "a"}}}
    assert _errors(validator, bad)


def test_data_is_inlined_and_nothing_is_fetched(xbar):
    spec = spc.chart_mimebundle(xbar)[V5]
    text = json.dumps(spec)
    assert '"url"' not in text and "datasets" not in spec
    assert len(spec["data"]["values"]) == 40
    assert spec["data"]["values"][36]["statistic"] == pytest.approx(xbar.statistics[36])


def test_picture_has_zones_centre_step_limits_points_and_title(xbar):
    spec = spc.chart_mimebundle(xbar.chart())[V5]
    areas = _layer(spec, "area")
    assert {a["encoding"]["y"]["field"] for a in areas} == {"z1lo", "z2lo"}
    lines = {lyr["encoding"]["y"]["field"]: lyr for lyr in _layer(spec, "line")}
    for name in ("center", "ucl", "lcl"):
        assert lines[name]["mark"]["interpolate"] == "step"
    assert "statistic" in lines
    title = spec["title"]
    assert "X̄ chart" in title and "UWAVE-R" in title


def test_points_are_coloured_by_rule_with_the_rule_in_words(xbar):
    spec = spc.chart_mimebundle(xbar)[V5]
    (points,) = _layer(spec, "point")
    assert points["encoding"]["color"]["field"] == "status"
    tips = {t["field"] for t in points["encoding"]["tooltip"]}
    assert "rules" in tips
    rows = spec["data"]["values"]
    assert rows[36]["status"] == "N1"
    assert describe("N1") in rows[36]["rules"]
    assert describe("N5") in rows[34]["rules"]
    assert rows[0]["rules"] == "in control" and rows[0]["status"] == "in control"


def test_phase_two_marker_sits_between_the_phases(rings, xbar):
    spec = spc.chart_mimebundle(xbar)[V5]
    (rule,) = _layer(spec, "rule")
    assert rule["data"]["values"][0]["x"] == 25.5
    only_phase1 = spc.chart_mimebundle(spc.control_chart(rings[:25], "xbar"))[V5]
    assert _layer(only_phase1, "rule") == []


def test_beyond_limits_is_coloured_even_without_a_limits_rule(rings):
    cc = spc.control_chart(rings, "xbar", phase1=25, rules=["N2"])
    rows = spc.chart_mimebundle(cc)[V5]["data"]["values"]
    assert rows[36]["status"] == "beyond limits"


def test_altair_chart_keeps_the_offline_bundle_after_properties(xbar):
    chart = xbar.chart().properties(width=300)
    assert isinstance(chart, spc.OfflineChart)
    bundle = chart._repr_mimebundle_()
    assert V5 in bundle and bundle[V5]["width"] == 300


def test_display_chart_publishes_the_v5_bundle(xbar):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()  # display() publishes through the active shell
    with capture_output() as captured:
        spc.display_chart(xbar)
    (out,) = captured.outputs
    assert V5 in out.data and out.data["text/plain"] == repr(xbar)


def test_legend_lists_rules_in_priority_order_with_limits_first(rings):
    cc = spc.control_chart(rings, "xbar", phase1=25)  # qcc rules: WE1 and SHIFT7 both fire
    (points,) = _layer(spc.chart_mimebundle(cc)[V5], "point")
    scale = points["encoding"]["color"]["scale"]
    assert scale["domain"] == ["in control", "WE1", "SHIFT7"]
    assert scale["range"][1] == "#d62728"  # beyond limits in red


@pytest.mark.slow
def test_demo_notebook_executed_by_papermill_carries_v5_bundles(tmp_path):
    import nbformat
    import papermill

    src = Path(__file__).parents[1] / "notebooks" / "spc_chart_demo.ipynb"
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    bundles = [
        o["data"][V5]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if V5 in o.get("data", {})
    ]
    assert len(bundles) == 2
    assert "X̄ chart" in bundles[0]["title"] and "Individuals" in bundles[1]["title"]
    statuses = {row["status"] for row in bundles[1]["data"]["values"]}
    assert "WE1" in statuses


def test_very_long_results_display_as_text_but_can_still_be_drawn():
    import numpy as np

    from jupyter_dataops.spc.picture import MAX_AUTO_DISPLAY_POINTS

    x = np.random.default_rng(0).normal(size=MAX_AUTO_DISPLAY_POINTS + 1)
    cc = spc.control_chart(x, "i", rules=None)
    bundle = cc._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and "display_chart" in bundle["text/plain"]
    small = spc.control_chart(x[:50], "i")
    assert V5 in small._repr_mimebundle_()
