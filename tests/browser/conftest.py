"""Browser-test infrastructure: a real ``jupyter lab`` on a seeded project, driven by chromium.

One session builds a temporary DataOps project, seeds its run store by really running the
pipeline (``dataops run``, including a run whose checks fail), starts ``jupyter lab`` on a free
port with a random token, and launches Debian's headless chromium through playwright (never
``playwright install``: ``DATAOPS_CHROMIUM`` or ``/usr/bin/chromium``). Each test gets a fresh tab
(``lab_page``) whose network requests are recorded, so a test can prove that nothing was loaded
from outside localhost (no CDN); the fixture fails the test if anything was.

Fixtures:
  ``dataops_project`` (session) -> SeededProject: ``root`` (the server root, holding dataops.yaml),
      ``pipeline``, ``steps``, ``runs`` (step runs as the store lists them, newest first),
      ``failed_run`` (the gate run whose checks failed), ``store_url``, ``notebook(name)``.
  ``lab_server`` (session) -> LabServer: ``url(path)``, ``notebook_url(rel)``, ``api(path)``,
      ``token``, ``port``, ``root_dir``, ``log()``.
  ``lab_page`` -> LabPage: ``page`` (playwright Page), ``open(path)``, ``open_notebook(rel)``,
      ``run_all_cells()``, ``wait_for_kernel_idle()``, ``hover_for_tooltip(locator)``,
      ``screenshot(name)``, ``requests``, ``external_requests()``.
  ``save_screenshot(page, name)``: PNG into ``tests/artifacts/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from builders import jupyter_port

CHROMIUM = os.environ.get("DATAOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension", "chrome"}
LAB_START_TIMEOUT = 60.0

# Plugins that would open toasts or ask the internet for news; the server-side fetch is off too.
DISABLED_LAB_PLUGINS = {
    "@jupyterlab/apputils-extension:announcements": True,
}


def external_requests(urls: list[str]) -> list[str]:
    """The URLs among ``urls`` that leave this machine (anything not localhost/127.0.0.1)."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            continue
        if (parts.hostname or "") not in LOCAL_HOSTS:
            out.append(url)
    return out


def save_screenshot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG of ``page`` as ``tests/artifacts/<name>.png`` (gitignored) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@dataclass
class LabServer:
    """A running ``jupyter lab`` subprocess serving ``root_dir``."""

    root_dir: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str = "lab") -> str:
        """An absolute URL under the server, with the token so the browser is authenticated."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path.lstrip('/')}{sep}token={self.token}"

    def notebook_url(self, relative_path: str) -> str:
        """The Lab URL that opens ``relative_path`` (relative to the server root) in a tab."""
        return self.url("lab/tree/" + quote(relative_path))

    def api(self, path: str) -> object:
        """GET a JSON route of the server (e.g. ``api/contents``) with the token."""
        request = urllib.request.Request(
            self.base_url + path.lstrip("/"), headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read().decode())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _write_isolated_jupyter_config(config_dir: Path) -> None:
    """A private Jupyter config dir: no news fetch, no update check, no toasts; our extension on."""
    config_dir.mkdir(parents=True, exist_ok=True)
    lab_config = {
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        }
    }
    (config_dir / "jupyter_lab_config.json").write_text(json.dumps(lab_config))
    server_config: dict = {"ServerApp": {"jpserver_extensions": {}}}
    try:
        import jupyter_dataops

        if hasattr(jupyter_dataops, "_jupyter_server_extension_points"):
            server_config["ServerApp"]["jpserver_extensions"]["jupyter_dataops"] = True
    except ImportError:
        pass
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server_config))
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": DISABLED_LAB_PLUGINS})
    )


def start_lab(root_dir: Path, workdir: Path) -> LabServer:
    """Start ``jupyter lab`` on ``root_dir`` on a free port and wait until it answers."""
    config_dir = workdir / "jupyter_config"
    _write_isolated_jupyter_config(config_dir)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTERLAB_SETTINGS_DIR=str(workdir / "lab_settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "lab_workspaces"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
    )
    # The kernels started by this server must not think they run inside a pipeline.
    for key in list(env):
        if key.startswith("DATAOPS_") and key not in ("DATAOPS_CHROMIUM", "DATAOPS_WARM_IDLE"):
            env.pop(key)
    token = secrets.token_hex(16)
    log_path = workdir / "jupyter_lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        f"--ServerApp.token={token}",
        "--port=0",  # a free port, picked as the server binds it (see jupyter_port)
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root_dir}",
    ]
    log = log_path.open("wb")
    process = subprocess.Popen(
        cmd, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + LAB_START_TIMEOUT
    port = jupyter_port(workdir / "runtime", process, LAB_START_TIMEOUT)
    server = LabServer(root_dir, port or 0, token, process, log_path)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log()}")
        try:
            server.api("api/status")
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.25)
    stop_lab(server)
    raise RuntimeError(f"jupyter lab did not answer within {LAB_START_TIMEOUT}s:\n{server.log()}")


def stop_lab(server: LabServer) -> None:
    """Stop the server (and the kernels it started) gracefully, then for sure."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


# -- the seeded project -----------------------------------------------------------------------

PIPELINE = "browser_demo"
PIPELINE_FILE = f"""\
pipeline: {PIPELINE}
steps:
  measure:
    notebook: steps/measure.ipynb
  gate:
    notebook: steps/gate.ipynb
"""
SPC_DEMO = Path(__file__).resolve().parents[1] / "notebooks" / "spc_chart_demo.ipynb"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def write_notebook(path: Path, cells: list[str], *, parameters: str | None = None) -> Path:
    """Write a python3 notebook of code cells (the first tagged ``parameters`` if given)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_project(root: Path) -> None:
    """A two-step pipeline: ``measure`` records ``avg(x)`` (an spc line judges it against a
    baseline of its first 3 successful production runs, warning), ``gate`` fails its data test
    unless ``rows`` is 3 or more; plus ``widgets_demo.ipynb`` that shows both widgets."""
    (root / "dataops.yaml").write_text(PIPELINE_FILE)
    write_notebook(
        root / "steps" / "measure.ipynb",
        [
            "%load_ext jupyter_dataops\nimport random\nimport polars as pl\n"
            "rng = random.Random(seed)\n"
            "batch = pl.DataFrame({'x': [10.0 + shift + rng.gauss(0, 0.3) for _ in range(40)]})",
            "%%dataops_test batch --name batch_quality\n"
            "row_count = 40\nmissing_count(x) = 0\nwarn: avg(x) between 5 and 15\n"
            "warn: spc avg(x): baseline 3",
        ],
        parameters="shift = 0.0\nseed = 0",
    )
    write_notebook(
        root / "steps" / "gate.ipynb",
        [
            "%load_ext jupyter_dataops\nimport polars as pl\n"
            "orders = pl.DataFrame({'order_id': list(range(rows)),\n"
            "                       'amount': [i * 1000.25 for i in range(rows)]})",
            "%%dataops_test orders --name orders_gate\nrow_count >= 3\nmissing_count(order_id) = 0\n"
            "sum(amount) >= 0",
        ],
        parameters="rows = 2",
    )
    write_notebook(
        root / "widgets_demo.ipynb",
        [
            "%load_ext jupyter_dataops",
            "%dataops_history",
            "%dataops_chart measure avg(x)",
        ],
    )
    if SPC_DEMO.exists():
        shutil.copy(SPC_DEMO, root / SPC_DEMO.name)


def _dataops(root: Path, *args: str, command: str = "run") -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATAOPS_") or k == "DATAOPS_WARM_IDLE"
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_dataops.cli", command, *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen, expected: int, what: str) -> None:
    out, _ = proc.communicate(timeout=600)
    if proc.returncode != expected:
        raise RuntimeError(f"`dataops {what}` exited {proc.returncode}, not {expected}:\n{out}")


@dataclass
class SeededProject:
    """The project the lab server serves, with its real recorded runs."""

    root: Path
    store_url: str
    pipeline: str = PIPELINE
    steps: tuple[str, ...] = ("measure", "gate")
    runs: list[dict] = field(default_factory=list)

    @property
    def failed_run(self) -> dict:
        """The newest failed step run (the gate, whose data test failed)."""
        return next(r for r in self.runs if r["status"] == "failed")

    def notebook(self, name: str) -> Path:
        return self.root / name


def seed_project(root: Path, *, written: bool = False) -> SeededProject:
    """Write the project and record real runs with ``dataops run`` (papermill kernels):

    both steps promoted first (production runs execute the promoted versions; the gate with
    rows = 3, so its own gate run passes), then three pipeline runs at once (all steps: measure passes, gate FAILS its checks; measure with
    seeds 1 and 2), then one run of measure whose mean shifts by +3 (out of control against the
    first three runs: the spc line warns; the first three were not judged, collecting the baseline).
    """
    from jupyter_dataops.store import open_store, resolve_store_url

    if not written:
        write_project(root)
    url = resolve_store_url(root)
    with open_store(url):  # create and migrate once, before parallel runners open it
        pass
    for args in (
        ("steps/measure.ipynb", "--step", "measure"),
        ("steps/gate.ipynb", "--step", "gate", "-p", "rows=3"),
    ):
        _finish(_dataops(root, *args, command="promote"), 0, "promote " + " ".join(args))
    first = [
        (_dataops(root, "-p", "gate.rows=2"), 1, "run -p gate.rows=2 (all steps; the gate fails)"),
        (_dataops(root, "measure", "-p", "measure.seed=1"), 0, "run measure seed=1"),
        (_dataops(root, "measure", "-p", "measure.seed=2"), 0, "run measure seed=2"),
    ]
    for proc, code, what in first:
        _finish(proc, code, what)
    shifted = _dataops(root, "measure", "-p", "measure.shift=3", "-p", "measure.seed=3")
    _finish(shifted, 0, "run measure shift=3")
    with open_store(url) as store:
        runs = store.list_runs(limit=100)
    return SeededProject(root=root, store_url=url, runs=runs)


@pytest.fixture(scope="package")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the lab server serves, with the project written (``write_project``)."""
    root = tmp_path_factory.mktemp("lab_root")
    write_project(root)
    return root


@pytest.fixture(scope="package")
def dataops_project(lab_root: Path) -> SeededProject:
    """A project seeded by real ``dataops run`` invocations (see ``seed_project``)."""
    return seed_project(lab_root, written=True)


@pytest.fixture(scope="package")
def lab_server(
    lab_root: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LabServer]:
    """One ``jupyter lab`` for the browser tests on the seeded project (a free port, a random token).

    It starts while the project is seeded (neither needs the other: the lab reads the store on
    each request), and is handed out once both are done."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        starting = pool.submit(start_lab, lab_root, tmp_path_factory.mktemp("lab_state"))
        try:
            request.getfixturevalue("dataops_project")
        except BaseException:
            with contextlib.suppress(Exception):
                stop_lab(starting.result())
            raise
        server = starting.result()
    try:
        yield server
    finally:
        stop_lab(server)


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def chromium_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Debian's chromium, headless, with a private profile; one for the browser tests.

    Package scope, not session: sync playwright keeps an asyncio loop running in the main thread
    until it stops, which would break every later asyncio test (pytest-jupyter's server tests).
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (set DATAOPS_CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@dataclass
class LabPage:
    """A chromium tab on the lab server, plus every URL the browser requested meanwhile."""

    page: object
    server: LabServer
    requests: list[str] = field(default_factory=list)
    workspace: str = field(default_factory=lambda: "t" + secrets.token_hex(6))
    panel: object = None

    def external_requests(self) -> list[str]:
        """Requests that left localhost (a CDN, fonts, telemetry...). Must stay empty."""
        return external_requests(self.requests)

    def open(self, path: str | None = None) -> None:
        """Navigate to a server path (token added; default: Lab in this test's own workspace)
        and wait for the Lab shell."""
        self.page.goto(self.server.url(path or f"lab/workspaces/{self.workspace}"))
        self.page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)

    def open_notebook(self, relative_path: str) -> object:
        """Open a notebook in this test's workspace, wait until its kernel is idle; returns the
        notebook panel (a locator on that tab only, even when other tabs are open)."""
        self.page.goto(
            self.server.url(f"lab/workspaces/{self.workspace}/tree/{quote(relative_path)}")
        )
        current = self.page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")
        current.wait_for(timeout=60_000)
        name = Path(relative_path).name
        self.page.wait_for_function(
            """(name) => {
                const t = document.querySelector(
                    '#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current');
                return t && t.textContent.includes(name);
            }""",
            arg=name,
            timeout=60_000,
        )
        widget_id = current.get_attribute("data-id")
        self.panel = self.page.locator(f"[id='{widget_id}']")
        self.panel.locator(".jp-Cell").first.wait_for(timeout=60_000)
        self.wait_for_kernel_idle()
        return self.panel

    def wait_for_kernel_idle(self, timeout: float = 60_000) -> None:
        """Wait until the status bar says the current notebook's kernel is connected and idle."""
        self.page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=timeout)

    def run_all_cells(self, *, timeout: float = 60_000) -> None:
        """Run > Run All Cells from the menu bar, then wait until every code cell of the notebook
        opened by ``open_notebook`` has run (numbered prompts) and the kernel is idle."""
        if self.panel is None:
            raise RuntimeError("open_notebook() first: run_all_cells runs the notebook it opened")
        self.page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        self.page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        self.page.wait_for_function(
            """(panel) => {
                const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""",
            arg=self.panel.element_handle(),
            timeout=timeout,
        )
        self.wait_for_kernel_idle(timeout)

    def hover_for_tooltip(self, embed: object, attempts: int = 40) -> str:
        """Hover coloured marks of a vega chart (``.vega-embed`` locator) until vega-tooltip shows.

        Works for the canvas renderer (Lab's default) by hovering saturated pixels, and for svg
        by hovering the symbol marks. Returns the tooltip's text.
        """
        tooltip = self.page.locator("#vg-tooltip-element.visible")
        symbols = embed.locator("svg.marks g.mark-symbol path")
        embed.scroll_into_view_if_needed()
        if symbols.count():
            targets = [symbols.nth(i) for i in range(min(symbols.count(), attempts))]
            for target in targets:
                target.hover(force=True)
                if _visible_soon(tooltip):
                    return tooltip.inner_text()
            raise AssertionError("no vega tooltip appeared over the chart's svg points")
        canvas = embed.locator("canvas.marks").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        points = canvas.evaluate(_COLOURED_PIXELS_JS)
        step = max(1, len(points) // attempts)
        for x, y in points[::step][:attempts]:
            self.page.mouse.move(box["x"] + x, box["y"] + y)
            if _visible_soon(tooltip):
                return tooltip.inner_text()
        raise AssertionError(f"no vega tooltip appeared over {len(points)} coloured canvas pixels")

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        return save_screenshot(self.page, name, full_page=full_page)


def _visible_soon(locator: object, timeout: float = 400) -> bool:
    try:
        locator.wait_for(state="visible", timeout=timeout)
        return True
    except Exception:  # playwright's TimeoutError
        return False


# CSS-pixel offsets (in the canvas box) of the centres of filled coloured marks (the points): a
# saturated pixel whose neighbours 2 px away on all four sides have the same colour. Thin lines
# (centre, limits), pale zone bands, grey axes and the white background are skipped.
_COLOURED_PIXELS_JS = """(canvas) => {
    const ctx = canvas.getContext('2d');
    const w = canvas.width, h = canvas.height;
    const data = ctx.getImageData(0, 0, w, h).data;
    const box = canvas.getBoundingClientRect();
    const sx = box.width / w, sy = box.height / h;
    const at = (x, y) => (y * w + x) * 4;
    const same = (i, j) => Math.abs(data[i] - data[j]) + Math.abs(data[i + 1] - data[j + 1])
        + Math.abs(data[i + 2] - data[j + 2]) < 30 && data[j + 3] > 200;
    const out = [];
    for (let y = 2; y < h - 2; y += 1) {
        for (let x = 2; x < w - 2; x += 1) {
            const i = at(x, y);
            if (data[i + 3] < 200) continue;
            const r = data[i], g = data[i + 1], b = data[i + 2];
            if (Math.max(r, g, b) - Math.min(r, g, b) < 60) continue;
            if (same(i, at(x - 2, y)) && same(i, at(x + 2, y)) && same(i, at(x, y - 2))
                && same(i, at(x, y + 2))) {
                out.push([x * sx, y * sy]);
                x += 6;  // one hit per point and row is enough
            }
        }
    }
    return out;
}"""


@pytest.fixture
def lab_page(chromium_context, lab_server: LabServer) -> Iterator[LabPage]:
    """A new tab on the lab server; fails the test if the browser asked any non-local host."""
    lab = LabPage(page=None, server=lab_server)
    listener = lambda request: lab.requests.append(request.url)  # noqa: E731
    chromium_context.on("request", listener)
    lab.page = chromium_context.new_page()
    try:
        yield lab
    finally:
        lab.page.close()
        chromium_context.remove_listener("request", listener)
    outside = lab.external_requests()
    assert not outside, f"the browser requested non-local URLs (no CDN allowed): {outside}"


@pytest.fixture(name="save_screenshot")
def save_screenshot_fixture():  # noqa: ANN201
    """``save_screenshot(page, name)`` -> ``tests/artifacts/<name>.png``."""
    return save_screenshot
