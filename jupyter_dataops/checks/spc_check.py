"""``spc METRIC`` lines: judge this run's metric against control limits from earlier runs.

Phase I is the first ``baseline`` values of the metric in earlier successful production runs
(frozen once reached, so a drifting process cannot widen its own limits); the new value is
appended after the whole history and judged by the chart's rules. Fewer values than the
baseline (or no history at all): status ``baseline``, shown as "not judged" with "collecting
baseline k/N" -- never ``pass``.

The p and np charts (percent metrics) and the u chart (count metrics) also need each run's
sample size n. Such a line records n beside the metric under ``size_key(metric_key)``
(``"n:" + key``) in the same step run, so ``history(size_key(key))`` lines up with
``history(key)``. Runs recorded before n was kept have a value but no n: the two histories are
aligned on their common most recent runs (the n history is a suffix of the value history) and
only those runs count toward the baseline, so a line switched to ``chart p`` collects a fresh
baseline rather than guessing old sample sizes.

A ``seasonal weekday|month|hour`` line keeps one baseline per season (``spc.seasonal``): its
history provider must also offer ``history.seasonal(metric_key) -> (points, now)``, the earlier
runs as ``(date or datetime, value)`` pairs oldest first and this run's date (the pipeline's
``StepHistory`` gives each run's partition date, else its start in the project's time zone).
A provider may offer ``history.phase(metric_key) -> dict | None`` (the phase this run is in,
after a ``dataops spc rebaseline``): its history then holds only that phase's points, and the
verdict records the phase.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_dataops.checks.spec import CheckSpec
from jupyter_dataops.spc.charts import RULE_CHARTS
from jupyter_dataops.spc.charts import SIZED_CHARTS as _SPC_SIZED

#: charts that judge a metric against each run's sample size -> the ``Metric.kind`` they take:
#: p, np a proportion of n (percent metrics), u defects in n rows (count metrics)
SIZED_CHARTS = {"p": "percent", "np": "percent", "u": "count"}
assert tuple(SIZED_CHARTS) == _SPC_SIZED, "spc.SIZED_CHARTS and the metric kinds disagree"


@dataclass
class SpcVerdict:
    """How an spc line judged this run: status, message and the ``CheckResult.spc`` details."""

    status: str
    message: str
    judged: bool = False
    broken: list[str] = field(default_factory=list)
    center: float | None = None
    lcl: float | None = None
    ucl: float | None = None
    season: str | None = None  # a seasonal line: the season this run was judged in
    phase: dict[str, Any] | None = None  # the phase (after a rebaseline) this run is in

    def details(self, cs: CheckSpec) -> dict[str, Any]:
        opts = cs.spc
        assert opts is not None
        return {
            "chart": opts.chart,
            "rules": opts.rules,
            "baseline": opts.baseline,
            "window": "rolling" if opts.rolling else "frozen",
            "judged": self.judged,
            "broken": list(self.broken),
            "center": self.center,
            "lcl": self.lcl,
            "ucl": self.ucl,
            **({"seasonal": opts.seasonal, "season": self.season} if opts.seasonal else {}),
            **(
                {"phase": self.phase.get("phase"), "phase_reason": self.phase.get("reason")}
                if self.phase
                else {}
            ),
        }


def size_key(metric_key: str) -> str:
    """History key under which an spc p/np/u line records each run's sample size."""
    return "n:" + metric_key


def chart_misfit(chart: str, metric: str) -> str | None:
    """Why ``chart`` cannot judge ``metric`` (None when it can): p/np/u fit only some metrics."""
    from jupyter_dataops.checks.catalogue import CATALOGUE  # polars, sqlglot: only when asked

    what = SIZED_CHARTS.get(chart)
    cls = CATALOGUE.get(metric, None)
    if what is None or (cls is not None and cls.kind == what):
        return None
    fits = [name for name, c in CATALOGUE.items() if c.kind == what]
    return (
        f"chart {chart} judges a {what} metric against each run's sample size; it takes "
        f"{', '.join(fits)}, not {metric}"
    )


def is_sized(cs: CheckSpec) -> bool:
    """True for an spc line whose chart (p, np, u) needs each run's sample size."""
    return cs.kind == "spc" and cs.spc is not None and cs.spc.chart in SIZED_CHARTS


def _aligned(values: Sequence[Any], sizes: Sequence[Any]) -> list[tuple[float, float]]:
    """(value, n) pairs of the runs that recorded both, oldest first (common recent tail)."""
    m = min(len(values), len(sizes))
    pairs = zip(list(values)[len(values) - m :], list(sizes)[len(sizes) - m :], strict=True)
    out = []
    for v, k in pairs:
        if v is None or k is None or not (math.isfinite(v) and math.isfinite(k)) or k <= 0:
            continue
        out.append((float(v), float(k)))
    return out


def _counts(chart: str, values: Sequence[float], sizes: Sequence[float]) -> list[float]:
    """Defectives (p, np: percent of n) or defects (u: the count itself) per run."""
    if chart == "u":
        return list(values)
    return [round(v / 100.0 * k) for v, k in zip(values, sizes, strict=True)]


def _num(value: Any) -> str:
    """A number in a verdict's message as the CLI shows it: 6 significant digits, grouped
    (the one formatter, ``checks.display.format_value``)."""
    from jupyter_dataops.checks.display import format_value

    return format_value(float(value))


def evaluate_spc(
    cs: CheckSpec,
    observed: Any,
    history: Callable[[str], Sequence[float]] | None,
    size: int | None = None,
) -> tuple[str, str]:
    """(status, message) of an spc line whose metric measured ``observed`` on this run."""
    verdict = judge_spc(cs, observed, history, size)
    return verdict.status, verdict.message


def judge_spc(
    cs: CheckSpec,
    observed: Any,
    history: Callable[[str], Sequence[float]] | None,
    size: int | None = None,
) -> SpcVerdict:
    """How an spc line judges the value its metric measured on this run.

    ``size``: this run's sample size n, required by the p, np and u charts.
    """
    verdict = _judge(cs, observed, history, size)
    phase_of = getattr(history, "phase", None)
    if callable(phase_of) and cs.metric_key is not None:
        try:
            verdict.phase = phase_of(cs.metric_key)
        except Exception:  # the phase is a label: never fail a verdict over it
            verdict.phase = None
    return verdict


def _judge_seasonal(cs: CheckSpec, observed: float, history: Any) -> SpcVerdict:
    """A ``seasonal`` line: this run against the limits of its own season."""
    from jupyter_dataops.spc.seasonal import season_of, season_words, seasonal_chart

    opts = cs.spc
    assert opts is not None and opts.seasonal is not None and cs.metric_key is not None
    n, kind = opts.baseline, opts.seasonal
    seasonal = getattr(history, "seasonal", None)
    if not callable(seasonal):
        return SpcVerdict(
            "baseline",
            f"collecting baseline 0/{n} per {kind} (no dated production history: a seasonal "
            "line reads the history of a pipeline step)",
        )
    try:
        points, now = seasonal(cs.metric_key)
        series = [
            (season_of(kind, when), float(v))
            for when, v in points
            if v is not None and math.isfinite(v)
        ]
        season = season_of(kind, now)
    except Exception as exc:
        return SpcVerdict("error", f"cannot read the seasonal history of {cs.metric_key}: {exc}")
    have = sum(1 for s, _ in series if s == season)
    if have < n:
        return SpcVerdict(
            "baseline", f"collecting baseline {have}/{n} for {season_words(season)}", season=season
        )
    try:
        sc = seasonal_chart([*series, (season, float(observed))], n, rules=opts.rules)
    except Exception as exc:
        return SpcVerdict("error", f"cannot build the seasonal chart: {exc}", season=season)
    lim = sc.limits[season]
    broken = sc.broken_at(-1)
    judged: dict[str, Any] = {
        "judged": True,
        "broken": broken,
        "center": lim.center,
        "lcl": lim.lcl,
        "ucl": lim.ucl,
        "season": season,
    }
    limits = (
        f"{season_words(season)}: limits {_num(lim.lcl)} .. {_num(lim.ucl)}, "
        f"centre {_num(lim.center)}"
    )
    if broken:
        from jupyter_dataops import spc

        words = "; ".join(f"{r}: {spc.rules.describe(r)}" for r in broken)
        message = f"{cs.metric_call} = {_num(observed)} breaks {words} ({limits})"
        return SpcVerdict(cs.severity, message, **judged)
    message = f"{cs.metric_call} = {_num(observed)} is in control ({limits}, baseline {n} runs)"
    return SpcVerdict("pass", message, **judged)


def _judge(
    cs: CheckSpec,
    observed: Any,
    history: Callable[[str], Sequence[float]] | None,
    size: int | None = None,
) -> SpcVerdict:
    from jupyter_dataops import spc

    opts = cs.spc
    assert opts is not None and cs.metric_key is not None
    n = opts.baseline
    from jupyter_dataops.checks.inputs import missing_history

    missing = missing_history(history)
    if missing is not None:
        return SpcVerdict("baseline", f"collecting baseline 0/{n} ({missing})")
    if not isinstance(observed, (int, float)) or isinstance(observed, bool):
        return SpcVerdict("error", f"spc needs a numeric metric; {cs.metric_call} is {observed!r}")
    if opts.seasonal:
        return _judge_seasonal(cs, float(observed), history)
    sized = opts.chart in SIZED_CHARTS
    if sized and (size is None or size <= 0):
        got = "none" if size is None else f"n = {size}"
        return SpcVerdict(
            "error", f"chart {opts.chart} needs a sample size above 0 for this run; got {got}"
        )
    try:
        raw = history(cs.metric_key)
        if sized:
            pairs = _aligned(raw, history(size_key(cs.metric_key)))
            past = [v for v, _ in pairs]
            past_sizes = [k for _, k in pairs]
        else:
            past = [float(v) for v in raw if v is not None and math.isfinite(v)]
    except Exception as exc:  # the run store may be unreachable: say so, do not crash the suite
        return SpcVerdict("error", f"cannot read the history of {cs.metric_key}: {exc}")
    if len(past) < n:
        extra = " runs with sample sizes" if sized else ""
        return SpcVerdict("baseline", f"collecting baseline {len(past)}/{n}{extra}")
    if opts.rolling:  # the N newest earlier runs are the baseline, not the first N
        past = past[-n:]
        if sized:
            past_sizes = past_sizes[-n:]
    values = [*past, float(observed)]
    try:
        if opts.chart in RULE_CHARTS:
            if sized:
                sizes = [*past_sizes, float(size)]  # type: ignore[arg-type]
                cc = spc.control_chart(
                    _counts(opts.chart, values, sizes),
                    opts.chart,
                    sizes=sizes,
                    phase1=n,
                    rules=opts.rules,
                )
            else:
                cc = spc.control_chart(values, opts.chart, phase1=n, rules=opts.rules)
            last = len(cc.statistics) - 1
            broken = [r for r, idx in cc.violations.items() if last in idx]
            bounds = (cc.center[last], cc.lcl[last], cc.ucl[last])
            words = [f"{r}: {spc.rules.describe(r)}" for r in broken]
            limits = (
                f"limits {_num(cc.lcl[last])} .. {_num(cc.ucl[last])}, "
                f"centre {_num(cc.center[last])}"
            )
            if sized:
                what = {"p": "proportion", "np": "count", "u": "per row"}[opts.chart]
                limits = f"{what} {_num(cc.statistics[last])} of n {size}; " + limits
        else:
            from jupyter_dataops.spc.cusum import cusum
            from jupyter_dataops.spc.ewma import ewma

            res = ewma(values, phase1=n) if opts.chart == "ewma" else cusum(values, phase1=n)
            last = len(values) - 1
            broken = [opts.chart] if last in res.signals else []
            if opts.chart == "ewma":
                bounds = (res.center[last], res.lcl[last], res.ucl[last])
                words = (
                    [f"the EWMA {_num(res.ewma[last])} is beyond its limits"]
                    if last in res.signals
                    else []
                )
                limits = f"limits {_num(res.lcl[last])} .. {_num(res.ucl[last])}"
            else:
                words = (
                    [
                        f"the CUSUM (upper {res.upper[last]:.3g}, lower {res.lower[last]:.3g}) "
                        "passed the decision interval"
                    ]
                    if last in res.signals
                    else []
                )
                limits = f"centre {_num(float(res.center[last]))}"
                bounds = (res.center[last], None, None)
    except Exception as exc:  # a degenerate history (e.g. constant values) must not crash
        text = str(exc).strip().splitlines()
        return SpcVerdict(
            "error", f"cannot build the {opts.chart} chart: {text[0] if text else exc}"
        )
    center, lcl, ucl = (None if b is None else float(b) for b in bounds)
    judged = {"judged": True, "broken": broken, "center": center, "lcl": lcl, "ucl": ucl}
    if words:
        message = f"{cs.metric_call} = {_num(observed)} breaks " + "; ".join(words) + f" ({limits})"
        return SpcVerdict(cs.severity, message, **judged)  # type: ignore[arg-type]
    message = f"{cs.metric_call} = {_num(observed)} is in control ({limits}, baseline {n} runs)"
    return SpcVerdict("pass", message, **judged)  # type: ignore[arg-type]
