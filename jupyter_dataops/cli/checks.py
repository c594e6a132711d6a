"""``dataops check`` and ``dataops suggest``: data tests on files and databases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from jupyter_dataops.cli._app import (
    app,
    err_console,
    fail,
    print_suite,
    read_text,
    scan_data,
)
from jupyter_dataops.errors import DataOpsError, DataOpsSyntaxError


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

    text = read_text(spec_file, "spec file")
    try:
        suite = parse_spec(text, name=spec_file.stem, source_name=str(spec_file))
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
