"""The panel's Incidents section in a real JupyterLab, driven by headless chromium, on the seeded
project (its gate run failed its data test: an incident). The row shows the problem, what it
affects and the runs behind it (a click opens the run in a main-area tab); Acknowledge and
Resolve ask for a note, and the store records who did it."""

from __future__ import annotations

import pytest

from jupyter_dataops.store import open_store

from .test_panel import open_panel, page_errors  # noqa: F401 - page_errors is a fixture

pytestmark = pytest.mark.browser

ROW = '[data-testid="dataops-incident"]'


def test_an_incident_is_acknowledged_and_resolved_from_the_panel(
    lab_page,
    dataops_project,
    page_errors,  # noqa: F811
):
    with open_store(dataops_project.store_url) as store:
        gate = [i for i in store.list_incidents() if i["step"] == "gate"]
    assert gate, "the seeded failing gate run opened no incident"
    incident = gate[0]
    panel = open_panel(lab_page)
    row = panel.locator(f'{ROW}[data-incident-id="{incident["id"]}"]')
    row.wait_for(timeout=30_000)
    assert incident["title"] in row.locator('[data-testid="dataops-incident-title"]').inner_text()
    assert row.get_attribute("data-status") == "open"

    # the runs behind it: a click opens that run's detail (a main-area tab)
    page = lab_page.page
    run_id = incident["runs"][-1]["step_run_id"]
    row.locator('[data-testid="dataops-incident-run"]').last.click()
    detail = page.locator('.jp-DataOps-tab-widget:visible [data-testid="dataops-run-detail"]')
    detail.get_by_text(f"#{run_id}").first.wait_for(timeout=15_000)

    row.locator('[data-testid="dataops-incident-acknowledge"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("checking the gate's input")
    dialog.get_by_role("button", name="Acknowledge").click()
    acked = row.locator('[data-testid="dataops-incident-ack"]')
    acked.wait_for(timeout=15_000)
    assert "checking the gate's input" in acked.inner_text()
    assert row.get_attribute("data-status") == "acknowledged"
    with open_store(dataops_project.store_url) as store:
        stored = store.get_incident(incident["id"])
    assert stored["status"] == "acknowledged" and stored["acknowledged_by"]
    assert f"acknowledged by {stored['acknowledged_by']}" in acked.inner_text()

    row.locator('[data-testid="dataops-incident-resolve"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("fixed the threshold")
    dialog.get_by_role("button", name="Resolve").click()
    row.wait_for(state="detached", timeout=15_000)
    with open_store(dataops_project.store_url) as store:
        stored = store.get_incident(incident["id"])
    assert stored["status"] == "resolved" and stored["resolved_note"] == "fixed the threshold"
    assert stored["resolved_by"] == stored["acknowledged_by"]
    notice = panel.locator('[data-testid="dataops-notice"]')
    assert f"Incident #{incident['id']} resolved by {stored['resolved_by']}" in notice.inner_text()
