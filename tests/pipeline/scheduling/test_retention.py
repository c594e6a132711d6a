"""Retention: old executed notebooks and logs are deleted and their runs marked pruned; check
results and metrics stay for SPC; a running run is never touched; ``--dry-run`` deletes
nothing. Runs are recorded through the store API with real files on disk (SQLite and
PostgreSQL); ``dataops gc`` runs as a real command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_dataops.pipeline.definition.retention_policy import parse_retention
from jupyter_dataops.pipeline.definition.spec import PipelineFileError, load_pipeline
from jupyter_dataops.pipeline.scheduling.retention import apply_retention
from jupyter_dataops.store import open_store
from jupyter_dataops.store.testing import store_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def record_run(store, root: Path, step: str, *, finish: bool = True) -> int:
    """One production run of ``step`` with an executed notebook, a log, a check and a metric."""
    prid = store.create_pipeline_run("sales")
    run_dir = root / ".dataops" / "runs" / str(prid)
    run_dir.mkdir(parents=True)
    nb = run_dir / f"{step}.ipynb"
    nb.write_text("{}")
    (run_dir / f"{step}.log").write_text("kernel log\n")
    srid = store.create_step_run(prid, step, notebook_path=str(nb))
    store.start_step_run(srid)
    store.record_suite(
        srid,
        {
            "name": "s",
            "results": [{"line": 1, "source": "row_count > 0", "status": "pass", "observed": 5}],
            "metrics": {"row_count": 5.0},
        },
    )
    if finish:
        store.finish_step_run(srid, "success")
        store.finish_pipeline_run(prid)
    return srid


@pytest.fixture(params=BACKENDS)
def setup(request, tmp_path):
    with store_url(request.param, tmp_path) as url:
        root = tmp_path / "proj"
        root.mkdir()
        (root / "dataops.yaml").write_text(
            textwrap.dedent(f"""\
            pipeline: sales
            store: '{url}'
            retention: {{keep_runs: 2}}
            steps:
              load: {{notebook: load.ipynb}}
              report: {{notebook: report.ipynb, retention: {{keep_runs: 4}}}}
            """)
        )
        yield root, url


def test_old_runs_lose_their_files_keep_their_checks_and_running_runs_are_untouched(setup):
    root, url = setup
    pipeline = load_pipeline(root)
    with open_store(url) as store:
        loads = [record_run(store, root, "load") for _ in range(4)]
        reports = [record_run(store, root, "report") for _ in range(4)]
        running = record_run(store, root, "load", finish=False)

        dry = apply_retention(pipeline, store, dry_run=True)
        assert [r["id"] for r in dry.runs] == [loads[1], loads[0]]
        assert dry.files == 4 and all(Path(f).exists() for r in dry.runs for f in r["files"])
        assert store.pruned_runs(loads) == {}

        done = apply_retention(pipeline, store)
        assert [r["id"] for r in done.runs] == [loads[1], loads[0]]
        assert sorted(store.pruned_runs(loads + reports + [running])) == loads[:2]
        for srid in loads[:2]:
            run = store.get_run(srid)
            assert not Path(run["notebook_path"]).exists()
            assert not Path(run["notebook_path"]).parent.exists()  # the empty run folder too
            assert run["status"] == "success" and run["check_results"]  # the record stays
        for srid in loads[2:] + reports + [running]:
            assert Path(store.get_run(srid)["notebook_path"]).exists()
        # SPC history still has every point, pruned runs included.
        assert store.metric_history("load", "row_count") == [5.0] * 4
        assert apply_retention(pipeline, store).runs == []  # nothing left to prune


def test_dataops_gc_dry_run_and_gc(setup):
    root, url = setup
    with open_store(url) as store:
        loads = [record_run(store, root, "load") for _ in range(3)]

    def gc(*args):
        return subprocess.run(
            [sys.executable, "-m", "jupyter_dataops.cli", "gc", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = gc("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would prune run {loads[0]} (load): 2 file(s)" in dry.stdout
    with open_store(url) as store:
        assert Path(store.get_run(loads[0])["notebook_path"]).exists()
    real = gc()
    assert real.returncode == 0, real.stderr
    assert (
        f"pruned run {loads[0]} (load)" in real.stdout
        and "pruned 1 run(s), 2 file(s)" in real.stdout
    )
    with open_store(url) as store:
        assert not Path(store.get_run(loads[0])["notebook_path"]).exists()
        assert list(store.pruned_runs(loads)) == [loads[0]]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{keep_runs: 0}", "keep_runs must be a whole number of 1 or more"),
        ("{keep_days: -1}", "keep_days must be a number of days above 0"),
        ("{keep: 3}", "unknown key 'keep'"),
        ("{}", "give keep_runs, keep_days or both"),
        ("30", "expected a mapping"),
    ],
)
def test_bad_retention_names_the_line(tmp_path, value, words):
    (tmp_path / "dataops.yaml").write_text(
        f"pipeline: p\nsteps:\n  a:\n    notebook: a.ipynb\n    retention: {value}\n"
    )
    with pytest.raises(PipelineFileError) as info:
        load_pipeline(tmp_path)
    assert info.value.line == 5 and info.value.key == "retention" and words in str(info.value)


def test_parse_retention():
    r = parse_retention({"keep_runs": 3, "keep_days": 7})
    assert (r.keep_runs, r.keep_days) == (3, 7.0)
