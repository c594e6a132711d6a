"""A metric chart's Vega-Lite v5 spec, built once as a plain dict with the points as data.

``MetricChart.spec()`` draws through here: one compact row per point (``x`` sample number,
``r`` step run id, ``t`` start time, ``y`` the plotted value; ``k``/``b`` only on a point that
broke a rule, ``p`` its partition, ``v`` an EWMA point's raw value) and the centre and limits as
steps, one row where they change (a frozen baseline's limits are two rows whatever the history's
length). Numbers are rounded to 7 significant digits (the tooltips show 6). Nothing is validated
point by point: building altair layers and validating them took seconds at 10k points (see
``benchmarks/chart_bench.py``); the spec is checked against the Vega-Lite v5 schema in the tests.

Fields derived for display (status, phase, rules, the run's "#id") are Vega-Lite ``calculate``
transforms, so they cost nothing per point on the wire.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol


class MetricChart(Protocol):
    """What the spec reads of a ``views.charts.MetricChart`` (a protocol, so this module stays
    below ``charts``, which draws through it)."""

    chart: Any
    first: int
    points: list[Any]
    title: str
    _result: Any


SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
IN_CONTROL = "in control"
_COLOURS = ["#4c78a8", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22"]
_Y_TITLES = {
    "i": "individual value",
    "mr": "moving range",
    "p": "proportion defective",
    "np": "number defective",
    "c": "nonconformities",
    "u": "nonconformities per unit",
    "ewma": "EWMA",
}


def rounded(v: float | None) -> float | int | None:
    """``v`` to 7 significant digits (None for missing or non-finite); whole numbers as ints."""
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        return None
    if f == int(f) and abs(f) < 1e15:
        return int(f)
    return float(f"{f:.7g}")


def _time(iso: str | None) -> str | None:
    """An ISO-8601 UTC time to the second (``2026-11-22T02:41:00Z``): what a tooltip shows."""
    if not iso:
        return None
    if iso.endswith("+00:00") and len(iso) >= 19:
        return iso[:19] + "Z"
    return iso


def chart_spec(chart: MetricChart, *, width: int = 600, height: int = 300) -> dict[str, Any]:
    """The Vega-Lite v5 spec of ``chart``'s points (a control chart once judged, else a run
    chart); the x-axis counts samples over the whole series, so pages of one history line up."""
    from jupyter_dataops.spc.rules import RULES

    points = chart.points
    judged = chart._result is not None
    partitioned = any(p.partition for p in points)
    words = {**RULES, "ewma": "the EWMA left its control limits"}
    first = chart.first + 1
    rows: list[dict[str, Any]] = []
    keys: list[str] = []
    for i, p in enumerate(points):
        y = p.statistic if p.statistic is not None else p.value
        row: dict[str, Any] = {
            "x": first + i,
            "r": p.step_run_id,
            "t": _time(p.time),
            "y": rounded(y),
        }
        if chart.chart == "ewma" and judged:
            row["v"] = rounded(p.value)
        if partitioned:
            row["p"] = p.partition or f"run #{p.step_run_id}"
        rules = p.rules
        if rules:
            row["k"] = rules[0]
            row["b"] = "; ".join(f"{r}: {words.get(r, r)}" for r in rules)
            if rules[0] not in keys:
                keys.append(rules[0])
        rows.append(row)
    order = [*RULES, "ewma"]
    domain = [IN_CONTROL] + sorted(keys, key=lambda k: order.index(k) if k in order else len(order))
    x_axis: dict[str, Any] = {"format": "d", "tickMinStep": 1}
    if partitioned:
        labels = json.dumps({str(r["x"]): r["p"] for r in rows})
        x_axis.update(
            labelExpr=f"{labels}[''+datum.value] || ''", labelOverlap=True, labelAngle=-40
        )
    x = {
        "field": "x",
        "type": "quantitative",
        "title": "partition" if partitioned else "sample",
        "scale": {"zero": False, "domain": [first - 0.5, first + len(points) - 0.5]},
        "axis": x_axis,
    }
    layers: list[dict[str, Any]] = []
    phase2 = None
    limits: list[dict[str, Any]] = []
    if judged:
        steps = _limit_steps(chart)
        layers += _limit_layers(chart, x, steps)
        if len(steps) <= 2:  # limits that never move in the window: constants in the tooltip
            for name, key in (("center", "c"), ("lcl", "l"), ("ucl", "u")):
                value = steps[0][key] if steps else None
                limits.append({"calculate": json.dumps(value), "as": name})
        else:  # moving limits (p/np/u, rolling): each point carries its own
            for row, p in zip(rows, points, strict=True):
                row.update(c=rounded(p.center), l=rounded(p.lcl), u=rounded(p.ucl))
            limits += [
                {"calculate": f"datum.{key}", "as": name}
                for name, key in (("center", "c"), ("lcl", "l"), ("ucl", "u"))
            ]
        base = next((i for i, p in enumerate(points) if not p.baseline), None)
        if base is None:
            phase2 = math.inf  # the whole window is baseline (phase I)
        elif base > 0 or chart.first == 0:
            phase2 = first + base - 0.5
    if chart.chart == "ewma" and judged:
        layers.append(
            {
                "mark": {"type": "point", "shape": "cross", "size": 12, "color": "#9e9e9e"},
                "encoding": {"x": x, "y": {"field": "v", "type": "quantitative"}},
            }
        )
    y_title = _Y_TITLES.get(chart.chart, "value") if judged else "value"
    tooltip = [
        {"field": "run", "type": "nominal", "title": "run"},
        {"field": "run_time", "type": "nominal", "title": "started"},
        {"field": "x", "type": "quantitative", "title": "sample", "format": "d"},
        {"field": "y", "type": "quantitative", "title": "statistic", "format": ".6g"},
    ]
    if partitioned:
        tooltip.insert(0, {"field": "p", "type": "nominal", "title": "partition"})
    if judged:
        tooltip += [
            {"field": "center", "type": "quantitative", "format": ".6g"},
            {"field": "lcl", "type": "quantitative", "title": "LCL", "format": ".6g"},
            {"field": "ucl", "type": "quantitative", "title": "UCL", "format": ".6g"},
            {"field": "phase", "type": "nominal"},
            {"field": "rules", "type": "nominal", "title": "rules broken"},
        ]
    layers.append(
        {
            "mark": {"type": "line", "color": "#7f7f7f", "strokeWidth": 1},
            "encoding": {
                "x": x,
                "y": {
                    "field": "y",
                    "type": "quantitative",
                    "title": y_title,
                    "scale": {"zero": False},
                },
            },
        }
    )
    colour: dict[str, Any] = {
        "field": "status",
        "type": "nominal",
        "title": "signal" if chart.chart == "ewma" else "rule broken",
        "scale": {"domain": domain, "range": _palette(len(domain))},
    }
    point: dict[str, Any] = {"type": "point", "filled": True, "size": 45, "opacity": 1}
    if not judged:
        point["color"] = "#8c8c8c"
    encoding: dict[str, Any] = {
        "x": x,
        "y": {"field": "y", "type": "quantitative"},
        "tooltip": tooltip,
    }
    if judged:
        encoding["color"] = colour
    layers.append({"mark": point, "encoding": encoding})
    if phase2 is not None and math.isfinite(phase2):
        marker = {"values": [{"x": phase2, "label": "phase II \u2192"}]}
        layers += [
            {
                "data": marker,
                "mark": {"type": "rule", "color": "#555555", "strokeDash": [2, 2]},
                "encoding": {"x": {"field": "x", "type": "quantitative"}},
            },
            {
                "data": marker,
                "mark": {
                    "type": "text",
                    "align": "left",
                    "dx": 4,
                    "dy": 2,
                    "baseline": "top",
                    "color": "#555555",
                },
                "encoding": {
                    "x": {"field": "x", "type": "quantitative"},
                    "y": {"value": 0},
                    "text": {"field": "label", "type": "nominal"},
                },
            },
        ]
    p2 = "Infinity" if phase2 == math.inf else phase2 if phase2 is not None else first - 1
    transform = [
        {"calculate": "'#' + datum.r", "as": "run"},
        {"calculate": f"datum.k || '{IN_CONTROL}'", "as": "status"},
        {"calculate": f"datum.b || '{IN_CONTROL}'", "as": "rules"},
        {"calculate": f"datum.x < {p2} ? 'I' : 'II'", "as": "phase"},
        # the run's start in the viewer's time zone (the panel says it in the browser's locale)
        {"calculate": f"timeFormat(toDate(datum.t), '{TIME_FORMAT}')", "as": "run_time"},
        *limits,
    ]
    return {
        "$schema": SCHEMA,
        "title": chart.title,
        "width": width,
        "height": height,
        "data": {"values": rows},
        "transform": transform,
        "layer": layers,
    }


def _limit_steps(chart: MetricChart) -> list[dict[str, Any]]:
    """Centre, limits and (rule charts) the standard error as steps: a row where they change
    and one after the last point."""
    steps: list[dict[str, Any]] = []
    last: tuple | None = None
    result = chart._result
    se = getattr(result, "se", None)
    zones = chart.chart not in ("ewma", "cusum") and se is not None
    first = chart.first + 1
    for i, p in enumerate(chart.points):
        s = rounded(float(se[i])) if zones else None
        now = (rounded(p.center), rounded(p.lcl), rounded(p.ucl), s)
        if now != last:
            row = {"x": first + i - 0.5, "c": now[0], "l": now[1], "u": now[2]}
            if zones:
                row["s"] = now[3]
            steps.append(row)
            last = now
    if steps:
        steps.append({**steps[-1], "x": first + len(chart.points) - 0.5})
    return steps


def _limit_layers(
    chart: MetricChart, x: dict[str, Any], steps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Centre, limits and (rule charts) the 1σ and 2σ zones, drawn ``step-after`` from half a
    sample before each point."""
    zones = bool(steps) and "s" in steps[0]
    data = {"values": steps}
    xs = {**x, "title": None}
    layers: list[dict[str, Any]] = []
    if zones:
        layers += [
            {
                "data": data,
                "transform": [
                    {"calculate": f"datum.c - {k} * datum.s", "as": "lo"},
                    {"calculate": f"datum.c + {k} * datum.s", "as": "hi"},
                ],
                "mark": {
                    "type": "area",
                    "interpolate": "step-after",
                    "opacity": opacity,
                    "color": "#4c78a8",
                },
                "encoding": {
                    "x": xs,
                    "y": {"field": "lo", "type": "quantitative"},
                    "y2": {"field": "hi"},
                },
            }
            for k, opacity in ((2, 0.10), (1, 0.12))
        ]
    for field, colour, dash in (
        ("c", "#2ca02c", None),
        ("u", "#d62728", [6, 3]),
        ("l", "#d62728", [6, 3]),
    ):
        mark: dict[str, Any] = {"type": "line", "interpolate": "step-after", "color": colour}
        if dash:
            mark["strokeDash"] = dash
        layers.append(
            {
                "data": data,
                "mark": mark,
                "encoding": {"x": xs, "y": {"field": field, "type": "quantitative"}},
            }
        )
    return layers


def _palette(n: int) -> list[str]:
    """Blue for "in control", then warm colours (cycled) for each rule broken."""
    warm = _COLOURS[1:]
    return [_COLOURS[0]] + [warm[k % len(warm)] for k in range(n - 1)]


__all__ = ["chart_spec", "rounded"]
