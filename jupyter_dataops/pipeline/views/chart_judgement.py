"""The spc result a metric's chart draws: the baseline's limits, then each judged point's centre
and limits as its stored verdict recorded, and the rules each point broke (``charts.metric_chart``
builds the points; this module judges them, on arrays).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

_BEYOND = ("WE1", "N1")  # the rules "beyond the control limits" in every rule set
_NO_SPC: dict[str, Any] = {}  # a verdict row without its spc details (never changed)


def recorded_limits(plotted: Any, points: list[Any], verdicts: dict[int, Any]) -> None:
    """Each judged point takes the centre and limits its verdict recorded: a frozen line's are
    the baseline's, a rolling line's move run by run, a seasonal line's are its season's, a new
    phase's its own. Where they differ from the chart's, the zones' sigma follows them (UCL =
    centre + 3 sigma). A point of a season or a new phase still collecting its baseline has no
    limits (neither another season's nor the first N runs' are its own); the other points their
    verdicts did not judge (phase I of a line that is not seasonal) and runs no verdict judged
    keep the chart's."""
    import numpy as np

    at, recorded, blank = [], [], []
    limits: dict[int, Any] = {}  # verdicts stored alike share their spc dict: read it once
    for i, p in enumerate(points):
        v = verdicts.get(p.step_run_id)
        if v is None:
            continue
        spc = v["spc"] or _NO_SPC
        key = id(spc)
        if key not in limits:
            judged = bool(spc.get("judged"))
            limits[key] = [spc.get(name) for name in ("center", "lcl", "ucl")] if judged else None
        if limits[key] is not None:
            at.append(i)
            recorded.append(limits[key])
        elif spc.get("seasonal") or (spc.get("phase") or 1) > 1:
            blank.append(i)
    if blank:
        for name in ("center", "lcl", "ucl", "se"):
            array = getattr(plotted, name, None)
            if array is not None and len(array) == len(points):
                array[blank] = np.nan
    if not at:
        return
    idx = np.asarray(at)
    values = np.array(recorded, dtype=np.float64)  # None: nan (the chart's value is kept)
    se = getattr(plotted, "se", None)
    if getattr(plotted, "ucl", None) is None:  # a CUSUM's sigma is not a third of its limits'
        se = None
    moved = np.zeros(len(at), dtype=bool)
    for k, name in enumerate(("center", "lcl", "ucl")):
        array = getattr(plotted, name, None)
        if array is None or len(array) != len(points):
            continue
        keep = ~np.isnan(values[:, k])
        moved |= keep & (array[idx] != values[:, k])
        array[idx[keep]] = values[keep, k]
    if se is not None and len(se) == len(points) and moved.any():
        i = idx[moved]
        se[i] = (plotted.ucl[i] - plotted.center[i]) / 3


def set_points(points: list[Any], **arrays: Any) -> None:
    """Each point's ``statistic``/``center``/``lcl``/``ucl`` from the result's arrays (None
    where not finite), set through the points' slots in one pass per field."""
    import numpy as np

    if not points:
        return
    kind = type(points[0])
    for name, array in arrays.items():
        a = np.asarray(array, dtype=np.float64)
        if len(a) != len(points):
            raise ValueError(f"{len(a)} values of {name} for {len(points)} points")
        values = a.astype(object)
        values[~np.isfinite(a)] = None
        slot = getattr(kind, name, None)
        if hasattr(slot, "__set__"):
            collections.deque(map(slot.__set__, points, values.tolist()), maxlen=0)
        else:
            for p, v in zip(points, values.tolist(), strict=True):
                setattr(p, name, v)


def verdicts_by_run(
    rows: list[dict[str, Any]], chart: str, rules: str | None, n: int
) -> dict[int, dict[str, Any]]:
    """The stored verdict per run of the line with these options (its newest row on that run)."""
    out: dict[int, dict[str, Any]] = {}
    same: dict[int, bool] = {}  # by the spc dict (verdicts stored alike share one)
    for r in rows:
        spc = r["spc"] or _NO_SPC
        key = id(spc)
        if key not in same:
            options = spc.get("chart") == chart and spc.get("baseline") == n
            same[key] = options and (rules is None or spc.get("rules") == rules)
        if same[key]:
            out[r["step_run_id"]] = r
    return out


def statistic(chart: str, value: float, size: float) -> float:
    """A p/np/u point as plotted: the proportion (p) or number (np) defective of the percent
    metric's n, or defects per row (u), as the spc line judges it."""
    if chart == "u":
        return value / size
    count = round(value / 100.0 * size)
    return count / size if chart == "p" else float(count)


def judged_result(
    chart: str,
    rules: str | None,
    n: int,
    base: list[dict[str, Any]],
    points: list[Any],
    verdicts: dict[int, Any],
    watched: bool,
) -> Any:
    """The spc result for the plotted points: limits from the baseline (phase I = the N baseline
    runs put first), then each judged point's as its verdict recorded; the points' own rules from
    the stored verdicts (or, for a metric no spc line watches, from the chart itself)."""
    from jupyter_dataops import spc

    values = [b["value"] for b in base] + [p.value for p in points]
    if chart in spc.RULE_CHARTS:
        kwargs: dict[str, Any] = {"phase1": n, "rules": None}
        if chart in spc.SIZED_CHARTS:
            sizes = [b["size"] for b in base] + [p.size for p in points]
            counts = (
                values
                if chart == "u"
                else [round(v / 100.0 * k) for v, k in zip(values, sizes, strict=True)]
            )
            full = spc.control_chart(counts, chart, sizes=sizes, **kwargs)
        else:
            full = spc.control_chart(values, chart, **kwargs)
    elif chart == "ewma":
        full = spc.ewma(values, phase1=n)
    else:
        full = spc.cusum(values, phase1=n)
    plotted = tail(full, len(points))
    if watched:
        recorded_limits(plotted, points, verdicts)
    if chart in spc.RULE_CHARTS:
        plotted.rules = spc.rules.expand(rules)
        if not watched:  # no verdicts stored: the rules judged on the plotted points are shown
            found = spc.rules.evaluate(
                plotted.statistics,
                plotted.center,
                plotted.se,
                plotted.rules,
                lcl=plotted.lcl,
                ucl=plotted.ucl,
            )
            at: dict[int, list[str]] = {}
            for r, idx in found.items():
                for i in idx:
                    at.setdefault(i, []).append(r)
            for i, p in enumerate(points):
                p.rules = at.get(i, [])
        flagged = [(i, p.rules) for i, p in enumerate(points) if p.rules]
        broken = dict.fromkeys(r for _, found in flagged for r in found)
        plotted.violations = {r: [i for i, found in flagged if r in found] for r in broken}
        plotted.beyond_limits = [i for i, found in flagged if any(r in _BEYOND for r in found)]
    else:
        if not watched:
            signals = set(plotted.signals)
            for i, p in enumerate(points):
                p.rules = [chart] if i in signals else []
        flagged = [i for i, p in enumerate(points) if p.rules]
        plotted.signals = flagged
        if chart == "cusum":
            up = [i for i in flagged if plotted.upper[i] >= -plotted.lower[i]]
            plotted.signals_upper = up
            plotted.signals_lower = [i for i in flagged if i not in up]
    if chart == "cusum":  # its sums are drawn apart: the points carry the centre alone
        set_points(points, center=plotted.center)
    else:  # the plotted statistic (an EWMA's smoothed one) against its limits
        set_points(
            points,
            statistic=plotted.ewma if chart == "ewma" else plotted.statistics,
            center=plotted.center,
            lcl=plotted.lcl,
            ucl=plotted.ucl,
        )
    first = next((i for i, p in enumerate(points) if not p.baseline), len(points))
    plotted.phase1 = first  # the phase II marker before the first run judged
    return plotted


def tail(result: Any, k: int) -> Any:
    """The result for its last ``k`` points (every per-point array cut; lists of indices are
    set again by the caller)."""
    import numpy as np

    length = len(result)
    cut = {
        f.name: getattr(result, f.name)[length - k :]
        for f in dataclasses.fields(result)
        if isinstance(getattr(result, f.name), np.ndarray)
        and getattr(result, f.name).shape[:1] == (length,)
    }
    out = dataclasses.replace(result, **cut)
    if hasattr(out, "first_label"):
        out.first_label = 1
    return out


__all__ = ["judged_result", "recorded_limits", "statistic", "tail", "verdicts_by_run"]
