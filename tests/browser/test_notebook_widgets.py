"""Issue 5 items 1 and 5: ``%dataops_history`` and ``%dataops_chart`` render in real JupyterLab.

The notebook runs against the session's project, whose store was seeded by real ``dataops run``
invocations (four runs of ``measure``, the last one shifted out of control, and a ``gate`` run
whose data test failed).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NOTEBOOK = "widgets_demo.ipynb"


def run_widgets_notebook(lab_page):  # noqa: ANN001, ANN201
    """Open the notebook with both magics, run it, and return (history, chart) locators."""
    panel = lab_page.open_notebook(NOTEBOOK)
    lab_page.run_all_cells()
    history = panel.locator(".dataops-history")
    history.locator(".widget-gridbox button.widget-button").first.wait_for(state="visible")
    return panel, history, panel.locator(".dataops-chart")


def show_failed_run(panel, history, failed_id: int):  # noqa: ANN001, ANN201
    """Filter the table to failed runs in the browser and open the failed run's detail."""
    history.scroll_into_view_if_needed()
    history.locator("select").nth(1).select_option(label="failed")
    expect(history).to_contain_text("runs 1–1 of 1")
    buttons = history.locator(".widget-gridbox button.widget-button")
    expect(buttons.locator("visible=true")).to_have_count(1)
    history.locator(f"button.widget-button:visible:text-is('#{failed_id}')").click()
    detail = panel.locator(".dataops-run-detail")
    detail.wait_for(state="visible")
    return detail


def test_history_and_chart_widgets_render_and_respond_in_lab(lab_page, dataops_project):
    runs = dataops_project.runs
    failed = dataops_project.failed_run
    production = [r for r in runs if r["mode"] == "production"]
    measure = [r for r in production if r["step"] == "measure"]
    assert len(production) == 5 and len(measure) == 4 and failed["step"] == "gate"
    assert len(runs) == 7  # and the gate runs of the two promotions (test mode)
    panel, history, chart = run_widgets_notebook(lab_page)

    # the history table: one row button per run, newest first, with status badges
    buttons = history.locator(".widget-gridbox button.widget-button")
    visible = [b for b in buttons.all() if b.is_visible()]
    assert [b.inner_text().strip() for b in visible] == [f"#{r['id']}" for r in runs]
    assert history.locator(".dataops-status-failed").count() == 1
    assert history.locator(".dataops-status-success").count() == 6
    assert "runs 1–7 of 7" in history.inner_text()

    # the control chart of measure's avg(x): drawn by vega, the shifted run listed as broken
    chart.locator(".vega-embed").locator("canvas.marks, svg.marks").first.wait_for(state="visible")
    we1 = chart.locator(".dataops-rule[data-rule='WE1']")
    assert f"run #{measure[0]['id']} (" in we1.inner_text()
    tip = lab_page.hover_for_tooltip(chart.locator(".vega-embed"))
    assert "sample" in tip and "rules broken" in tip
    assert any(f"#{r['id']}" in tip for r in measure)  # the point names its run
    chart.scroll_into_view_if_needed()
    lab_page.screenshot("notebook_widgets_chart")

    # filter and click the failed run: its checks, parameters, error and executed notebook
    detail = show_failed_run(panel, history, failed["id"])
    text = detail.inner_text()
    assert f"Run #{failed['id']} — gate" in text and "row_count >= 3" in text
    assert detail.locator("tr.dataops-check-fail").count() == 1
    assert detail.locator("tr.dataops-check-pass").count() == 2  # missing_count, sum
    assert (
        "row_count is 2, but it must be >= 3"
        in detail.locator("pre.dataops-run-error").inner_text()
    )
    params = detail.locator("table.dataops-kv").nth(1).inner_text()
    assert "rows" in params and "2" in params
    assert detail.locator("a.dataops-notebook-link").inner_text().endswith("gate.ipynb")
    detail.scroll_into_view_if_needed()
    lab_page.screenshot("notebook_widgets_history_detail")
    assert lab_page.external_requests() == []


def test_run_detail_link_opens_the_executed_notebook_in_lab(lab_page, dataops_project):
    failed = dataops_project.failed_run
    panel, history, _ = run_widgets_notebook(lab_page)
    detail = show_failed_run(panel, history, failed["id"])
    link = detail.locator("a.dataops-notebook-link")
    assert link.inner_text() == f".dataops/runs/{failed['pipeline_run_id']}/gate.ipynb"
    link.click()
    page = lab_page.page
    # the executed copy opens in a new tab, read-only, through the extension's runs drive
    page.wait_for_function(
        """() => {
            const t = document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current');
            return t && t.textContent.includes('gate.ipynb');
        }"""
    )
    current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")
    opened = page.locator(f"[id='{current.get_attribute('data-id')}']")
    opened.locator(".jp-Cell").first.wait_for(state="visible")
    expect(opened).to_contain_text("row_count >= 3")
    # the failing check's output, as the run left it
    expect(
        opened.locator(".jp-OutputArea-output").filter(has_text="row_count is 2")
    ).not_to_have_count(0)
    assert page.locator(".jp-NotebookPanel").count() == 2  # the widgets notebook and this one
    lab_page.screenshot("notebook_widgets_opened_executed_notebook")
