"""``dataops demo``: the sample factory, promoted and backfilled day by day, then summarised.

Copies the shop's pipeline (``sample_notebooks/``, shipped in the wheel as
``jupyter_dataops/samples``) into a folder, promotes its four notebooks (each through its gate
run), runs the pipeline once per day of raw data with ``run_date`` as the parameter, on the
embedded SQLite store of that folder, and reports what the data tests and SPC lines caught.

Days overlap to use more than one core, and what is recorded stays that of one daily run after
another: a step of day D starts only after the same step of day D-1 has finished (or was
skipped), and day D's runs are created after day D-1's, so every SPC history is in day order.
Re-running on the same folder keeps its history and runs only the days not yet run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import DataOpsError

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

PIPELINE = "shop"
# Steps in promotion order; the shipped dataops.yaml wires their dependencies and schedule.
STEPS = (
    ("ingest", "01_ingest.ipynb"),
    ("clean", "02_clean.ipynb"),
    ("daily_metrics", "03_daily_metrics.ipynb"),
    ("report", "04_report.ipynb"),
)
DEFAULT_DIR = "dataops-demo"
# Made by running the samples; never copied into a demo folder.
_NOT_COPIED = (
    "staged",
    "clean",
    "metrics",
    ".dataops",
    ".ipynb_checkpoints",
    "__pycache__",
)


class DemoError(DataOpsError):
    """The demo cannot start or go on (a folder in the way, missing samples)."""


def samples_dir() -> Path:
    """The shipped samples: ``jupyter_dataops/samples`` in a wheel, ``sample_notebooks`` in a
    source checkout (an editable install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "samples", here.parent / "sample_notebooks"):
        if (candidate / "dataops.yaml").is_file() and (candidate / "data" / "raw").is_dir():
            return candidate
    raise DemoError(
        "the sample notebooks are not installed with this copy of jupyter-dataops (looked in "
        f"{here / 'samples'} and {here.parent / 'sample_notebooks'}). Reinstall the package: "
        "pip install --force-reinstall jupyter-dataops."
    )


def raw_days(directory: Path) -> list[str]:
    """The business days that have a raw orders file, oldest first."""
    return sorted(
        p.stem.removeprefix("orders_") for p in (directory / "data" / "raw").glob("orders_*.csv")
    )


def prepare(directory: Path) -> bool:
    """Copy the samples into ``directory``; False when it already holds the demo (kept as is)."""
    if (directory / "dataops.yaml").is_file():
        from jupyter_dataops.pipeline.definition.spec import load_pipeline

        if load_pipeline(directory / "dataops.yaml").name != PIPELINE:
            raise DemoError(
                f"{directory} holds another pipeline's dataops.yaml. Give `dataops demo` a new "
                "or empty folder, e.g. `dataops demo dataops-demo`."
            )
        return False
    if directory.exists() and any(directory.iterdir()):
        raise DemoError(
            f"{directory} exists and is not empty. Give `dataops demo` a new or empty folder "
            "(it copies the sample pipeline there), e.g. `dataops demo dataops-demo`."
        )
    shutil.copytree(
        samples_dir(), directory, ignore=shutil.ignore_patterns(*_NOT_COPIED), dirs_exist_ok=True
    )
    return True


def promote_changed(
    directory: Path, store: Store, on_step: Callable[[str, str], None]
) -> list[str]:
    """Promote each notebook whose content differs from its latest promoted version (all of
    them the first time); the gate run of each must pass. Returns the promoted steps."""
    from jupyter_dataops.pipeline.definition.notebook import content_hash
    from jupyter_dataops.pipeline.execution.promote import promote

    done = []
    for step, notebook in STEPS:
        path = directory / notebook
        latest = store.latest_version(PIPELINE, step)
        if latest is not None and latest["content_hash"] == content_hash(path):
            continue
        on_step(step, notebook)
        promote(path, step, pipeline_file=directory / "dataops.yaml", store=store)
        done.append(step)
    return done


def plan_days(store: Store, days: Sequence[str], directory: Path | None = None) -> list[Any]:
    """The days of ``days`` not yet backfilled, oldest first (``PartitionPlan``s). A day whose
    run finished (success or failure) is done; a day stopped half-way runs again from its first
    step that did not succeed."""
    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.backfill import plan_backfill

    if not days:
        return []
    pipeline = load_pipeline((directory or samples_dir()) / "dataops.yaml")
    return plan_backfill(pipeline, store, days[0], days[-1], rerun="finished")


# -- what the tests and SPC lines caught ---------------------------------------------------------


@dataclass
class Finding:
    """A check that did not pass (or a step that failed without one), on a day."""

    day: str
    step: str
    status: str  # fail | warn | error | failed (the step, without a failing check)
    check: str
    message: str
    spc: bool = False


@dataclass
class IncidentLine:
    """An incident the backfill opened (``observers.incidents``: one per problem)."""

    id: int
    kind: str  # check | spc | step_failed (late and reported ones come from people and time)
    step: str
    check: str  # the check line, ``spc METRIC``, or what failed
    partitions: list[str]
    status: str  # open | acknowledged | resolved
    resolved_on: str | None = None  # the day whose passing run resolved it
    operations: bool = False  # on the factory's own ``ops:`` lines, not the data's

    @property
    def state(self) -> str:
        if self.status != "resolved":
            return self.status
        return f"resolved by the {self.resolved_on} run" if self.resolved_on else "resolved"


@dataclass
class DemoSummary:
    """The backfilled history of a demo folder."""

    days: list[str]
    runs: int = 0
    failed_runs: int = 0
    step_runs: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    incidents: list[IncidentLine] = field(default_factory=list)

    @property
    def spc_signals(self) -> list[Finding]:
        return [f for f in self.findings if f.spc]

    @property
    def days_flagged(self) -> list[str]:
        return sorted({f.day for f in self.findings})

    @property
    def fault_incidents(self) -> list[IncidentLine]:
        """The incidents of the data's faults (not of the factory's own operations)."""
        return [i for i in self.incidents if not i.operations]

    @property
    def operations_incidents(self) -> list[IncidentLine]:
        return [i for i in self.incidents if i.operations]

    @property
    def warnings_not_tracked(self) -> list[Finding]:
        """Warning lines (not SPC): listed, but a warning opens no incident."""
        return [f for f in self.findings if f.status == "warn" and not f.spc]


def summarize(store: Store) -> DemoSummary:
    """Every production run of the demo's pipeline, by day, with what its data tests and spc
    lines did not pass (the operations lines every run gets, ``pipeline.operations``, are not
    the demo's injected faults: the panel's Operations section shows them)."""
    from jupyter_dataops.pipeline.observers.operations import SUITE as OPS_SUITE
    from jupyter_dataops.pipeline.views.report import check_text

    by_day: dict[str, list[dict]] = {}
    for run in store.list_pipeline_runs(pipeline=PIPELINE, limit=None):
        day = run.get("partition")
        if run["mode"] == "production" and day is not None:
            by_day.setdefault(day, []).append(run)
    summary = DemoSummary(days=sorted(by_day))
    for day in summary.days:
        for run in sorted(by_day[day], key=lambda r: r["id"]):
            summary.runs += 1
            summary.failed_runs += run["status"] != "success"
            for row in store.get_pipeline_run(run["id"])["steps"]:
                summary.step_runs[row["status"]] = summary.step_runs.get(row["status"], 0) + 1
                counts = row.get("checks") or {}
                if row["status"] != "failed" and not any(
                    counts.get(s) for s in ("fail", "warn", "error")
                ):
                    continue
                detail = store.get_run(row["id"])
                found = [
                    Finding(
                        day,
                        row["step"],
                        c["status"],
                        check_text(c["source"]),
                        c["message"] or "",
                        spc=_is_spc(c),
                    )
                    for c in detail["check_results"]
                    # the data's faults; the factory's own (ops:) signals are in the panel
                    if c["status"] in ("fail", "warn", "error") and c.get("suite") != OPS_SUITE
                ]
                if not found and row["status"] == "failed":
                    found = [
                        Finding(
                            day,
                            row["step"],
                            "failed",
                            "",
                            (detail.get("error") or "failed").splitlines()[0],
                        )
                    ]
                summary.findings.extend(found)
    summary.incidents = incident_lines(store)
    return summary


def incident_lines(store: Store) -> list[IncidentLine]:
    """The incidents of the demo's pipeline, oldest first, with the day that resolved each."""
    from jupyter_dataops.pipeline.observers.operations import PREFIX as OPS
    from jupyter_dataops.pipeline.views.report import check_text

    out = []
    for i in reversed(store.list_incidents(pipeline=PIPELINE, include_resolved=True, limit=10_000)):
        key = str(i["key"])  # a check or spc line
        check = check_text(key) if i["kind"] in ("check", "spc") else i["title"]
        resolved_by = i.get("resolved_step_run_id")
        run = store.get_run(resolved_by) if resolved_by else None
        out.append(
            IncidentLine(
                id=i["id"],
                kind=i["kind"],
                step=i["step"] or "",
                check=check,
                partitions=list(i["partitions"]),
                status=i["status"],
                resolved_on=(run or {}).get("partition"),
                operations=i["kind"] == "spc" and f"spc {OPS}" in key,
            )
        )
    return out


def _is_spc(check: dict) -> bool:
    if check.get("spc"):
        return True
    source = (check.get("source") or "").strip()
    for prefix in ("warn:", "fail:"):
        source = source.removeprefix(prefix).strip()
    return source.startswith("spc ")


# -- the command ---------------------------------------------------------------------------------


def run_demo(
    directory: Path | str = DEFAULT_DIR,
    *,
    days: int | None = None,
    jobs: int = 4,
    console: Any = None,
) -> DemoSummary:
    """Copy (or keep) the demo in ``directory``, promote, backfill, and return the summary."""
    from rich.console import Console

    from jupyter_dataops.store import open_store

    console = console or Console()
    directory = Path(directory).expanduser().resolve()
    if days is not None and days < 1:
        raise DemoError(f"--days must be at least 1, not {days}.")
    if jobs < 1:
        raise DemoError(f"--jobs must be at least 1, not {jobs}.")
    if prepare(directory):
        console.print(
            f"Copied the sample factory (the shop's daily orders pipeline) to {directory}"
        )
    else:
        console.print(
            f"{directory} already holds the demo: keeping its notebooks and run history, "
            "running only the days not yet run."
        )
    from jupyter_dataops.pipeline.execution import warm

    # the kernel template imports (~3 CPU-s) on the other core while the store is opened and
    # checked; the gate runs and every backfilled step fork their kernels from it
    warm.prestart()
    available = raw_days(directory)
    if not available:
        raise DemoError(f"no raw data in {directory / 'data' / 'raw'}: run make_data.py there.")
    wanted = available[:days] if days else available
    # The demo's own SQLite store, even when DATAOPS_STORE_URL points at a team database.
    url = f"sqlite:///{directory / '.dataops' / 'dataops.db'}"
    started = time.monotonic()
    with open_store(url) as store:
        store.mark_interrupted()
        promote_changed(
            directory,
            store,
            lambda step, nb: console.print(f"Promoting {nb} as step [bold]{step}[/] (gate run)"),
        )
        plans = plan_days(store, wanted, directory)
    if plans:
        steps = sum(len(p.steps or STEPS) for p in plans)
        console.print(
            f"Backfilling {len(plans)} day(s), {plans[0].partition} .. {plans[-1].partition}: "
            f"{steps} step runs, {jobs} at a time"
        )
        from jupyter_dataops.pipeline.definition.spec import load_pipeline
        from jupyter_dataops.pipeline.execution.backfill import backfill
        from jupyter_dataops.pipeline.views.report import backfill_progress

        progress, advance = backfill_progress(console, steps)

        pipeline = load_pipeline(directory / "dataops.yaml")
        with progress:
            backfill(pipeline, plans, store_url=url, jobs=jobs, advance=advance, trigger="demo")
    else:
        console.print(f"Every day up to {wanted[-1]} is already backfilled.")
    with open_store(url) as store:
        summary = summarize(store)
    print_summary(summary, directory, time.monotonic() - started, console)
    return summary


def print_incidents(summary: DemoSummary, console: Any) -> None:
    """The incidents the faults opened (one per problem: a fault seen on three days is one),
    what became of each, and the incidents of the factory's own operations in one line."""
    from rich.table import Table

    faults = summary.fault_incidents
    if faults:
        table = Table(
            title="Incidents the faults opened (one per problem; `dataops incidents --all`)",
            title_justify="left",
        )
        for col in ("id", "kind", "step", "check", "partitions", "state"):
            table.add_column(col, overflow="fold")
        for i in faults:
            table.add_row(str(i.id), i.kind, i.step, i.check, ", ".join(i.partitions), i.state)
        console.print(table)
    still = [i for i in faults if i.status != "resolved"]
    if still:
        console.print(
            f"{len(still)} incident(s) still open: "
            + "; ".join(f"{i.id} ({i.step}: {i.check})" for i in still)
            + ". Acknowledge or resolve one with `dataops incident ack|resolve ID --note TEXT`."
        )
    elif faults:
        console.print(
            f"All {len(faults)} incidents the faults opened were resolved by a passing run "
            "(the day in their state); none is left open."
        )
    for f in summary.warnings_not_tracked:
        console.print(
            f"{f.day} {f.step} `{f.check}` is a warning: shown above, but a warning line opens "
            "no incident (make it a failing line to track it)."
        )
    ops = summary.operations_incidents
    if ops:
        open_ops = [i for i in ops if i.status != "resolved"]
        metrics = ", ".join(sorted({i.check.split("spc ", 1)[-1] for i in ops}))
        console.print(
            f"The factory's own operations ({metrics}: how the runs ran on this machine, the "
            f"panel's Operations section) opened {len(ops)} more incident(s), "
            + (f"{len(open_ops)} still open." if open_ops else "all resolved.")
        )


STATUS_STYLE = {"fail": "bold red", "failed": "bold red", "warn": "yellow", "error": "magenta"}


def print_summary(summary: DemoSummary, directory: Path, seconds: float, console: Any) -> None:
    """The summary an analyst reads: runs, failures, SPC signals by day, and how to look."""
    from rich.table import Table
    from rich.text import Text

    days = summary.days
    steps = ", ".join(f"{n} {s}" for s, n in sorted(summary.step_runs.items()))
    console.print()
    console.print(
        f"[bold]{len(days)} days[/] backfilled ({days[0]} .. {days[-1]}) in {seconds:.0f} s: "
        f"{summary.runs} pipeline runs, {summary.failed_runs} failed; step runs: {steps}."
        if days
        else "Nothing backfilled yet."
    )
    if summary.findings:
        table = Table(
            title="What the data tests and SPC lines caught, by day", title_justify="left"
        )
        for col in ("day", "step", "status", "check", "what it says"):
            table.add_column(col, overflow="fold")
        for f in summary.findings:
            table.add_row(
                f.day,
                f.step,
                Text(f.status, style=STATUS_STYLE.get(f.status, "")),
                Text(("[SPC] " if f.spc else "") + f.check),
                Text(f.message),
            )
        console.print(table)
        console.print(
            f"{len(summary.spc_signals)} SPC signal(s) and "
            f"{len(summary.findings) - len(summary.spc_signals)} other finding(s) on "
            f"{len(summary.days_flagged)} day(s): {', '.join(summary.days_flagged)}. "
            "Every other day passed every check."
        )
    elif days:
        console.print("Every day passed every check.")
    print_incidents(summary, console)
    here = Path.cwd()
    try:
        shown = directory.relative_to(here)
    except ValueError:
        shown = directory
    console.print(
        "\n[bold]See it in JupyterLab:[/]\n"
        f"  cd {shown} && jupyter lab 00_getting_started.ipynb\n"
        "The DataOps panel (left sidebar) lists the pipeline, its runs and their checks; click a "
        "metric for its control chart. History from the command line: `dataops runs`, "
        "`dataops show RUN_ID` (in that folder)."
    )
