"""Control-chart widget: one metric of one step over its production runs, as its spc line judged.

The chart is ``pipeline.charts.metric_chart`` (the same one the panel's REST answer and
``%dataops_chart`` show): the spc line's chart type, rules and frozen baseline, and the rules
its stored verdicts recorded, so a point the check passed is never flagged here and the reverse.
It is shown in an ``Output`` widget through the spc room's offline vega-lite 5 bundle; the broken
rules are listed below it with the run each point came from (its partition and parameters). It shows a window of the newest
``window`` points (90 by default) and pages to older history with Older/Newer, so a year of
runs opens at once; the limits are always the whole baseline's.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.widgets._format import STORE_ERRORS, esc, number, when

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

LAST_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("last 50 runs", 50),
    ("last 90 runs", 90),
    ("last 100 runs", 100),
    ("last 500 runs", 500),
    ("last 2,000 runs", 2000),
    ("all runs", None),
)
VEGALITE = "application/vnd.vegalite.v5+json"


class MetricChartWidget(widgets.VBox):
    """The control chart of ``metric`` over the production runs of ``step``, with controls.

    Controls: how many runs to plot at once (``window``; ``last`` is its older name), Older and
    Newer to page through the history, and Refresh. The chart type, rules and baseline are the
    spc line's (change them in the line, in its notebook).
    """

    def __init__(
        self,
        store: Store,
        step: str,
        metric: str,
        *,
        window: int | None = 90,
        last: int | None = None,
        pipeline: str | None = None,
        width: int = 620,
    ) -> None:
        last = window if last is None else last
        if last is not None and last < 2:
            raise DataOpsError(f"last must be at least 2 runs (or None for all), got {last}.")
        self.store = store
        self.step = step
        self.metric = metric
        self.pipeline = pipeline
        self.width = width
        self.chart: Any = None  # the pipeline.charts.MetricChart drawn
        self.series: list[dict] = []
        self.broken: dict[str, list[int]] = {}
        self.before: int | None = None  # the window ends before this position (None: newest)

        lasts = list(LAST_CHOICES)
        if last not in {v for _, v in lasts}:
            lasts.insert(-1, (f"last {last:,} runs", last))
        self.last = widgets.Dropdown(
            options=lasts,
            value=last,
            description="Points",
            layout=widgets.Layout(width="210px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the run store again"
        )
        self.older_button = widgets.Button(
            description="Older", icon="chevron-left", tooltip="Show the older points"
        )
        self.newer_button = widgets.Button(
            description="Newer", icon="chevron-right", tooltip="Show the newer points"
        )
        self.window_label = widgets.HTML()
        self.title = widgets.HTML()
        self.message = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.rules_list = widgets.HTML()

        self.last.observe(lambda _change: self.page(None), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.older_button.on_click(lambda _b: self.page(self.chart.window["older"]))
        self.newer_button.on_click(lambda _b: self.page(self.chart.window["newer"]))
        toolbar = widgets.HBox(
            [
                self.last,
                self.older_button,
                self.window_label,
                self.newer_button,
                self.refresh_button,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        super().__init__([self.title, toolbar, self.message, self.output, self.rules_list])
        self.add_class("dataops-chart")
        self.refresh()

    def page(self, before: int | None) -> None:
        """Show the window ending before position ``before`` of the series (None: newest)."""
        self.before = before
        self.refresh()

    def refresh(self) -> None:
        """Read the run store again and redraw the chart."""
        from jupyter_dataops.pipeline.views.charts import ChartPoint, metric_chart

        self.title.value = (
            f"<b>{esc(self.metric)}</b> of step <b>{esc(self.step)}</b> over production runs"
        )
        self.chart, self.series, self.broken = None, [], {}
        try:
            chart = metric_chart(
                self.store,
                self.step,
                self.metric,
                pipeline=self.pipeline,
                last=self.last.value,
                before=self.before,
            )
        except STORE_ERRORS as exc:
            return self._fail(f"Could not read the run store: {exc}")
        except DataOpsError as exc:
            return self._fail(str(exc))
        self.chart = chart
        names = [f.name for f in dataclasses.fields(ChartPoint)]  # shallow: read, never changed
        self.series = [{k: getattr(p, k) for k in names} for p in chart.points]
        w = chart.window
        self.older_button.disabled = w["older"] is None
        self.newer_button.disabled = w["newer"] is None
        self.window_label.value = (
            f"points {w['first'] + 1:,}–{w['first'] + w['count']:,} of {w['total']:,}"
        )
        if len(self.series) < 2:
            return self._fail(self._too_few_hint(), error=False)
        self.broken = chart.broken()
        self.title.value += f' <span style="color:#555">· {esc(self._options())}</span>'
        self.message.value = self._summary()
        bundle = chart.mimebundle(width=self.width)
        self.output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
        self.rules_list.value = self.broken_html()

    def _options(self) -> str:
        c = self.chart
        rules = f", rules {c.rules}" if c.rules else ""
        source = f"spc line `{c.line}`" if c.line else "no spc line"
        return f"chart {c.chart}{rules}, baseline {c.baseline} ({source})"

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
        c = self.chart
        first, last = self.series[0], self.series[-1]
        parts = [f"{len(self.series):,} runs from {when(first['time'])} to {when(last['time'])}"]
        limits = c.limits
        if not c.judged:
            parts.append(f"not judged: collecting baseline {c.collected}/{c.baseline}")
        elif limits["lcl"] is not None and limits["ucl"] is not None:
            parts.append(
                f"centre {number(limits['center'])}, limits {number(limits['lcl'])} / "
                f"{number(limits['ucl'])}"
            )
        elif limits["center"] is not None:
            parts.append(f"centre {number(limits['center'])}")
        note = f'<div class="dataops-note" style="color:#555">{esc(c.note)}</div>' if c.note else ""
        return (
            f'<div class="dataops-chart-summary" style="color:#555">{esc(" · ".join(parts))}</div>'
            + note
        )

    def point_run(self, index: int) -> dict:
        """The point (run) behind plotted point ``index`` of the current chart."""
        return self.series[index]

    def _which(self, index: int) -> str:
        """Which run a point is, in the user's words: its partition and parameters (secrets
        ``***``), or its start time when it has neither."""
        from jupyter_dataops.pipeline.views.chart_spec import point_parameters

        point = self.chart.points[index]
        parts = [f"partition {point.partition}"] if point.partition else []
        params = point_parameters(point)
        if params:
            parts.append(params)
        return "; ".join(parts) or when(point.time)

    def broken_html(self) -> str:
        """The rules broken (as the check recorded them) with the runs that broke them."""
        if not self.broken:
            what = "no run rule broken" if self.chart.judged else "nothing judged yet"
            return (
                f'<div class="dataops-rules dataops-rules-none" style="color:#2e7d32">'
                f"In control: {what} in these {len(self.series):,} runs.</div>"
            )
        words = {v["rule"]: v["description"] for v in self.chart.violations}
        items = []
        for rule, indices in self.broken.items():
            runs = []
            for i in indices[-10:]:
                point = self.point_run(i)
                runs.append(
                    f"run #{esc(point['step_run_id'])} ({esc(self._which(i))}, "
                    f"{esc(number(point['value']))})"
                )
            more = f" and {len(indices) - 10} earlier" if len(indices) > 10 else ""
            items.append(
                f'<li class="dataops-rule" data-rule="{esc(rule)}"><b>{esc(rule)}</b> — '
                f"{esc(words.get(rule, rule))}: {len(indices)} point(s): {', '.join(runs)}"
                f"{more}</li>"
            )
        return (
            '<div class="dataops-rules"><b>Broken rules</b>'
            f"<ul style='margin:2px 0'>{''.join(items)}</ul></div>"
        )
