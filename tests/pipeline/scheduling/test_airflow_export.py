"""``dataops export airflow``: the DAG file, read by Python's ``ast`` and imported by a real Airflow.

The real-Airflow tests use the Airflow installed in its own virtualenv by ``.ci/run`` (its Python
in ``DATAOPS_TEST_AIRFLOW_PYTHON``); without it they skip, and fail when ``DATAOPS_REQUIRE_AIRFLOW=1``
(CI sets it). Airflow runs the tasks with ``airflow dags test``: each task runs a real step
through our runner in this Python, with real kernels, and a failed data test fails the task.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from builders import write_notebook

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.scheduling.airflow_export import export_airflow, render_dag

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def _project(tmp_path: Path, yaml: str) -> Path:
    write_notebook(
        tmp_path / "load.ipynb",
        'src = "data.csv"',
        "%load_ext jupyter_dataops\nimport polars as pl\nframe = pl.read_csv(src)",
        "%%dataops_test frame\nrow_count >= 3",
    )
    write_notebook(tmp_path / "step.ipynb", "x = 1", "y = x * 2")
    (tmp_path / "data.csv").write_text("v\n1\n2\n3\n4\n")
    (tmp_path / "dataops.yaml").write_text(textwrap.dedent(yaml))
    return tmp_path / "dataops.yaml"


SHOP = """\
    pipeline: shop
    schedule: "0 6 * * *"
    timezone: Europe/Paris
    steps:
      load: {notebook: load.ipynb, retries: 2, retry_delay: 30s, timeout: 10m}
      clean-up: {notebook: step.ipynb, depends_on: [load]}
      report: {notebook: step.ipynb, depends_on: [clean-up, load], schedule: "30 7 * * 1-5", catchup: all}
      other: {notebook: step.ipynb}
"""


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name
    ]


def _kw(call: ast.Call) -> dict[str, str]:
    return {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}


def test_dag_file_holds_every_step_with_its_edges_schedule_retries_and_timeout(tmp_path):
    pipeline = load_pipeline(_project(tmp_path, SHOP))
    out = export_airflow(
        pipeline,
        tmp_path / "dags" / "shop.py",
        project_dir="/srv/shop",
        python="/opt/dataops/bin/python",
    )
    text = out.read_text()
    tree = ast.parse(text)  # readable, valid Python

    dags = [_kw(c) for c in _calls(tree, "DAG")]
    assert [d["dag_id"] for d in dags] == ["'shop'", "'shop.report'"]
    assert dags[0]["schedule"] == "CronTriggerTimetable('0 6 * * *', timezone='Europe/Paris')"
    assert dags[1]["schedule"] == "CronTriggerTimetable('30 7 * * 1-5', timezone='Europe/Paris')"
    assert (dags[0]["catchup"], dags[1]["catchup"]) == ("False", "True")
    tasks = [(ast.literal_eval(c.args[0]), _kw(c)) for c in _calls(tree, "dataops_task")]
    # The whole pipeline, then report's own schedule: report and what it depends on.
    assert [t[0] for t in tasks] == [
        "load",
        "clean-up",
        "report",
        "other",
        "load",
        "clean-up",
        "report",
    ]
    load = tasks[0][1]
    assert load["retries"] == "2" and load["retry_delay"] == "timedelta(seconds=30)"
    assert load["execution_timeout"] == "timedelta(seconds=660)"  # 600 s + the runner's grace
    assert "execution_timeout" not in tasks[1][1] and tasks[1][1]["retries"] == "0"
    edges = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.RShift)
    ]
    assert edges == ["load >> clean_up", "clean_up >> report", "load >> report"] * 2
    assert (
        'PROJECT_DIR = "/srv/shop"' in text and 'DATAOPS_PYTHON = "/opt/dataops/bin/python"' in text
    )
    assert "from airflow.timetables.trigger import CronTriggerTimetable" in text


def test_a_pipeline_without_schedule_is_one_dag_triggered_by_hand(tmp_path):
    pipeline = load_pipeline(
        _project(
            tmp_path,
            """\
        steps:
          load: {notebook: load.ipynb}
    """,
        )
    )
    text = render_dag(pipeline, now=NOW)
    dags = [_kw(c) for c in _calls(ast.parse(text), "DAG")]
    assert len(dags) == 1 and dags[0]["schedule"] == "None"
    assert "CronTriggerTimetable" not in text


def test_export_refuses_what_airflow_cannot_take(tmp_path):
    pipeline = load_pipeline(
        _project(
            tmp_path,
            """\
        schedule: "0 6 * * * 30"
        steps:
          load: {notebook: load.ipynb}
    """,
        )
    )
    with pytest.raises(PipelineError, match="six fields|6 fields|five"):
        render_dag(pipeline)
    with pytest.raises(PipelineError, match=r"ending in \.py"):
        export_airflow(pipeline, tmp_path / "dag.txt")
    assert not (tmp_path / "dag.txt").exists()


def test_dataops_export_airflow_writes_the_dag_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jupyter_dataops.cli import app

    _project(tmp_path, SHOP)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        app, ["export", "airflow", "--out", "dags/shop.py", "--project-dir", "/srv/shop"]
    )
    assert out.exit_code == 0, out.output
    assert "dags/shop.py" in out.output and "shop, shop.report" in out.output
    text = (tmp_path / "dags" / "shop.py").read_text()
    assert 'PROJECT_DIR = "/srv/shop"' in text and f'DATAOPS_PYTHON = "{sys.executable}"' in text
    bad = CliRunner().invoke(app, ["export", "airflow", "--out", "dags/shop.txt"])
    assert bad.exit_code == 2 and "ending in .py" in bad.output


# -- a real Airflow ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def airflow_python() -> str:
    python = os.environ.get("DATAOPS_TEST_AIRFLOW_PYTHON", "")
    if not python or not Path(python).exists():
        message = (
            "no Airflow: set DATAOPS_TEST_AIRFLOW_PYTHON to the python of a virtualenv with "
            "apache-airflow (.ci/run makes one)"
        )
        if os.environ.get("DATAOPS_REQUIRE_AIRFLOW") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python


def _airflow_env(home: Path, dags: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATAOPS_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    return env


DAGBAG = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    t = dag.timetable
    out["dags"][dag_id] = {
        "cron": getattr(t, "_expression", None), "timezone": str(getattr(t, "_timezone", "")),
        "catchup": dag.catchup,
        "tasks": {task.task_id: {
            "retries": task.retries, "retry_delay": task.retry_delay.total_seconds(),
            "timeout": task.execution_timeout.total_seconds() if task.execution_timeout else None,
            "upstream": sorted(task.upstream_task_ids), "operator": type(task).__name__,
        } for task in dag.tasks},
    }
print("DAGBAG" + json.dumps(out))
"""


def test_a_real_airflow_imports_the_dag_with_its_tasks_edges_and_schedule(tmp_path, airflow_python):
    pipeline = load_pipeline(_project(tmp_path, SHOP))
    dags = tmp_path / "dags"
    export_airflow(pipeline, dags / "shop.py")
    proc = subprocess.run(
        [airflow_python, "-c", DAGBAG, str(dags)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_airflow_env(tmp_path / "airflow", dags),
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("DAGBAG")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    bag = json.loads(line[len("DAGBAG") :])
    assert bag["errors"] == {}
    assert set(bag["dags"]) == {"shop", "shop.report"}
    shop = bag["dags"]["shop"]
    assert (shop["cron"], shop["timezone"], shop["catchup"]) == ("0 6 * * *", "Europe/Paris", False)
    assert bag["dags"]["shop.report"]["cron"] == "30 7 * * 1-5"
    assert bag["dags"]["shop.report"]["catchup"] is True
    assert shop["tasks"]["load"] == {
        "retries": 2,
        "retry_delay": 30.0,
        "timeout": 660.0,
        "upstream": [],
        "operator": "ExternalPythonOperator",
    }
    assert shop["tasks"]["report"]["upstream"] == ["clean-up", "load"]
    assert shop["tasks"]["clean-up"]["upstream"] == ["load"]
    assert set(bag["dags"]["shop.report"]["tasks"]) == {"load", "clean-up", "report"}


@pytest.mark.slow
def test_airflow_runs_the_steps_and_a_failed_data_test_fails_the_task(
    tmp_path, airflow_python, monkeypatch
):
    from jupyter_dataops.pipeline.execution.promote import promote
    from jupyter_dataops.store import open_store

    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    yaml = _project(
        tmp_path,
        """\
        pipeline: daily
        steps:
          load: {notebook: load.ipynb}
          report: {notebook: step.ipynb, depends_on: [load]}
    """,
    )
    monkeypatch.chdir(tmp_path)
    promote(tmp_path / "load.ipynb", "load", pipeline_file=yaml)
    promote(tmp_path / "step.ipynb", "report", depends_on=["load"], pipeline_file=yaml)
    dags = tmp_path / "dags"
    export_airflow(load_pipeline(yaml), dags / "daily.py", python=sys.executable)
    env = _airflow_env(tmp_path / "airflow", dags)
    airflow = str(Path(airflow_python).with_name("airflow"))
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )

    def dags_test() -> subprocess.CompletedProcess:
        return subprocess.run(
            [airflow, "dags", "test", "daily"], env=env, capture_output=True, text=True, timeout=600
        )

    ok = dags_test()
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    (tmp_path / "data.csv").write_text("v\n1\n")  # today's data is short: the data test fails
    bad = dags_test()
    assert bad.returncode != 0
    with open_store(tmp_path) as store:
        runs = [p for p in store.list_pipeline_runs(pipeline="daily") if p["mode"] == "production"]
        steps = [
            (r["step"], r["status"]) for p in runs for r in store.get_pipeline_run(p["id"])["steps"]
        ]
        assert sorted(steps) == [("load", "failed"), ("load", "success"), ("report", "success")]
        assert {p["trigger"] for p in runs} == {"airflow"}
        failed = store.list_runs(step="load", status="failed")[0]
        assert "data tests failed" in store.get_run(failed["id"])["error"]


def test_a_scheduled_steps_downstream_steps_are_in_its_dag(tmp_path):
    pipeline = load_pipeline(
        _project(
            tmp_path,
            """\
            pipeline: chain
            steps:
              load: {notebook: load.ipynb, schedule: "0 6 * * *"}
              clean: {notebook: step.ipynb, depends_on: [load]}
              lookup: {notebook: step.ipynb}
              report: {notebook: step.ipynb, depends_on: [clean, lookup]}
              other: {notebook: step.ipynb}
            """,
        )
    )
    tree = ast.parse(render_dag(pipeline, now=NOW))
    assert [_kw(c)["dag_id"] for c in _calls(tree, "DAG")] == ["'chain.load'"]
    # load's chain as the dataops scheduler runs it: downstream steps and what they need
    tasks = [ast.literal_eval(c.args[0]) for c in _calls(tree, "dataops_task")]
    assert tasks == ["load", "clean", "lookup", "report"]
