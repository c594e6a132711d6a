"""Control-chart widget: one metric of one step over its production runs.

The chart is computed by ``jupyter_dataops.spc`` and shown in an ``Output`` widget through the
spc module's offline vega-lite 5 bundle (JupyterLab's built-in renderer; no CDN). The broken run
rules (or EWMA/CUSUM signals) are listed below it with the run each point came from. Only the
newest ``last`` points are read (``metric_series(limit=...)``), so a 100k-run store stays fast.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.widgets._format import STORE_ERRORS, esc, number, when

CHART_TYPES: dict[str, str] = {
    "i": "Individuals (I)",
    "mr": "Moving range (MR)",
    "ewma": "EWMA",
    "cusum": "CUSUM",
}
RULE_SET_LABELS: dict[str, str] = {
    "qcc": "qcc (beyond limits, run of 7)",
    "western_electric": "Western Electric",
    "nelson": "Nelson",
    "nhs": "NHS Making Data Count",
}
LAST_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("last 50 runs", 50),
    ("last 100 runs", 100),
    ("last 500 runs", 500),
    ("last 2,000 runs", 2000),
    ("all runs", None),
)
_RULED = ("i", "mr")
VEGALITE = "application/vnd.vegalite.v5+json"
_SIGNALS = {
    "EWMA": "the EWMA left its control limits",
    "CUSUM+": "the upper cumulative sum passed the decision interval (shift up)",
    "CUSUM−": "the lower cumulative sum passed the decision interval (shift down)",
}


class MetricChart(widgets.VBox):
    """A control chart of ``metric`` over the production runs of ``step``, with controls.

    Controls: chart type (I, MR, EWMA, CUSUM), rule set (I and MR charts; EWMA and CUSUM have
    their own signal rule), how many recent runs to plot, phase I (the first N plotted runs set
    the centre and limits; 0 = all) and Refresh.
    """

    def __init__(
        self,
        store: Any,
        step: str,
        metric: str,
        *,
        chart_type: str = "i",
        rules: str = "qcc",
        last: int | None = 500,
        phase1: int | None = None,
        pipeline: str | None = None,
        width: int = 620,
    ) -> None:
        if chart_type not in CHART_TYPES:
            raise DataOpsError(
                f"Unknown chart type {chart_type!r}: use one of {', '.join(CHART_TYPES)}."
            )
        if rules not in RULE_SET_LABELS:
            raise DataOpsError(
                f"Unknown rule set {rules!r}: use one of {', '.join(RULE_SET_LABELS)}."
            )
        if last is not None and last < 2:
            raise DataOpsError(f"last must be at least 2 runs (or None for all), got {last}.")
        self.store = store
        self.step = step
        self.metric = metric
        self.pipeline = pipeline
        self.width = width
        self.series: list[dict] = []
        self.result: Any = None
        self.broken: dict[str, list[int]] = {}

        lasts = list(LAST_CHOICES)
        if last not in {v for _, v in lasts}:
            lasts.insert(-1, (f"last {last:,} runs", last))
        self.chart_type = widgets.Dropdown(
            options=[(label, key) for key, label in CHART_TYPES.items()],
            value=chart_type,
            description="Chart",
            layout=widgets.Layout(width="220px"),
        )
        self.rule_set = widgets.Dropdown(
            options=[(label, key) for key, label in RULE_SET_LABELS.items()],
            value=rules,
            description="Rules",
            layout=widgets.Layout(width="290px"),
        )
        self.last = widgets.Dropdown(
            options=lasts,
            value=last,
            description="Points",
            layout=widgets.Layout(width="210px"),
        )
        self.phase1 = widgets.BoundedIntText(
            value=phase1 or 0,
            min=0,
            max=10**9,
            description="Phase I",
            tooltip="Centre and limits from the first N plotted runs (0 = all of them)",
            layout=widgets.Layout(width="150px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the run store again"
        )
        self.title = widgets.HTML()
        self.message = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.rules_list = widgets.HTML()

        for control in (self.chart_type, self.rule_set, self.last, self.phase1):
            control.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        toolbar = widgets.HBox(
            [self.chart_type, self.rule_set, self.last, self.phase1, self.refresh_button],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        super().__init__([self.title, toolbar, self.message, self.output, self.rules_list])
        self.add_class("dataops-chart")
        self.refresh()

    def refresh(self) -> None:
        """Read the metric series again and redraw the chart with the current controls."""
        kind = self.chart_type.value
        self.rule_set.disabled = kind not in _RULED
        self.rule_set.tooltip = (
            None if kind in _RULED else "EWMA and CUSUM signal on their own limits, not run rules"
        )
        self.title.value = (
            f"<b>{esc(self.metric)}</b> of step <b>{esc(self.step)}</b> over production runs"
        )
        self.result, self.broken = None, {}
        try:
            self.series = self.store.metric_series(
                self.step, self.metric, pipeline=self.pipeline, limit=self.last.value
            )
        except STORE_ERRORS as exc:
            self.series = []
            return self._fail(f"Could not read the run store: {exc}")
        if len(self.series) < 2:
            return self._fail(self._too_few_hint(), error=False)
        values = [float(p["value"]) for p in self.series]
        try:
            self.result = _compute(kind, values, self.rule_set.value, self.phase1.value or None)
        except DataOpsError as exc:
            return self._fail(f"Cannot draw the {CHART_TYPES[kind]} chart: {exc}")
        self.broken = _broken(kind, self.result)
        self.message.value = self._summary()
        from jupyter_dataops.spc import chart_mimebundle

        bundle = chart_mimebundle(self.result.chart(width=self.width), text=repr(self.result))
        _name_runs(bundle[VEGALITE], self.series)
        self.output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
        self.rules_list.value = self.broken_html()

    def _fail(self, text: str, *, error: bool = True) -> None:
        colour = "#c62828" if error else "#555"
        self.message.value = f'<div class="dataops-note" style="color:{colour}">{esc(text)}</div>'
        self.output.outputs = ()
        self.rules_list.value = ""

    def _too_few_hint(self) -> str:
        found = len(self.series)
        if found:
            return (
                f"Only {found} production run has a value of {self.metric!r} for step "
                f"{self.step!r}; a control chart needs at least 2. Run the pipeline again "
                "(`dataops run`), then press Refresh."
            )
        try:
            known = [
                m["metric"] for m in self.store.list_metrics(self.step, pipeline=self.pipeline)
            ]
        except STORE_ERRORS:
            known = []
        hint = (
            f" Metrics recorded for this step: {', '.join(sorted(set(known)))}."
            if known
            else " No metrics are recorded for this step yet: add a %%dataops_test cell to its "
            "notebook and run the pipeline (`dataops run`)."
        )
        return f"No production values of {self.metric!r} for step {self.step!r}.{hint}"

    def _summary(self) -> str:
        first, last = self.series[0], self.series[-1]
        r = self.result
        centre = number(float(r.center[-1]))
        parts = [f"{len(self.series):,} runs from {when(first['time'])} to {when(last['time'])}"]
        if hasattr(r, "lcl"):
            parts.append(
                f"centre {centre}, limits {number(float(r.lcl[-1]))} / {number(float(r.ucl[-1]))}"
            )
        else:
            parts.append(f"centre {centre}")
        return (
            f'<div class="dataops-chart-summary" style="color:#555">{esc(" · ".join(parts))}</div>'
        )

    def point_run(self, index: int) -> dict:
        """The series point (run) behind plotted point ``index`` of the current chart."""
        offset = getattr(self.result, "first_label", 1) - 1  # the MR chart starts at sample 2
        return self.series[index + offset]

    def broken_html(self) -> str:
        """The rules broken (or signals) with the runs that broke them, as HTML."""
        if not self.broken:
            what = (
                "no EWMA/CUSUM signal"
                if self.chart_type.value not in _RULED
                else ("no run rule broken")
            )
            return (
                f'<div class="dataops-rules dataops-rules-none" style="color:#2e7d32">'
                f"In control: {what} in these {len(self.series):,} runs.</div>"
            )
        from jupyter_dataops.spc.rules import RULES

        items = []
        for rule, indices in self.broken.items():
            words = RULES.get(rule) or _SIGNALS.get(rule, rule)
            runs = []
            for i in indices[-10:]:
                point = self.point_run(i)
                runs.append(
                    f"run #{esc(point['step_run_id'])} ({esc(when(point['time']))}, "
                    f"{esc(number(point['value']))})"
                )
            more = f" and {len(indices) - 10} earlier" if len(indices) > 10 else ""
            items.append(
                f'<li class="dataops-rule" data-rule="{esc(rule)}"><b>{esc(rule)}</b> — '
                f"{esc(words)}: {len(indices)} point(s): {', '.join(runs)}{more}</li>"
            )
        return (
            '<div class="dataops-rules"><b>Broken rules</b>'
            f"<ul style='margin:2px 0'>{''.join(items)}</ul></div>"
        )


def _name_runs(spec: dict, series: list[dict]) -> None:
    """Add the run id and time of each point to the chart's data and its tooltips.

    Plotted sample ``k`` (1-based; the MR chart starts at 2) is series point ``k - 1``, so a
    hovered point tells which run it was, not only its sample number.
    """
    for row in spec.get("data", {}).get("values", []):
        k = row.get("sample")
        if isinstance(k, int) and 1 <= k <= len(series):
            point = series[k - 1]
            row["run"] = f"#{point['step_run_id']}"
            row["run_time"] = when(point.get("time"))
    extra = [
        {"field": "run", "type": "nominal", "title": "run"},
        {"field": "run_time", "type": "nominal", "title": "started"},
    ]
    for layer in spec.get("layer", []):
        tooltip = layer.get("encoding", {}).get("tooltip")
        if isinstance(tooltip, list):
            layer["encoding"]["tooltip"] = extra + tooltip


def _compute(kind: str, values: list[float], rules: str, phase1: int | None) -> Any:
    from jupyter_dataops import spc

    if kind in _RULED:
        return spc.control_chart(values, kind, rules=rules, phase1=phase1)
    if kind == "ewma":
        return spc.ewma(values, phase1=phase1)
    return spc.cusum(values, phase1=phase1)


def _broken(kind: str, result: Any) -> dict[str, list[int]]:
    if kind in _RULED:
        return {rule: list(idx) for rule, idx in result.violations.items() if len(idx)}
    if kind == "ewma":
        return {"EWMA": list(result.signals)} if result.signals else {}
    out = {}
    if result.signals_upper:
        out["CUSUM+"] = list(result.signals_upper)
    if result.signals_lower:
        out["CUSUM−"] = list(result.signals_lower)
    return out
