"""``Project``: finding dataops.yaml, the store URL, never creating a store by looking, one cache.

Real files and a real SQLite store; the read-only CLI commands through typer's CliRunner.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from builders import cli_env, invoke

from jupyter_dataops.pipeline.definition.project import NoProjectError, NoStoreError, Project
from jupyter_dataops.pipeline.definition.spec import PipelineFileError
from jupyter_dataops.pipeline.execution.context import ENV_PIPELINE, RunContext, current
from jupyter_dataops.store import ENV_STORE_URL

YAML = "pipeline: sales\nsteps:\n  load:\n    notebook: load.ipynb\n"


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch):
    cli_env(monkeypatch)


def test_find_walks_up_to_the_nearest_pipeline_file(tmp_path):
    (tmp_path / "dataops.yaml").write_text(YAML)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = Project.find(deep)
    assert project is not None and project.root == tmp_path.resolve()
    assert project.pipeline_file == tmp_path.resolve() / "dataops.yaml"
    assert project.pipeline.name == "sales" and list(project.pipeline.steps) == ["load"]


def test_no_pipeline_file_is_none_or_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    if Project.find(empty) is not None:  # a dataops.yaml above tmp (unlikely): nothing to test
        pytest.skip("a dataops.yaml exists above the temporary folder")
    with pytest.raises(NoProjectError, match=r"no dataops.yaml in .*empty.*dataops promote"):
        Project.require(empty)


def test_a_broken_pipeline_file_names_file_and_line_when_the_pipeline_is_asked_for(tmp_path):
    (tmp_path / "dataops.yaml").write_text("pipeline: sales\nstepz: {}\n")
    project = Project.find(tmp_path)  # finding does not read the file
    with pytest.raises(PipelineFileError, match=r"dataops.yaml, line 2.*unknown top-level key"):
        _ = project.pipeline


def test_store_url_precedence_env_then_file_then_default(tmp_path, monkeypatch):
    (tmp_path / "dataops.yaml").write_text(YAML)
    project = Project(tmp_path)
    assert project.store_url == f"sqlite:///{tmp_path.resolve() / '.dataops' / 'dataops.db'}"
    (tmp_path / "dataops.yaml").write_text("store: sqlite:///shared/runs.db\n" + YAML)
    assert Project(tmp_path).store_url == f"sqlite:///{tmp_path.resolve() / 'shared/runs.db'}"
    monkeypatch.setenv(ENV_STORE_URL, f"sqlite:///{tmp_path / 'env.db'}")
    assert Project(tmp_path).store_url == f"sqlite:///{tmp_path / 'env.db'}"


def test_looking_never_creates_a_store_and_stores_are_cached_per_url(tmp_path):
    (tmp_path / "dataops.yaml").write_text(YAML)
    project = Project(tmp_path)
    assert project.open_store(create=False) is None
    with pytest.raises(NoStoreError, match="no runs yet"):
        project.require_store()
    assert not (tmp_path / ".dataops").exists()

    store = project.open_store()
    assert (tmp_path / ".dataops" / "dataops.db").exists()
    assert Project.find(tmp_path).open_store(create=False) is store  # one cache per process
    store.close()  # releases connections; the cached store stays usable
    assert store.list_runs() == []


def test_read_only_commands_in_an_empty_folder_create_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["runs"], ["show", "1"], ["status"]):
        out = invoke(*args)
        assert out.exit_code == 2, (args, out.output)
        assert "no dataops.yaml" in out.stderr and "dataops promote" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_in_a_project_without_runs_create_no_store(tmp_path, monkeypatch):
    (tmp_path / "dataops.yaml").write_text(YAML)
    monkeypatch.chdir(tmp_path)
    for args in (["runs"], ["show", "1"]):
        out = invoke(*args)
        assert out.exit_code == 2, (args, out.output)
        assert "no runs yet" in out.stderr and "dataops run" in out.stderr
    status = invoke("status")
    assert status.exit_code == 0, status.output
    assert "load" in status.stdout and "never" in status.stdout
    assert not (tmp_path / ".dataops").exists()


def test_the_run_context_carries_the_pipeline_name():
    ctx = RunContext("production", step="load", step_run_id="3", pipeline="sales")
    env = ctx.env()
    assert env[ENV_PIPELINE] == "sales"
    assert current(env) == ctx


def test_dag_and_spec_import_one_way():
    """spec imports dag; dag imports no other pipeline module (the cycle is gone)."""
    code = textwrap.dedent(
        """
        import sys
        import jupyter_dataops.pipeline.definition.dag
        allowed = {'jupyter_dataops.pipeline.definition', 'jupyter_dataops.pipeline.definition.dag'}
        assert not [m for m in sys.modules if m.startswith('jupyter_dataops.pipeline.')
                    and m not in allowed], sorted(sys.modules)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_production_plan_runs_the_promoted_snapshot_from_the_working_folder(tmp_path):
    """No kernel: a version recorded with its snapshot, then plans with and without it."""
    import shutil
    from pathlib import Path

    import nbformat

    from jupyter_dataops.errors import PipelineError
    from jupyter_dataops.pipeline.definition.notebook import content_hash
    from jupyter_dataops.pipeline.definition.versions import save_snapshot
    from jupyter_dataops.pipeline.execution.runner import plan_run

    notebooks = Path(__file__).parents[2] / "notebooks" / "pipeline"
    (tmp_path / "nb").mkdir()
    nb = tmp_path / "nb" / "load.ipynb"
    shutil.copy(notebooks / "spc_metric.ipynb", nb)
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: sales\nsteps:\n  load:\n    notebook: nb/load.ipynb\n"
    )
    project = Project(tmp_path)
    store = project.open_store()
    with pytest.raises(PipelineError, match=r"step 'load': the step has no promoted version"):
        plan_run(project.pipeline, store=store)

    digest = content_hash(nb)
    snapshot, created = save_snapshot(tmp_path, digest, nb.read_bytes())
    assert created and snapshot == tmp_path / ".dataops" / "versions" / f"{digest}.ipynb"
    store.record_step_version(
        "sales", "load", notebook_path="nb/load.ipynb", content_hash=digest, parameters={}
    )
    (plan,) = plan_run(project.pipeline, store=store).values()
    assert plan.notebook == snapshot and plan.cwd == nb.parent.resolve()
    assert plan.version == 1 and not plan.unpromoted and plan.warning is None

    book = nbformat.read(nb, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    nbformat.write(book, nb)
    (plan,) = plan_run(project.pipeline, store=store).values()
    assert plan.notebook == snapshot
    assert plan.warning == (
        "step load: notebook edited since promotion — promote again to put the change in production"
    )
    (working,) = plan_run(project.pipeline, store=store, unpromoted=True).values()
    assert working.notebook == nb.resolve() and working.unpromoted and working.version is None

    snapshot.unlink()
    with pytest.raises(PipelineError, match=r"promoted version v1 is not in .*Promote the step"):
        plan_run(project.pipeline, store=store)
