"""Refresh the pictures of docs/tutorial.md from a real JupyterLab in headless chromium.

    python docs/screenshots.py [DEMO_DIR]

DEMO_DIR is a folder made by `dataops demo` (default: ./dataops-demo; it is made, all 60 days,
when missing). The script starts `jupyter lab` on it the way the browser tests do
(tests/browser/conftest.py: a private Jupyter config, a random token, Debian's chromium,
never `playwright install`; DATAOPS_CHROMIUM overrides the chromium path), opens the DataOps
panel and writes small PNGs into docs/images/:

  panel.png        the sidebar panel: the pipeline, its steps and recent runs
  run-checks.png   a failed run's result table (the day the load was duplicated)
  control-chart.png  the control chart of ingest's row_count, the half-empty day beyond the limits
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, CHROMIUM_ARGS, start_lab, stop_lab  # noqa: E402

PANEL = "#jupyter-dataops-panel"
SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-dataops-panel"]'


def _failed_ingest_run(demo: Path, day: str) -> int:
    from jupyter_dataops.store import open_store

    with open_store(f"sqlite:///{demo / '.dataops' / 'dataops.db'}") as store:
        for run in store.list_runs("ingest", status="failed", limit=None, mode="production"):
            detail = store.get_run(run["id"])
            if (detail["parameters"] or {}).get("run_date") == day:
                return run["id"]
    raise SystemExit(f"no failed ingest run on {day} in {demo}: run `dataops demo` there first")


def shoot(demo: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    failed = _failed_ingest_run(demo, "2026-10-14")
    IMAGES.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as work, sync_playwright() as pw:
        server = start_lab(demo, Path(work))
        try:
            context = pw.chromium.launch_persistent_context(
                str(Path(work) / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 860},
            )
            page = context.new_page()
            page.goto(server.url("lab/workspaces/docs"))
            page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
            tab = page.locator(SIDEBAR_TAB)
            tab.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            if not page.locator(PANEL).is_visible():
                tab.click()
            panel = page.locator(PANEL)
            panel.wait_for(state="visible")
            handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
            box = handle.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 300)
            page.mouse.down()
            page.mouse.move(620, box["y"] + 300, steps=5)
            page.mouse.up()
            panel.locator('[data-testid="dataops-run"]').first.wait_for()
            page.wait_for_timeout(500)
            written.append(IMAGES / "panel.png")
            panel.screenshot(path=str(written[-1]))

            panel.locator(
                '[data-testid="dataops-step"][data-step="ingest"] [data-testid="dataops-step-select"]'
            ).click()
            run = panel.locator(f'[data-testid="dataops-run"][data-run-id="{failed}"]')
            for _ in range(10):  # newest first, paged: go back to the day
                page.wait_for_timeout(500)
                if run.count():
                    break
                panel.locator('[data-testid="dataops-runs-older"]').click()
            run.click()
            detail = panel.locator('[data-testid="dataops-run-detail"]')
            detail.locator('[data-testid="dataops-check"]').first.wait_for()
            detail.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            written.append(IMAGES / "run-checks.png")
            detail.screenshot(path=str(written[-1]))

            panel.locator(
                '[data-testid="dataops-step-metrics"] [data-testid="dataops-metric"]'
                '[data-metric="row_count"]'
            ).click()
            chart = panel.locator('[data-testid="dataops-chart"]')
            chart.locator(".vega-embed").locator("canvas, svg.marks").first.wait_for()
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            written.append(IMAGES / "control-chart.png")
            chart.screenshot(path=str(written[-1]))
            context.close()
        finally:
            stop_lab(server)
    return written


def main() -> None:
    demo = Path(sys.argv[1] if len(sys.argv) > 1 else "dataops-demo").resolve()
    if not (demo / ".dataops" / "dataops.db").exists():
        subprocess.run([sys.executable, "-m", "jupyter_dataops.cli", "demo", str(demo)], check=True)
    for path in shoot(demo):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
