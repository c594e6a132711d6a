"""The panel's grid in a real JupyterLab, driven by headless chromium.

A project of its own: a daily-partitioned pipeline ``factory`` (starting three days ago) with two
promoted steps (``ingest`` then ``report``), served by its own ``jupyter lab``. Its store holds
two days: DAY1 fully successful, DAY2 with ``ingest`` failed and ``report`` skipped; yesterday is
due and never ran; an hour of DAY2 recorded under an earlier ``every: hour`` is a marked row. The grid shows the days × steps with their statuses and check counts; a click
on a cell opens that run in a main-area tab; "Re-run" (this day), once confirmed in the dialog, starts a real
``dataops run --partition DAY2`` (papermill kernels), which the store records and the grid then
shows as successful. The panel's picture is kept as ``tests/artifacts/grid.png`` (the README's
``docs/images/grid.png``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from builders import record_partition

from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.execution.promote import promote

from .conftest import ARTIFACTS, LabPage
from .seeding import partition_notebook, served
from .test_panel import in_tab, open_panel, watched_page

pytestmark = pytest.mark.browser

GRID = '[data-testid="dataops-grid"]'
_TODAY = datetime.now(timezone.utc).date()
DAY1, DAY2, YESTERDAY = (str(_TODAY - timedelta(days=n)) for n in (3, 2, 1))
HOUR = f"{DAY2}T06"
HEAD = (
    f"pipeline: factory\npartitions: {{every: day, parameter: run_date, start: {DAY1}}}\n"
    "expect_by: '07:00'\n"
)
STEPS = (
    "steps:\n"
    "  ingest: {notebook: ingest.ipynb}\n"
    "  report: {notebook: report.ipynb, depends_on: [ingest]}\n"
)


def write_grid_project(root: Path) -> dict[str, dict[str, int]]:
    """The partitioned project, both steps promoted, two days recorded; returns their run ids."""
    checks = "%%dataops_test frame\nrow_count between 5 and 100\nmissing_count(day) = 0\n"
    load = "%load_ext jupyter_dataops\nimport polars as pl\n"
    partition_notebook(
        root / "ingest.ipynb", load + "frame = pl.DataFrame({'day': [run_date] * 10})", checks
    )
    partition_notebook(
        root / "report.ipynb", load + "frame = pl.DataFrame({'day': [run_date] * 6})", checks
    )
    (root / "dataops.yaml").write_text(HEAD + "steps: {}\n")
    promote(root / "ingest.ipynb", "ingest", pipeline_file=root / "dataops.yaml")
    promote(root / "report.ipynb", "report", pipeline_file=root / "dataops.yaml")
    (root / "dataops.yaml").write_text(HEAD + STEPS)
    failed = {"error": "the raw file is missing", "skip_reason": "ingest failed"}
    with Project(root).open_store() as store:
        day1 = record_partition(
            store,
            "factory",
            DAY1,
            {"ingest": ("success", ["pass", "pass"]), "report": ("success", ["pass", "warn"])},
        )
        day2 = record_partition(
            store,
            "factory",
            DAY2,
            {"ingest": ("failed", ["pass", "fail"]), "report": ("skipped", [])},
            **failed,
        )
        # an hour of DAY2, recorded while the pipeline ran hourly (an earlier `every:`)
        record_partition(store, "factory", HOUR, {"ingest": ("success", ["pass"])})
    return {DAY1: day1, DAY2: day2}


@pytest.fixture(scope="module")
def grid_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with served(tmp_path_factory, "grid", write_grid_project) as project:
        yield project


@pytest.fixture
def grid_page(chromium_context, grid_project) -> Iterator[LabPage]:
    """A tab on the grid project's lab; fails the test if the page threw or went off-host."""
    with watched_page(chromium_context, grid_project.server) as page:
        yield page


def cell(grid, partition: str, step: str):
    return grid.locator(
        f'[data-testid="dataops-grid-row"][data-partition="{partition}"] '
        f'[data-testid="dataops-grid-cell"][data-step="{step}"]'
    )


def cells_of(grid, partition: str) -> list:
    row = grid.locator(f'[data-testid="dataops-grid-row"][data-partition="{partition}"]')
    return row.locator('[data-testid="dataops-grid-cell"]').all()


def test_the_grid_shows_days_by_steps_opens_a_run_and_reruns_a_day(grid_page, grid_project):
    panel = open_panel(grid_page, width=720)
    page = grid_page.page
    grid = panel.locator(GRID)
    cell(grid, DAY2, "ingest").wait_for(timeout=30_000)

    heads = grid.locator("thead th[data-step]").evaluate_all("els => els.map(e => e.dataset.step)")
    assert heads == ["ingest", "report"]
    keys = grid.locator('[data-testid="dataops-grid-row"]').evaluate_all(
        "els => els.map(e => e.dataset.partition)"
    )
    assert keys == [YESTERDAY, HOUR, DAY2, DAY1]  # newest first; every due day is a row
    # the hour recorded under an earlier `every: hour` is a row of its own, marked, not re-run
    hour = grid.locator(f'[data-testid="dataops-grid-row"][data-partition="{HOUR}"]')
    assert hour.get_attribute("data-every") == "hour"
    assert "jp-mod-other-period" in hour.get_attribute("class")
    assert "(hour)" in hour.locator("th").inner_text()
    assert "not on the current schedule" in hour.locator("th").get_attribute("title")
    assert hour.locator('[data-testid="dataops-grid-rerun"]').count() == 0
    assert cell(grid, HOUR, "ingest").get_attribute("data-status") == "success"
    # yesterday never ran: empty cells, late once its deadline (today 07:00 UTC) passed
    yesterday = [c.get_attribute("data-status") for c in cells_of(grid, YESTERDAY)]
    assert yesterday in (["missing"] * 2, ["late"] * 2)

    runs = grid_project.runs
    expected = {
        (DAY1, "ingest"): ("success", "2\u2713"),
        (DAY1, "report"): ("success", "1\u2713 1\u26a0"),
        (DAY2, "ingest"): ("failed", "1\u2713 1\u2717"),
        (DAY2, "report"): ("skipped", "skipped"),
    }
    for (day, step), (status, counts) in expected.items():
        c = cell(grid, day, step)
        assert c.get_attribute("data-status") == status
        assert c.get_attribute("data-run-id") == str(runs[day][step])
        assert c.locator('[data-testid="dataops-grid-counts"]').inner_text().strip() == counts
    # expect_by 07:00: DAY2 (due yesterday 07:00) is late where it did not succeed; DAY1 is not
    assert [c.get_attribute("data-late") for c in cells_of(grid, DAY2)] == ["true", "true"]
    assert [c.get_attribute("data-late") for c in cells_of(grid, DAY1)] == ["false", "false"]
    assert "late" in cell(grid, DAY2, "ingest").get_attribute("title")
    # coloured by status: a failed cell is not painted like a successful one
    colour = "el => getComputedStyle(el).backgroundColor"
    assert cell(grid, DAY2, "ingest").evaluate(colour) != cell(grid, DAY1, "ingest").evaluate(
        colour
    )

    # a click on a cell opens that run in its main-area tab
    cell(grid, DAY2, "ingest").click()
    detail = in_tab(page, "dataops-run-detail")
    detail.locator("h3", has_text=f"Run #{runs[DAY2]['ingest']} \u00b7 ingest").wait_for()
    detail.get_by_text("the raw file is missing").first.wait_for()
    assert detail.locator('[data-testid="dataops-run-partition"]').inner_text() == f"for {DAY2}"

    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    grid.screenshot(path=str(ARTIFACTS / "grid.png"))

    # "Re-run this day": cancelling starts nothing, confirming starts dataops run --partition
    row = grid.locator(f'[data-testid="dataops-grid-row"][data-partition="{DAY2}"]')
    row.locator('[data-testid="dataops-grid-rerun"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert f"Re-run {DAY2}?" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    with Project(grid_project.root).open_store() as store:
        assert len(store.list_runs(pipeline="factory", partition=DAY2)) == 2

    row.locator('[data-testid="dataops-grid-rerun"]').click()
    dialog.get_by_role("button", name=f"Re-run {DAY2}").click()
    deadline = time.monotonic() + 240
    new: list = []
    while time.monotonic() < deadline:
        with Project(grid_project.root).open_store() as store:
            new = [
                r
                for r in store.list_runs(pipeline="factory", partition=DAY2)
                if r["id"] not in runs[DAY2].values()
            ]
        if len(new) == 2 and all(r["status"] not in ("queued", "running") for r in new):
            break
        time.sleep(1)
    assert sorted((r["step"], r["status"]) for r in new) == [
        ("ingest", "success"),
        ("report", "success"),
    ], new
    fresh = {r["step"]: r["id"] for r in new}
    c = cell(grid, DAY2, "ingest")
    # the panel polls: the cell may first show the new run still running, then how it ended
    # (looked up on each poll: a redraw replaces the cell's element)
    page.wait_for_function(
        "([sel, id]) => [...document.querySelectorAll(sel)].some("
        "el => el.dataset.runId === id && el.dataset.status === 'success')",
        arg=[
            f'{GRID} [data-testid="dataops-grid-row"][data-partition="{DAY2}"] '
            '[data-testid="dataops-grid-cell"][data-step="ingest"]',
            str(fresh["ingest"]),
        ],
        timeout=30_000,
    )
    assert c.get_attribute("data-late") == "false"  # done now: no longer late
    assert cell(grid, DAY2, "report").get_attribute("data-run-id") == str(fresh["report"])
    assert cell(grid, DAY1, "ingest").get_attribute("data-run-id") == str(runs[DAY1]["ingest"])
