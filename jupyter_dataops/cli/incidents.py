"""``dataops incidents`` and ``dataops incident ack|resolve|open``: the problems of the pipeline,
one per problem, acknowledged and resolved by a person (recorded as the OS user)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jupyter_dataops.cli._app import app, fail, print_answer, read_store

incident_app = typer.Typer(
    help="Act on one incident: ack, resolve, or open (report a problem against a step).",
    no_args_is_help=True,
)
app.add_typer(incident_app, name="incident")

STYLE = {"open": "bold red", "acknowledged": "yellow", "resolved": "green"}
NoteOption = Annotated[str | None, typer.Option("--note", help="What you found or did.")]


def _table(incidents: list[dict[str, Any]]) -> Table | Text:
    if not incidents:
        return Text("no open incidents (dataops incidents --all lists resolved ones too)")
    table = Table(title="incidents")
    for col in ("id", "status", "step", "kind", "title", "count", "last seen", "who", "affects"):
        table.add_column(col, overflow="fold")
    for i in incidents:
        who = i["resolved_by"] or i["acknowledged_by"] or i["opened_by"] or ""
        note = i["resolved_note"] or i["acknowledged_note"]
        affected = i["affected"]
        table.add_row(
            str(i["id"]),
            Text(i["status"], style=STYLE.get(i["status"], "")),
            i["step"] or "",
            i["kind"],
            Text(i["title"]),
            str(i["count"]),
            (i["last_seen"] or "")[:19].replace("T", " "),
            Text(who + (f": {note}" if note else "")),
            Text(", ".join([*affected.get("steps", []), *affected.get("outputs", [])])),
        )
    return table


@app.command()
def incidents(
    show_all: Annotated[
        bool, typer.Option("--all", help="Resolved incidents too, not only open ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """The pipeline's incidents, newest first: open and acknowledged ones (``--all``: every
    one), with the runs and partitions behind each and what they affect downstream."""
    from jupyter_dataops.pipeline.definition.project import Project

    def read(store):  # noqa: ANN001, ANN202
        name = Project.require().pipeline.name
        return store.list_incidents(pipeline=name, include_resolved=show_all)

    print_answer(read_store(read), as_json, _table)


def _act(action: str, incident_id: int, note: str | None) -> dict[str, Any]:
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.observers import incident_actions as inc

    def act(store):  # noqa: ANN001, ANN202
        found = store.get_incident(incident_id)
        project = Project.require()
        if found is None or found["pipeline"] != project.pipeline.name:
            raise DataOpsError(
                f"no incident {incident_id} in pipeline {project.pipeline.name!r}; "
                "`dataops incidents --all` lists them with their ids."
            )
        by = inc.current_user()
        if action == "ack":
            return inc.acknowledge(store, incident_id, by=by, note=note)
        return inc.resolve(project.pipeline, store, incident_id, by=by, note=note)

    return read_store(act)


@incident_app.command("ack")
def ack(
    incident_id: Annotated[int, typer.Argument(help="The incident's id (dataops incidents).")],
    note: NoteOption = None,
) -> None:
    """Say you are on it: the incident becomes acknowledged, with your name and note."""
    done = _act("ack", incident_id, note)
    typer.echo(f"incident {done['id']} acknowledged by {done['acknowledged_by']}")


@incident_app.command("resolve")
def resolve(
    incident_id: Annotated[int, typer.Argument(help="The incident's id (dataops incidents).")],
    note: NoteOption = None,
) -> None:
    """Close the incident by hand (it also closes itself once its check passes again)."""
    done = _act("resolve", incident_id, note)
    typer.echo(f"incident {done['id']} resolved by {done['resolved_by']}")


@incident_app.command("open")
def open_incident(
    step: Annotated[str, typer.Argument(help="The step whose output is wrong.")],
    title: Annotated[str, typer.Option("--title", help="What is wrong, in a sentence.")],
    partition: Annotated[
        str | None, typer.Option("--partition", help="The period it is wrong for, e.g. 2026-09-01.")
    ] = None,
) -> None:
    """Report a problem you found in a step's data: it is listed and alerted like the others."""
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.observers.incident_actions import report_incident
    from jupyter_dataops.pipeline.views import history

    try:
        project = Project.require()
        store = history.open_project_store(url=project.store_url)
        try:
            done = report_incident(project.pipeline, store, step, title, partition=partition)
        finally:
            store.close()
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    verb = "opened" if done["opened_here"] else f"already open (seen {done['count']} times)"
    typer.echo(f"incident {done['id']} {verb}: {done['title']}")
