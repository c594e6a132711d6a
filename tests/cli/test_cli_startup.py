"""The read-only commands start light: ``dataops runs``, ``status`` and ``incidents`` in a
project with runs and late partitions import neither the notebook machinery (papermill,
nbclient, jupyter_client, nbformat) nor the data libraries (polars, numpy, sqlglot, altair).

A behavioural guard, not a timing: each command runs in a fresh interpreter that then lists
which of those modules it holds (``benchmarks/cli_startup_bench.py`` measures the cost).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from builders import record_partition

from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.observers.lateness import notice_late

HEAVY = (
    "polars",
    "numpy",
    "sqlglot",
    "altair",
    "pandas",
    "pyarrow",
    "papermill",
    "nbclient",
    "jupyter_client",
    "nbformat",
    "jsonschema",
    "IPython",
    "alembic",
    "jupyter_dataops.checks.language",
    "jupyter_dataops.pipeline.execution.runner",
)
SCRIPT = """
import contextlib, io, json, sys
sys.argv = ["dataops", *sys.argv[1:]]
from jupyter_dataops.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = json.loads(sys.stdin.read())
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": [m for m in heavy if m in sys.modules]}))
"""
# alerts configured: a lateness look that finds nothing new must still not import them
YAML = """pipeline: shop
partitions:
  every: day
  start: 2026-01-01
expect_by: "07:00"
alerts:
  - on: [late]
    webhook: http://127.0.0.1:9/hook
steps:
  load:
    notebook: load.ipynb
  report:
    notebook: report.ipynb
    depends_on: [load]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    (root / "dataops.yaml").write_text(YAML)
    store = Project(root).open_store()
    store.upsert_pipeline("shop", project_dir=str(root))
    record_partition(store, "shop", "2026-01-01", {"load": ("success", ["pass"])})
    # the first look opens the late incidents and alerts them (that one imports the alerts)
    assert notice_late(Project(root).pipeline, store)
    store.close()
    return root


def loaded(root, *args: str) -> dict:
    env = {"DATAOPS_WARM_KERNELS": "0", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        input=json.dumps(HEAVY),
        cwd=root,
        env={**_environ(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "DATAOPS_STORE_URL"}


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("runs",), "2026-01-01"),
        (("runs", "--json"), '"partition": "2026-01-01"'),
        (("status",), "report"),
        (("incidents",), "not done by 07:00"),
    ],
)
def test_a_read_only_command_imports_no_notebook_or_data_library(project, args, shows):
    answer = loaded(project, *args)
    assert answer["code"] == 0, answer["out"]
    assert shows in answer["out"]  # it did its work
    assert answer["loaded"] == []


def test_the_help_imports_none_of_the_rooms(project):
    answer = loaded(project, "--help")
    assert answer["code"] == 0 and "runs" in answer["out"] and "status" in answer["out"]
    assert answer["loaded"] == []
