"""Control-chart pictures (altair) and an offline display path for JupyterLab.

altair 6 writes vega-lite v6 specs and its default renderer loads vega from a CDN; JupyterLab 4's
built-in renderer (vega-lite 5, bundled) shows ``application/vnd.vegalite.v5+json`` with no
internet. So the charts here use only vega-lite 5 features, inline their data, and are emitted
under the v5 mimetype by ``chart_mimebundle`` (also the results' ``_repr_mimebundle_``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import altair as alt

from .rules import RULES

# The results (ControlChart, EwmaResult, CusumResult) import this module to draw themselves, so it
# takes them by their attributes and imports none of them: the arrows go results -> picture only.

__all__ = [
    "VEGALITE_V5_MIMETYPE",
    "OfflineChart",
    "chart_mimebundle",
    "display_chart",
    "label_samples",
]

VEGALITE_V5_MIMETYPE = "application/vnd.vegalite.v5+json"
VEGALITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"

_IN_CONTROL = "in control"
_POINT_COLOURS = ["#4c78a8", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22"]


def _spec_of(obj: Any) -> dict[str, Any]:
    chart = obj.chart() if hasattr(obj, "chart") and callable(obj.chart) else obj
    spec = dict(chart) if isinstance(chart, dict) else chart.to_dict()
    spec["$schema"] = VEGALITE_V5_SCHEMA
    return spec


def chart_mimebundle(chart: Any, *, text: str | None = None) -> dict[str, Any]:
    """``{"application/vnd.vegalite.v5+json": spec, "text/plain": ...}`` for an altair chart, a
    spec dict or an SPC result: renders offline in JupyterLab 4 and in papermill output."""
    spec = _spec_of(chart)
    if text is None:
        text = repr(chart) if not hasattr(chart, "to_dict") else f"<chart: {_title_of(spec)}>"
    return {VEGALITE_V5_MIMETYPE: spec, "text/plain": text}


#: Results with more points than this display as text in a notebook (a picture of them would
#: inline every point into the output); ``display_chart(result)`` still draws them.
MAX_AUTO_DISPLAY_POINTS = 20_000


def result_mimebundle(result: Any) -> dict[str, Any]:
    """The display bundle of an SPC result: its chart, or text only when it is very long."""
    if len(result) > MAX_AUTO_DISPLAY_POINTS:
        return {
            "text/plain": f"{result!r}\n({len(result):,} points: too many to draw automatically; "
            "use spc.display_chart(result) to draw them anyway, or chart a slice of the data.)"
        }
    return chart_mimebundle(result.chart(), text=repr(result))


def display_chart(obj: Any) -> None:
    """Display an altair chart or SPC result through the offline vega-lite 5 bundle."""
    from IPython.display import display

    text = repr(obj) if hasattr(obj, "chart") and callable(obj.chart) else None
    display(chart_mimebundle(obj, text=text), raw=True)


def _title_of(spec: dict[str, Any]) -> str:
    t = spec.get("title", "")
    return t.get("text", "") if isinstance(t, dict) else str(t)


class OfflineChart(alt.LayerChart):
    """An altair ``LayerChart`` that displays itself through the offline v5 bundle."""

    def _repr_mimebundle_(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return chart_mimebundle(self)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _layers(
    rows: list[dict[str, Any]],
    title: str,
    *,
    y_title: str,
    zones: bool,
    phase2_at: float | None,
    colour_domain: list[str],
    tooltip: list[Any],
    legend_title: str = "rule broken",
    value_field: str = "statistic",
    extra: list[Any] | None = None,
    **properties: Any,
) -> OfflineChart:
    base = alt.Chart().encode(
        x=alt.X(
            "sample:Q",
            title="sample",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(format="d", tickMinStep=1),
        )
    )
    layers: list[Any] = []
    if zones:
        layers += [
            base.mark_area(interpolate="step", opacity=0.10, color="#4c78a8").encode(
                y=alt.Y("z2lo:Q"), y2="z2hi:Q"
            ),
            base.mark_area(interpolate="step", opacity=0.12, color="#4c78a8").encode(
                y=alt.Y("z1lo:Q"), y2="z1hi:Q"
            ),
        ]
    layers += [
        base.mark_line(interpolate="step", color="#2ca02c").encode(y=alt.Y("center:Q")),
        base.mark_line(interpolate="step", color="#d62728", strokeDash=[6, 3]).encode(
            y=alt.Y("ucl:Q")
        ),
        base.mark_line(interpolate="step", color="#d62728", strokeDash=[6, 3]).encode(
            y=alt.Y("lcl:Q")
        ),
    ]
    layers += extra or []
    layers += [
        base.mark_line(color="#7f7f7f", strokeWidth=1).encode(
            y=alt.Y(f"{value_field}:Q", title=y_title, scale=alt.Scale(zero=False))
        ),
        base.mark_point(filled=True, size=45, opacity=1).encode(
            y=alt.Y(f"{value_field}:Q"),
            color=alt.Color(
                "status:N",
                title=legend_title,
                scale=alt.Scale(
                    domain=colour_domain,
                    range=_palette(len(colour_domain)),
                ),
            ),
            tooltip=tooltip,
        ),
    ]
    if phase2_at is not None:
        marker = alt.Chart(alt.Data(values=[{"x": phase2_at, "label": "phase II →"}]))
        layers += [
            marker.mark_rule(color="#555555", strokeDash=[2, 2]).encode(x="x:Q"),
            marker.mark_text(align="left", dx=4, dy=2, baseline="top", color="#555555").encode(
                x="x:Q", y=alt.value(0), text="label:N"
            ),
        ]
    props = {"width": 600, "height": 300, "title": title} | properties
    return OfflineChart(data=alt.Data(values=rows), layer=layers).properties(**props)


def _status(rules_at: list[list[str]], order: list[str]) -> tuple[list[str], list[str]]:
    """Colour key per point (its first rule) and the legend domain in rule-priority order."""
    status = [r[0] if r else _IN_CONTROL for r in rules_at]
    present = set(status)
    return status, [_IN_CONTROL] + [r for r in order if r in present]


Y_TITLES = {
    "i": "individual value",
    "mr": "moving range",
    "xbar": "subgroup mean",
    "r": "subgroup range",
    "s": "subgroup standard deviation",
    "p": "proportion defective",
    "np": "number defective",
    "c": "nonconformities",
    "u": "nonconformities per unit",
}


def control_chart_picture(cc: Any, **properties: Any) -> OfflineChart:
    """Layered picture of a ``ControlChart``: zones, centre, step limits, coloured points."""
    rules_at = cc.point_rules()
    beyond = set(cc.beyond_limits)
    for i in beyond:  # beyond-limits leads the colour even when the rule set lacks WE1/N1
        if not any(r in ("WE1", "N1") for r in rules_at[i]):
            rules_at[i].insert(0, "beyond limits")
    status, domain = _status(rules_at, ["beyond limits", *cc.rules])
    words = {**RULES, "beyond limits": "beyond the control limits"}
    rows = []
    for i in range(len(cc)):
        c, s = float(cc.center[i]), float(cc.se[i])
        rows.append(
            {
                "sample": int(cc.labels[i]),
                "statistic": _num(float(cc.statistics[i])),
                "center": c,
                "lcl": _num(float(cc.lcl[i])),
                "ucl": _num(float(cc.ucl[i])),
                "z1lo": c - s,
                "z1hi": c + s,
                "z2lo": c - 2 * s,
                "z2hi": c + 2 * s,
                "phase": "I" if i < cc.phase1 else "II",
                "status": status[i],
                "rules": "; ".join(f"{r}: {words[r]}" for r in rules_at[i]) or _IN_CONTROL,
            }
        )
    p2 = cc.phase1 + cc.first_label - 0.5 if cc.phase1 < len(cc) else None
    tooltip = [
        alt.Tooltip("sample:Q", format="d"),
        alt.Tooltip("statistic:Q", format=".6g"),
        alt.Tooltip("center:Q", format=".6g"),
        alt.Tooltip("lcl:Q", title="LCL", format=".6g"),
        alt.Tooltip("ucl:Q", title="UCL", format=".6g"),
        alt.Tooltip("phase:N"),
        alt.Tooltip("rules:N", title="rules broken"),
    ]
    return _layers(
        rows,
        cc.title,
        y_title=Y_TITLES[cc.chart_type],
        zones=True,
        phase2_at=p2,
        colour_domain=domain,
        tooltip=tooltip,
        **properties,
    )


def ewma_picture(r: Any, **properties: Any) -> OfflineChart:
    """An ``EwmaResult``: EWMA line with its widening limits; signalling points in red."""
    sig = set(r.signals)
    rows = [
        {
            "sample": i + 1,
            "statistic": float(r.statistics[i]),
            "ewma": float(r.ewma[i]),
            "center": float(r.center[i]),
            "lcl": float(r.lcl[i]),
            "ucl": float(r.ucl[i]),
            "phase": "I" if i < r.phase1 else "II",
            "status": "EWMA beyond limits" if i in sig else _IN_CONTROL,
        }
        for i in range(len(r))
    ]
    domain = [_IN_CONTROL] + (["EWMA beyond limits"] if sig else [])
    tooltip = [
        alt.Tooltip("sample:Q", format="d"),
        alt.Tooltip("statistic:Q", format=".6g"),
        alt.Tooltip("ewma:Q", title="EWMA", format=".6g"),
        alt.Tooltip("lcl:Q", title="LCL", format=".6g"),
        alt.Tooltip("ucl:Q", title="UCL", format=".6g"),
        alt.Tooltip("phase:N"),
        alt.Tooltip("status:N", title="signal"),
    ]
    raw = (
        alt.Chart()
        .mark_point(color="#9e9e9e", size=12, shape="cross")
        .encode(x="sample:Q", y="statistic:Q")
    )
    return _layers(
        rows,
        r.title,
        y_title="EWMA",
        zones=False,
        phase2_at=r.phase1 + 0.5 if r.phase1 < len(r) else None,
        colour_domain=domain,
        tooltip=tooltip,
        value_field="ewma",
        extra=[raw],
        legend_title="signal",
        **properties,
    )


def cusum_picture(r: Any, **properties: Any) -> OfflineChart:
    """A ``CusumResult``: upper and lower CUSUM against the decision interval ±h; signalling
    points in red."""
    up, lo = set(r.signals_upper), set(r.signals_lower)
    h = r.decision_interval
    rows: list[dict[str, Any]] = []
    for i in range(len(r)):
        for side, val, hit in (("upper", r.upper[i], i in up), ("lower", r.lower[i], i in lo)):
            rows.append(
                {
                    "sample": i + 1,
                    "side": side,
                    "sum": float(val),
                    "center": 0.0,
                    "lcl": -h,
                    "ucl": h,
                    "phase": "I" if i < r.phase1 else "II",
                    "status": f"{side} sum beyond h" if hit else _IN_CONTROL,
                }
            )
    domain = [_IN_CONTROL] + sorted({row["status"] for row in rows} - {_IN_CONTROL})
    tooltip = [
        alt.Tooltip("sample:Q", format="d"),
        alt.Tooltip("side:N"),
        alt.Tooltip("sum:Q", format=".6g"),
        alt.Tooltip("phase:N"),
        alt.Tooltip("status:N", title="signal"),
    ]
    base = alt.Chart().encode(
        x=alt.X("sample:Q", title="sample", scale=alt.Scale(zero=False), axis=alt.Axis(format="d"))
    )
    layers: list[Any] = [
        base.mark_line(color="#d62728", strokeDash=[6, 3]).encode(y="ucl:Q"),
        base.mark_line(color="#d62728", strokeDash=[6, 3]).encode(y="lcl:Q"),
        base.mark_line(color="#2ca02c").encode(y="center:Q"),
        base.mark_line(color="#7f7f7f", strokeWidth=1).encode(
            y=alt.Y("sum:Q", title="cumulative sum (standard errors)"), detail="side:N"
        ),
        base.mark_point(filled=True, size=40, opacity=1).encode(
            y="sum:Q",
            shape=alt.Shape("side:N", title="sum"),
            color=alt.Color(
                "status:N",
                title="signal",
                scale=alt.Scale(domain=domain, range=_palette(len(domain))),
            ),
            tooltip=tooltip,
        ),
    ]
    if r.phase1 < len(r):
        marker = alt.Chart(alt.Data(values=[{"x": r.phase1 + 0.5, "label": "phase II →"}]))
        layers += [
            marker.mark_rule(color="#555555", strokeDash=[2, 2]).encode(x="x:Q"),
            marker.mark_text(align="left", dx=4, baseline="top", color="#555555").encode(
                x="x:Q", y=alt.value(0), text="label:N"
            ),
        ]
    props = {"width": 600, "height": 300, "title": r.title} | properties
    return OfflineChart(data=alt.Data(values=rows), layer=layers).properties(**props)


def series_picture(
    values: list[float], title: str, *, y_title: str = "value", **properties: Any
) -> OfflineChart:
    """A plain run chart (points joined by a line, no limits): a series not judged yet."""
    rows = [
        {"sample": i + 1, "statistic": _num(float(v)), "status": "not judged"}
        for i, v in enumerate(values)
    ]
    base = alt.Chart().encode(
        x=alt.X("sample:Q", title="sample", scale=alt.Scale(zero=False), axis=alt.Axis(format="d"))
    )
    tooltip = [alt.Tooltip("sample:Q", format="d"), alt.Tooltip("statistic:Q", format=".6g")]
    layers = [
        base.mark_line(color="#7f7f7f", strokeWidth=1).encode(
            y=alt.Y("statistic:Q", title=y_title, scale=alt.Scale(zero=False))
        ),
        base.mark_point(filled=True, size=45, opacity=1, color="#8c8c8c").encode(
            y="statistic:Q", tooltip=tooltip
        ),
    ]
    props = {"width": 600, "height": 300, "title": title} | properties
    return OfflineChart(data=alt.Data(values=rows), layer=layers).properties(**props)


def label_samples(
    spec: dict[str, Any], labels: list[str], *, title: str = "sample", field: str = "label"
) -> dict[str, Any]:
    """Name the samples of a chart's spec: sample ``k`` (1-based) is ``labels[k - 1]`` on the
    x-axis (e.g. the day each point is for), in the data as ``field`` and first in the tooltips.

    The x scale stays the sample number, so limits, zones and the phase II marker keep their
    places; only what the axis says changes. Changes ``spec`` in place and returns it."""
    table = json.dumps([""] + [str(x) for x in labels])
    expr = f"{table}[datum.value] || ''"
    for row in spec.get("data", {}).get("values", []):
        k = row.get("sample")
        if isinstance(k, int) and 1 <= k <= len(labels):
            row[field] = str(labels[k - 1])
    for layer in spec.get("layer", []):
        enc = layer.get("encoding", {})
        x = enc.get("x")
        if isinstance(x, dict) and x.get("field") == "sample":
            x["title"] = title
            axis = x.setdefault("axis", {})
            axis.update(labelExpr=expr, labelOverlap=True, labelAngle=-40, tickMinStep=1)
        tooltip = enc.get("tooltip")
        if isinstance(tooltip, list):
            enc["tooltip"] = [{"field": field, "type": "nominal", "title": title}] + tooltip
    return spec


def _palette(n: int) -> list[str]:
    """Blue for "in control", then warm colours (cycled) for each rule broken."""
    warm = _POINT_COLOURS[1:]
    return [_POINT_COLOURS[0]] + [warm[k % len(warm)] for k in range(n - 1)]
