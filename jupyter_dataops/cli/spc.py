"""``dataops spc rebaseline STEP METRIC --from PARTITION --reason TEXT``: after an accepted change
of the process, a metric's limits start afresh from that partition (or run) on."""

from __future__ import annotations

from typing import Annotated

import typer

from jupyter_dataops.cli._app import app, fail

spc_app = typer.Typer(help="Statistical process control of a step's metrics.", no_args_is_help=True)
app.add_typer(spc_app, name="spc")


@spc_app.command("rebaseline")
def rebaseline(
    step: Annotated[str, typer.Argument(help="The step whose metric changed.")],
    metric: Annotated[str, typer.Argument(help="The metric key, e.g. row_count or 'avg(amount)'.")],
    start: Annotated[
        str,
        typer.Option(
            "--from",
            help="The first partition of the new phase (e.g. 2026-10-01); on a pipeline without "
            "partitions, the first step run id (12 or #12).",
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="The accepted change, e.g. 'new supplier'.")
    ],
) -> None:
    """Start a new phase: the points from --from on collect a fresh baseline and are judged
    against their own limits; dataops history and the chart show the boundary and its reason."""
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.execution.spc_history import rebaseline as start_phase
    from jupyter_dataops.pipeline.observers.incidents import current_user
    from jupyter_dataops.pipeline.views import history

    try:
        project = Project.require()
        store = history.open_project_store(url=project.store_url, create=False)
        if store is None:
            project.require_store()
        try:
            phase = start_phase(
                project.pipeline, store, step, metric, start, reason, by=current_user()
            )
        finally:
            store.close()
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    where = phase["from_partition"] or f"run {phase['from_step_run_id']}"
    typer.echo(
        f"{step} · {metric}: phase {phase['phase']} from {where} ({phase['reason']}); its points "
        "collect a fresh baseline"
    )
