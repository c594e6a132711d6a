"""`dataops demo`: the sample factory copied, promoted and backfilled on real kernels.

The full run (60 days) proves the summary names every injected fault on its day and no other
day, and the incidents they open, each resolved; a short run (`--days`) proves a re-run keeps
the history and only runs new days.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from jupyter_dataops import demo
from jupyter_dataops.store import open_store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_notebooks"
_SCRIPT = Path(sys.executable).with_name("dataops")
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "jupyter_dataops.cli"]
STEPS = [s for s, _ in demo.STEPS]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOPS_")}
    env["COLUMNS"] = "200"
    env["DATAOPS_WARM_IDLE"] = "5"  # `dataops run`'s shared kernel template: not 10 min idle
    return env


def dataops(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _store(folder: Path):
    return open_store(f"sqlite:///{folder / '.dataops' / 'dataops.db'}")


def test_demo_refuses_a_folder_that_holds_something_else(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    out = dataops("demo", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    assert "exists and is not empty" in out.stderr and "dataops demo" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


def test_a_day_stopped_half_way_goes_on_from_its_first_step_that_did_not_succeed(tmp_path):
    with _store(tmp_path) as store:
        for day, statuses in (
            ("2026-09-01", ["success", "success", "success", "success"]),
            ("2026-09-02", ["success", "failed", "skipped", "skipped"]),  # finished: failed
            ("2026-09-03", ["success", "interrupted", "interrupted", "interrupted"]),
        ):
            params = {s: {"run_date": day} for s in STEPS}
            run = store.create_pipeline_run("shop", parameters=params, partition=day)
            for step, status in zip(STEPS, statuses, strict=True):
                srid = store.create_step_run(run, step)
                if status == "skipped":
                    store.finish_step_run(srid, status, skip_reason="upstream step failed")
                    continue
                store.start_step_run(srid)
                store.finish_step_run(srid, status, error=None if status == "success" else "x")
            # as the runner records a Ctrl-C (and mark_interrupted a killed runner)
            store.finish_pipeline_run(run, "interrupted" if "interrupted" in statuses else None)
        days = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"]
        plans = demo.plan_days(store, days)
    assert [(p.partition, p.steps) for p in plans] == [
        ("2026-09-03", ["clean", "daily_metrics", "report"]),
        ("2026-09-04", None),
    ]


@pytest.mark.slow
def test_demo_on_a_few_days_records_each_day_and_a_rerun_keeps_the_history(tmp_path):
    folder = tmp_path / "demo"
    first = dataops("demo", str(folder), "--days", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Copied the sample factory" in first.stdout
    assert "2 days backfilled (2026-09-01 .. 2026-09-02)" in first.stdout
    assert "jupyter lab 00_getting_started.ipynb" in first.stdout
    assert f"cd {folder.name}" in first.stdout  # relative to where the command ran

    with _store(folder) as store:
        runs = store.list_runs(limit=None, mode="production")
        versions = {s: store.latest_version("shop", s)["version"] for s in STEPS}
    assert len(runs) == 8 and {r["status"] for r in runs} == {"success"}
    assert versions == dict.fromkeys(STEPS, 1)

    # What the orders pipeline sample proved, on the factory: every executed notebook is kept,
    # the data files are written, parameters and metrics are recorded, the report renders offline.
    quality = next(r for r in runs if r["step"] == "ingest")
    detail = json.loads(dataops("show", str(quality["id"]), "--json", cwd=folder).stdout)
    assert detail["parameters"] == {"run_date": "2026-09-02"}
    assert {"row_count", "duplicate_count(order_id)"} <= {m["metric"] for m in detail["metrics"]}
    run_dir = folder / ".dataops" / "runs" / str(quality["pipeline_run_id"])
    for step in STEPS:
        assert (run_dir / f"{step}.ipynb").is_file()
    for made in (
        "staged/orders_2026-09-02.parquet",
        "clean/orders_2026-09-02.parquet",
        "metrics/daily_2026-09-02.parquet",
    ):
        assert (folder / "data" / made).is_file()
    report = nbformat.read(run_dir / "report.ipynb", as_version=4)
    bundles = [o.get("data", {}) for c in report.cells for o in c.get("outputs", [])]
    assert any("application/vnd.vegalite.v5+json" in b for b in bundles)

    # Edit nothing, ask for one more day: the history stays, day 3 alone runs, no new version.
    again = dataops("demo", str(folder), "--days", "3", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already holds the demo" in again.stdout and "Promoting" not in again.stdout
    assert "Backfilling 1 day(s), 2026-09-03 .. 2026-09-03" in again.stdout
    with _store(folder) as store:
        after = store.list_runs(limit=None, mode="production")
        assert {s: store.latest_version("shop", s)["version"] for s in STEPS} == versions
    assert len(after) == 12 and {r["id"] for r in runs} < {r["id"] for r in after}

    # Nothing left to do: says so, records nothing.
    third = dataops("demo", str(folder), "--days", "3", cwd=tmp_path)
    assert third.returncode == 0 and "already backfilled" in third.stdout
    with _store(folder) as store:
        assert len(store.list_runs(limit=None, mode="production")) == 12

    # A day whose raw file never landed: ingest fails naming the file, the rest is skipped.
    missing = dataops("run", "--partition", "2026-11-15", cwd=folder)
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert "no raw file for 2026-11-15" in missing.stdout + missing.stderr
    assert "orders_2026-11-15" in missing.stdout + missing.stderr
    with _store(folder) as store:
        day = store.list_runs(limit=None, mode="production", partition="2026-11-15")
    assert {r["step"]: r["status"] for r in day} == {
        "ingest": "failed",
        "clean": "skipped",
        "daily_metrics": "skipped",
        "report": "skipped",
    }


SEASONAL = "warn: spc row_count: seasonal weekday, baseline 6"
# (kind, step, check, partitions) of the incidents the faults open, each resolved the next day
EXPECTED_INCIDENTS = {
    ("spc", "ingest", "fail: spc row_count", ("2026-10-06",)),
    ("check", "ingest", "duplicate_count(order_id) = 0", ("2026-10-14",)),
    ("spc", "ingest", "fail: spc row_count", ("2026-10-14",)),
    ("spc", "ingest", SEASONAL, ("2026-10-14",)),  # one incident per line, two on one metric
    ("spc", "ingest", SEASONAL, ("2026-10-16",)),  # the Friday at weekend volume
    ("spc", "daily_metrics", "spc avg(amount)", ("2026-10-20", "2026-10-21", "2026-10-22")),
    ("spc", "daily_metrics", "spc sum(amount)", ("2026-10-22",)),
}
EXPECTED = {  # (day, step, status, check) the full demo must report, and nothing else
    ("2026-10-06", "ingest", "fail", "fail: spc row_count"),
    ("2026-10-14", "ingest", "fail", "duplicate_count(order_id) = 0"),
    ("2026-10-14", "ingest", "fail", "fail: spc row_count"),
    ("2026-10-14", "ingest", "warn", SEASONAL),
    ("2026-10-16", "ingest", "warn", SEASONAL),  # a Friday at weekend volume: seasonal alone
    ("2026-10-20", "daily_metrics", "warn", "spc avg(amount)"),
    ("2026-10-21", "daily_metrics", "warn", "spc avg(amount)"),
    ("2026-10-22", "daily_metrics", "warn", "spc avg(amount)"),
    ("2026-10-22", "daily_metrics", "warn", "spc sum(amount)"),
    ("2026-10-27", "ingest", "warn", "warn: failed_rows(landed_at > due_at) = 0"),
}


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_the_full_demo_names_every_injected_fault_on_its_day_and_flags_no_normal_day(tmp_path):
    folder = tmp_path / "dataops-demo"
    out = dataops("demo", cwd=tmp_path, timeout=2300)  # the README's command, default folder
    assert out.returncode == 0, out.stdout + out.stderr
    assert "60 days backfilled (2026-09-01 .. 2026-10-30)" in out.stdout

    with _store(folder) as store:
        summary = demo.summarize(store)
        # Days overlapped, yet each step's runs (the order SPC reads its history in) are in
        # day order.
        for step in STEPS:
            rows = store.list_runs(step, limit=None, mode="production")
            days = [store.get_run(r["id"])["parameters"]["run_date"] for r in reversed(rows)]
            assert days == sorted(days) and len(days) == 60, step
    found = {(f.day, f.step, f.status, f.check.split("  #")[0].strip()) for f in summary.findings}
    assert found == EXPECTED
    faults = sorted(demo_faults())
    assert summary.days_flagged == faults
    for day in faults:
        assert day in out.stdout
    assert summary.runs == 60 and summary.failed_runs == 2  # the two days ingest stopped
    assert summary.step_runs == {"success": 232, "failed": 2, "skipped": 6}
    assert len(summary.spc_signals) == 8
    # false alarms (a day without a volume fault flagged) of the plain and the seasonal line
    volume = {d for d, (kind, _) in demo_fault_kinds().items() if kind != "basket_shift"}
    volume -= {"2026-10-27"}  # late_file: the orders are whole
    for line, caught in (
        ("fail: spc row_count", {"2026-10-06", "2026-10-14"}),
        (SEASONAL, {"2026-10-14", "2026-10-16"}),
    ):
        flagged = {f.day for f in summary.findings if f.step == "ingest" and f.check == line}
        assert flagged == caught and not flagged - volume, line  # no false alarm
    assert "2026-10-16" not in {
        f.day for f in summary.findings if f.check == "fail: spc row_count"
    }  # the plain line's limits hold weekdays and weekends: it misses the Friday

    # The faults became incidents, one per problem (avg(amount) off on three days is one), each
    # resolved by the next day's passing run, and the summary names them.
    incidents = {(i.kind, i.step, i.check, tuple(i.partitions)) for i in summary.fault_incidents}
    assert incidents >= EXPECTED_INCIDENTS
    for incident in summary.fault_incidents:
        after = (date.fromisoformat(incident.partitions[-1]) + timedelta(days=1)).isoformat()
        assert (incident.status, incident.resolved_on) == ("resolved", after), incident
        assert f"resolved by the {after} run" in out.stdout
        # each is the failing or signalling line of its step on each of its days, none other
        for day in incident.partitions:
            assert any(
                (f.day, f.step) == (day, incident.step)
                and (f.spc or f.status in ("fail", "error"))
                and f.check == incident.check
                for f in summary.findings
            ), (incident, day)
    for f in summary.findings:  # and every failing or signalling line is in one
        if f.spc or f.status in ("fail", "error"):
            assert any(
                (f.step, f.check) == (i.step, i.check) and f.day in i.partitions
                for i in summary.fault_incidents
            ), f
    for *_, check, days in EXPECTED_INCIDENTS:
        assert check in out.stdout and ", ".join(days) in out.stdout
    n = len(summary.fault_incidents)
    assert f"All {n} incidents the faults opened were resolved" in out.stdout
    # the late file's warning line is listed, opens no incident, and the summary says so
    assert "2026-10-27 ingest `warn: failed_rows(landed_at > due_at) = 0` is a warning" in (
        out.stdout
    )
    assert not [i for i in summary.incidents if "2026-10-27" in i.partitions and not i.operations]
    # the factory's own operations (durations on this loaded machine) are counted apart
    assert all("spc ops:" in i.check for i in summary.operations_incidents)
    if summary.operations_incidents:
        assert f"opened {len(summary.operations_incidents)} more incident(s)" in out.stdout

    # The getting-started notebook runs top to bottom on the backfilled history.
    nb_out = tmp_path / "getting_started.ipynb"
    pm.execute_notebook(
        str(folder / "00_getting_started.ipynb"),
        str(nb_out),
        cwd=str(folder),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(nb_out, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


def demo_faults() -> set[str]:
    return set(demo_fault_kinds())


def demo_fault_kinds() -> dict[str, tuple[str, str]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", SAMPLES / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FAULTS)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_fresh_clone_in_a_fresh_venv_runs_binders_postbuild_the_readme_first_command(tmp_path):
    """binder/postBuild is `pip install . && dataops demo` (the README's first command) plus the
    Jupyter settings; here in a clone and a fresh venv, on the first day only (DEMO_DAYS=1)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    built = root / "jupyter_dataops" / "labextension"
    if (built / "static" / "style.js").is_file():
        # the JupyterLab extension as .ci/build-labextension.sh built it: `pip install .` then
        # skips the node build (pyproject's skip-if-exists); CI's wheel check covers that build
        shutil.copytree(built, clone / "jupyter_dataops" / "labextension")
    venv = tmp_path / "venv"
    # The venv sees the already installed dependencies (no network needed for them); the package
    # itself is built from the clone and installed into the venv, samples included.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = _env()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path / "home"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        DEMO_DAYS="1",
    )
    build = subprocess.run(
        ["bash", "binder/postBuild"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "1 days backfilled (2026-09-01 .. 2026-09-01)" in build.stdout
    located = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import jupyter_dataops.demo as d; print(d.samples_dir())",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert located.startswith(str(venv)) and located.endswith("jupyter_dataops/samples")
    with _store(clone / "dataops-demo") as store:
        assert {r["status"] for r in store.list_runs(limit=None, mode="production")} == {"success"}
    config = json.loads((tmp_path / "jupyter-config" / "jupyter_server_config.json").read_text())
    assert config["DataOpsExtension"]["project_dir"] == "dataops-demo"
    assert config["ServerApp"]["default_url"].endswith("dataops-demo/00_getting_started.ipynb")
