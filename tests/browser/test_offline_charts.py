"""Issue 3 item 5 / issue 5 item 4: SPC charts render offline, with tooltips, in real JupyterLab.

The spc demo notebook is run live in Lab, and a papermill-executed copy is opened without running
it (its stored output must render). The ``lab_page`` fixture fails a test if the browser asked any
host other than localhost, which proves that no CDN is involved.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

DEMO = "spc_chart_demo.ipynb"
CHART = ".jp-OutputArea-output .vega-embed"
MARKS = "canvas.marks, svg.marks"


def _require_demo(project) -> None:  # noqa: ANN001
    if not (project.root / DEMO).exists():
        pytest.fail(f"tests/notebooks/{DEMO} is missing (the spc demo notebook)")


def test_spc_charts_render_offline_with_tooltips_when_run_in_lab(lab_page, dataops_project):
    _require_demo(dataops_project)
    panel = lab_page.open_notebook(DEMO)
    assert panel.locator(CHART).count() == 0  # nothing stored: the charts come from this run
    lab_page.run_all_cells()
    charts = panel.locator(CHART)
    charts.nth(1).locator(MARKS).first.wait_for(state="visible")
    assert charts.count() == 2
    for i in range(2):
        assert charts.nth(i).locator(MARKS).first.is_visible()
    tip = lab_page.hover_for_tooltip(charts.nth(1))
    assert "sample" in tip and "rules broken" in tip
    lab_page.screenshot("spc_demo_run_in_lab")
    assert lab_page.requests, "the browser made no requests at all?"
    assert lab_page.external_requests() == []


def test_papermill_output_notebook_shows_its_stored_charts(lab_page, dataops_project):
    import papermill

    _require_demo(dataops_project)
    root = dataops_project.root
    executed = root / "spc_chart_demo.papermill.ipynb"
    papermill.execute_notebook(
        str(root / DEMO), str(executed), kernel_name="python3", cwd=str(root), progress_bar=False
    )
    panel = lab_page.open_notebook(executed.name)
    charts = panel.locator(CHART)
    charts.nth(1).locator(MARKS).first.wait_for(state="visible")
    assert charts.count() == 2
    prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    assert any("[" in p and any(ch.isdigit() for ch in p) for p in prompts)  # papermill's counts
    tip = lab_page.hover_for_tooltip(charts.nth(0))
    assert "sample" in tip
    lab_page.screenshot("spc_demo_papermill_output")
    assert lab_page.external_requests() == []


def test_the_offline_guard_sees_a_request_to_a_cdn(lab_page):
    """The request recorder behind every browser test really catches a CDN fetch."""
    lab_page.open()  # the Lab page itself: its CSP must not hide a CDN request from the guard
    page = lab_page.page
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.src = 'https://cdn.jsdelivr.net/npm/vega@5';
            document.head.appendChild(s);
            return fetch('http://localhost:9/x').catch(() => null);
        }"""
    )
    page.wait_for_timeout(300)
    assert lab_page.external_requests() == ["https://cdn.jsdelivr.net/npm/vega@5"]
    assert "http://localhost:9/x" in lab_page.requests  # recorded, but local: allowed
    lab_page.requests.clear()  # the guard would otherwise (rightly) fail this test at teardown
