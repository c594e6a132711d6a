"""One plug-in shape: check types, check engines, executors, alert channels and lineage emitters
are each a ``plugins.Registry`` (``register(name, cls)`` + an entry-point group); an unknown name
is always ``UnknownPluginError`` listing the known names, and what ``register`` adds works end to
end (a custom engine runs checks, a custom channel and a custom lineage emitter watch a real
run)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import polars as pl
import pytest
from builders import write_notebook

from jupyter_dataops.checks import CATALOGUE, run_checks
from jupyter_dataops.checks.engines import PolarsEngine, choose, engines
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.spec import load_pipeline
from jupyter_dataops.pipeline.execution.executors import executors
from jupyter_dataops.pipeline.execution.runner import run_pipeline
from jupyter_dataops.pipeline.observers.alerts import Channel, channels
from jupyter_dataops.pipeline.observers.base import RunObserver
from jupyter_dataops.pipeline.observers.lineage import emitters
from jupyter_dataops.plugins import PluginLoadError, Registry, UnknownPluginError

REGISTRIES = [
    pytest.param(CATALOGUE, "check type", "row_count", id="check types"),
    pytest.param(engines, "check engine", "sql", id="engines"),
    pytest.param(executors, "executor", "local", id="executors"),
    pytest.param(channels, "alert channel", "webhook", id="alert channels"),
    pytest.param(emitters, "lineage emitter", "openlineage", id="lineage emitters"),
]


@pytest.mark.parametrize(("registry", "kind", "known"), REGISTRIES)
def test_an_unknown_name_is_the_same_error_everywhere_and_lists_the_known_names(
    registry, kind, known
):
    with pytest.raises(UnknownPluginError) as info:
        registry["no_such_plugin"]
    err = info.value
    assert isinstance(err, DataOpsError) and isinstance(err, KeyError)
    assert str(err).startswith(f"unknown {kind} 'no_such_plugin'. Available: ")
    assert known in err.known and known in str(err)
    assert err.known == registry.names() == sorted(registry.names())
    with pytest.raises(UnknownPluginError):
        registry.get("no_such_plugin")
    assert registry.get("no_such_plugin", None) is None
    assert "no_such_plugin" not in registry and known in registry


def test_an_unknown_executor_is_refused_by_the_runner_with_the_same_error(tmp_path):
    write_notebook(tmp_path / "a.ipynb", "x = 1")
    (tmp_path / "dataops.yaml").write_text("pipeline: p\nsteps:\n  a: {notebook: a.ipynb}\n")
    with pytest.raises(UnknownPluginError, match=r"unknown executor 'spark'\. Available: .*local"):
        run_pipeline(load_pipeline(tmp_path / "dataops.yaml"), executor="spark", unpromoted=True)
    assert not (tmp_path / ".dataops" / "dataops.db").exists()  # refused before anything


@pytest.fixture
def broken_executor_dist(tmp_path, monkeypatch):
    """An installed distribution with one good and one broken executor entry point."""
    (tmp_path / "dataops_exec_mod.py").write_text(
        "from jupyter_dataops.pipeline.execution.executors import LocalExecutor\n"
        "class Mine(LocalExecutor):\n    name = 'mine'\n"
    )
    info = tmp_path / "dataops_exec-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataops-exec\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[jupyter_dataops.executor]\n"
        "mine = dataops_exec_mod:Mine\n"
        "gone = dataops_exec_missing_mod:Gone\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(executors, "_loaded", False)  # as in a fresh process
    yield
    for name in ("mine", "gone"):
        executors.unregister(name)
        executors._broken.pop(name, None)
    sys.modules.pop("dataops_exec_mod", None)


def test_a_broken_entry_point_is_a_clear_error_naming_it_and_others_still_load(
    broken_executor_dist,
):
    assert executors["mine"].__name__ == "Mine"
    assert executors["local"].name == "local"
    with pytest.raises(PluginLoadError) as info:
        executors["gone"]
    text = str(info.value)
    assert "executor 'gone' from dataops-exec" in text and "dataops_exec_missing_mod" in text
    assert "Fix or uninstall that package" in text


def test_a_path_registered_entry_is_imported_only_when_used():
    registry = Registry("widget", "jupyter_dataops.test_widget")
    registry.register("decimal", "decimal:Decimal")
    assert "decimal" in registry and registry.loaded() == {}
    assert registry["decimal"].__name__ == "Decimal"
    registry.register("bad", "no_such_module_here:X")
    with pytest.raises(PluginLoadError, match="widget 'bad' .*no_such_module_here"):
        registry["bad"]


def test_checking_a_polars_frame_imports_no_database_engine():
    code = textwrap.dedent("""\
        import sys
        import polars as pl
        from jupyter_dataops.checks import run_checks
        assert run_checks(pl.DataFrame({"a": [1]}), "row_count = 1").passed
        print("sqlalchemy" in sys.modules, "jupyter_dataops.checks.engines.sql" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# -- what register adds works end to end -------------------------------------------------------


class RecordsEngine(PolarsEngine):
    """Checks on a list of dicts (records), in memory."""

    name = "records"
    priority = 50

    @classmethod
    def accepts(cls, data, table):
        return table is None and isinstance(data, list) and all(isinstance(r, dict) for r in data)

    @classmethod
    def for_input(cls, data, table, ctx):
        frame = pl.DataFrame(data)
        return cls(frame, dict(frame.schema), ctx)


def test_a_registered_engine_is_chosen_for_the_inputs_it_accepts():
    records = [{"amount": 1.0}, {"amount": None}]
    with pytest.raises(DataOpsError, match="cannot check data of type builtins.list"):
        run_checks(records, "row_count = 2")
    engines.register("records", RecordsEngine)
    try:
        assert choose(records) is RecordsEngine
        assert choose(pl.DataFrame(records)) is PolarsEngine
        res = run_checks(records, "row_count = 2\nrow_count > 5")
        assert [r.status for r in res.results] == ["pass", "fail"]
        assert res.results[1].observed == 2
    finally:
        engines.unregister("records")


def test_a_table_is_refused_for_data_no_database_engine_takes():
    with pytest.raises(DataOpsError, match="table='orders' is for a database"):
        run_checks(pl.DataFrame({"a": [1]}), "row_count = 1", table="orders")


class Memo(Channel):
    """An alert channel that keeps what it is sent."""

    name = "memo"
    options = ()
    sent: list = []

    @classmethod
    def check(cls, target, options):
        if not isinstance(target, str):
            raise ValueError("memo: a name")
        return target

    def send(self, event):
        type(self).sent.append((self.spec.target, event.to_dict()))


class Recorder(RunObserver):
    """A lineage emitter that keeps the lifecycle it saw."""

    seen: list = []

    def run_started(self, run_id, plans):
        type(self).seen.append(("run_started", run_id))

    def step_finished(self, outcome):
        type(self).seen.append(("step_finished", outcome.step, outcome.status))

    def run_finished(self, result):
        type(self).seen.append(("run_finished", result.status))

    def close(self, timeout):
        type(self).seen.append(("close", timeout > 0))


@pytest.fixture
def plugged(monkeypatch):
    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    Memo.sent.clear()
    Recorder.seen.clear()
    channels.register("memo", Memo)
    emitters.register("recorder", Recorder)
    yield
    channels.unregister("memo")
    emitters.unregister("recorder")


@pytest.mark.slow
def test_a_registered_channel_and_emitter_watch_a_real_run(tmp_path, plugged):
    write_notebook(tmp_path / "job.ipynb", "x = 1", "raise ValueError('boom')")
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: p\nalerts:\n  - memo: inbox\n    on: [failure]\n"
        "steps:\n  job: {notebook: job.ipynb}\n"
    )
    result = run_pipeline(load_pipeline(tmp_path / "dataops.yaml"), unpromoted=True)
    assert result.status == "failed"
    [(target, event)] = Memo.sent  # delivered before run_pipeline returned
    assert target == "inbox" and event["event"] == "failure" and event["step"] == "job"
    assert event["step_run_id"] == result.steps["job"].step_run_ids[-1]
    assert "boom" in event["error"]
    assert Recorder.seen == [
        ("run_started", result.run_id),
        ("step_finished", "job", "failed"),
        ("run_finished", "failed"),
        ("close", True),
    ]
