"""A metric chart's Vega-Lite v5 spec, built once as a plain dict with the points as data.

``MetricChart.spec()`` draws through here: one compact row per point (``x`` sample number,
``r`` step run id, ``t`` start time, ``y`` the plotted value; ``k``/``b`` only on a point that
broke a rule, ``p`` its partition, ``v`` an EWMA point's raw value). Numbers are rounded to 7
significant digits (the tooltips show 6). Nothing is validated point by point: building altair
layers and validating them took seconds at 10k points (see ``benchmarks/chart_bench.py``); the
spec is checked against the Vega-Lite v5 schema in the tests.

Every point has its own centre and limits (``c``, ``l``, ``u``, and ``s`` the zones' sigma),
drawn as step lines through the points, so limits that move along the series (p/np/u with each
run's n, a rolling line, a seasonal line's seasons, a new phase) need no other spec. They are
looked up, not repeated: the distinct limits are a small table (a ``lookup`` transform) and a
row names its entry in ``g`` only when it is not the first, so limits constant over the window
add nothing per row. A run's parameters are looked up the same way (``q``; secrets ``***``).

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
# the phase of a point after the phase II marker whose season or new phase still collects its
# baseline (drawn without limits): what the chart says of its series before limits exist; also
# the status (legend, grey) of any point without limits, which no rule judged
COLLECTING = "collecting baseline"
NOT_JUDGED = f"not judged ({COLLECTING})"  # such a point's "rules broken" in its tooltip
COLLECTING_COLOUR = "#8c8c8c"  # neutral: neither in-control blue nor a rule's warm colour
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


def point_parameters(point: Any) -> str | None:
    """A point's run parameters in one line (``day=2026-09-01, n_rows=50``; secrets ``***``,
    those of a run stored before they were hidden too), without those that only repeat its
    partition key; None when there are none to show."""
    from jupyter_dataops.checks.display import parameters_text
    from jupyter_dataops.store.redact import redact_parameters

    params = point.parameters
    if not params:
        return None
    same = tuple(k for k, v in params.items() if point.partition and v == point.partition)
    return parameters_text(redact_parameters(params), skip=same) or None


def chart_spec(chart: MetricChart, *, width: int = 600, height: int = 300) -> dict[str, Any]:
    """The Vega-Lite v5 spec of ``chart``'s points (a control chart once judged, else a run
    chart); the x-axis counts samples over the whole series, so pages of one history line up."""
    from jupyter_dataops.spc.rules import RULES

    points = chart.points
    judged = chart._result is not None
    partitioned = any(p.partition for p in points)
    first = chart.first + 1
    # one list per field, the rows made by a flatten transform in the viewer: at 10,000 points
    # a dict per point was most of the answer's time and size
    columns: dict[str, list[Any]] = {
        "x": list(range(first, first + len(points))),
        "r": [p.step_run_id for p in points],
        "t": _times([p.time for p in points]),
        "y": rounded_all([p.value if p.statistic is None else p.statistic for p in points]),
    }
    if chart.chart == "ewma" and judged:
        columns["v"] = rounded_all([p.value for p in points])
    if partitioned:
        columns["p"] = [p.partition or f"run #{p.step_run_id}" for p in points]
    rules_table, keys = _rules_column(points, columns)
    params = _parameters_column(points, columns, partitioned)
    order = [*RULES, "ewma"]
    rules_met = sorted(keys, key=lambda k: order.index(k) if k in order else len(order))
    x_axis: dict[str, Any] = {"format": "d", "tickMinStep": 1}
    if partitioned:  # a label for each tick, the ticks chosen here (≤ 15 whatever the length)
        stride = _stride(len(points))
        xs, labels = columns["x"], columns["p"]
        ticks = [i for i, x in enumerate(xs) if x % stride == 0] or [0]
        shown = json.dumps({str(xs[i]): labels[i] for i in ticks})
        x_axis.update(
            values=[xs[i] for i in ticks],
            labelExpr=f"{shown}[''+datum.value] || ''",
            labelOverlap=True,
            labelAngle=-40,
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
    collecting = False
    lookups: list[dict[str, Any]] = [
        {
            "lookup": "k",
            "from": {"data": {"values": rules_table}, "key": "k", "fields": ["status", "rules"]},
        }
    ]
    if judged:
        table = _limits_table(chart, columns)
        lookups.append(
            {
                "lookup": "g",
                "from": {"data": {"values": table}, "key": "g", "fields": list(table[0])[1:]},
            }
        )
        collecting = "phase" in table[0]
        layers += _limit_layers(x, zones="s" in table[0])
        base = next((i for i, p in enumerate(points) if not p.baseline), None)
        if base is None:
            phase2 = math.inf  # the whole window is baseline (phase I)
        elif base > 0 or chart.first == 0:
            phase2 = first + base - 0.5
    if len(params) > 1 or None not in params:
        table = [{"q": q, "parameters": text or "none"} for text, q in params.items()]
        lookups.append(
            {
                "lookup": "q",
                "from": {"data": {"values": table}, "key": "q", "fields": ["parameters"]},
            }
        )
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
    if any(lookup["lookup"] == "q" for lookup in lookups):
        tooltip.insert(1, {"field": "parameters", "type": "nominal", "title": "parameters"})
    if partitioned:
        tooltip.insert(0, {"field": "p", "type": "nominal", "title": "partition"})
    if judged:
        tooltip += [
            {"field": "c", "type": "quantitative", "title": "center", "format": ".6g"},
            {"field": "l", "type": "quantitative", "title": "LCL", "format": ".6g"},
            {"field": "u", "type": "quantitative", "title": "UCL", "format": ".6g"},
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
    # a point without limits (still collecting) is grey, its own entry after "in control"
    domain = [IN_CONTROL] + [COLLECTING] * collecting + rules_met
    palette = _palette(1 + len(rules_met))
    colour: dict[str, Any] = {
        "field": "status",
        "type": "nominal",
        "title": "signal" if chart.chart == "ewma" else "rule broken",
        "scale": {
            "domain": domain,
            "range": palette[:1] + [COLLECTING_COLOUR] * collecting + palette[1:],
        },
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
    if chart.rebaselines:  # each new phase (dataops spc rebaseline) with its reason
        marks = [
            {"x": first + b["index"] - 0.5, "label": f"phase {b['phase']}: {b['reason']}"}
            for b in chart.rebaselines
        ]
        layers += _rebaseline_layers(marks)
    # Vega's expressions know no `Infinity` (an unknown signal: the chart is not drawn at all)
    p2 = "MAX_VALUE" if phase2 == math.inf else phase2 if phase2 is not None else first - 1
    transform = [
        {"flatten": list(columns)},
        {"calculate": "'#' + datum.r", "as": "run"},
        # the run's start in the viewer's time zone (the panel says it in the browser's locale)
        {"calculate": f"timeFormat(toDate(datum.t), '{TIME_FORMAT}')", "as": "run_time"},
    ]
    for lookup in lookups:  # a row without ``k``/``g``/``q`` is on the table's first entry
        key = lookup["lookup"]
        transform += [{"calculate": f"datum.{key} || 0", "as": key}, lookup]
    if collecting:  # no limits, nothing judged: the point says so, not "in control"
        unjudged = f"datum.phase === '{COLLECTING}' && datum.status === '{IN_CONTROL}'"
        transform += [
            {"calculate": f"{unjudged} ? '{NOT_JUDGED}' : datum.rules", "as": "rules"},
            {"calculate": f"{unjudged} ? '{COLLECTING}' : datum.status", "as": "status"},
        ]
    # phase II after the marker, unless the point's limits entry says it is still collecting
    phase2_word = "datum.phase || 'II'" if collecting else "'II'"
    transform.append({"calculate": f"datum.x < {p2} ? 'I' : {phase2_word}", "as": "phase"})
    return {
        "$schema": SCHEMA,
        "title": chart.title,
        "width": width,
        "height": height,
        "data": {"values": [columns]},
        "transform": transform,
        "layer": layers,
    }


def _rebaseline_layers(marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A solid rule at each phase boundary, labelled with its phase and reason."""
    data = {"values": marks}
    x = {"field": "x", "type": "quantitative"}
    return [
        {
            "data": data,
            "mark": {"type": "rule", "color": _PHASE_COLOUR, "strokeWidth": 2},
            "encoding": {"x": x, "tooltip": [{"field": "label", "type": "nominal"}]},
        },
        {
            "data": data,
            "mark": {
                "type": "text",
                "align": "left",
                "dx": 4,
                "dy": 16,
                "baseline": "top",
                "color": _PHASE_COLOUR,
            },
            "encoding": {"x": x, "y": {"value": 0}, "text": {"field": "label", "type": "nominal"}},
        },
    ]


_PHASE_COLOUR = "#6a3d9a"


def _stride(n: int) -> int:
    """The step between labelled ticks (1, 2, 5, 10, 20, 50, ...) that keeps ≤ 15 of ``n``."""
    stride = 1
    while n / stride > 15:
        for k in (2, 5, 10):
            if n / (stride * k) <= 15 or k == 10:
                stride *= k
                break
    return stride


def _limits_table(chart: MetricChart, columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The distinct centre, limits and (rule charts) the zones' sigma of the points, the first
    point's first; the column ``g`` names each point's entry (left out when all are on 0). When
    some points have no limits (their season or new phase still collects its baseline: see
    ``chart_judgement.recorded_limits``), each entry says ``phase``: ``COLLECTING`` or None."""
    points = chart.points
    se = getattr(chart._result, "se", None)
    zones = chart.chart not in ("ewma", "cusum") and se is not None
    sigmas = [None if s != s else s for s in se.tolist()] if zones else [None] * len(points)
    raw = list(
        zip(
            [p.center for p in points],
            [p.lcl for p in points],
            [p.ucl for p in points],
            sigmas,
            strict=True,
        )
    )
    table: dict[tuple, int] = {}
    entry: dict[tuple, int] = {}  # the points' limits as they are -> their entry (rounded once)
    for limits in dict.fromkeys(raw):
        entry[limits] = table.setdefault(tuple(map(rounded, limits)), len(table))
    if len(table) > 1:
        columns["g"] = [entry[limits] for limits in raw]
    collecting = any(c is None for c, *_ in table)  # a season or new phase without limits yet
    out = []
    for (c, lo, u, s), g in table.items():
        row = {"g": g, "c": c, "l": lo, "u": u}
        if zones:
            row["s"] = s
        if collecting:
            row["phase"] = COLLECTING if c is None else None
        out.append(row)
    return out or [{"g": 0, "c": None, "l": None, "u": None}]


def _rules_column(points: list[Any], columns: dict[str, list[Any]]) -> tuple[list, list[str]]:
    """The table of the distinct rule lists broken (entry 0: none; ``status`` the first rule,
    which colours the point, ``rules`` each with its meaning) and the first rules in the order
    met; the column ``k`` names each point's entry when any broke a rule."""
    from jupyter_dataops.spc.rules import RULES

    words = {**RULES, "ewma": "the EWMA left its control limits"}
    table = [{"k": 0, "status": IN_CONTROL, "rules": IN_CONTROL}]
    entry: dict[tuple[str, ...], int] = {(): 0}
    keys: list[str] = []
    column = [0] * len(points)
    for i, p in enumerate(points):
        if not p.rules:  # most points: in control
            continue
        rules = tuple(p.rules)
        k = entry.get(rules)
        if k is None:
            k = entry[rules] = len(table)
            text = "; ".join(f"{r}: {words.get(r, r)}" for r in rules)
            table.append({"k": k, "status": rules[0], "rules": text})
            if rules[0] not in keys:
                keys.append(rules[0])
        column[i] = k
    if len(table) > 1:
        columns["k"] = column
    return table, keys


def _parameters_column(
    points: list[Any], columns: dict[str, list[Any]], partitioned: bool
) -> dict[str | None, int]:
    """The distinct parameters shown (text -> entry, the first point's 0); the column ``q``
    names each point's entry when they differ. Runs with equal parameters share one dict, so
    each is written once."""
    keys = [id(p.parameters) for p in points]
    if partitioned:
        keys = list(zip(keys, [p.partition for p in points], strict=True))
    params: dict[str | None, int] = {}
    entry: dict[Any, int] = {}
    for i, key in enumerate(keys):
        if key not in entry:
            entry[key] = params.setdefault(point_parameters(points[i]), len(params))
    if len(params) > 1:
        columns["q"] = [entry[key] for key in keys]
    return params


def _times(stamps: list[str | None]) -> list[str | None]:
    """``_time`` of each stamp (the store's are ``...+00:00``: cut, not parsed)."""
    return [
        t[:19] + "Z" if t is not None and len(t) >= 19 and t.endswith("+00:00") else _time(t)
        for t in stamps
    ]


def rounded_all(values: list[float | None]) -> list[float | int | None]:
    """``rounded`` of each value, on arrays: whole numbers as ints when all are."""
    import numpy as np

    a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    finite = np.isfinite(a)
    whole = finite & (a == np.round(a)) & (np.abs(a) < 1e15)
    if whole.all():
        return a.astype(np.int64).tolist()
    nonzero = finite & (a != 0) & ~whole
    digits = np.zeros(len(a), dtype=np.int64)  # decimals that keep 7 significant digits
    digits[nonzero] = 6 - np.floor(np.log10(np.abs(a[nonzero]))).astype(np.int64)
    exact = nonzero & (np.abs(digits) <= 22)  # powers of ten a double holds exactly
    scale = 10.0 ** np.where(exact, np.abs(digits), 0)
    up, down = exact & (digits >= 0), exact & (digits < 0)
    out = a.copy()
    out[up] = np.round(a[up] * scale[up]) / scale[up]  # the quotient is the decimal's double
    out[down] = np.round(a[down] / scale[down]) * scale[down]
    listed = out.tolist()
    for i in np.flatnonzero((nonzero & ~exact) | whole).tolist():  # one by one
        listed[i] = rounded(listed[i])
    if finite.all():
        return listed
    return [v if ok else None for v, ok in zip(listed, finite.tolist(), strict=True)]


def _limit_layers(x: dict[str, Any], *, zones: bool) -> list[dict[str, Any]]:
    """Centre, limits and (rule charts) the 1σ and 2σ zones, each point's own, drawn as steps
    that change half way between two points."""
    xs = {**x, "title": None}
    layers: list[dict[str, Any]] = []
    if zones:
        layers += [
            {
                "transform": [
                    # a point without limits (still collecting) has no zones: null, not 0
                    {"calculate": f"isValid(datum.s) ? datum.c - {k} * datum.s : null", "as": "lo"},
                    {"calculate": f"isValid(datum.s) ? datum.c + {k} * datum.s : null", "as": "hi"},
                ],
                "mark": {
                    "type": "area",
                    "interpolate": "step",
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
        mark: dict[str, Any] = {"type": "line", "interpolate": "step", "color": colour}
        if dash:
            mark["strokeDash"] = dash
        layers.append(
            {"mark": mark, "encoding": {"x": xs, "y": {"field": field, "type": "quantitative"}}}
        )
    return layers


def _palette(n: int) -> list[str]:
    """Blue for "in control", then warm colours (cycled) for each rule broken."""
    warm = _COLOURS[1:]
    return [_COLOURS[0]] + [warm[k % len(warm)] for k in range(n - 1)]


__all__ = [
    "COLLECTING",
    "COLLECTING_COLOUR",
    "IN_CONTROL",
    "NOT_JUDGED",
    "chart_spec",
    "point_parameters",
    "rounded",
    "rounded_all",
]
