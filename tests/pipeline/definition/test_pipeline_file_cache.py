"""``dataops.yaml`` is parsed once per process while it is unchanged, and again after any edit.

``load_pipeline`` keeps each file's pipeline under its stamp (inode, size, mtime, ctime); a file
changed in the last ``RACY_NS`` (2 s) is read afresh, since an edit within the file system's
timestamp granularity could keep the stamp (git's "racy" files). Tests that need a file to count
as settled at once set ``RACY_NS`` to 0. Real files; the CLI through typer's CliRunner.
"""

from __future__ import annotations

import os

import pytest
from builders import cli_env, invoke, record_partition

from jupyter_dataops.pipeline.definition import spec, yaml_file
from jupyter_dataops.pipeline.definition.project import Project
from jupyter_dataops.pipeline.definition.spec import PipelineFileError, load_pipeline

YAML = "pipeline: sales\nsteps:\n  load:\n    notebook: load.ipynb\n    retries: 1\n"


@pytest.fixture
def settled_at_once(monkeypatch):
    monkeypatch.setattr(yaml_file, "RACY_NS", 0)


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The files ``load_pipeline`` parsed (the real parser, counted)."""
    seen: list[str] = []
    real = spec.read_yaml

    def counted(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(spec, "read_yaml", counted)
    return seen


def test_an_unchanged_file_is_parsed_once_for_every_asker(tmp_path, settled_at_once, parses):
    path = tmp_path / "dataops.yaml"
    path.write_text(YAML)
    first = load_pipeline(path)
    assert load_pipeline(tmp_path) is first  # the folder or the file: one pipeline
    assert Project(tmp_path).pipeline is first and Project.find(tmp_path).pipeline is first
    assert spec.configured_store(path) is None
    assert len(parses) == 1


def test_an_edit_is_seen_by_the_next_load(tmp_path, settled_at_once, parses):
    path = tmp_path / "dataops.yaml"
    path.write_text(YAML)
    assert load_pipeline(path).steps["load"].retries == 1
    path.write_text(YAML.replace("retries: 1", "retries: 12"))  # another size
    assert load_pipeline(path).steps["load"].retries == 12
    replaced = tmp_path / "new.yaml"
    replaced.write_text(YAML.replace("retries: 1", "retries: 34"))
    os.replace(replaced, path)  # same size, another file (as editors save)
    assert load_pipeline(path).steps["load"].retries == 34
    assert len(parses) == 3


def test_a_fresh_edit_of_the_same_size_and_mtime_is_not_taken_for_the_old_file(tmp_path, parses):
    """Within ``RACY_NS`` of a change the stamp is not trusted: an edit that keeps size and
    mtime (and, within one clock tick, ctime) is still read."""
    path = tmp_path / "dataops.yaml"
    path.write_text(YAML)
    before = path.stat()
    assert load_pipeline(path).steps["load"].retries == 1
    path.write_text(YAML.replace("retries: 1", "retries: 2"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert load_pipeline(path).steps["load"].retries == 2
    assert len(parses) == 2


def test_a_broken_file_is_refused_each_time_and_its_mend_is_read(tmp_path, settled_at_once):
    path = tmp_path / "dataops.yaml"
    path.write_text("pipeline: sales\nstepz: {}\n")
    for _ in range(2):
        with pytest.raises(PipelineFileError, match=r"line 2.*unknown top-level key"):
            load_pipeline(path)
    path.write_text(YAML)
    assert list(load_pipeline(path).steps) == ["load"]
    path.write_text("pipeline: sales\nsteps: [\n")
    with pytest.raises(PipelineFileError, match="not valid YAML"):
        load_pipeline(path)


def test_a_file_without_steps_is_refused_though_promotion_loaded_it(tmp_path, settled_at_once):
    path = tmp_path / "dataops.yaml"
    path.write_text("pipeline: sales\nsteps: {}\n")
    assert load_pipeline(path, allow_no_steps=True).steps == {}
    with pytest.raises(PipelineFileError, match="nothing to run"):
        load_pipeline(path)


def test_a_read_only_command_parses_the_pipeline_file_once(
    tmp_path, monkeypatch, settled_at_once, parses
):
    """``dataops runs`` in a partitioned project: lateness, the renamed-pipeline guard and the
    store's URL each ask for the pipeline (they parsed it three times)."""
    cli_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: sales\npartitions:\n  every: day\n  start: 2026-09-01\n" + YAML.split("\n", 1)[1]
    )
    store = Project(tmp_path).open_store()
    record_partition(store, "sales", "2026-09-01", {"load": ("success", ["pass"])})
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    assert "load" in result.output and "2026-09-01" in result.output
    assert parses == [str((tmp_path / "dataops.yaml").resolve())]


def test_the_scheduler_reloads_an_edited_file_while_the_pipeline_is_kept(tmp_path, settled_at_once):
    from jupyter_dataops.pipeline.scheduling.scheduler import Scheduler

    path = tmp_path / "dataops.yaml"
    path.write_text(YAML + 'schedule: "0 6 * * *"\n')
    store = Project(tmp_path).open_store()
    scheduler = Scheduler(path, store=store)
    assert scheduler.reload() is False and scheduler.pipeline is load_pipeline(path)
    path.write_text(YAML + 'schedule: "0 7 * * *"\n')  # same size: the stamp's times differ
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # and surely its mtime
    assert scheduler.reload() is True
    assert scheduler.pipeline.schedule == "0 7 * * *"
