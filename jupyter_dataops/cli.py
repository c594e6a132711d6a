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

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "error": "bold magenta"}
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
    table = Table(title=f"checks: {result.name}" if result.name else "checks", show_lines=False)
    for col in ("line", "status", "check", "observed", "message"):
        table.add_column(col, overflow="fold")
    for r in result.results:
        style = STATUS_STYLE.get(r.status, "")
        observed = (
            ""
            if r.observed is None
            else f"{r.observed:.6g}"
            if isinstance(r.observed, float)
            else str(r.observed)
        )
        table.add_row(
            str(r.line),
            Text(r.status, style=style),
            Text(r.source),
            observed,
            Text("" if r.status == "pass" else r.message or ""),
        )
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts.items() if n)
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
    data: Annotated[Path, typer.Argument(help="Parquet, CSV/TSV or NDJSON file to check.")],
    spec_file: Annotated[Path, typer.Argument(help="File with one check per line.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time that freshness is measured at.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a spec file on a data file; exit 1 when a check fails or errors (for CI jobs)."""
    from jupyter_dataops.checks import parse_spec, run_checks

    if not spec_file.exists():
        raise fail(f"spec file {str(spec_file)!r} does not exist.")
    try:
        suite = parse_spec(
            spec_file.read_text(encoding="utf-8"), name=spec_file.stem, source_name=str(spec_file)
        )
    except DataOpsSyntaxError as exc:
        raise fail(str(exc)) from None
    frame = scan_data(data)
    try:
        result = run_checks(frame, suite, name=spec_file.stem, as_of=as_of)
    except DataOpsError as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        print_suite(result)
    raise typer.Exit(0 if result.passed else 1)


def main() -> None:
    """Entry point of the ``dataops`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
