"""The DataOps sidebar panel in a real JupyterLab, driven by headless chromium.

The lab serves the project of ``conftest.seed_project``: a pipeline ``browser_demo`` whose runs
were recorded by real ``dataops run`` invocations (the ``gate`` step failed its checks). The
``lab_page`` fixture also fails a test whose page requested anything outside localhost.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import nbformat
import pytest

from jupyter_dataops.checks.display import format_value
from jupyter_dataops.store import open_store

pytestmark = pytest.mark.browser

PANEL = "#jupyter-dataops-panel"
# The DataOps main-area tab in front (a run's detail, a metric's chart); the others are hidden.
TAB = ".jp-DataOps-tab-widget:visible"
SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-dataops-panel"]'


def describe_page_error(error) -> str:
    """One uncaught page error as ``name: message`` plus its stack, so a failure says where it
    came from."""
    text = f"{error.name or 'Error'}: {error.message}"
    return f"{text}\n{error.stack}" if error.stack else text


@contextmanager
def watched_page(chromium_context, server) -> Iterator:
    """A new tab (``conftest.LabPage``) on ``server``; on leaving, fails the test if the page
    threw or the browser asked any non-local host."""
    from .conftest import LabPage

    lab = LabPage(page=None, server=server)
    errors: list = []
    listener = lambda request: lab.requests.append(request.url)  # noqa: E731
    chromium_context.on("request", listener)
    lab.page = chromium_context.new_page()
    lab.page.on("pageerror", lambda error: errors.append(error))
    try:
        yield lab
    finally:
        lab.page.close()
        chromium_context.remove_listener("request", listener)
    assert not errors, "the page threw:\n" + "\n\n".join(describe_page_error(e) for e in errors)
    assert not lab.external_requests(), f"non-local requests: {lab.external_requests()}"


def describe_thrown(details: dict) -> str:
    """Chromium's ``Runtime.exceptionThrown`` details: its text and the call frames V8 saw, which
    locate a promise rejected with a value that has no stack (e.g. ``undefined``)."""
    exception = details.get("exception") or {}
    text = f"{details.get('text')} {exception.get('description') or exception.get('type')}"
    trace = details.get("stackTrace")
    while trace:
        if trace.get("description"):
            text += f"\n  -- {trace['description']} --"
        text += "".join(
            f"\n    at {f.get('functionName') or '<anonymous>'} "
            f"({f.get('url')}:{f.get('lineNumber', 0) + 1}:{f.get('columnNumber', 0) + 1})"
            for f in trace.get("callFrames") or []
        )
        trace = trace.get("parent")
    return text


@pytest.fixture
def page_errors(lab_page, chromium_context):
    """Uncaught errors thrown in the page; a test fails if the panel threw any.

    Each is reported with its name, message and stack; chromium's own exception report (through
    a CDP session) adds the frames where a promise was rejected without an Error.
    """
    errors: list[str] = []
    thrown: list[dict] = []
    cdp = chromium_context.new_cdp_session(lab_page.page)
    cdp.on("Runtime.exceptionThrown", lambda event: thrown.append(event["exceptionDetails"]))
    cdp.send("Runtime.enable")
    cdp.send("Debugger.enable")
    cdp.send("Debugger.setSkipAllPauses", {"skip": True})  # a `debugger;` must not hang the page
    cdp.send("Debugger.setAsyncCallStackDepth", {"maxDepth": 16})
    lab_page.page.on("pageerror", lambda error: errors.append(error))
    yield errors
    if errors:
        lab_page.page.wait_for_timeout(200)  # let chromium's matching reports arrive
        described = [describe_page_error(e) for e in errors]
        described += ["chromium: " + describe_thrown(t) for t in thrown]
        raise AssertionError("the page threw:\n" + "\n\n".join(described))


def in_tab(page, testid: str):
    """The element ``data-testid=testid`` of the DataOps main-area tab in front."""
    return page.locator(f'{TAB} [data-testid="{testid}"]')


def open_panel(lab, *, width: int = 560):
    """Open Lab, show the DataOps panel (its own sidebar icon) and widen the sidebar."""
    lab.open()
    page = lab.page
    tab = page.locator(SIDEBAR_TAB)
    tab.wait_for(timeout=60_000)
    assert tab.locator("svg").count() == 1, "the panel's sidebar tab has no icon"
    page.wait_for_timeout(500)  # the layout restorer may re-open the panel by itself
    if not page.locator(PANEL).is_visible():
        tab.click()
    page.locator(PANEL).wait_for(state="visible")
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(width, box["y"] + 300, steps=5)
    page.mouse.up()
    return page.locator(PANEL)


def test_the_panel_lists_the_pipeline_its_steps_and_recent_runs(
    lab_page, dataops_project, page_errors
):
    panel = open_panel(lab_page)
    pipeline = panel.locator(
        f'[data-testid="dataops-pipeline"][data-name="{dataops_project.pipeline}"]'
    )
    pipeline.wait_for()
    steps = pipeline.locator('[data-testid="dataops-step"]')
    assert sorted(steps.evaluate_all("els => els.map(e => e.dataset.step)")) == sorted(
        dataops_project.steps
    )
    last = {}
    for run in dataops_project.runs:  # newest first
        last.setdefault(run["step"], run["status"])
    for step, status in last.items():
        badge = pipeline.locator(
            f'[data-testid="dataops-step"][data-step="{step}"] .jp-DataOps-badge'
        )
        assert badge.get_attribute("data-status") == status
    assert "not scheduled" in steps.first.inner_text()

    rows = panel.locator('[data-testid="dataops-run"]')
    rows.first.wait_for()
    shown = rows.evaluate_all("els => els.map(e => Number(e.dataset.runId))")
    assert shown == [r["id"] for r in dataops_project.runs][: len(shown)]
    assert len(shown) == min(20, len(dataops_project.runs))
    lab_page.screenshot("panel-pipeline-and-runs")


def test_a_failed_run_shows_its_checks_and_opens_its_executed_notebook(
    lab_page, dataops_project, page_errors
):
    failed = dataops_project.failed_run
    panel = open_panel(lab_page)
    panel.locator(f'[data-testid="dataops-run"][data-run-id="{failed["id"]}"]').click()
    detail = in_tab(lab_page.page, "dataops-run-detail")  # a main-area tab, not the sidebar
    detail.locator('[data-testid="dataops-check"]').first.wait_for()
    assert f"Run #{failed['id']}" in detail.inner_text()
    assert (
        detail.locator(".jp-DataOps-detail-head .jp-DataOps-badge").get_attribute("data-status")
        == "failed"
    )
    failing = detail.locator('[data-testid="dataops-check"][data-status="fail"]')
    assert failing.count() == 1
    text = failing.inner_text()
    assert "row_count >= 3" in text and "observed 2" in text
    assert detail.locator('[data-testid="dataops-check"][data-status="pass"]').count() >= 1
    with open_store(dataops_project.store_url) as store:
        recorded = store.get_run(failed["id"])["parameters"]
    if recorded:
        params = detail.locator('[data-testid="dataops-parameters"]').inner_text()
        assert all(name in params for name in recorded)
    else:
        assert "the notebook\u2019s defaults" in detail.inner_text()
    lab_page.screenshot("panel-failed-run-checks")

    button = detail.locator('[data-testid="dataops-open-notebook"]')
    path = button.get_attribute("data-path")
    assert path.startswith(".dataops/runs/") and path.endswith("gate.ipynb")
    button.click()
    tab = lab_page.page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    tab.filter(has_text="gate.ipynb").wait_for()
    notebook = lab_page.page.locator(".jp-NotebookPanel:visible").first
    notebook.locator(".jp-Cell").first.wait_for()
    notebook.get_by_text("notebook is read-only").wait_for()
    # Once its kernel is up, the record is still clean: closing it asks nothing.
    lab_page.wait_for_kernel_idle()
    lab_page.page.wait_for_timeout(500)
    assert "jp-mod-dirty" not in (tab.filter(has_text="gate.ipynb").get_attribute("class") or "")
    # The executed copy keeps the failing check's output.
    notebook.get_by_text("row_count >= 3").first.wait_for()
    lab_page.screenshot("panel-opened-executed-notebook")


def test_a_metric_control_chart_renders_offline_with_tooltips(
    lab_page, dataops_project, page_errors
):
    panel = open_panel(lab_page)
    panel.locator(
        '[data-testid="dataops-step"][data-step="measure"] [data-testid="dataops-step-select"]'
    ).click()
    metric = panel.locator(
        '[data-testid="dataops-step-metrics"] [data-testid="dataops-metric"][data-metric="avg(x)"]'
    )
    metric.click()
    chart = in_tab(lab_page.page, "dataops-chart")  # a main-area tab, not the sidebar
    embed = chart.locator(".vega-embed")
    embed.locator("canvas, svg.marks").first.wait_for()
    limits = chart.locator('[data-testid="dataops-chart-limits"]').inner_text()
    assert re.search(r"\d+ production runs · center [\d.]+ · lcl [\d.-]+ · ucl [\d.]+", limits)
    assert_fits(chart)
    tooltip = lab_page.hover_for_tooltip(embed)
    assert tooltip.strip()
    lab_page.screenshot("panel-control-chart")

    # The chart is the judgement: the spc line's chart type, and the point it flagged.
    assert chart.locator('[data-testid="dataops-chart-type"]').get_attribute("data-value") == "i"
    line = chart.locator('[data-testid="dataops-chart-line"]').inner_text()
    assert "spc avg(x)" in line and "baseline 3" in line
    measure = [
        r for r in dataops_project.runs if r["step"] == "measure" and r["mode"] == "production"
    ]
    flagged = chart.locator('[data-testid="dataops-violations"] li')
    assert set(flagged.evaluate_all("els => els.map(e => Number(e.dataset.runId))")) == {
        measure[0]["id"]
    }
    # the broken rule names the run's parameters (which day or input it was), not a time only
    assert "shift=3" in flagged.first.inner_text()


def test_an_spc_line_without_its_baseline_is_not_judged_and_says_so(
    lab_page, dataops_project, page_errors
):
    early = [
        r for r in dataops_project.runs if r["step"] == "measure" and r["mode"] == "production"
    ][-1]
    panel = open_panel(lab_page)
    panel.locator(f'[data-testid="dataops-run"][data-run-id="{early["id"]}"]').click()
    detail = in_tab(lab_page.page, "dataops-run-detail")
    check = detail.locator('[data-testid="dataops-check"][data-metric="avg(x)"]').filter(
        has_text="spc"
    )
    check.wait_for()
    assert check.get_attribute("data-status") == "baseline"
    assert check.locator(".jp-DataOps-badge").inner_text() == "not judged"
    assert "baseline" in check.locator('[data-testid="dataops-check-message"]').inner_text()
    counts = panel.locator(
        f'[data-testid="dataops-run"][data-run-id="{early["id"]}"] [data-testid="dataops-run-counts"]'
    )
    assert "not judged" in counts.inner_text()


def assert_fits(chart) -> None:
    """The rendered chart lies within its tab's width: nothing clipped on the right."""
    embed = chart.locator(".vega-embed")
    embed.locator("canvas, svg.marks").first.wait_for()
    chart.page.wait_for_timeout(300)  # a render that overflowed is redrawn narrower once
    outer = chart.bounding_box()
    for part in (embed, embed.locator("canvas, svg.marks").first):
        box = part.bounding_box()
        assert box["x"] >= outer["x"] - 1, (box, outer)
        assert box["x"] + box["width"] <= outer["x"] + outer["width"] + 1, (box, outer)
    holder = chart.locator('[data-testid="dataops-chart-view"]')
    assert holder.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the chart scrolls"


def open_chart(panel, step: str = "measure", metric: str = "avg(x)"):
    """Select ``step`` in the sidebar and click its ``metric``: its chart's main-area tab."""
    panel.locator(
        f'[data-testid="dataops-step"][data-step="{step}"] [data-testid="dataops-step-select"]'
    ).click()
    panel.locator(
        f'[data-testid="dataops-step-metrics"] [data-testid="dataops-metric"][data-metric="{metric}"]'
    ).click()
    chart = in_tab(panel.page, "dataops-chart")
    chart.locator(".vega-embed canvas, .vega-embed svg.marks").first.wait_for()
    return chart


def test_a_narrow_sidebar_cuts_not_the_promote_button(lab_page, dataops_project, page_errors):
    """(The lists at 300 px and the chart's own tab: ``test_main_area``.)"""
    panel = open_panel(lab_page, width=330)
    outer = panel.bounding_box()
    assert outer["width"] < 320, outer
    button = panel.locator('[data-testid="dataops-promote"]')
    assert button.inner_text().strip() == "Promote this notebook"
    box = button.bounding_box()
    assert box["x"] + box["width"] <= outer["x"] + outer["width"] + 1, (box, outer)
    assert button.evaluate(
        "b => b.scrollWidth <= b.clientWidth + 1 && b.scrollHeight <= b.clientHeight + 1"
    ), "the promote button's label is cut"


def dataops_run(root, *args: str) -> None:
    """``dataops run ARGS`` in the project, as a user would (none of this shell's DATAOPS_*)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATAOPS_") or k == "DATAOPS_WARM_IDLE"
    }
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", "run", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def big_gate_run(dataops_project) -> dict:
    """A real, passing run of the gate on 8,774 rows: its ``row_count`` check observes a count
    over 1000, which reads ``8,774`` in English and ``8.774`` in German."""
    dataops_run(dataops_project.root, "gate", "-p", "gate.rows=8774")
    with open_store(dataops_project.store_url) as store:
        return store.get_run(store.list_runs(step="gate", limit=1)[0]["id"])


def observed_of(panel, run_id: int) -> dict[str, list[str]]:
    """Open a run's detail; each check's metric -> the observed values its lines show."""
    panel.locator(f'[data-testid="dataops-run"][data-run-id="{run_id}"]').click()
    detail = in_tab(panel.page, "dataops-run-detail")
    detail.locator(".jp-DataOps-detail-head h3", has_text=f"Run #{run_id} ").wait_for()
    detail.locator('[data-testid="dataops-check"]').first.wait_for()
    shown: dict[str, list[str]] = {}
    for metric, text in detail.locator('[data-testid="dataops-check"]').evaluate_all(
        """els => els.map(e => [e.dataset.metric,
            e.querySelector('[data-testid="dataops-check-observed"]').textContent])"""
    ):
        shown.setdefault(metric, []).append(text)
    return shown


def avg_observed(run_id: int, store_url: str) -> float:
    with open_store(store_url) as store:
        checks = store.get_run(run_id)["check_results"]
    return next(c["observed"] for c in checks if c["metric"] == "avg(x)")


def test_times_follow_the_browsers_locale(
    lab_page, dataops_project, big_gate_run, chromium_context, page_errors
):
    cdp = chromium_context.new_cdp_session(lab_page.page)
    cdp.send("Emulation.setLocaleOverride", {"locale": "de-DE"})
    panel = open_panel(lab_page)
    # A check's observed value is a number in German too: a count of 8774 rows is "8.774"
    # (not the server's English "8,774", which a German reads as 8.774), a mean has a decimal
    # comma.
    shown = observed_of(panel, big_gate_run["id"])
    assert shown["row_count"] == ["observed 8.774"], shown
    # A sum over a million reads in whole units, grouped the German way.
    assert shown["sum(amount)"] == ["observed 38.496.772.788"], shown
    run = next(r for r in dataops_project.runs if r["step"] == "measure")
    avg = avg_observed(run["id"], dataops_project.store_url)
    german_avg = f"{avg:,.6g}".translate(str.maketrans(",.", ".,"))
    assert "," in german_avg, german_avg
    shown = observed_of(panel, run["id"])
    assert shown["avg(x)"] and set(shown["avg(x)"]) == {f"observed {german_avg}"}, shown
    summary = in_tab(lab_page.page, "dataops-run-summary")
    summary.wait_for()
    started = datetime.fromisoformat(run["started_at"]).astimezone()  # the browser's zone
    german = f"{started:%d.%m.%Y}, {started:%H:%M:%S}"
    assert german in summary.inner_text(), summary.inner_text()
    # How long ago a run started is said in German too (Intl.RelativeTimeFormat).
    ago = panel.locator(
        f'[data-testid="dataops-run"][data-run-id="{run["id"]}"] [data-testid="dataops-run-when"]'
    ).inner_text()
    assert re.fullmatch(r"vor \d+ (Sekunden?|Minuten?|Stunden?|Tagen?)|jetzt", ago), ago
    # The chart's tooltip gives each point's run and time, in the same locale, and its numbers
    # (the statistic and the limits, d3-formatted by vega) with a decimal comma.
    chart = open_chart(panel)
    tooltip = lab_page.hover_for_tooltip(chart.locator(".vega-embed"))
    assert re.search(r"\b\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2}\b", tooltip), tooltip
    assert not re.search(r"\b(AM|PM)\b|\d+/\d+/\d{4}", tooltip), tooltip
    numbers = re.findall(r"^(statistic|center|LCL|UCL):\s+(\S+)$", tooltip, re.MULTILINE)
    assert len(numbers) == 4, tooltip
    assert all(re.fullmatch(r"\u2212?\d+(,\d+)?", value) for _, value in numbers), numbers
    assert any("," in value for _, value in numbers), numbers
    # The limits written under the chart's title say their numbers the same way.
    limits = chart.locator('[data-testid="dataops-chart-limits"]').inner_text()
    assert re.search(r"center \d+,\d+ \u00b7 lcl -?\d+,\d+ \u00b7 ucl \d+,\d+", limits), limits
    lab_page.screenshot("panel-locale-de")


def test_observed_values_read_the_english_way_in_an_english_browser(
    lab_page, dataops_project, big_gate_run, chromium_context, page_errors
):
    cdp = chromium_context.new_cdp_session(lab_page.page)
    cdp.send("Emulation.setLocaleOverride", {"locale": "en-US"})
    panel = open_panel(lab_page)
    shown = observed_of(panel, big_gate_run["id"])
    assert shown["row_count"] == ["observed 8,774"]
    # Over a million: whole units, as the server's observed_display says it (not 3.84968e+10).
    big = next(c for c in big_gate_run["check_results"] if c["metric"] == "sum(amount)")
    assert big["observed"] == pytest.approx(8774 * 8773 / 2 * 1000.25)
    assert (
        shown["sum(amount)"]
        == ["observed 38,496,772,788"]
        == [f"observed {format_value(big['observed'], 'value')}"]
    ), shown
    run = next(r for r in dataops_project.runs if r["step"] == "measure")
    avg = avg_observed(run["id"], dataops_project.store_url)
    shown = observed_of(panel, run["id"])["avg(x)"]
    assert shown and set(shown) == {f"observed {avg:,.6g}"}, shown


def test_run_now_creates_a_new_run_that_appears_in_the_list(lab_page, dataops_project, page_errors):
    panel = open_panel(lab_page)
    rows = panel.locator('[data-testid="dataops-run"]')
    rows.first.wait_for()
    newest = max(rows.evaluate_all("els => els.map(e => Number(e.dataset.runId))"))
    panel.locator(
        '[data-testid="dataops-step"][data-step="measure"] [data-testid="dataops-run-now"]'
    ).click()
    notice = panel.locator('[data-testid="dataops-notice"]')
    notice.filter(has_text="Started run #").wait_for()
    run_id = int(re.search(r"run #(\d+)", notice.inner_text()).group(1))
    assert run_id > newest
    row = panel.locator(f'[data-testid="dataops-run"][data-run-id="{run_id}"]')
    row.wait_for()  # the list refreshes at once after starting
    assert row.get_attribute("data-step") == "measure"
    # The panel polls while visible: the row turns to success without a reload.
    panel.locator(
        f'[data-testid="dataops-run"][data-run-id="{run_id}"][data-status="success"]'
    ).wait_for(timeout=180_000)
    lab_page.screenshot("panel-run-now")


def test_promote_this_notebook_asks_for_a_step_and_shows_the_gate_result(
    lab_page, dataops_project, page_errors
):
    # The gate notebook fails its data test with its default rows = 2: the gate refuses it.
    lab_page.open_notebook("steps/gate.ipynb")
    page = lab_page.page
    tab = page.locator(SIDEBAR_TAB)
    if not page.locator(PANEL).is_visible():
        tab.click()
    panel = page.locator(PANEL)
    panel.locator('[data-testid="dataops-promote"]').click()
    dialog = page.locator(".jp-Dialog")
    step = dialog.locator('[data-testid="dataops-promote-step"]')
    assert step.input_value() == "gate"  # suggested from the notebook's name
    step.fill("gate_candidate")
    dialog.locator('[data-testid="dataops-promote-parameters"]').fill("rows = 1")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    result = page.locator('.jp-Dialog [data-testid="dataops-gate-result"]')
    result.wait_for(timeout=240_000)
    assert result.get_attribute("data-promoted") == "false"
    assert "Not promoted" in result.inner_text()
    failing = result.locator('[data-testid="dataops-gate-check"][data-status="fail"]')
    assert "row_count >= 3" in failing.inner_text()
    lab_page.screenshot("panel-promote-refused")
    # The refused gate run's executed notebook opens (read-only) from the result dialog.
    result.locator('[data-testid="dataops-gate-notebook"]').click()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").filter(
        has_text="gate_candidate.ipynb"
    ).wait_for()
    assert page.locator(".jp-Dialog").count() == 0
    # The refused step was not added to the pipeline.
    steps = panel.locator('[data-testid="dataops-step"]')
    assert "gate_candidate" not in steps.evaluate_all("els => els.map(e => e.dataset.step)")
    assert "gate_candidate" not in (dataops_project.root / "dataops.yaml").read_text()


def test_promote_with_unreadable_parameters_says_which_line_and_runs_nothing(
    lab_page, dataops_project, page_errors
):
    # The dialog reads the form on accept: a line without "=" must be said, not thrown.
    lab_page.open_notebook("steps/gate.ipynb")
    page = lab_page.page
    if not page.locator(PANEL).is_visible():
        page.locator(SIDEBAR_TAB).click()
    page.locator(PANEL).locator('[data-testid="dataops-promote"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('[data-testid="dataops-promote-step"]').fill("gate_unreadable")
    dialog.locator('[data-testid="dataops-promote-parameters"]').fill("rows 5")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    error = page.locator(".jp-Dialog").filter(has_text="Cannot read the parameters")
    error.wait_for()
    assert 'line 1 ("rows 5") is not name = value' in error.inner_text()
    error.locator(".jp-Dialog-button.jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached")
    assert page.locator('[data-testid="dataops-promote-waiting"]').count() == 0
    assert "gate_unreadable" not in (dataops_project.root / "dataops.yaml").read_text()


def test_an_edited_step_and_an_unpromoted_run_say_so(lab_page, dataops_project, page_errors):
    """After an edit of the working notebook the step says "edited since promotion"; a run of
    the working copy on purpose (`dataops run --unpromoted`) is marked unpromoted."""
    notebook = dataops_project.root / "steps" / "measure.ipynb"
    original = notebook.read_bytes()
    try:
        nb = nbformat.read(notebook, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("edited = True"))
        nbformat.write(nb, notebook)
        dataops_run(dataops_project.root, "measure", "--unpromoted")
        with open_store(dataops_project.store_url) as store:
            newest = store.list_runs(step="measure", limit=1)[0]
        panel = open_panel(lab_page)
        step = panel.locator('[data-testid="dataops-step"][data-step="measure"]')
        edited = step.locator('[data-testid="dataops-step-edited"]')
        edited.wait_for()
        assert edited.inner_text() == (
            "edited since promotion \u2014 promote again to put the change in production"
        )
        gate = panel.locator('[data-testid="dataops-step"][data-step="gate"]')
        assert gate.locator('[data-testid="dataops-step-edited"]').count() == 0
        row = panel.locator(f'[data-testid="dataops-run"][data-run-id="{newest["id"]}"]')
        row.locator('[data-testid="dataops-run-unpromoted"]').wait_for()
        older = panel.locator(
            f'[data-testid="dataops-run"][data-run-id="{dataops_project.runs[0]["id"]}"]'
        )
        assert older.locator('[data-testid="dataops-run-unpromoted"]').count() == 0
        row.click()
        detail = in_tab(lab_page.page, "dataops-run-detail")
        detail.get_by_text("executed the working notebook, not the promoted version").wait_for()
        lab_page.screenshot("panel-edited-and-unpromoted")
    finally:
        notebook.write_bytes(original)
