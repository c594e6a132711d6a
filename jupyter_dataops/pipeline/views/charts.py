"""One judgement, one picture: a metric's control chart drawn from exactly what its spc line judged.

``metric_chart(store, step, metric)`` is the only place a metric's chart is built; the REST route
(``server/actions.py``), the notebook widget (``widgets/chart.py``) and ``%dataops_chart`` all
render it. It takes, from the run store:

- the options of the newest ``spc`` line on the metric (chart type, rules, baseline size N),
  stored beside its verdict; a metric no spc line watches is drawn as ``spc METRIC`` with its
  defaults would judge it, and the ``note`` says so;
- the limits from the frozen baseline, as ``checks/spc_check.py`` computes them: the first N
  values in successful production runs (p/np/u: of runs that recorded the sample size
  ``n:KEY``, with per-point limits from each run's n);
- the violations the stored verdicts recorded, run by run: a point the check passed is never
  drawn as a violation, and a point it flagged always is.

A line whose verdicts say ``window: rolling`` (the operations lines, ``pipeline.operations``)
judged each run against the runs just before it: each judged point is drawn against the centre
and limits its own verdict recorded.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

VEGALITE_V5 = "application/vnd.vegalite.v5+json"
_IN_LIST = 900  # up to this many runs, a window's verdicts and sizes are read by run id
_F = TypeVar("_F", bound=Callable[..., Any])


def _collector_paused(fn: _F) -> _F:
    """``fn`` with the cyclic garbage collector paused (as it was, after): a chart of 10,000
    points makes ~80,000 short-lived objects, and the collector's passes over them (and the
    whole heap's, once they pile up) took a third of the chart route's time. Nothing they
    hold forms a cycle; what other threads leave meanwhile is collected once it resumes."""

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused  # type: ignore[return-value]


_SIGNALS = {
    "ewma": "the EWMA left its control limits",
    "cusum": "a cumulative sum passed the decision interval",
}


@dataclass(slots=True)
class ChartPoint:
    """One production run of the step, as charted."""

    step_run_id: int
    pipeline_run_id: int
    time: str | None
    value: float
    size: float | None  # p/np/u: the run's sample size n
    status: str  # the run's status
    attempt: int
    suite: str | None
    check_status: str | None  # the spc line's stored status on this run (None: not checked)
    rules: list[str] = field(default_factory=list)  # the rules that verdict recorded as broken
    baseline: bool = False  # one of the N runs the limits come from
    statistic: float | None = None  # as plotted: p = proportion, np = count, u = per row
    center: float | None = None
    lcl: float | None = None
    ucl: float | None = None
    partition: str | None = None  # the period the run was for (a partitioned pipeline)
    parameters: dict[str, Any] | None = None  # the run's, as stored (secrets are ``***``)


@dataclass
class MetricChart:
    """A metric's chart over the production runs of a step, from its spc line's judgement."""

    step: str
    metric: str
    pipeline: str | None
    chart: str
    rules: str | None
    baseline: int
    line: str | None  # the spc line's source, None when no spc line watches the metric
    collected: int  # baseline runs found so far (judged once it reaches ``baseline``)
    points: list[ChartPoint]
    note: str | None = None
    first: int = 0  # position of the first drawn point in the whole series (0 = the oldest)
    total: int | None = None  # points in the whole series (None: the drawn points are all)
    page_size: int | None = None  # the window's size asked for (None: every point)
    # new phases (``dataops spc rebaseline``) starting in the window: {index, phase, from, reason}
    rebaselines: list[dict[str, Any]] = field(default_factory=list)
    _result: Any = field(default=None, repr=False)

    @property
    def window(self) -> dict[str, Any]:
        """Where the drawn points sit in the whole series, and the ``before`` of the older and
        newer pages of the same size (None at either end)."""
        total = len(self.points) if self.total is None else self.total
        count = len(self.points)
        end = self.first + count
        size = self.page_size or max(count, 1)
        return {
            "first": self.first,
            "count": count,
            "total": total,
            "older": self.first if self.first > 0 else None,
            "newer": min(end + size, total) if end < total else None,
        }

    @property
    def judged(self) -> bool:
        """Whether the baseline is complete, so the points are judged against limits."""
        return self.collected >= self.baseline

    @property
    def title(self) -> str:
        if self._result is not None:
            return self._result.title
        return f"{self.metric}: collecting baseline {self.collected}/{self.baseline} (not judged)"

    @property
    def limits(self) -> dict[str, float | None]:
        """Centre and limits at the newest point (p/np/u limits move with each run's n)."""
        last = self.points[-1] if self.points else None
        return {
            "center": last.center if last else None,
            "lcl": last.lcl if last else None,
            "ucl": last.ucl if last else None,
        }

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Each broken rule at each point, in point order, with the point's run, partition and
        parameters (what the broken-rule lists show)."""
        from jupyter_dataops.pipeline.views.chart_spec import point_parameters
        from jupyter_dataops.spc.rules import RULES

        shown: dict[Any, str | None] = {}  # runs with equal parameters share their text
        out = []
        for p in self.points:
            if not p.rules:
                continue
            key = (id(p.parameters), p.partition)
            if key not in shown:
                shown[key] = point_parameters(p)
            out += [
                {
                    "rule": rule,
                    "description": RULES.get(rule) or _SIGNALS.get(rule, rule),
                    "step_run_id": p.step_run_id,
                    "time": p.time,
                    "value": p.value,
                    "partition": p.partition,
                    "parameters": shown[key],
                }
                for rule in p.rules
            ]
        return out

    def broken(self) -> dict[str, list[int]]:
        """Rule -> indices of the points (in ``points``) that broke it."""
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.points):
            for rule in p.rules:
                out.setdefault(rule, []).append(i)
        return out

    def picture(self, **properties: Any):  # noqa: ANN201 - altair imported lazily
        """The chart as an altair layered chart (offline vega-lite 5 when displayed)."""
        from jupyter_dataops.spc.picture import Y_TITLES, series_picture

        if self._result is not None:
            return self._result.chart(**properties)
        values = [p.statistic if p.statistic is not None else p.value for p in self.points]
        return series_picture(
            values, self.title, y_title=Y_TITLES.get(self.chart, "value"), **properties
        )

    def spec(self, **properties: Any) -> dict[str, Any]:
        """The Vega-Lite v5 spec, built once as a plain dict with the points as data
        (``chart_spec``); each point's run id and start time are in its data and tooltips. A
        judged CUSUM (two sums per point) is drawn through its altair picture."""
        if self.chart == "cusum" and self._result is not None:
            return self._picture_spec(**properties)
        from jupyter_dataops.pipeline.views.chart_spec import chart_spec

        return chart_spec(self, **properties)

    def mimebundle(self, **properties: Any) -> dict[str, Any]:
        """``{"application/vnd.vegalite.v5+json": spec, "text/plain": ...}``: renders offline in
        JupyterLab 4 (its bundled vega-lite 5)."""
        return {VEGALITE_V5: self.spec(**properties), "text/plain": repr(self)}

    def _picture_spec(self, **properties: Any) -> dict[str, Any]:
        """The spec of the altair picture, validated point by point (the path before
        ``chart_spec``; ``benchmarks/chart_bench.py`` compares the two)."""
        from jupyter_dataops.spc.picture import chart_mimebundle

        bundle = chart_mimebundle(self.picture(**properties), text=repr(self))
        _name_runs(bundle[VEGALITE_V5], self.points)
        if any(p.partition for p in self.points):  # a partitioned pipeline: charted by period
            from jupyter_dataops.spc.picture import label_samples

            labels = [p.partition or f"run #{p.step_run_id}" for p in self.points]
            label_samples(bundle[VEGALITE_V5], labels, title="partition", field="partition")
        return bundle[VEGALITE_V5]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.mimebundle()

    @_collector_paused
    def to_dict(self, *, points: bool = True) -> dict[str, Any]:
        """JSON: options, points, limits, violations, the window and the chart spec.

        ``points=False`` (the REST answer) leaves out the per-point dicts: the spec's data holds
        each point once (run id, time, plotted value, the rules it broke), which keeps 10,000
        points under 1 MB."""
        spec = self.spec() if self.points else None
        out = {
            "step": self.step,
            "metric": self.metric,
            "pipeline": self.pipeline,
            "chart": self.chart,
            "rules": self.rules,
            "baseline": self.baseline,
            "collected": self.collected,
            "judged": self.judged,
            "line": self.line,
            "note": self.note,
            "title": self.title,
            "limits": self.limits,
            "violations": self.violations,
            "window": self.window,
            "mimetype": VEGALITE_V5,
            "spec": spec,
        }
        if points:
            out["points"] = [dataclasses.asdict(p) for p in self.points]
        return out

    def __repr__(self) -> str:
        state = "judged" if self.judged else f"collecting baseline {self.collected}/{self.baseline}"
        rules = f", rules {self.rules}" if self.rules else ""
        broken = {r: len(i) for r, i in self.broken().items()}
        return (
            f"<MetricChart {self.metric} of {self.step}: chart {self.chart}{rules}, baseline "
            f"{self.baseline} ({state}); {len(self.points)} runs; broken {broken or 'none'}>"
        )


@_collector_paused
def metric_chart(
    store: Store,
    step: str,
    metric: str,
    *,
    pipeline: str | None = None,
    suite: str | None = None,
    last: int | None = None,
    before: int | None = None,
) -> MetricChart:
    """The chart of ``metric`` of ``step`` over its production runs (the newest ``last``), drawn
    from exactly what its spc line judged (see the module docstring).

    ``before`` pages to older history: the window is the ``last`` points before position
    ``before`` of the whole series (0 = its oldest point; ``MetricChart.window`` gives the
    ``before`` of the older and newer pages). The limits still come from the whole baseline.

    Two suites of a step may record the same metric: the chart keeps one suite's values, ``suite``
    or else the suite of the spc line that judged last (as that line's history does)."""
    from jupyter_dataops import spc
    from jupyter_dataops.checks.spc_check import size_key
    from jupyter_dataops.checks.spec import SpcOptions
    from jupyter_dataops.pipeline.views.chart_judgement import (
        judged_result,
        statistic,
        verdicts_by_run,
    )

    if last is not None and last < 1:
        raise DataOpsError(f"last must be at least 1 run (or None for all), got {last}.")
    if before is not None and before < 1:
        raise DataOpsError(f"before must be at least 1 (a position in the series), got {before}.")
    latest = store.spc_verdicts(step, metric, pipeline=pipeline, suite=suite, latest=True)
    note = None
    if latest and suite is None:
        suite = latest[0]["suite"]
    if latest:
        opts = latest[0]["spc"]
        defaults = SpcOptions()
        chart = str(opts.get("chart") or defaults.chart)
        rules = opts.get("rules") if chart in spc.RULE_CHARTS else None
        n = int(opts.get("baseline") or defaults.baseline)
        line = latest[0]["source"]
    else:
        defaults = SpcOptions()
        chart, rules, n, line = defaults.chart, defaults.rules, defaults.baseline, None
        note = (
            f"No spc line watches {metric}: drawn with chart {chart} and rules {rules}, limits "
            f"from its first successful runs (up to {n}); no check judged these points. Add "
            f"`spc {metric}` to a %%dataops_test cell for the checks to judge it."
        )
    if chart not in spc.CHART_TYPES:
        raise DataOpsError(
            f"the spc line on {metric} of step {step!r} names chart {chart!r}, which this "
            f"version cannot draw; known charts: {', '.join(spc.CHART_TYPES)}."
        )
    sized = chart in spc.SIZED_CHARTS
    nkey = size_key(metric) if sized else None
    # the window's points only: the whole series is counted in SQL, never read (chart_reads)
    got = store.chart_window(step, metric, pipeline=pipeline, suite=suite, last=last, before=before)
    columns, start = got["columns"], got["first"]
    ids = columns["step_run_id"]
    wanted = ids if len(ids) <= _IN_LIST else None  # a long window reads them all at once
    sizes: dict[int, float] = {}
    if nkey is not None:
        for p in store.metric_series(
            step, nkey, pipeline=pipeline, suite=suite, step_run_ids=wanted
        ):
            sizes[p["step_run_id"]] = p["value"]
    verdicts = (  # as stored: a metric no spc line watches has none to read
        verdicts_by_run(
            store.chart_verdicts(step, metric, pipeline=pipeline, suite=suite, step_run_ids=wanted),
            chart,
            rules,
            n,
        )
        if latest
        else {}
    )
    points: list[ChartPoint] = []
    dropped = 0
    partitioned = any(columns["partition"])
    verdict_of = verdicts.get
    for srid, prid, at, value, status, attempt, own, part, params in zip(
        *columns.values(), strict=True
    ):
        size = sizes.get(srid) if sized else None
        if sized and not (size and size > 0):
            dropped += 1  # a p/np/u chart cannot place a run without its sample size
            continue
        v = verdict_of(srid)
        points.append(  # positional: 10,000 points are built in the chart route's time
            ChartPoint(
                srid,
                prid,
                at,
                value,
                size,
                status,
                attempt,
                own,
                v["status"] if v else None,
                list(v["spc"].get("broken") or ()) if v else [],
                False,
                None,
                None,
                None,
                None,
                part if partitioned else None,
                params,
            )
        )
    if dropped:
        extra = f"{dropped} run(s) without a recorded sample size ({nkey}) are not drawn."
        note = f"{note} {extra}" if note else extra
    base = store.metric_baseline(step, metric, n, pipeline=pipeline, suite=suite, size_key=nkey)
    if not latest and len(base) >= 2:
        n = len(base)  # unwatched: a preview from the successful runs there are (up to N)
    out = MetricChart(
        step=step,
        metric=metric,
        pipeline=pipeline,
        chart=chart,
        rules=rules,
        baseline=n,
        line=line,
        collected=len(base),
        points=points,
        note=note,
        first=start,
        total=got["total"],
        page_size=last,
    )
    out.rebaselines = _phase_starts(store, out)
    base_ids = {b["step_run_id"] for b in base}
    for pt in points:
        pt.baseline = pt.step_run_id in base_ids
        v = verdicts.get(pt.step_run_id)
        if v and v["spc"] and v["spc"].get("seasonal"):  # its season's baseline, not the first N
            pt.baseline = v["status"] == "baseline"
        if sized and pt.size:
            pt.statistic = statistic(chart, pt.value, pt.size)
    if out.judged and points:
        try:
            out._result = judged_result(chart, rules, n, base, points, verdicts, bool(latest))
        except DataOpsError as exc:
            raise DataOpsError(
                f"cannot draw the {chart} chart of {metric} for step {step!r}: {exc}"
            ) from None
    return out


def _phase_starts(store: Store, chart: MetricChart) -> list[dict[str, Any]]:
    """Where a new phase of the metric (``dataops spc rebaseline``) starts among the points."""
    from jupyter_dataops.store.phases import phase_starts

    phases = store.spc_phases(chart.pipeline, chart.step, chart.metric)
    keys = [(p.partition, p.step_run_id) for p in chart.points]
    return phase_starts(phases, keys, whole=chart.first == 0) if phases else []


def _when(iso: str | None) -> str:
    """An ISO-8601 UTC time as ``YYYY-MM-DD HH:MM:SS UTC`` (the panel's and widgets' form)."""
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _name_runs(spec: dict[str, Any], points: list[ChartPoint]) -> None:
    """Add each plotted sample's run id and start time to the chart's data and tooltips; a
    sample whose season or new phase still collects its baseline (no centre) was not judged:
    its status (signal) is ``COLLECTING``, grey in the legend, not "in control", and after the
    phase II marker its phase is ``COLLECTING`` too, not II."""
    from jupyter_dataops.pipeline.views.chart_spec import (
        COLLECTING,
        COLLECTING_COLOUR,
        IN_CONTROL,
    )

    collecting = False
    for row in spec.get("data", {}).get("values", []):
        k = row.get("sample")
        if isinstance(k, int) and 1 <= k <= len(points):
            point = points[k - 1]
            row["run"] = f"#{point.step_run_id}"
            row["run_time"] = _when(point.time)
            if point.center is None and row.get("phase") == "II":
                row["phase"] = COLLECTING
            if point.center is None and row.get("status") == IN_CONTROL:
                row["status"] = COLLECTING
                collecting = True
    extra = [
        {"field": "run", "type": "nominal", "title": "run"},
        {"field": "run_time", "type": "nominal", "title": "started"},
    ]
    for layer in spec.get("layer", []):
        tooltip = layer.get("encoding", {}).get("tooltip")
        if isinstance(tooltip, list):
            layer["encoding"]["tooltip"] = extra + tooltip
        scale = layer.get("encoding", {}).get("color", {}).get("scale", {})
        if collecting and IN_CONTROL in scale.get("domain", ()):  # after "in control", grey
            scale["domain"].insert(1, COLLECTING)
            scale["range"].insert(1, COLLECTING_COLOUR)


__all__ = ["ChartPoint", "MetricChart", "metric_chart"]
