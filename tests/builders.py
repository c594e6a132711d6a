"""Builders the test modules share: notebooks, promoted projects and pipeline files, the
``dataops`` command in a subprocess (a scheduler for the length of a block), a local webhook
receiver, runs recorded straight into a store (``record_partition``, ``check_line``,
``suite_result``) and polars frames as database tables (``load_tables``). Fixtures (a run store
on each backend) are in ``tests/conftest.py``.

Everything here is real: notebooks are written with nbformat for the ``python3`` kernel that
papermill runs, promotion is the product's ``promote``, the webhook is an HTTP server on a free
local port.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_dataops.store import ENV_STORE_URL

PYTHON3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A notebook for the ``python3`` kernel: a cell tagged ``parameters`` (papermill injects
    after it), then one code cell per source. Creates the parent folder; returns ``path``."""
    nb = new_notebook(
        cells=[
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(new_code_cell(source) for source in cells),
        ],
        metadata={"kernelspec": dict(PYTHON3)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def sleep_notebook(path: Path, seconds: str = "0.0") -> Path:
    """A step that sleeps for its ``seconds`` parameter (a float literal by default)."""
    return write_notebook(path, f"seconds = {seconds}", "import time\ntime.sleep(seconds)")


def orders_notebook(path: Path, checks: str, amount: str = "float(i)") -> Path:
    """A parameterized ``orders`` frame of ``n_rows`` amounts (``amount`` of ``i`` and ``n_rows``)
    whose checks (``%%dataops_test orders --name orders_quality``) fail when ``null_every`` > 0:
    every ``null_every``-th amount is then missing."""
    return write_notebook(
        path,
        "n_rows = 50\nnull_every = 0\n",
        "%load_ext jupyter_dataops\nimport polars as pl",
        f"amount = [{amount} for i in range(n_rows)]\n"
        "if null_every:\n"
        "    amount = [None if i % null_every == 0 else a for i, a in enumerate(amount)]\n"
        "orders = pl.DataFrame({'amount': amount})",
        "%%dataops_test orders --name orders_quality\n" + checks,
    )


def promoted(root: Path, step: str, pipeline_yaml: str) -> Path:
    """Promotes ``root/<step>.ipynb`` as step ``step`` of a project with no steps yet
    (``pipeline_yaml``, then ``steps: {}``): the promoted snapshot a scheduler runs. Returns the
    path of ``dataops.yaml``, which the caller then writes with the step's schedule."""
    from jupyter_dataops.pipeline.execution.promote import promote

    path = root / "dataops.yaml"
    path.write_text(pipeline_yaml + "steps: {}\n")
    promote(root / f"{step}.ipynb", step, pipeline_file=path)
    return path


def dataops(*args: str, cwd: Path | None = None, env: dict | None = None):
    """``python -m jupyter_dataops.cli ARGS`` in a subprocess (``env`` None: this environment);
    the completed process, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_dataops.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


class _LoggedProcess(subprocess.Popen):
    """A process whose stderr goes to a temporary file, not a pipe: a scheduler logs ~0.7 KB a
    second and nobody reads until it stops, so a 64 KB pipe would fill in ~95 s and block it.
    ``communicate()`` answers stderr as text, as with ``stderr=PIPE``."""

    def __init__(self, args: list[str], *, cwd: Path, stdout: int | None) -> None:
        import tempfile

        # closed by communicate(), which every caller ends with
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._err: str | None = None
        super().__init__(args, cwd=cwd, stdout=stdout, stderr=self._log, text=True)

    def communicate(self, input=None, timeout=None):  # noqa: A002 - Popen's own name
        out, _ = super().communicate(input, timeout)
        if self._err is None:
            self._log.seek(0)
            self._err = self._log.read()
            self._log.close()
        return out, self._err


def dataops_process(*args: str, cwd: Path, stdout: int | None = None) -> subprocess.Popen:
    """``python -m jupyter_dataops.cli ARGS`` started in ``cwd`` (a scheduler, a long run) for
    the caller to signal and wait for; ``communicate()`` gives its stderr as text (stdout too
    with ``stdout=subprocess.PIPE``)."""
    return _LoggedProcess(
        [sys.executable, "-m", "jupyter_dataops.cli", *args], cwd=cwd, stdout=stdout
    )


def cli_env(monkeypatch) -> None:
    """The environment of a ``dataops`` command run in this process (``invoke``): the store of
    the project in the working directory (no ``DATAOPS_STORE_URL``), a 200-column terminal."""
    monkeypatch.delenv(ENV_STORE_URL, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    # rich reads COLUMNS once, when the CLI's console is made: whichever test imported the CLI
    # first would otherwise decide the width for every later test of this worker
    from jupyter_dataops.cli import _app

    for console in (_app.console, _app.err_console):
        monkeypatch.setattr(console, "_width", 200)


def invoke(*args: str):
    """``dataops ARGS`` in this process through typer's CliRunner; the result."""
    from typer.testing import CliRunner

    from jupyter_dataops.cli import app

    return CliRunner().invoke(app, list(args))


class Hook:
    """A local HTTP server that keeps every JSON body POSTed to it (``bodies``) and the path it
    was POSTed to (``paths``); ``url`` is its address followed by ``path``."""

    def __init__(self, path: str = "") -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def collecting_spc(chart: str) -> dict:
    """The stored ``spc`` verdict of a line still collecting its default baseline of 20 runs
    (qcc rules): not judged, no rule broken, no limits."""
    return {
        "chart": chart,
        "rules": "qcc",
        "baseline": 20,
        "judged": False,
        "broken": [],
        "center": None,
        "lcl": None,
        "ucl": None,
    }


@contextmanager
def dask_cluster(config: dict | None = None) -> Iterator[tuple]:
    """A real ``dask.distributed`` LocalCluster of 2 single-threaded worker processes, made under
    the dask ``config`` given; yields its scheduler address and a client (not the default one).
    Needs ``distributed`` (the modules using it ``importorskip`` it first)."""
    import dask
    import distributed

    with dask.config.set(config or {}):
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = distributed.Client(local, set_as_default=False)
    try:
        yield local.scheduler_address, client
    finally:
        client.close()
        local.close()


def day_notebook(path: Path) -> Path:
    """A step of a daily partitioned pipeline: ``run_date`` (the partition key) decides its
    frame's row count (the day of the month), judged by ``spc row_count: baseline 2``."""
    return write_notebook(
        path,
        'run_date = "2026-09-01"',
        "%load_ext jupyter_dataops\nimport polars as pl",
        "frame = pl.DataFrame({'x': list(range(int(run_date[-2:])))})",
        "%%dataops_test frame --name daily\nrow_count > 0\nspc row_count: baseline 2",
    )


def partitioned_project(root: Path, head: str, steps: dict[str, list[str]]) -> Path:
    """A project whose steps (name -> the steps it depends on) are ``day_notebook``s, each
    promoted; ``head`` holds the pipeline's keys (``partitions:``, ``schedule:``, ``alerts:``...)
    and must name the pipeline and store. Returns the path of ``dataops.yaml``."""
    from jupyter_dataops.pipeline.execution.promote import promote

    path = root / "dataops.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, deps in steps.items():
        day_notebook(root / f"{name}.ipynb")
        lines.append(f"  {name}:\n    notebook: {name}.ipynb")
        if deps:
            lines.append(f"    depends_on: [{', '.join(deps)}]")
    path.write_text(head + "steps: {}\n")
    for name, deps in steps.items():
        promote(root / f"{name}.ipynb", name, depends_on=deps or None, pipeline_file=path)
    path.write_text(head + "steps:\n" + "\n".join(lines) + "\n")
    return path


def wait_for(predicate, timeout: float, what: str):
    """What ``predicate()`` answers once it is truthy (polled for ``timeout`` seconds); else an
    AssertionError naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def json_events(stderr: str) -> list[dict]:
    """The JSON log lines of a ``dataops scheduler`` (or any structured log) as dicts."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def chart_rows(spec: dict) -> list[dict]:
    """A metric chart's points as the viewer makes them of its spec (``chart_spec``): the
    columns flattened into one row per point, each lookup's fields added (``status``/``rules``,
    the limits ``c``/``l``/``u``/``s``, ``parameters``); a row keeps ``k``/``g``/``q`` only
    where its data has them. A spec without a ``flatten`` (an altair picture's) has its rows."""
    if not any("flatten" in step for step in spec.get("transform", [])):
        return list(spec["data"]["values"])
    (columns,) = spec["data"]["values"]
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    for step in spec["transform"]:
        if "lookup" in step:
            key, found = step["lookup"], step["from"]
            table = {entry[key]: entry for entry in found["data"]["values"]}
            for row in rows:
                entry = table[row.get(key) or 0]
                row.update({name: entry.get(name) for name in found["fields"]})
    return rows


def check_line(
    line: int,
    status: str,
    observed=None,
    metric: str | None = None,
    threshold: str | None = None,
    message: str | None = "msg",
    *,
    source: str | None = None,
) -> SimpleNamespace:
    """One check line's result as ``Store.record_suite`` reads it (the fields of a
    ``CheckResult``); its source is ``line N`` unless given."""
    return SimpleNamespace(
        line=line,
        source=f"line {line}" if source is None else source,
        status=status,
        observed=observed,
        threshold=threshold,
        metric=metric,
        message=message,
    )


def suite_result(name: str = "orders", *results, metrics: dict | None = None) -> SimpleNamespace:
    """A suite's result as ``Store.record_suite`` reads it: its lines and its metrics."""
    return SimpleNamespace(name=name, results=list(results), metrics=metrics or {})


def record_partition(
    store,
    pipeline: str,
    partition: str | None,
    outcomes: dict[str, tuple[str, list[str]]],
    *,
    mode: str = "production",
    error: str = "broke",
    skip_reason: str | None = None,
) -> dict[str, int]:
    """One pipeline run for ``partition`` as the runner records one: ``outcomes`` maps step ->
    (its status, the statuses of its check lines); a ``running`` step is left running, a failed
    one has ``error``, a skipped one ``skip_reason``. Returns step -> step run id."""
    pr = store.create_pipeline_run(pipeline, mode=mode, partition=partition)
    ids = {}
    for step, (status, checks) in outcomes.items():
        sr = store.create_step_run(pr, step)
        store.start_step_run(sr)
        if checks:
            lines = [check_line(i + 1, s) for i, s in enumerate(checks)]
            store.record_suite(sr, suite_result("s", *lines))
        if status != "running":
            store.finish_step_run(
                sr,
                status,
                error=None if status in ("success", "skipped") else error,
                skip_reason=skip_reason if status == "skipped" else None,
            )
        ids[step] = sr
    store.finish_pipeline_run(pr)
    return ids


def load_tables(url: str, tables: dict, *, text=None) -> None:
    """Each polars frame of ``tables`` (name -> frame) as a table of that name in the database
    at ``url``, every column typed explicitly (strings as ``text``, by default VARCHAR(40); a
    zoned datetime as TIMESTAMP WITH TIME ZONE)."""
    import polars as pl
    import sqlalchemy as sa

    types = {
        pl.Int64: sa.BigInteger,
        pl.Float64: lambda: sa.Float(53),
        pl.String: text or (lambda: sa.String(40)),
        pl.Boolean: sa.Boolean,
        pl.Date: sa.Date,
        pl.Datetime("us"): sa.DateTime,
        pl.Datetime("us", "UTC"): lambda: sa.DateTime(timezone=True),
    }
    md = sa.MetaData()
    made = {
        name: sa.Table(name, md, *[sa.Column(c, types[t]()) for c, t in data.schema.items()])
        for name, data in tables.items()
    }
    engine = sa.create_engine(url)
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            for name, data in tables.items():
                conn.execute(made[name].insert(), data.to_dicts())
    finally:
        engine.dispose()


ORDERS_STEP = "  orders:\n    notebook: orders.ipynb\n"
#: a step ``report`` after ``orders``, writing ``reports/daily.html``
REPORT_STEP = (
    "  report:\n    notebook: report.ipynb\n    depends_on: [orders]\n"
    "    outputs: [reports/daily.html]\n"
)


def sales_pipeline(
    root: Path, hook_url: str, on: str, *, head: str = "", alert: str = "", steps: str = ORDERS_STEP
) -> Path:
    """``root/dataops.yaml`` of pipeline ``sales``: ``head`` (its store, schedule, partitions,
    ...), one webhook channel to ``hook_url`` on the events ``on`` (``alert``: the channel's
    other keys, e.g. ``    remind_after: 1h``), then ``steps`` (the YAML under ``steps:``; by
    default one step ``orders``). Returns its path."""
    path = root / "dataops.yaml"
    path.write_text(
        "pipeline: sales\n"
        + head
        + f"alerts:\n  - webhook: {hook_url}\n    on: [{on}]\n"
        + alert
        + "steps:\n"
        + steps
    )
    return path


@contextmanager
def running_scheduler(cwd: Path, *args: str, timeout: float = 90) -> Iterator[SimpleNamespace]:
    """A ``dataops scheduler --interval 0.2 ARGS`` in ``cwd`` for the block, stopped with SIGTERM
    when it ends (also when it fails): ``.process``, and ``.stderr`` (its log) once stopped."""
    import signal

    process = dataops_process("scheduler", "--interval", "0.2", *args, cwd=cwd)
    running = SimpleNamespace(process=process, stderr="")
    try:
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        running.stderr = process.communicate(timeout=timeout)[1]


def jupyter_port(runtime_dir: Path, process: subprocess.Popen, timeout: float) -> int | None:
    """The port a Jupyter server started with ``--port=0`` (the system picks a free one while
    the server binds it: no other process can take it in between) listens on, read from its
    ``jpserver-<pid>.json`` in ``runtime_dir`` (written once it listens). None when the
    process ended or ``timeout`` passed first."""
    info = Path(runtime_dir) / f"jpserver-{process.pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return int(json.loads(info.read_text())["port"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    return None
