"""Pipeline commands: ``promote``, ``run``, ``test``, ``status``, ``runs``, ``show``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from jupyter_dataops.cli._app import (
    ParamOption,
    app,
    console,
    err_console,
    fail,
    print_answer,
    read_store,
)
from jupyter_dataops.errors import DataOpsError


@app.command()
def promote(
    notebook: Annotated[Path, typer.Argument(help="The notebook to promote.")],
    step: Annotated[str, typer.Option("--step", help="Name of the pipeline step.")],
    param: ParamOption = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option("--depends-on", help="A step this one runs after (repeatable)."),
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Cron schedule, e.g. '0 6 * * *'.")
    ] = None,
) -> None:
    """Promote a notebook to a pipeline step, after a gate run whose data tests all pass."""
    from jupyter_dataops.pipeline.definition.notebook import read_notebook
    from jupyter_dataops.pipeline.execution.promote import PromotionRefused
    from jupyter_dataops.pipeline.execution.promote import promote as do_promote

    try:
        read_notebook(notebook)  # a missing or unreadable file is said before any gate run
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    console.print(f"Gate run of {notebook} (test mode)...")
    try:
        result = do_promote(
            notebook, step, params=param or [], depends_on=depends_on, schedule=schedule
        )
    except PromotionRefused as exc:
        raise fail(str(exc), code=1) from None
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    version = result.version
    verb = "new version" if version.get("created", True) else "unchanged, version"
    console.print(
        f"[green]promoted[/] step [bold]{step}[/] ({verb} {version['version']}, "
        f"{version['content_hash'][:12]}) in {result.pipeline_file}",
        highlight=False,
    )


@app.command()
def run(
    steps: Annotated[
        list[str] | None,
        typer.Argument(
            help="Steps to run (default: all). Named steps run in dependency order among "
            "themselves; steps they depend on are not re-run."
        ),
    ] = None,
    param: ParamOption = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where steps run: local (a process pool) or dask (a dask.distributed cluster). "
            "Default: `executor:` in dataops.yaml, else local.",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="The Dask scheduler, e.g. tcp://10.0.0.5:8786 (with the dask executor; "
            "default: `dask_address:` in dataops.yaml, else a local cluster of --workers).",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Steps run at the same time.")
    ] = None,
    unpromoted: Annotated[
        bool,
        typer.Option(
            "--unpromoted",
            help="Run the working notebooks instead of their promoted versions; the runs are "
            "recorded as unpromoted.",
        ),
    ] = False,
    partition: Annotated[
        str | None,
        typer.Option(
            "--partition",
            help="The period to run for, e.g. 2026-09-01 (day), 2026-W36, 2026-09, "
            "2026-09-01T06: given to each step's partition parameter (`partitions:`).",
        ),
    ] = None,
) -> None:
    """Run the promoted pipeline of dataops.yaml (or the named steps); exit 1 if a step fails."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution import warm
    from jupyter_dataops.pipeline.execution.runner import run_pipeline
    from jupyter_dataops.pipeline.views import history
    from jupyter_dataops.pipeline.views.report import RichReporter, headline, verdict_lines

    try:
        project = Project.require()
        pipeline = project.pipeline
        # one kernel template for this project's commands, not one per command
        warm.use_project_server(project.state_dir)
        # marks runs of a dead runner interrupted; a run refused before it starts makes no store
        history.open_project_store(url=project.store_url, create=False)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if address and (executor or pipeline.executor or "local") != "dask":
        raise fail(
            "--address is the address of a Dask scheduler: use it with --executor dask (or "
            "`executor: dask` in dataops.yaml)."
        )
    reporter = RichReporter(console)  # the runner adds the pipeline's alerts and lineage
    store = None
    try:
        result = run_pipeline(
            pipeline,
            steps or None,
            param or [],
            executor=executor,
            executor_options={"address": address} if address else None,
            workers=workers,
            reporter=reporter,
            unpromoted=unpromoted,
            partition=partition,
        )
        store = project.open_store()
        verdicts = {
            name: verdict_lines(store.get_run(outcome.step_run_ids[-1]) or {})
            for name, outcome in result.steps.items()
            if outcome.step_run_ids
        }
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        reporter.stop()  # the runner recorded and alerted the interrupted steps
        raise fail("stopped; unfinished steps are recorded as interrupted.", code=130) from None
    finally:
        warm.use_project_server(None)  # this process's next template is its own again
        if store is not None:
            store.close()
    for warning in result.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False)
    if unpromoted:
        console.print("unpromoted run: the working notebooks ran, recorded as unpromoted.")
    for name, lines in verdicts.items():
        if lines:
            console.print(
                Text.assemble((f"{name}:", "bold"), f" {len(lines)} check line(s) not passed"),
                highlight=False,
            )
            for line in lines:
                console.print(line, highlight=False)
    for outcome in result.steps.values():
        if outcome.status == "failed":
            error = outcome.error or "failed"
            if outcome.reason == "checks" and verdicts.get(outcome.step):
                error = headline(error) + " (the check lines above)"  # each failure once
            err_console.print(
                Text.assemble(
                    (f"{outcome.step}: ", "bold red"),
                    error,
                    f"\n  notebook: {outcome.notebook}",
                ),
                highlight=False,
            )
    raise typer.Exit(0 if result.ok else 1)


@app.command(name="test")
def test_command(
    notebook: Annotated[Path, typer.Argument(help="The notebook to test.")],
    param: ParamOption = None,
) -> None:
    """Run a notebook in test mode (sandbox parameters); exit 1 if a data test fails.

    Writes no run history: this is the innovation pipeline's check before promotion.
    """
    from jupyter_dataops.pipeline.execution.promote import test_notebook
    from jupyter_dataops.pipeline.views import history

    try:
        store = history.open_project_store(notebook.resolve().parent, create=False)
        if store is not None:
            store.close()
        result = test_notebook(notebook, params=param or [])
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if result.passed:
        console.print(
            f"[green]passed[/]: {notebook} (executed copy: {result.output})", soft_wrap=True
        )
        raise typer.Exit(0)
    err_console.print(Text.assemble(("failed: ", "bold red"), str(notebook)), highlight=False)
    for line in result.failures:
        err_console.print(Text(f"  - {line}"), highlight=False)
    err_console.print(Text(f"executed copy: {result.output}"), highlight=False)
    raise typer.Exit(1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the steps as JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when the pipeline has schedules and no scheduler is running (for "
            "monitoring: cron, systemd, a health check).",
        ),
    ] = False,
) -> None:
    """Per step: schedule, next run, last run, promoted version, edited since promotion; and
    whether a scheduler is running (heartbeat, host, pid), each schedule's next and last tick."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.scheduling.schedule_status import schedule_status
    from jupyter_dataops.pipeline.views.history import refuse_a_renamed_pipeline
    from jupyter_dataops.pipeline.views.report import status_table
    from jupyter_dataops.pipeline.views.status import pipeline_status

    try:
        project = Project.require()
        store = project.open_store(create=False)
        if store is not None:
            refuse_a_renamed_pipeline(project, store)
        rows = pipeline_status(project, store)
        sched = schedule_status(project.pipeline, store)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    for row in rows:  # a step's own schedule: next tick in its time zone, its last tick
        for item in sched["schedules"]:
            if item["key"] == row["step"]:
                row.update({k: item[k] for k in ("timezone", "catchup", "next_run")})
                row["last_scheduled"] = item["last_scheduled"]
    if as_json:
        answer = {"pipeline": project.pipeline.name, **sched, "steps": rows}
        sys.stdout.write(json.dumps(answer, indent=2, default=str) + "\n")
    else:
        console.print(status_table(rows))
        _print_scheduling(sched)
    if check and sched["schedules"] and not sched["scheduler"]["alive"]:
        keys = ", ".join(
            "whole pipeline" if s["key"] == "*" else s["key"] for s in sched["schedules"]
        )
        err_console.print(
            Text.assemble(
                ("check failed: ", "bold red"),
                f"{len(sched['schedules'])} schedule(s) ({keys}) and {sched['scheduler']['message']}."
                " Start one in the project folder: dataops scheduler",
            ),
            highlight=False,
        )
        raise typer.Exit(1)


def _print_scheduling(sched: dict) -> None:
    """The scheduler line ("scheduler not running" plainly) and one line per schedule."""
    state = sched["scheduler"]
    style = "green" if state["alive"] else "bold yellow"
    if state["alive"]:
        line = f"{state['message']}, heartbeat {state['heartbeat_at']}"
    else:
        line = state["message"]
    console.print(Text(line, style=style), highlight=False)
    for item in sched["schedules"]:
        last = item["last_scheduled"]
        what = "whole pipeline" if item["key"] == "*" else f"step {item['key']}"
        text = (
            f"  {what}: '{item['schedule']}' ({item['timezone']}, catchup {item['catchup']}), "
            f"next {item['next_run'][:19].replace('T', ' ')} UTC"
        )
        if last:
            text += f"; last tick {last['scheduled_for'][:19].replace('T', ' ')}"
            if last.get("partition"):
                text += f" for {last['partition']}"
            text += f" {last['status']}"
            if last["run_status"]:
                text += f" (run {last['pipeline_run_id']} {last['run_status']})"
            elif last["reason"]:
                text += f" ({last['reason']})"
        console.print(Text(text), highlight=False)


@app.command()
def runs(
    step: Annotated[str | None, typer.Option("--step", help="Only runs of this step.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="How many runs (1 to 10,000).")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    partition: Annotated[
        str | None, typer.Option("--partition", help="Only runs for this partition.")
    ] = None,
) -> None:
    """List recent step runs, newest first."""
    from jupyter_dataops.pipeline.views import history
    from jupyter_dataops.pipeline.views.report import runs_table

    rows = read_store(
        lambda store: history.list_runs(store, step=step, limit=limit, partition=partition)
    )
    print_answer(rows, as_json, runs_table)


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A step run id from `dataops runs`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Show one step run: parameters, error, checks, metrics, lineage, executed notebook."""
    from jupyter_dataops.pipeline.views import history
    from jupyter_dataops.pipeline.views.report import run_detail

    detail = read_store(lambda store: history.show_run(store, run_id))
    print_answer(detail, as_json, run_detail)


@app.command(name="rename-pipeline")
def rename_pipeline(
    old: Annotated[str, typer.Argument(help="The name the history is under now.")],
    new: Annotated[str, typer.Argument(help="The new name (as `pipeline:` in dataops.yaml).")],
) -> None:
    """Move a pipeline's run history (runs, versions, schedules, alerts, incidents) to a new
    name: after changing `pipeline:` in dataops.yaml, so the history follows it."""
    from jupyter_dataops.pipeline.definition.project import Project, cached_store

    def rename() -> None:
        project = Project.require()
        store = cached_store(project.store_url, create=False)
        if store is None:
            project.require_store()
        store.rename_pipeline(old, new)

    try:
        rename()
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    console.print(f"the run history of {old!r} is now under {new!r} (`pipeline: {new}`).")
