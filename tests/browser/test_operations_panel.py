"""The panel's Operations section in a real JupyterLab (headless chromium): the production runs
the seeded project recorded with ``dataops run`` carry their ``ops:`` metrics, and the section
draws their control chart for the selected step."""

from __future__ import annotations

import re

import pytest

from .test_panel import open_panel, page_errors  # noqa: F401 - page_errors is a fixture

pytestmark = pytest.mark.browser


def test_the_operations_section_charts_a_step_with_runs(lab_page, dataops_project, page_errors):  # noqa: F811
    panel = open_panel(lab_page)
    section = panel.locator('[data-testid="dataops-operations"]')
    assert section.is_hidden()  # no step selected: nothing to say
    panel.locator(
        '[data-testid="dataops-step"][data-step="measure"] [data-testid="dataops-step-select"]'
    ).click()
    chart = section.locator('[data-testid="dataops-ops-chart"] .vega-embed')
    chart.locator("canvas, svg.marks").first.wait_for()
    summary = section.locator('[data-testid="dataops-ops-summary"]')
    assert summary.get_attribute("data-metric") == "ops:duration"
    listed = section.locator('[data-testid="dataops-ops-metric"]').evaluate_all(
        "els => els.map(e => e.dataset.metric)"
    )
    assert {"ops:duration", "ops:notebook_bytes", "ops:checks_failing"} <= set(listed)
    duration = section.locator('[data-testid="dataops-ops-metric"][data-metric="ops:duration"]')
    runs = int(re.search(r"(\d+) runs?$", duration.locator("xpath=..").inner_text()).group(1))
    seeded = [
        r for r in dataops_project.runs if r["step"] == "measure" and r["mode"] == "production"
    ]
    assert runs >= len(seeded) >= 4
    text = summary.inner_text()
    assert f"{runs} production runs" in text and "not judged: collecting baseline" in text
    assert summary.get_attribute("data-judged") == "false"  # fewer than 20 runs: not judged

    # another metric: its own chart, in place
    section.locator('[data-testid="dataops-ops-metric"][data-metric="ops:notebook_bytes"]').click()
    section.locator(
        '[data-testid="dataops-ops-summary"][data-metric="ops:notebook_bytes"]'
    ).wait_for()
    chart.locator("canvas, svg.marks").first.wait_for()
    lab_page.screenshot("panel-operations")
