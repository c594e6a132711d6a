"""``spc METRIC`` lines: judge this run's metric against control limits from earlier runs.

Phase I is the first ``baseline`` values of the metric in earlier successful production runs
(frozen once reached, so a drifting process cannot widen its own limits); the new value is
appended after the whole history and judged by the chart's rules. Fewer values than the
baseline: ``pass`` while "collecting baseline k/N".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from jupyter_dataops.checks.spec import CheckSpec

RULE_CHARTS = ("i", "mr", "c")  # Shewhart charts judged by run rules


def evaluate_spc(
    cs: CheckSpec, observed: Any, history: Callable[[str], Sequence[float]] | None
) -> tuple[str, str]:
    """(status, message) of an spc line whose metric measured ``observed`` on this run."""
    from jupyter_dataops import spc

    opts = cs.spc
    assert opts is not None and cs.metric_key is not None
    n = opts.baseline
    if history is None:
        return "pass", f"collecting baseline 0/{n} (no production history)"
    if not isinstance(observed, (int, float)) or isinstance(observed, bool):
        return "error", f"spc needs a numeric metric; {cs.metric_call} is {observed!r}"
    try:
        raw = history(cs.metric_key)
        past = [float(v) for v in raw if v is not None and math.isfinite(v)]
    except Exception as exc:  # the run store may be unreachable: say so, do not crash the suite
        return "error", f"cannot read the history of {cs.metric_key}: {exc}"
    if len(past) < n:
        return "pass", f"collecting baseline {len(past)}/{n}"
    values = [*past, float(observed)]
    try:
        if opts.chart in RULE_CHARTS:
            cc = spc.control_chart(values, opts.chart, phase1=n, rules=opts.rules)
            last = len(cc.statistics) - 1
            broken = [r for r, idx in cc.violations.items() if last in idx]
            words = [f"{r}: {spc.rules.describe(r)}" for r in broken]
            limits = (
                f"limits {cc.lcl[last]:.6g} .. {cc.ucl[last]:.6g}, centre {cc.center[last]:.6g}"
            )
        else:
            from jupyter_dataops.spc.cusum import cusum
            from jupyter_dataops.spc.ewma import ewma

            res = ewma(values, phase1=n) if opts.chart == "ewma" else cusum(values, phase1=n)
            last = len(values) - 1
            if opts.chart == "ewma":
                words = (
                    [f"the EWMA {res.ewma[last]:.6g} is beyond its limits"]
                    if last in res.signals
                    else []
                )
                limits = f"limits {res.lcl[last]:.6g} .. {res.ucl[last]:.6g}"
            else:
                words = (
                    [
                        f"the CUSUM (upper {res.upper[last]:.3g}, lower {res.lower[last]:.3g}) "
                        "passed the decision interval"
                    ]
                    if last in res.signals
                    else []
                )
                limits = f"centre {float(res.center[last]):.6g}"
    except Exception as exc:  # a degenerate history (e.g. constant values) must not crash
        text = str(exc).strip().splitlines()
        return "error", f"cannot build the {opts.chart} chart: {text[0] if text else exc}"
    level = cs.severity
    if words:
        return level, f"{cs.metric_call} = {observed:.6g} breaks " + "; ".join(
            words
        ) + f" ({limits})"
    return "pass", f"{cs.metric_call} = {observed:.6g} is in control ({limits}, baseline {n} runs)"
