"""The ``dataops`` application: its Typer app, consoles, and helpers the commands share."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def read_text(path: Path, what: str) -> str:
    """A text file the user named (``what``: "spec file"), as UTF-8; anything unreadable exits
    2 naming the file (and, for a byte that is not UTF-8, its line and column)."""
    from jupyter_dataops.errors import NotUTF8Error, decode_utf8

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail(f"{what} {str(path)!r} does not exist.") from None
    except OSError as exc:
        raise fail(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}.") from None
    try:
        return decode_utf8(data)
    except NotUTF8Error as exc:
        raise fail(f"{what} {str(path)!r}, line {exc.line}: {exc}") from None


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
    from jupyter_dataops.checks.source_text import without_comment

    table = Table(title=f"checks: {result.name}" if result.name else "checks", show_lines=False)
    for col in ("line", "status", "check", "observed", "threshold", "message"):
        table.add_column(col, overflow="fold")
    for r in result.results:
        style = STATUS_STYLE.get(r.status, "")
        detail = r.detail + (f" ({r.rows_text} offending)" if r.rows_text else "")
        table.add_row(
            str(r.line),
            Text(r.status_text, style=style),
            Text(without_comment(r.source)),  # the spec file keeps its comments
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
        from jupyter_dataops._version import __version__

        console.print(f"jupyter-dataops {__version__}")
        raise typer.Exit()


#: commands after which lateness is noticed (a partition past its `expect_by`): its `late`
#: incident opens, and is alerted, even when no scheduler runs (observers/lateness.py)
NOTICES_LATENESS = frozenset({"run", "status", "runs", "backfill", "history"})


def notice_late() -> None:
    """Record the late partitions of the project here as ``late`` incidents and send the alerts
    nobody sent yet; never fails a command (a missing project, file or store is the command's
    to report)."""
    from jupyter_dataops.errors import DataOpsError
    from jupyter_dataops.pipeline.definition.project import Project

    try:
        project = Project.find()
        if project is None:
            return
        pipeline = project.pipeline
        if pipeline.partitions is None:
            return
        from jupyter_dataops.pipeline.observers.lateness import notice_late as notice
        from jupyter_dataops.pipeline.views import history

        store = history.open_project_store(url=project.store_url, create=False)
        sent = notice(pipeline, store)
    except DataOpsError:
        return
    for line in sent:
        err_console.print(
            Text(
                f"{line['alert']}: incident {line['incident']} of {line['pipeline']}/"
                f"{line['step']}, partition(s) {', '.join(line['partitions'])}; alert "
                f"{line['event'].removeprefix('alert_')} ({line['channel']} {line['target']})"
            ),
            highlight=False,
        )


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Jupyter-native DataOps: data tests, SPC checks and governed notebook pipelines."""
    if ctx.invoked_subcommand in NOTICES_LATENESS:
        notice_late()


ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "-p",
        "--param",
        help="Parameter as key=value (repeatable); `dataops run` also takes step.key=value.",
    ),
]


def _read_only_store():  # noqa: ANN202
    """The store of the project here, for commands that only read: never created by looking
    (no ``dataops.yaml`` or no store yet is an error, exit 2)."""
    from jupyter_dataops.pipeline.definition.project import Project
    from jupyter_dataops.pipeline.views import history

    project = Project.require()
    store = history.open_project_store(url=project.store_url, create=False)
    if store is None:
        project.require_store()  # raises NoStoreError: "no runs yet ..."
    return store


T = TypeVar("T")


def read_store(read: Callable[[Any], T]) -> T:
    """``read(store)`` on the project's store opened read-only (``_read_only_store``), closed
    after; a ``DataOpsError`` on the way exits with its message."""
    from jupyter_dataops.errors import DataOpsError

    try:
        store = _read_only_store()
        try:
            return read(store)
        finally:
            store.close()
    except DataOpsError as exc:
        raise fail(str(exc)) from None


def print_answer(answer: Any, as_json: bool, render: Callable[[Any], Any]) -> None:
    """``answer`` as indented JSON on stdout (``--json``), else ``render(answer)`` on the console."""
    if as_json:
        sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    else:
        console.print(render(answer))


#: commands that run notebooks: in a project that has run before they run in a process forked
#: from the project's kernel template, which has imported what they need
#: (``pipeline/execution/warm_command.py``); ``dataops run`` once a day paid ~2.5 CPU-s of
#: imports (the store, SQLAlchemy, polars, nbformat, jsonschema's format grammars) each time
FORKED_COMMANDS = frozenset({"run", "promote", "test"})
#: commands that read notebooks (nbformat, jsonschema: ~2.5 CPU-s of imports): forked from the
#: project's template when one is running, never starting one
FORKED_WHEN_RUNNING = frozenset({"status"})


def main() -> None:
    """Entry point of the ``dataops`` script."""
    args = sys.argv[1:]
    forked = FORKED_COMMANDS | FORKED_WHEN_RUNNING
    if args and args[0] in forked and not {"--help", "-h"} & set(args):
        from jupyter_dataops.pipeline.definition.model import STATE_DIR, find_pipeline_file
        from jupyter_dataops.pipeline.execution.warm_command import run_forked

        found = find_pipeline_file()
        state = found.parent / STATE_DIR if found is not None else None
        # a first command in a project (no .dataops/ yet) runs here: nothing is made by a
        # command that is refused
        if state is not None and state.is_dir():
            start = args[0] in FORKED_COMMANDS
            code = run_forked(f"{__name__}:app", sys.argv, state, start=start)
            if code is not None:
                sys.exit(code)
    app()
