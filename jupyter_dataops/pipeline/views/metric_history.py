"""``dataops history STEP METRIC``: a metric's series as its spc line judged it, point by point.

The points, verdicts and limits are those of ``charts.metric_chart`` (one judgement, one
picture: the chart and this table never disagree): on a partitioned pipeline one point per
partition, its latest run (a re-run day replaces its earlier point, which stays in the record:
``dataops runs --partition KEY``). ``counted``: the point is in the SPC history (a successful
run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store


def judged_series(
    store: Store, step: str, metric: str, *, pipeline: str | None = None, last: int | None = None
) -> dict[str, Any]:
    """``{step, metric, pipeline, chart, rules, baseline, collected, judged, line, note, title,
    points}``; each point ``{partition, parameters, value, status, rules, center, lcl, ucl, run_id,
    pipeline_run_id, run_status, time, counted, baseline, phase}`` oldest first; ``phases``: the
    rebaselines (``dataops spc rebaseline``) ``{phase, from, reason, by, at}``. ``status`` is the spc
    line's stored verdict on that run (None: no spc line checked it)."""
    from jupyter_dataops.pipeline.views.charts import metric_chart

    chart = metric_chart(store, step, metric, pipeline=pipeline, last=last)
    if not chart.points:
        known = sorted({m["metric"] for m in store.list_metrics(step, pipeline=pipeline)})
        if not known:
            raise DataOpsError(
                f"step {step!r} has no metrics recorded in production runs yet. Run it "
                "(`dataops run`), or check the step name with `dataops status`."
            )
        raise DataOpsError(
            f"step {step!r} has no metric {metric!r}; its metrics: {', '.join(known)}. Quote "
            "the name, e.g. dataops history STEP 'avg(amount)'."
        )
    from jupyter_dataops.pipeline.views.chart_spec import point_parameters
    from jupyter_dataops.store.phases import phase_of

    phases = store.spc_phases(chart.pipeline, step, metric)
    points = []
    for p in chart.points:
        phase = phase_of(phases, p.partition, p.step_run_id) if phases else None
        points.append(
            {
                "partition": p.partition,
                "parameters": point_parameters(p),
                "value": p.value,
                "statistic": p.statistic,
                "status": p.check_status,
                "rules": list(p.rules),
                "center": p.center,
                "lcl": p.lcl,
                "ucl": p.ucl,
                "run_id": p.step_run_id,
                "pipeline_run_id": p.pipeline_run_id,
                "run_status": p.status,
                "time": p.time,
                "counted": p.status == "success",
                "baseline": p.baseline,
                "phase": phase["phase"] if phase else 1,
            }
        )
    return {
        "step": chart.step,
        "metric": chart.metric,
        "pipeline": chart.pipeline,
        "chart": chart.chart,
        "rules": chart.rules,
        "baseline": chart.baseline,
        "collected": chart.collected,
        "judged": chart.judged,
        "line": chart.line,
        "note": chart.note,
        "title": chart.title,
        "points": points,
        "phases": [
            {
                "phase": ph["phase"],
                "from": ph["from_partition"] or f"run {ph['from_step_run_id']}",
                "reason": ph["reason"],
                "by": ph["created_by"],
                "at": ph["created_at"],
            }
            for ph in phases
        ],
    }


def history_table(answer: dict[str, Any]) -> Any:
    """The rich table of ``dataops history``: one line per run, then the line that judged it."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from jupyter_dataops.checks.display import format_value, unit_of

    unit = unit_of(answer["metric"])
    styles = {"pass": "green", "warn": "yellow", "fail": "bold red", "error": "bold magenta"}
    table = Table(title=f"{answer['step']} · {answer['metric']}", title_justify="left")
    for col in ("partition", "value", "status", "lcl", "center", "ucl", "rules", "run", "counted"):
        table.add_column(col, overflow="fold")

    def num(v: Any) -> str:
        return "" if v is None else format_value(v, unit)

    reasons = {ph["phase"]: ph for ph in answer.get("phases", [])}
    phase = 1
    for p in answer["points"]:
        if p.get("phase", 1) != phase:  # a rebaseline: the boundary and its reason
            phase = p["phase"]
            ph = reasons[phase]
            table.add_section()
            table.add_row(Text(f"phase {phase} from {ph['from']}: {ph['reason']}", "bold cyan"))
        status = p["status"] or "not checked"
        run = f"#{p['run_id']}" + ("" if p["run_status"] == "success" else f" {p['run_status']}")
        table.add_row(
            p["partition"] or "",
            num(p["value"]),
            Text(status, style=styles.get(status, "blue")),
            num(p["lcl"]),
            num(p["center"]),
            num(p["ucl"]),
            ", ".join(p["rules"]),
            run,
            "yes" if p["counted"] else Text("no", "dim"),
        )
    judged = f"judged by `{answer['line']}`" if answer["line"] else "no spc line judges this metric"
    state = (
        "limits from the baseline"
        if answer["judged"]
        else f"collecting baseline {answer['collected']}/{answer['baseline']}"
    )
    notes = [Text(f"{judged}: chart {answer['chart']}, {state}.")]
    if answer["note"]:
        notes.append(Text(answer["note"], style="dim"))
    for ph in answer.get("phases", []):
        by = f" by {ph['by']}" if ph["by"] else ""
        notes.append(
            Text(f"phase {ph['phase']} from {ph['from']}{by}: {ph['reason']} (limits afresh)")
        )
    return Group(table, *notes)


__all__ = ["history_table", "judged_series"]
