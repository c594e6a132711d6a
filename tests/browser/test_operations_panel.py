"""The panel's Operations section in a real JupyterLab (headless chromium): the production runs
the seeded project recorded with ``dataops run`` carry their ``ops:`` metrics; the section lists
them for the selected step and each opens its control chart in a main-area tab."""

from __future__ import annotations

import re

import pytest

from .test_panel import in_tab, open_panel, page_errors  # noqa: F401 - page_errors is a fixture

pytestmark = pytest.mark.browser


def test_the_operations_section_lists_a_steps_metrics_and_charts_them_in_tabs(
    lab_page,
    dataops_project,
    page_errors,  # noqa: F811
):
    panel = open_panel(lab_page)
    page = lab_page.page
    section = panel.locator('[data-testid="dataops-operations"]')
    assert section.is_hidden()  # no step selected: nothing to say
    panel.locator(
        '[data-testid="dataops-step"][data-step="measure"] [data-testid="dataops-step-select"]'
    ).click()
    duration = section.locator('[data-testid="dataops-ops-metric"][data-metric="ops:duration"]')
    duration.wait_for()
    listed = section.locator('[data-testid="dataops-ops-metric"]').evaluate_all(
        "els => els.map(e => e.dataset.metric)"
    )
    assert {"ops:duration", "ops:notebook_bytes", "ops:checks_failing"} <= set(listed)
    runs = int(re.search(r"(\d+) runs?$", duration.locator("xpath=..").inner_text()).group(1))
    seeded = [
        r for r in dataops_project.runs if r["step"] == "measure" and r["mode"] == "production"
    ]
    assert runs >= len(seeded) >= 4
    assert section.locator(".vega-embed").count() == 0  # no chart in the sidebar

    duration.click()
    chart = in_tab(page, "dataops-chart")
    chart.locator(".vega-embed canvas, .vega-embed svg.marks").first.wait_for()
    assert "measure \u00b7 ops:duration" in chart.locator("h3").inner_text()
    limits = chart.locator('[data-testid="dataops-chart-limits"]').inner_text()
    assert limits.startswith(f"{runs} production runs")
    baseline = chart.locator('[data-testid="dataops-chart-baseline"]')
    assert baseline.get_attribute("data-judged") == "false"  # fewer than 20 runs: not judged
    assert "not judged: collecting baseline" in baseline.inner_text()

    # another metric: a tab of its own
    section.locator('[data-testid="dataops-ops-metric"][data-metric="ops:notebook_bytes"]').click()
    chart.locator("h3", has_text="measure \u00b7 ops:notebook_bytes").wait_for()
    chart.locator(".vega-embed canvas, .vega-embed svg.marks").first.wait_for()
    tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab .lm-TabBar-tabLabel").all_inner_texts()
    assert "measure \u00b7 ops:duration" in tabs and "measure \u00b7 ops:notebook_bytes" in tabs
    lab_page.screenshot("panel-operations")
