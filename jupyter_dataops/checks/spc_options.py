"""The options of an ``spc`` line: ``chart C, rules R, seasonal weekday|month|hour, baseline N
[rolling]``, each checked against the others and against the metric (a chart that does not fit
it is refused with the reason)."""

from __future__ import annotations

import difflib
import re

from jupyter_dataops.checks.cursor import IDENT as _IDENT
from jupyter_dataops.checks.cursor import Line as _Line
from jupyter_dataops.checks.spc_check import chart_misfit
from jupyter_dataops.checks.spec import SpcOptions
from jupyter_dataops.spc.charts import CHART_TYPES, RULE_CHARTS
from jupyter_dataops.spc.rules import RULE_SETS as _SPC_RULE_SETS
from jupyter_dataops.spc.seasonal import SEASONS

CHARTS = CHART_TYPES  # the spc room names them, once
# Charts that need more than one value per run; refused with a reason rather than faked.
NOT_FOR_METRICS = {
    "xbar": "xbar, r and s charts need subgroups, but a metric gives one value per run",
    "r": "xbar, r and s charts need subgroups, but a metric gives one value per run",
    "s": "xbar, r and s charts need subgroups, but a metric gives one value per run",
}
RULE_SETS = tuple(_SPC_RULE_SETS)
DEFAULT_BASELINE = 20


def parse_spc_options(cur: _Line, metric: str) -> SpcOptions:
    """The comma-separated options after ``spc METRIC:``, refused where they do not fit."""
    opts: dict = {}
    chart_pos = season_pos = 0
    while True:
        cur.ws()
        p = cur.pos
        key = cur.keyword("chart", "rules", "baseline", "seasonal")
        if key is None:
            raise cur.error("expected 'chart', 'rules', 'seasonal' or 'baseline' here")
        if key in opts:
            raise cur.error(f"{key!r} is given twice", p)
        cur.ws()
        vp = cur.pos
        if key == "baseline":
            m = re.compile(r"\d[\d_]*").match(cur.text, vp)
            if not m or int(m.group().replace("_", "")) < 2:
                raise cur.error(
                    "baseline takes a whole number of runs, at least 2, e.g. baseline 20"
                )
            cur.pos = m.end()
            opts[key] = int(m.group().replace("_", ""))
            cur.ws()
            rp = cur.pos
            if cur.word(_IDENT) == "rolling":
                opts["rolling"] = True
            else:
                cur.pos = rp
        elif key == "seasonal":
            val = cur.word(_IDENT)
            if val is None or val.lower() not in SEASONS:
                near = difflib.get_close_matches((val or "").lower(), SEASONS, n=1)
                raise cur.error(
                    f"seasonal takes one of {', '.join(SEASONS)} (a baseline per day of the "
                    "week, month of the year or hour of the day)",
                    vp,
                    hint=f"did you mean {near[0]!r}?" if near else None,
                )
            opts[key] = val.lower()
            season_pos = p
        else:
            choices = CHARTS if key == "chart" else RULE_SETS
            val = cur.word(_IDENT)
            if key == "chart" and val and val.lower() in NOT_FOR_METRICS:
                raise cur.error(
                    f"{NOT_FOR_METRICS[val.lower()]}; use chart i (individuals), "
                    "c (counts), p or np (percent metrics), u (count metrics), ewma or cusum",
                    vp,
                )
            chart_pos = vp
            if val is None or val.lower() not in choices:
                near = difflib.get_close_matches((val or "").lower(), choices, n=1)
                raise cur.error(
                    f"{key} must be one of {', '.join(choices)}",
                    vp,
                    hint=f"did you mean {near[0]!r}?" if near else None,
                )
            opts[key] = val.lower()
        if not cur.take(","):
            break
    misfit = chart_misfit(opts.get("chart", ""), metric)
    if misfit:
        raise cur.error(misfit, chart_pos)
    if opts.get("rolling") and opts.get("chart", SpcOptions.chart) not in RULE_CHARTS:
        raise cur.error(
            "a rolling baseline works with the Shewhart charts (i, mr, c, p, np, u); "
            f"{opts['chart']} carries its own memory: drop 'rolling'",
            chart_pos,
        )
    if opts.get("seasonal") and opts.get("chart", SpcOptions.chart) != "i":
        raise cur.error(
            f"seasonal limits work with chart i (individuals); chart {opts['chart']} keeps one "
            "baseline: drop 'chart' or 'seasonal'",
            season_pos,
        )
    if opts.get("seasonal") and opts.get("rolling"):
        raise cur.error("a seasonal baseline is frozen per season: drop 'rolling'", season_pos)
    if "rules" in opts and opts.get("chart", SpcOptions.chart) not in RULE_CHARTS:
        raise cur.error(
            f"run rules apply to the i, mr, c, p, np and u charts; {opts['chart']} has its own "
            "signal: drop 'rules'"
        )
    return SpcOptions(**opts)


__all__ = ["CHARTS", "DEFAULT_BASELINE", "RULE_SETS", "parse_spc_options"]
