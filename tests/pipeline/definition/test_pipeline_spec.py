"""Loading and writing `dataops.yaml`: every error names the file, line, step and key."""

from __future__ import annotations

import textwrap

import pytest

from jupyter_dataops.pipeline.definition import dag
from jupyter_dataops.pipeline.definition.dag import CycleError, MissingDependencyError
from jupyter_dataops.pipeline.definition.model import PipelineFileError, StepSpec
from jupyter_dataops.pipeline.definition.spec import (
    configured_store,
    find_pipeline_file,
    load_pipeline,
)
from jupyter_dataops.pipeline.definition.spec_writer import write_step
from jupyter_dataops.pipeline.definition.values import parse_duration


def write(tmp_path, text):
    path = tmp_path / "dataops.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_a_full_step_loads_with_typed_values(tmp_path):
    path = write(
        tmp_path,
        """
        pipeline: sales
        store: sqlite:///other.db
        steps:
          load:
            notebook: nb/load.ipynb
            parameters: {rows: 10, rate: 0.5, name: north, on: true, days: [1, 2]}
            schedule: "0 6 * * 1-5"
            retries: 2
            retry_delay: 1m30s
            timeout: 1h
            kernel: python3
            inputs: raw.csv
            outputs: [clean.parquet]
          report:
            notebook: report.ipynb
            depends_on: [load]
        """,
    )
    p = load_pipeline(path)
    step = p.steps["load"]
    assert p.name == "sales" and p.store == "sqlite:///other.db"
    assert step.parameters == {"rows": 10, "rate": 0.5, "name": "north", "on": True, "days": [1, 2]}
    assert type(step.parameters["rows"]) is int and type(step.parameters["rate"]) is float
    assert (step.retries, step.retry_delay, step.timeout) == (2, 90.0, 3600.0)
    assert step.inputs == ("raw.csv",) and step.outputs == ("clean.parquet",)
    assert p.notebook_path("load") == (tmp_path / "nb" / "load.ipynb").resolve()
    assert p.steps["report"].depends_on == ("load",)
    assert dag.order(dag.graph(p)) == ["load", "report"]


@pytest.mark.parametrize(
    ("step_yaml", "key", "message"),
    [
        ("notebook: a.ipynb\nretries: many", "retries", "whole number"),
        ("notebook: a.ipynb\nretries: -1", "retries", "whole number"),
        ("notebook: a.ipynb\ntimeout: soon", "timeout", "duration like"),
        ("notebook: a.ipynb\ntimeout: 0", "timeout", "remove the key"),
        ("notebook: a.ipynb\nschedule: '61 * * * *'", "schedule", "not a valid cron"),
        ("notebook: a.ipynb\nschedule: daily", "schedule", "not a valid cron"),
        ("notebook: a.ipynb\nparameters: [1, 2]", "parameters", "mapping of parameter name"),
        ("notebook: a.ipynb\nparameters: {1x: 2}", "parameters", "not a Python identifier"),
        ("notebook: a.ipynb\ndepends_on: {a: 1}", "depends_on", "list of names"),
        ("notebook: a.ipynb\nretrys: 1", "retrys", "Did you mean 'retries'?"),
        ("retries: 1", "notebook", "missing `notebook:`"),
    ],
)
def test_bad_values_name_file_line_step_and_key(tmp_path, step_yaml, key, message):
    body = textwrap.indent(step_yaml, "    ")
    path = write(tmp_path, f"steps:\n  load:\n{body}\n")
    with pytest.raises(PipelineFileError) as info:
        load_pipeline(path)
    err = info.value
    assert (err.step, err.key) == ("load", key)
    assert err.line is not None and err.line >= 2
    assert str(path) in str(err) and "step 'load'" in str(err) and f"key '{key}'" in str(err)
    assert message in str(err)


def test_file_level_errors_are_named(tmp_path):
    with pytest.raises(PipelineFileError, match="file not found"):
        load_pipeline(tmp_path / "dataops.yaml")
    with pytest.raises(PipelineFileError, match=r"line 2: not valid YAML"):
        load_pipeline(write(tmp_path, "steps:\n  a: b: c\n"))
    with pytest.raises(PipelineFileError, match="unknown top-level key.*'steps'"):
        load_pipeline(write(tmp_path, "stepz: {}\n"))
    with pytest.raises(PipelineFileError, match="step name 'a.b'.*no dots"):
        load_pipeline(write(tmp_path, "steps:\n  a.b: {notebook: x.ipynb}\n"))


def test_missing_dependencies_and_cycles_name_the_steps(tmp_path):
    path = write(
        tmp_path,
        "steps:\n  a: {notebook: a.ipynb, depends_on: [lod]}\n  load: {notebook: l.ipynb}\n",
    )
    with pytest.raises(
        MissingDependencyError,
        match=r"step 'a', key 'depends_on': no step named 'lod'. Did you mean 'load'\?",
    ):
        load_pipeline(path)
    path = write(
        tmp_path,
        "steps:\n  a: {notebook: a.ipynb, depends_on: [b]}\n  b: {notebook: b.ipynb, depends_on: [a]}\n"
        "  c: {notebook: c.ipynb}\n",
    )
    with pytest.raises(CycleError) as info:
        load_pipeline(path)
    assert info.value.cycle[0] == info.value.cycle[-1]
    assert set(info.value.cycle) == {"a", "b"}
    path = write(tmp_path, "steps:\n  a: {notebook: a.ipynb, depends_on: [a]}\n")
    with pytest.raises(CycleError, match="a -> a"):
        load_pipeline(path)


def test_downstream_follows_indirect_dependencies(tmp_path):
    path = write(
        tmp_path,
        """
        steps:
          a: {notebook: a.ipynb}
          b: {notebook: b.ipynb, depends_on: [a]}
          c: {notebook: c.ipynb, depends_on: [b]}
          d: {notebook: d.ipynb}
        """,
    )
    deps = dag.graph(load_pipeline(path))
    assert dag.downstream(deps, "a") == ["b", "c"]
    assert dag.downstream(deps, "d") == []


def test_write_step_keeps_comments_order_and_other_steps(tmp_path):
    path = write(
        tmp_path,
        """
        # owned by the data team
        pipeline: sales  # the name in the run store
        steps:
          first:
            notebook: first.ipynb   # keep me
            retries: 1
        """,
    )
    write_step(
        path,
        StepSpec(
            name="second",
            notebook="second.ipynb",
            parameters={"n": 3},
            depends_on=("first",),
            schedule="0 6 * * *",
            timeout=90.0,
        ),
    )
    text = path.read_text()
    assert "# owned by the data team" in text and "# keep me" in text and "# the name" in text
    assert text.index("first:") < text.index("second:")
    p = load_pipeline(path)
    assert p.steps["first"].retries == 1
    assert p.steps["second"].parameters == {"n": 3} and p.steps["second"].timeout == 90.0

    # Replacing a step updates it in place; keys it no longer has are removed.
    write_step(path, StepSpec(name="first", notebook="first_v2.ipynb"))
    p = load_pipeline(path)
    assert p.steps["first"].notebook == "first_v2.ipynb" and p.steps["first"].retries == 0
    assert list(p.steps) == ["first", "second"]


def test_write_step_refuses_to_leave_a_broken_file(tmp_path):
    path = write(tmp_path, "steps:\n  a: {notebook: a.ipynb}\n")
    before = path.read_text()
    with pytest.raises(MissingDependencyError):
        write_step(path, StepSpec(name="b", notebook="b.ipynb", depends_on=("nope",)))
    assert path.read_text() == before


def test_write_step_creates_the_file(tmp_path):
    path = write_step(tmp_path, StepSpec(name="a", notebook="a.ipynb"))
    assert path == tmp_path / "dataops.yaml"
    assert load_pipeline(path).steps["a"].notebook == "a.ipynb"


def test_durations_and_finding_the_file(tmp_path):
    assert parse_duration(5) == 5.0
    assert parse_duration("2.5") == 2.5
    assert parse_duration("1h2m3s") == 3723.0
    for bad in ("-1", "ten", True, "", "5 parsecs"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    write(tmp_path, "steps: {}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_pipeline_file(deep) == tmp_path / "dataops.yaml"
    assert find_pipeline_file(tmp_path.parent) in (None, tmp_path.parent / "dataops.yaml")


ONE_STEP = "steps: {a: {notebook: a.ipynb}}\n"


@pytest.mark.parametrize(
    "text",
    [
        ONE_STEP,
        "store: sqlite:///runs/store.db\n" + ONE_STEP,
        "store: 'postgresql+psycopg://u:p@db/x?options=-csearch_path%3Dt'  # team store\n"
        + ONE_STEP,
    ],
)
def test_the_store_setting_read_fast_matches_the_full_loader(tmp_path, text):
    path = tmp_path / "dataops.yaml"
    path.write_text(text)
    assert configured_store(path) == load_pipeline(path).store


@pytest.mark.parametrize(
    ("text", "said", "line"),
    [
        ("", "the file has no `steps:`", None),
        ("# a comment only\n", "the file has no `steps:`", None),
        ("pipeline: sales\n", "the file has no `steps:`", None),
        ("pipeline: sales\nsteps:\n", "`steps:` is empty", 2),
        ("pipeline: sales\nsteps: {}\n", "`steps:` is empty", 2),
    ],
)
def test_a_file_without_steps_is_refused_saying_how_to_add_one(tmp_path, text, said, line):
    """An empty dataops.yaml used to load as a pipeline of zero steps whose run "succeeded"."""
    path = tmp_path / "dataops.yaml"
    path.write_text(text)
    with pytest.raises(PipelineFileError) as info:
        load_pipeline(path)
    assert said in str(info.value) and str(path) in str(info.value)
    assert "dataops promote NOTEBOOK --step NAME" in str(info.value)
    assert info.value.line == line
    # promotion starts from such a file: it adds the first step
    assert load_pipeline(path, allow_no_steps=True).steps == {}
    write_step(path, StepSpec(name="a", notebook="a.ipynb"))
    assert list(load_pipeline(path).steps) == ["a"]


def test_the_store_setting_is_readable_when_a_step_is_broken_but_bad_yaml_is_still_explained(
    tmp_path,
):
    # History stays viewable while a step is being edited; the file itself must still parse.
    path = write(tmp_path, "store: sqlite:///h.db\nsteps:\n  a: {notebok: x.ipynb}\n")
    with pytest.raises(PipelineFileError, match="unknown key"):
        load_pipeline(path)
    assert configured_store(path) == "sqlite:///h.db"
    path.write_text("store: [unclosed\nsteps: {}\n")
    with pytest.raises(PipelineFileError, match="not valid YAML") as info:
        configured_store(path)
    assert info.value.line is not None
    path.write_text("store: 42\nsteps: {}\n")
    with pytest.raises(PipelineFileError, match="`store:` must be a SQLAlchemy URL"):
        configured_store(path)
