"""The panel's control chart over a long history: it opens on the newest 90 points and pages to
older ones with its older/newer buttons, in a real JupyterLab driven by headless chromium.

The project's store is seeded in bulk with 200 production runs recording ``row_count`` (the
store benchmark's seeder: real SQLite, real rows); the lab and its REST routes are real.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import LabPage, LabServer, start_lab, stop_lab
from .test_panel import in_tab, open_panel, watched_page

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from store_bench import seed_store  # noqa: E402

pytestmark = pytest.mark.browser

RUNS = 200
WINDOW = '[data-testid="dataops-chart-window"]'


@pytest.fixture(scope="module")
def long_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    root = tmp_path_factory.mktemp("long_root")
    (root / "dataops.yaml").write_text("pipeline: bench\nsteps:\n  step0: {notebook: s.ipynb}\n")
    (root / ".dataops").mkdir()
    seed_store(f"sqlite:///{root / '.dataops' / 'dataops.db'}", runs=RUNS, steps=1)
    server = start_lab(root, tmp_path_factory.mktemp("long_lab_state"))
    try:
        yield SimpleNamespace(root=root, server=server)
    finally:
        stop_lab(server)


@pytest.fixture
def long_page(chromium_context, long_project) -> Iterator[LabPage]:
    """A tab on the long project's lab; fails the test if the page threw."""
    server: LabServer = long_project.server
    with watched_page(chromium_context, server) as lab:
        yield lab


def shown(chart) -> tuple[int, int, int]:
    """(first, count, total) of the window the chart shows, once its picture is drawn."""
    chart.locator(".vega-embed canvas, .vega-embed svg.marks").first.wait_for()
    window = chart.locator(WINDOW)
    return tuple(int(window.get_attribute(f"data-{k}")) for k in ("first", "count", "total"))


def page_to(chart, button: str, first: int) -> None:
    chart.locator(f'[data-testid="dataops-chart-{button}"]').click()
    chart.locator(f'{WINDOW}[data-first="{first}"]').wait_for()


def test_a_long_history_opens_on_its_newest_points_and_pages_to_older_ones(long_page):
    panel = open_panel(long_page)
    panel.locator(
        '[data-testid="dataops-step"][data-step="step0"] [data-testid="dataops-step-select"]'
    ).click()
    panel.locator(
        '[data-testid="dataops-step-metrics"] [data-testid="dataops-metric"]'
        '[data-metric="row_count"]'
    ).click()
    chart = in_tab(long_page.page, "dataops-chart")  # its own main-area tab
    assert shown(chart) == (RUNS - 90, 90, RUNS)
    older = chart.locator('[data-testid="dataops-chart-older"]')
    newer = chart.locator('[data-testid="dataops-chart-newer"]')
    assert older.is_enabled() and not newer.is_enabled()
    limits = chart.locator('[data-testid="dataops-chart-limits"]').inner_text()

    page_to(chart, "older", RUNS - 180)
    assert shown(chart) == (RUNS - 180, 90, RUNS) and newer.is_enabled()
    page_to(chart, "older", 0)
    assert shown(chart) == (0, RUNS - 180, RUNS) and not older.is_enabled()
    # the limits are the whole baseline's on every page
    assert chart.locator('[data-testid="dataops-chart-limits"]').inner_text() == limits
    page_to(chart, "newer", RUNS - 180)  # the 90 points after the oldest page
    assert shown(chart) == (RUNS - 180, 90, RUNS) and newer.is_enabled()
    long_page.screenshot("panel-chart-paging")
