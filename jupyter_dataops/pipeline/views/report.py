"""How runs look in a terminal: the live progress of ``dataops run`` and the history tables.

rich renderables only; the CLI prints them. Kept out of ``runner`` so a server or a scheduler
can run pipelines without a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jupyter_dataops.checks.display import (
    duration,
    format_value,
    parameters_text,
    status_label,
    unit_of,
)

if TYPE_CHECKING:  # pragma: no cover - the runner (papermill, nbformat) is not needed to print
    from jupyter_dataops.pipeline.execution.runner import RunResult, StepOutcome, StepPlan

STATUS_STYLE = {
    "queued": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "success": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "interrupted": "magenta",
}


#: check statuses in ``dataops show`` (``baseline``: an spc line not judged yet)
CHECK_STYLE = {"pass": "green", "warn": "yellow", "baseline": "bold blue"}
#: check counts in ``dataops runs``, explained in the table's caption
CHECK_MARKS = {"pass": "✓", "warn": "⚠", "fail": "✗", "error": "!", "baseline": "○"}


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def headline(error: str) -> str:
    """The first line of an error, for the run table: the failing check lines and the rest are
    printed once, below it."""
    return error.strip().splitlines()[0].rstrip(":") if error.strip() else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else duration(value)


class RichReporter:
    """Live table of the steps of a run: status, attempt, elapsed time and what went wrong."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.rows: dict[str, dict[str, Any]] = {}
        self.run_id: int | None = None
        self._live: Live | None = None
        self._lock = threading.Lock()

    def _table(self) -> Table:
        table = Table(title=f"dataops run {self.run_id}", title_justify="left")
        for col in ("step", "status", "attempt", "time", "detail"):
            table.add_column(col, overflow="fold")
        now = time.monotonic()
        with self._lock:
            rows = list(self.rows.items())
        for name, row in rows:
            elapsed = row.get("duration")
            if elapsed is None and row.get("started") is not None:
                elapsed = now - row["started"]
            table.add_row(
                name,
                _status(row["status"]),
                str(row.get("attempt") or ""),
                _seconds(elapsed),
                Text(row.get("detail") or ""),
            )
        return table

    def __rich__(self) -> Table:
        return self._table()

    def run_started(self, run_id: int, plans: dict[str, StepPlan]) -> None:
        self.run_id = run_id
        with self._lock:
            self.rows = {name: {"status": "queued"} for name in plans}
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def step_started(self, step: str, attempt: int) -> None:
        with self._lock:
            row = self.rows[step]
            row.update(status="running", attempt=attempt, detail="")
            row.setdefault("started", time.monotonic())

    def step_retrying(self, step: str, attempt: int, error: str | None, delay: float) -> None:
        with self._lock:
            self.rows[step].update(
                status="retrying",
                detail=f"attempt {attempt} failed: {error}; retry in {_seconds(delay)}",
            )

    def step_finished(self, outcome: StepOutcome) -> None:
        with self._lock:
            row = self.rows[outcome.step]
            row.update(
                status=outcome.status,
                duration=outcome.duration,
                detail=headline(outcome.error or outcome.reason or ""),
            )
            if outcome.attempts:
                row["attempt"] = outcome.attempts

    def run_finished(self, result: RunResult) -> None:
        self.stop()
        verdict = "[green]succeeded[/]" if result.ok else "[bold red]failed[/]"
        self.console.print(f"run {result.run_id} {verdict}; executed notebooks in {result.run_dir}")

    def stop(self) -> None:
        """Stop the live display (also on Ctrl-C)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
            if not self.console.is_terminal:
                self.console.line()  # a live display's last frame ends without a newline


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """``dataops runs``: one line per step run, newest first (pipeline and mode columns only
    when the rows differ in them; the pipeline run column only when a pipeline run has several
    step runs here, else it repeats the id; parameters when a run has some)."""
    many_pipelines = len({r["pipeline"] for r in rows}) > 1
    any_test = any(r["mode"] != "production" for r in rows)
    retried = any((r.get("attempt") or 1) > 1 for r in rows)
    # One space between columns and no side borders: at 80 columns step names and check counts
    # keep their room (a long name wraps, it never vanishes). The try column only when a step
    # was retried.
    table = Table(
        title="step runs (newest first; times in UTC)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=0,
        caption="checks: ✓ pass  ⚠ warn  ✗ fail  ! error  ○ not judged" if rows else None,
        caption_justify="left",
    )
    partitioned = any(r.get("partition") for r in rows)
    grouped = len({r["pipeline_run_id"] for r in rows}) < len(rows)
    with_parameters = any(r.get("parameters") for r in rows)
    cols = ["id"] + (["run"] if grouped else []) + (["pipeline"] if many_pipelines else [])
    cols += ["step"] + (["partition"] if partitioned else [])
    cols += ["parameters"] if with_parameters else []
    cols += (["mode"] if any_test else []) + ["status"] + (["try"] if retried else [])
    cols += ["started", "time", "checks"]
    wraps = {"step": 8, "pipeline": 8, "checks": 8, "started": 5, "time": 4, "mode": 4}
    wraps["parameters"] = 10
    for col in cols:
        if col in wraps:
            table.add_column(col, min_width=wraps[col], overflow="fold")
        else:
            table.add_column(col, no_wrap=True)
    for r in rows:
        checks = r.get("checks") or {}
        cells: list[Any] = [str(r["id"])] + ([str(r["pipeline_run_id"])] if grouped else [])
        if many_pipelines:
            cells.append(r["pipeline"])
        cells.append(r["step"])
        if partitioned:
            cells.append(r.get("partition") or "")
        if with_parameters:
            cells.append(Text(parameters_text(r.get("parameters"))))
        if any_test:
            cells.append(r["mode"])
        started = r.get("started_at") or r.get("created_at") or ""
        cells.append(_status(r["status"]))
        if retried:
            cells.append(str(r["attempt"]))
        cells += [
            started[5:16].replace("T", " "),
            "" if r.get("duration") is None else duration(r["duration"]),
            _counts_text(checks, r.get("operations")),
        ]
        table.add_row(*cells)
    return table


def _marks(counts: dict[str, int] | None) -> str:
    return " ".join(f"{CHECK_MARKS.get(s, s)}{n}" for s, n in (counts or {}).items() if n)


def _counts_text(checks: dict[str, int], operations: dict[str, int] | None) -> str:
    """The user's check lines by status (``✓2 ○1``), then the operations observer's own lines
    apart, and only when one warned or failed (``ops ⚠1``): its lines collecting a baseline are
    no news to anybody."""
    text = _marks(checks)
    ops = {s: n for s, n in (operations or {}).items() if n and s in ("warn", "fail", "error")}
    if ops:
        text += " ops " + " ".join(f"{CHECK_MARKS[s]}{n}" for s, n in ops.items())
    return text.strip()


def run_detail(run: dict[str, Any]) -> Group:
    """``dataops show``: one step run with parameters, errors, checks, metrics and lineage."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    version = run.get("version") or {}
    fields = [
        ("run", f"{run['id']} (pipeline run {run['pipeline_run_id']})"),
        ("step", f"{run['pipeline']} / {run['step']}"),
        *([("partition", run["partition"])] if run.get("partition") else []),
        ("status", _status(run["status"])),
        ("mode", run["mode"]),
        ("attempt", str(run["attempt"])),
        ("started", run.get("started_at") or ""),
        ("ended", run.get("ended_at") or ""),
        ("duration", _seconds(run.get("duration"))),
        ("parameters", Text(parameters_text(run.get("parameters")))),
        (
            "version",
            f"v{version['version']} {version['content_hash'][:12]}"
            if version
            else "unpromoted (the working copy ran: `dataops run --unpromoted`)"
            if run.get("unpromoted")
            else "",
        ),
        ("notebook", Text(run.get("notebook_path") or "")),
        ("inputs", ", ".join(run.get("inputs") or [])),
        ("outputs", ", ".join(run.get("outputs") or [])),
        ("error", Text(run.get("error") or "", style="red")),
        ("skipped", Text(run.get("skip_reason") or "")),
        ("runner", f"pid {run.get('pid')} on {run.get('host')}" if run.get("pid") else ""),
        ("checks", _marks(run.get("checks"))),  # the user's own lines...
        ("operations", _marks(run.get("operations"))),  # ...and the implicit ones, apart
    ]
    for name, value in fields:
        if value:
            head.add_row(name, value)
    parts: list[Any] = [head]
    checks = run.get("check_results") or []
    if checks:
        table = Table(title="checks", title_justify="left")
        for col in ("suite", "line", "status", "check", "observed", "message"):
            table.add_column(col, overflow="fold")
        for c in checks:
            table.add_row(
                Text(c.get("suite") or ""),
                str(c.get("line") or ""),
                Text(status_label(c["status"]), style=CHECK_STYLE.get(c["status"], "bold red")),
                Text(check_text(c.get("source"))),  # Text: `[a, b]` is not markup
                Text(format_value(c.get("observed"), unit_of(c.get("metric")))),
                Text(c.get("message") or ""),
            )
        parts.append(table)
    metrics = run.get("metrics") or []
    if metrics:
        table = Table(title="metrics", title_justify="left")
        for col in ("suite", "metric", "value"):
            table.add_column(col)
        for m in metrics:
            table.add_row(
                Text(m.get("suite") or ""),
                Text(m["metric"]),
                Text(format_value(m["value"], unit_of(m["metric"]))),
            )
        parts.append(table)
    return Group(*parts)


def backfill_progress(console: Console, total: int) -> tuple[Any, Callable[[str, str], None]]:
    """The bar of a backfill (``dataops backfill``, ``dataops demo``): step runs done of
    ``total``, the last one named; ``advance(partition, step)`` moves it (the backfill's
    ``advance``). Show it with ``with progress:``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("backfill", total=total)

    def advance(partition: str, step: str) -> None:
        progress.update(task, advance=1, description=f"{partition} {step}")

    return progress, advance


def check_text(source: str | None) -> str:
    """A check line as reports show it: as written, without its trailing ``# comment`` (the
    parser says where the check ends, so a ``#`` in quotes or a regex stays)."""
    if "#" not in (source or ""):
        return (source or "").strip()  # no comment to take off: no parser (polars) needed
    from jupyter_dataops.checks.source_text import without_comment

    return without_comment(source or "").strip()


def verdict_lines(run: dict[str, Any]) -> list[Text]:
    """``dataops run``: a step's warnings, failures and not-judged ``spc`` lines (``baseline``:
    still collecting history), one per check line with its line number, text and reason (the
    stored message: the SPC rule in words, the observed value and the limits). Empty when every
    check passed."""
    from jupyter_dataops.checks.display import status_label
    from jupyter_dataops.pipeline.observers.operations import SUITE as OPS_SUITE

    out: list[Text] = []
    for c in run.get("check_results") or []:
        status = c["status"]
        if status == "pass" or (status == "baseline" and c.get("suite") == OPS_SUITE):
            continue  # the implicit operations lines say nothing until they are judged
        label = status_label(status)
        style = {"warn": "yellow", "baseline": "cyan"}.get(status, "bold red")
        where = f"{c['suite']}, line {c['line']}" if c.get("suite") else f"line {c['line']}"
        out.append(
            Text.assemble(
                (f"  {label}: ", style),
                f"{check_text(c.get('source'))}  ({where})",
                f"\n      {c.get('message') or ''}" if c.get("message") else "",
            )
        )
    return out


def status_table(rows: list[dict[str, Any]]) -> Group:
    """``dataops status``: one line per step, then the plain warnings (edited since promotion)."""
    table = Table(title="pipeline steps", title_justify="left")
    for col in ("step", "schedule", "next run (UTC)", "last run", "promoted", "edited"):
        table.add_column(col, overflow="fold")
    for r in rows:
        last = r.get("last_run") or {}
        when = (last.get("started_at") or "")[5:16].replace("T", " ")
        table.add_row(
            r["step"],
            r.get("schedule") or "",
            (r.get("next_run") or "")[:16].replace("T", " "),
            Text.assemble(f"#{last['id']} ", _status(last["status"]), f" {when}") if last else "",
            f"v{r['promoted_version']}" if r.get("promoted_version") else Text("never", "yellow"),
            Text("yes", "yellow") if r.get("edited_since_promotion") else "no",
        )
    notes = [Text.assemble(("warning: ", "yellow"), r["warning"]) for r in rows if r.get("warning")]
    notes += [
        Text(f"step {r['step']}: never promoted — `dataops promote` it to run it in production")
        for r in rows
        if not r.get("promoted_version")
    ]
    notes += [
        Text.assemble(
            ("late: ", "bold red"),
            f"step {r['step']} not successful by its expect_by for partition(s) "
            f"{_keys(r['late'])} — `dataops runs --partition KEY` shows why",
        )
        for r in rows
        if r.get("late")
    ]
    return Group(table, *notes)


def _keys(keys: list[str], shown: int = 5) -> str:
    """``a, b, c`` (the newest ``shown``, and how many more)."""
    more = f" and {len(keys) - shown} older" if len(keys) > shown else ""
    return ", ".join(keys[-shown:]) + more
