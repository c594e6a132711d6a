"""The ``dataops`` command line. Thin: every command calls a function of the rooms."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jupyter_dataops.errors import DataOpsError, DataOpsSyntaxError

app = typer.Typer(
    name="dataops",
    help="Jupyter-native DataOps: data tests, SPC checks and governed notebook pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "bold magenta",
    "baseline": "bold blue",  # an spc line not judged yet: visibly not a pass
}
SCANNERS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error in plain words and return the Exit to raise."""
    # Text, not markup: messages quote check lines such as `valid values [a, b]`.
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False)
    return typer.Exit(code)


def scan_data(path: Path):  # noqa: ANN201
    """A lazy polars frame over a parquet, CSV/TSV or NDJSON file (larger than memory is fine)."""
    import polars as pl

    if not path.exists():
        raise fail(f"data file {str(path)!r} does not exist.")
    kind = SCANNERS.get(path.suffix.lower())
    if kind is None:
        raise fail(
            f"cannot read {str(path)!r}: unknown file type {path.suffix!r}. "
            f"Use one of {', '.join(sorted(SCANNERS))}."
        )
    if kind == "parquet":
        return pl.scan_parquet(path)
    if kind == "csv":
        return pl.scan_csv(path, try_parse_dates=True)
    if kind == "tsv":
        return pl.scan_csv(path, separator="\t", try_parse_dates=True)
    return pl.scan_ndjson(path)


def print_suite(result) -> None:  # noqa: ANN001
    """The result table of a check suite, one row per check line."""
    from jupyter_dataops.checks.display import status_label

    table = Table(title=f"checks: {result.name}" if result.name else "checks", show_lines=False)
    for col in ("line", "status", "check", "observed", "threshold", "message"):
        table.add_column(col, overflow="fold")
    for r in result.results:
        style = STATUS_STYLE.get(r.status, "")
        detail = r.detail + (f" ({r.rows_text} offending)" if r.rows_text else "")
        table.add_row(
            str(r.line),
            Text(r.status_text, style=style),
            Text(r.source),
            Text(r.observed_text),
            Text(r.threshold),
            Text(detail),
        )
    console.print(table)
    counts = ", ".join(f"{n} {status_label(s)}" for s, n in result.counts.items() if n)
    verdict = "[green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    console.print(f"{verdict} ({counts})")


def _version(value: bool) -> None:
    if value:
        from jupyter_dataops import __version__

        console.print(f"jupyter-dataops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Jupyter-native DataOps: data tests, SPC checks and governed notebook pipelines."""


@app.command()
def check(
    data: Annotated[
        str,
        typer.Argument(
            help="Parquet, CSV/TSV or NDJSON file to check, or a SQLAlchemy database URL "
            "(with --table)."
        ),
    ],
    spec_file: Annotated[Path, typer.Argument(help="File with one check per line.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time that freshness is measured at.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    table: Annotated[
        str | None,
        typer.Option(
            "--table", help="Table (or schema.table) of the database URL; checked in SQL there."
        ),
    ] = None,
) -> None:
    """Run a spec file on a data file or a database table; exit 1 when a check fails or errors
    (for CI jobs). A database table is checked with aggregate SQL in the database."""
    from jupyter_dataops.checks import parse_spec, run_checks

    if not spec_file.exists():
        raise fail(f"spec file {str(spec_file)!r} does not exist.")
    try:
        suite = parse_spec(
            spec_file.read_text(encoding="utf-8"), name=spec_file.stem, source_name=str(spec_file)
        )
    except DataOpsSyntaxError as exc:
        raise fail(str(exc)) from None
    is_url = "://" in data
    if is_url and not table:
        raise fail(
            f"{data.split('://')[0]}:// is a database URL: name the table with --table NAME."
        )
    if table and not is_url:
        raise fail(
            "--table is for a database URL (e.g. postgresql+psycopg://user@host/db or "
            f"sqlite:///file.db), but {data!r} is a file."
        )
    source = data if is_url else scan_data(Path(data))
    try:
        result = run_checks(source, suite, name=spec_file.stem, as_of=as_of, table=table)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        print_suite(result)
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def suggest(
    data: Annotated[
        str, typer.Argument(help="Parquet, CSV/TSV or NDJSON file, or a database URL (--table).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the spec to this file (else print it).")
    ] = None,
    table: Annotated[str | None, typer.Option("--table", help="Table of the database URL.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time freshness is measured at.")
    ] = None,
) -> None:
    """Profile data in one pass and write a check spec for it, each line with its evidence
    (run it with `dataops check DATA SPEC`)."""
    from jupyter_dataops.checks.suggest import suggest as do_suggest

    is_url = "://" in data
    if is_url != bool(table):
        raise fail("a database URL needs --table NAME, and --table needs a database URL.")
    source = data if is_url else scan_data(Path(data))
    try:
        result = do_suggest(source, table=table, as_of=as_of)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if out is None:
        sys.stdout.write(result.text)
        return
    try:
        out.write_text(result.text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    err_console.print(f"{len(result.lines)} checks written to {out}", highlight=False)


# -- pipeline commands: thin wrappers over jupyter_dataops.pipeline ------------------------------

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "-p",
        "--param",
        help="Parameter as key=value (repeatable); `dataops run` also takes step.key=value.",
    ),
]


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
    from jupyter_dataops.pipeline.notebook import read_notebook
    from jupyter_dataops.pipeline.promote import PromotionRefused
    from jupyter_dataops.pipeline.promote import promote as do_promote

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
) -> None:
    """Run the promoted pipeline of dataops.yaml (or the named steps); exit 1 if a step fails."""
    from jupyter_dataops.pipeline import history
    from jupyter_dataops.pipeline.alerts import with_alerts
    from jupyter_dataops.pipeline.project import Project
    from jupyter_dataops.pipeline.report import RichReporter, verdict_lines
    from jupyter_dataops.pipeline.runner import run_pipeline

    try:
        project = Project.require()
        pipeline = project.pipeline
        # marks runs of a dead runner interrupted; a run refused before it starts makes no store
        history.open_project_store(url=project.store_url, create=False)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if address and (executor or pipeline.executor or "local") != "dask":
        raise fail(
            "--address is the address of a Dask scheduler: use it with --executor dask (or "
            "`executor: dask` in dataops.yaml)."
        )
    # alerts go out once a step is recorded, through the project's (cached) store
    reporter = with_alerts(RichReporter(console), pipeline, open_store=project.open_store)
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
        reporter.stop()
        if hasattr(reporter, "run_interrupted"):  # the pipeline has alerts
            reporter.run_interrupted()
        raise fail("stopped; unfinished steps are recorded as interrupted.", code=130) from None
    finally:
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
            err_console.print(
                Text.assemble(
                    (f"{outcome.step}: ", "bold red"),
                    outcome.error or "failed",
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
    from jupyter_dataops.pipeline import history
    from jupyter_dataops.pipeline.promote import test_notebook

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


def _read_only_store():  # noqa: ANN202
    """The store of the project here, for commands that only read: never created by looking
    (no ``dataops.yaml`` or no store yet is an error, exit 2)."""
    from jupyter_dataops.pipeline import history
    from jupyter_dataops.pipeline.project import Project

    project = Project.require()
    store = history.open_project_store(url=project.store_url, create=False)
    if store is None:
        project.require_store()  # raises NoStoreError: "no runs yet ..."
    return store


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the steps as JSON.")] = False,
) -> None:
    """Per step: schedule, next run, last run, promoted version, edited since promotion; and
    whether a scheduler is running (heartbeat, host, pid), each schedule's next and last tick."""
    from jupyter_dataops.pipeline.project import Project
    from jupyter_dataops.pipeline.report import status_table
    from jupyter_dataops.pipeline.scheduler import schedule_status
    from jupyter_dataops.pipeline.status import pipeline_status

    try:
        project = Project.require()
        store = project.open_store(create=False)
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
        return
    console.print(status_table(rows))
    _print_scheduling(sched)


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
            text += f"; last tick {last['scheduled_for'][:19].replace('T', ' ')} {last['status']}"
            if last["run_status"]:
                text += f" (run {last['pipeline_run_id']} {last['run_status']})"
            elif last["reason"]:
                text += f" ({last['reason']})"
        console.print(Text(text), highlight=False)


@app.command()
def runs(
    step: Annotated[str | None, typer.Option("--step", help="Only runs of this step.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List recent step runs, newest first."""
    from jupyter_dataops.pipeline import history
    from jupyter_dataops.pipeline.report import runs_table

    try:
        store = _read_only_store()
        try:
            rows = history.list_runs(store, step=step, limit=limit)
        finally:
            store.close()
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        console.print(runs_table(rows))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A step run id from `dataops runs`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Show one step run: parameters, error, checks, metrics, lineage, executed notebook."""
    from jupyter_dataops.pipeline import history
    from jupyter_dataops.pipeline.report import run_detail

    try:
        store = _read_only_store()
        try:
            detail = history.show_run(store, run_id)
        finally:
            store.close()
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(detail, indent=2) + "\n")
    else:
        console.print(run_detail(detail))


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
    from jupyter_dataops.pipeline.project import Project
    from jupyter_dataops.pipeline.scheduler import Scheduler, schedules, setup_logging

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
    from jupyter_dataops.pipeline.project import Project
    from jupyter_dataops.pipeline.retention import apply_retention

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
    ] = 2,
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
    from jupyter_dataops.pipeline.airflow_export import dag_ids
    from jupyter_dataops.pipeline.airflow_export import export_airflow as export
    from jupyter_dataops.pipeline.project import Project

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


def main() -> None:
    """Entry point of the ``dataops`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
