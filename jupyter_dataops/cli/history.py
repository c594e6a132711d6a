"""``dataops history STEP METRIC``: a metric's series as its spc line judged it."""

from __future__ import annotations

from typing import Annotated

import typer

from jupyter_dataops.cli._app import app, print_answer, read_store


@app.command()
def history(
    step: Annotated[str, typer.Argument(help="The step whose metric to show.")],
    metric: Annotated[str, typer.Argument(help="The metric key, e.g. row_count or 'avg(amount)'.")],
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the newest N runs.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the series as JSON.")] = False,
) -> None:
    """Per run: partition, value, the spc line's status, limits, rules broken, run id, and
    whether it counts in the SPC history (a re-run day replaces its point)."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.views.metric_history import history_table, judged_series

    def read(store):  # noqa: ANN001, ANN202
        name = Project.require().pipeline.name
        return judged_series(store, step, metric, pipeline=name, last=last)

    print_answer(read_store(read), as_json, history_table)
