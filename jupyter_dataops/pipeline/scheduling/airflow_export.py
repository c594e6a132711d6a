"""``dataops export airflow``: the pipeline as a readable Airflow DAG file.

Each step becomes one task that runs the step with our own runner (``run_step`` below), through
Airflow's ``ExternalPythonOperator`` in the Python environment where jupyter-dataops is installed.
Why not ``apache-airflow-providers-papermill``'s ``PapermillOperator``: it would execute the
working notebook with no run context, so a failing ``%%dataops_test`` would only print (the magic
raises only in a production or test run), nothing would reach the run store (history, SPC
baselines, the panel), and the promoted snapshot would not be what runs. Our runner does all of
that, so a failed data test fails the task exactly as it fails ``dataops run``. And with
``ExternalPythonOperator`` Airflow's own environment (with its strict constraints) needs neither
jupyter-dataops nor papermill: only the path of that Python is written into the DAG file.

Mapping: step -> task (same ``task_id``), ``depends_on`` -> ``upstream >> step``, ``retries`` and
``retry_delay`` -> Airflow's (the runner then makes one attempt per Airflow try), ``timeout`` ->
the runner's whole-step timeout and ``execution_timeout`` a little longer, so the runner stops
the kernel and records the timeout before Airflow would kill the task. The pipeline's
``schedule:`` is one DAG of every step; each step's own ``schedule:`` is one more DAG of that
step, the steps downstream of it and everything they depend on, as the dataops scheduler runs
them (every step of a scheduled chain is in a DAG). A time zone becomes a
``CronTriggerTimetable``; ``catchup: all`` becomes ``catchup=True`` (``skip`` and ``latest``:
False, Airflow then runs only the latest missed interval).
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError

# Airflow's timeout is the step's plus this, so the runner's own timeout acts first.
TIMEOUT_GRACE = 60
_DAG_ID = re.compile(r"[^A-Za-z0-9_.-]+")


class StepFailed(PipelineError):
    """A step run from Airflow failed (a cell raised, a data test failed, or it timed out)."""


def run_step(project_dir: str, step: str) -> dict[str, Any]:
    """Run one step of the pipeline in ``project_dir`` once, as an Airflow task does.

    The step's promoted notebook runs through our runner (papermill, the run context, the run
    store) without the runner's own retries: Airflow retries the task. Raises ``StepFailed``
    when the step did not succeed, so the task fails. Returns the ids of what was recorded.
    """
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution.runner import run_pipeline

    project = Project(project_dir)
    pipeline = project.pipeline
    if step not in pipeline.steps:
        raise PipelineError(
            f"{project.pipeline_file}: no step named {step!r} (steps: "
            f"{', '.join(pipeline.steps)}). Export the DAG again (`dataops export airflow`)."
        )
    once = dataclasses.replace(pipeline.steps[step], retries=0)
    pipeline = dataclasses.replace(pipeline, steps={**pipeline.steps, step: once})
    result = run_pipeline(pipeline, [step], trigger="airflow")
    outcome = result.steps[step]
    ids = outcome.step_run_ids
    if not result.ok:
        raise StepFailed(
            f"step {step!r} {outcome.status}: {outcome.error or outcome.reason or 'no detail'}. "
            f"Executed notebook: {outcome.notebook}. Details: `dataops show {ids[-1] if ids else ''}`"
            f" in {project.root}."
        )
    return {"pipeline_run_id": result.run_id, "step_run_id": ids[-1], "notebook": outcome.notebook}


# -- writing the DAG file ----------------------------------------------------------------------
def dag_id(text: str) -> str:
    """An Airflow DAG id from a pipeline name (letters, digits, ``_``, ``-`` and ``.`` only)."""
    out = _DAG_ID.sub("_", text.strip()).strip("_")
    return out or "dataops"


def _variables(names: list[str]) -> dict[str, str]:
    """A distinct Python identifier for each step's task variable."""
    out: dict[str, str] = {}
    taken = {"dag", "datetime", "timedelta", "timezone", "run_dataops_step", "dataops_task"}
    taken |= {"DAG", "ExternalPythonOperator", "CronTriggerTimetable", "PROJECT_DIR"}
    taken |= {"DATAOPS_PYTHON"}
    for name in names:
        base = re.sub(r"\W", "_", name)
        if keyword.iskeyword(base) or base in taken or base[0].isdigit():
            base = f"{base}_task"
        var, n = base, 2
        while var in taken:
            var, n = f"{base}_{n}", n + 1
        taken.add(var)
        out[name] = var
    return out


def _q(text: str) -> str:
    """A Python string literal in double quotes."""
    return json.dumps(text, ensure_ascii=False)


def _seconds(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _cron_fields(cron: str, where: str) -> str:
    if len(cron.split()) != 5:
        raise PipelineError(
            f"{where}: schedule {cron!r} has {len(cron.split())} fields; Airflow schedules have "
            "five (minute hour day-of-month month day-of-week), without seconds. Use a "
            "five-field schedule to export this pipeline."
        )
    return cron


def _dags(pipeline: Any) -> list[dict[str, Any]]:
    """The DAGs to write: (id, steps, schedule, time zone, catch-up) per schedule."""
    from jupyter_dataops.pipeline.scheduling.schedules import WHOLE_PIPELINE, schedules

    base = dag_id(pipeline.name)
    found = schedules(pipeline)
    out = []
    if WHOLE_PIPELINE in found or not found:
        sched = found.get(WHOLE_PIPELINE)
        out.append(
            {"id": base, "steps": list(pipeline.steps), "schedule": sched, "what": "every step"}
        )
    for key, sched in found.items():
        if key == WHOLE_PIPELINE:
            continue
        out.append(
            {
                "id": f"{base}.{key}",
                "steps": sched.steps(pipeline),
                "schedule": sched,
                "what": f"step {key!r}, the steps downstream of it and what they depend on",
            }
        )
    return out


def dag_ids(pipeline: Any) -> list[str]:
    """The ids of the DAGs the export writes: the pipeline's, then one per step schedule."""
    return [d["id"] for d in _dags(pipeline)]


def render_dag(
    pipeline: Any,
    *,
    project_dir: str | None = None,
    python: str | None = None,
    now: datetime | None = None,
) -> str:
    """The text of the DAG file for ``pipeline``.

    ``project_dir``: the project folder as the Airflow workers see it (default: this one);
    ``python``: the interpreter with jupyter-dataops installed there (default: this one).
    """
    from jupyter_dataops.pipeline.definition import dag as graph
    from jupyter_dataops.pipeline.scheduling.schedules import DEFAULT_CATCHUP

    now = now or datetime.now(timezone.utc)
    project_dir = project_dir or str(pipeline.project_dir)
    python = python or sys.executable
    deps = graph.graph(pipeline)
    order = list(pipeline.steps)  # as in dataops.yaml; the edges give Airflow the run order
    var = _variables(order)
    dags = _dags(pipeline)
    lines = [
        f'"""Airflow DAGs of the jupyter-dataops pipeline {pipeline.name!r}.',
        "",
        f"Written by `dataops export airflow` from {pipeline.path} on {now:%Y-%m-%d %H:%M} UTC.",
        "Export again after editing dataops.yaml; edits here are not read back.",
        "",
        "Each task runs one step with jupyter-dataops' runner, in DATAOPS_PYTHON (the Python",
        "environment where jupyter-dataops is installed; Airflow's own environment needs",
        "neither it nor papermill): the step's promoted notebook runs through papermill and is",
        "recorded in the project's run store, and a failed data test (%%dataops_test) or",
        "cell fails the task. Retries, retry delay and timeouts are Airflow's; the runner",
        "makes one attempt per try and stops a step at its own timeout first.",
        "The workers must see the project folder at PROJECT_DIR.",
        '"""',
        "",
        "from datetime import datetime, timedelta, timezone",
        "",
        "try:  # Airflow 3",
        "    from airflow.providers.standard.operators.python import ExternalPythonOperator",
        "    from airflow.sdk import DAG",
        "except ImportError:  # Airflow 2.4+",
        "    from airflow import DAG",
        "    from airflow.operators.python import ExternalPythonOperator",
    ]
    if any(d["schedule"] is not None for d in dags):
        lines.append("from airflow.timetables.trigger import CronTriggerTimetable")
    lines += [
        "",
        f"PROJECT_DIR = {_q(project_dir)}",
        f"DATAOPS_PYTHON = {_q(python)}",
        "",
        "",
        "def run_dataops_step(project_dir, step):",
        '    """One attempt of one step (runs in DATAOPS_PYTHON); raises when the step failed."""',
        "    from jupyter_dataops.pipeline.scheduling.airflow_export import run_step",
        "",
        "    return run_step(project_dir, step)",
        "",
        "",
        "def dataops_task(step, **limits):",
        '    """The task of one step: ``run_dataops_step`` in DATAOPS_PYTHON."""',
        "    return ExternalPythonOperator(",
        "        task_id=step,",
        "        python=DATAOPS_PYTHON,",
        "        python_callable=run_dataops_step,",
        "        op_args=[PROJECT_DIR, step],",
        "        expect_airflow=False,",
        "        **limits,",
        "    )",
    ]
    start = f"datetime({now.year}, {now.month}, {now.day}, tzinfo=timezone.utc)"
    for d in dags:
        sched = d["schedule"]
        lines += ["", "", f"# {d['what'][0].upper()}{d['what'][1:]}.", "with DAG("]
        lines.append(f"    dag_id={_q(d['id'])},")
        if sched is None:
            lines.append("    schedule=None,  # no `schedule:` in dataops.yaml: triggered by hand")
        else:
            cron = _cron_fields(sched.cron, f"{pipeline.path}, {d['what']}")
            lines.append(
                f"    schedule=CronTriggerTimetable({_q(cron)}, timezone={_q(sched.timezone)}),"
            )
        catchup = (sched.catchup if sched else DEFAULT_CATCHUP) == "all"
        lines += [
            f"    start_date={start},",
            f"    catchup={catchup},  # catchup: {sched.catchup if sched else DEFAULT_CATCHUP}",
            "    max_active_runs=1,",
            f'    tags=["jupyter-dataops", {_q(pipeline.name)}],',
            ") as dag:",
        ]
        chosen = [n for n in order if n in set(d["steps"])]
        for name in chosen:
            spec = pipeline.steps[name]
            limits = [
                f"retries={spec.retries}",
                f"retry_delay=timedelta(seconds={_seconds(spec.retry_delay)})",
            ]
            if spec.timeout is not None:
                limits.append(
                    f"execution_timeout=timedelta(seconds={_seconds(spec.timeout + TIMEOUT_GRACE)})"
                )
            lines.append(f"    {var[name]} = dataops_task(")
            lines.append(f"        {_q(name)},")
            lines += [f"        {item}," for item in limits]
            if spec.timeout is not None:
                lines[-1] += (
                    f"  # the step's timeout ({_seconds(spec.timeout)} s) + {TIMEOUT_GRACE} s"
                )
            lines.append("    )")
        edges = [(up, name) for name in chosen for up in deps[name] if up in set(chosen)]
        if edges:
            lines.append("")
        for up, name in edges:
            lines.append(f"    {var[up]} >> {var[name]}")
    text = "\n".join(lines) + "\n"
    compile(text, "<dag>", "exec")  # a bug here must never leave a broken DAG file
    return text


def export_airflow(
    pipeline: Any,
    out: str | os.PathLike,
    *,
    project_dir: str | None = None,
    python: str | None = None,
) -> Path:
    """Write the DAG file of ``pipeline`` to ``out`` (see ``render_dag``); returns its path."""
    out = Path(out)
    if out.suffix != ".py":
        raise PipelineError(
            f"{out}: an Airflow DAG file is a Python module; give a name ending in .py "
            "(e.g. --out dags/shop.py)."
        )
    text = render_dag(pipeline, project_dir=project_dir, python=python)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


__all__ = ["StepFailed", "dag_id", "dag_ids", "export_airflow", "render_dag", "run_step"]
