"""Running unattended and beyond: ``scheduler``, ``gc``, ``demo``, ``export airflow``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jupyter_dataops.cli._app import (
    _read_only_store,
    app,
    console,
    err_console,
    fail,
)
from jupyter_dataops.errors import DataOpsError


@app.command()
def scheduler(
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=0.05, help="Seconds between passes (file reload, due ticks)."
        ),
    ] = 1.0,
    stop_timeout: Annotated[
        float,
        typer.Option(
            "--stop-timeout",
            min=0,
            help="On SIGTERM/Ctrl-C, seconds running steps may finish before they are stopped "
            "(and recorded interrupted).",
        ),
    ] = 60.0,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where steps run: local or dask (default: `executor:` and `dask_address:` in "
            "dataops.yaml, else local).",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Steps of one run at the same time.")
    ] = None,
) -> None:
    """Run the schedules of dataops.yaml unattended (foreground; structured log lines on
    stderr). Several schedulers may share one store: each tick runs exactly once."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.scheduling.scheduler import Scheduler
    from jupyter_dataops.pipeline.scheduling.scheduler_log import setup_logging
    from jupyter_dataops.pipeline.scheduling.schedules import schedules

    setup_logging()
    try:
        project = Project.require()
        service = Scheduler(
            project.pipeline_file,
            store=project.open_store(create=True),
            interval=interval,
            stop_timeout=stop_timeout,
            executor=executor,
            workers=workers,
        )
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if not schedules(service.pipeline):
        err_console.print(
            "note: no step has a `schedule:` yet; the scheduler waits and picks up an edit of "
            "dataops.yaml.",
            highlight=False,
        )
    service.run()


@app.command()
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Apply `retention:`: delete old executed notebooks and logs (runs are marked pruned;
    check results and metrics stay for SPC). Never touches a running run."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.scheduling.retention import apply_retention

    try:
        project = Project.require()
        store = _read_only_store()
        result = apply_retention(project.pipeline, store, dry_run=dry_run)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    verb = "would prune" if dry_run else "pruned"
    for run in result.runs:
        console.print(
            f"{verb} run {run['id']} ({run['step']}): {len(run['files'])} file(s)", highlight=False
        )
    console.print(
        f"{verb} {len(result.runs)} run(s), {result.files} file(s), {result.bytes / 1e6:.1f} MB",
        highlight=False,
    )


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Argument(help="Folder to copy the sample pipeline into (kept if it exists).")
    ] = Path("dataops-demo"),
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Backfill only the first N days (default: all 60)."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="Days in flight at once (steps stay in day order).")
    ] = 4,
) -> None:
    """The main job: copy the sample factory, promote its notebooks, backfill 60 days of
    orders on the embedded SQLite store, and show what the data tests and SPC lines caught."""
    from jupyter_dataops.demo import run_demo

    try:
        run_demo(directory, days=days, jobs=jobs, console=console)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(
            "stopped; the days already run are kept. Run the same command again to go on.",
            code=130,
        ) from None


@app.command()
def backfill(
    first: Annotated[str, typer.Option("--from", help="The first partition, e.g. 2026-09-01.")],
    last: Annotated[str, typer.Option("--to", help="The last partition (included).")],
    jobs: Annotated[
        int,
        typer.Option("--jobs", min=1, help="Partitions in flight at once (steps stay in order)."),
    ] = 1,
    rerun: Annotated[
        str | None,
        typer.Option(
            "--rerun",
            help="failed: the partitions not yet successful (the default); all: every one.",
        ),
    ] = None,
) -> None:
    """Run the pipeline once per partition from --from to --to, oldest first: the partitions
    not yet successful (every one with --rerun all); exit 1 if a partition failed."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution import backfill as bf
    from jupyter_dataops.pipeline.views.report import backfill_progress

    try:
        project = Project.require()
        pipeline = project.pipeline
        store = project.open_store()
        store.mark_interrupted()
        plans = bf.plan_backfill(pipeline, store, first, last, rerun=rerun)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if not plans:
        console.print(f"Nothing to run: every partition from {first} to {last} succeeded.")
        raise typer.Exit(0)
    total = sum(len(p.steps or pipeline.steps) for p in plans)
    console.print(
        f"Backfilling {len(plans)} partition(s), {plans[0].partition} .. "
        f"{plans[-1].partition}: {total} step runs, {jobs} partition(s) at a time"
    )
    progress, advance = backfill_progress(console, total)
    try:
        with progress:
            results = bf.backfill(
                pipeline,
                plans,
                store_url=project.store_url,
                jobs=jobs,
                advance=advance,  # the runner adds the pipeline's alerts and lineage
            )
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(
            "stopped; finished partitions are kept. Run the same command again to go on.",
            code=130,
        ) from None
    failed = [key for key, result in results.items() if not result.ok]
    console.print(f"{len(results) - len(failed)} partition(s) succeeded, {len(failed)} failed.")
    for key in failed:
        steps = results[key].steps.items()
        bad = [f"{n}: {o.error or o.status}" for n, o in steps if o.status != "success"]
        err_console.print(f"{key}: " + "; ".join(line.splitlines()[0] for line in bad))
    raise typer.Exit(1 if failed else 0)


export_app = typer.Typer(help="Write the pipeline for another tool.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("airflow")
def export_airflow(
    out: Annotated[
        Path, typer.Option("--out", help="The DAG file to write (Airflow's dags folder).")
    ],
    project_dir: Annotated[
        str | None,
        typer.Option("--project-dir", help="The project folder as Airflow's workers see it."),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option("--python", help="The Python with jupyter-dataops that runs the steps."),
    ] = None,
) -> None:
    """Write an Airflow DAG file: one task per step (our runner, so a failed data test fails the
    task), the same order, schedule, retries and timeouts."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.scheduling.airflow_export import dag_ids
    from jupyter_dataops.pipeline.scheduling.airflow_export import export_airflow as export

    try:
        pipeline = Project.require().pipeline
        path = export(pipeline, out, project_dir=project_dir, python=python)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"wrote {path}: Airflow DAG(s) {', '.join(dag_ids(pipeline))} of pipeline "
        f"{pipeline.name!r} ({len(pipeline.steps)} step(s))",
        highlight=False,
        soft_wrap=True,
    )
