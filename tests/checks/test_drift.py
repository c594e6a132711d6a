"""drift(col): PSI and KS against a reference frame and against the last production run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import polars as pl
import pytest
from scipy import stats

from jupyter_dataops import DataOpsSyntaxError
from jupyter_dataops.checks import parse_spec, run_checks
from jupyter_dataops.checks.drift import profile_of_frame, psi
from jupyter_dataops.store import open_store


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(1)
    ref = pl.DataFrame(
        {
            "x": rng.normal(0, 1, 5000),
            "s": rng.choice(list("abc"), 5000, p=[0.5, 0.3, 0.2]),
            "k": rng.integers(0, 10, 5000),
        }
    )
    cur = pl.DataFrame(
        {
            "x": rng.normal(0.3, 1.1, 4000),
            "s": rng.choice(list("abcd"), 4000, p=[0.4, 0.3, 0.2, 0.1]),
            "k": rng.integers(0, 12, 4000),
        }
    )
    return ref, cur


def exact_psi_numbers(ref: np.ndarray, cur: np.ndarray) -> float:
    """PSI over the reference's decile bins, from the raw values (independent of profiles)."""
    edges = np.quantile(ref, np.arange(1, 10) / 10)
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / len(cur)
    return float(np.sum((c - r) * np.log(c / r)))


def exact_psi_values(ref: list, cur: list) -> float:
    eps = 1e-4
    r = {v: ref.count(v) / len(ref) for v in set(ref)}
    c = {v: cur.count(v) / len(cur) for v in set(cur)}
    total = sum(
        (max(c.get(v, 0), eps) - p) * np.log(max(c.get(v, 0), eps) / p) for v, p in r.items()
    )
    unseen = sum(p for v, p in c.items() if v not in r)
    if unseen:
        total += (unseen - eps) * np.log(unseen / eps)
    return float(total)


def observed(result, line: int) -> float:
    return result.results[line - 1].observed


def test_psi_and_ks_against_a_reference_frame_match_an_independent_computation(frames):
    ref, cur = frames
    spec = """
drift(x) < 0.5: psi against ref
drift(x) < 0.5: ks against ref
drift(s) < 0.1: psi against ref
drift(k) < 0.5: ks against ref
drift(k) < 2: psi against ref
"""
    result = run_checks(cur, spec.strip(), namespace={"ref": ref})
    x_ref, x_cur = ref["x"].to_numpy(), cur["x"].to_numpy()
    assert observed(result, 1) == pytest.approx(exact_psi_numbers(x_ref, x_cur), abs=0.01)
    ks_x = stats.ks_2samp(x_ref, x_cur).statistic
    assert observed(result, 2) == pytest.approx(ks_x, abs=0.01)
    # categories and integers with few values: exact
    psi_s = exact_psi_values(ref["s"].to_list(), cur["s"].to_list())
    assert observed(result, 3) == pytest.approx(psi_s, rel=1e-9)
    assert result.results[2].status == "fail"  # a new category 'd' (10%) is a shift
    ks_k = stats.ks_2samp(ref["k"].to_numpy(), cur["k"].to_numpy()).statistic
    assert observed(result, 4) == pytest.approx(ks_k, rel=1e-9)
    assert observed(result, 5) == pytest.approx(
        exact_psi_values(ref["k"].to_list(), cur["k"].to_list()), rel=1e-9
    )
    assert [r.status for r in result.results] == ["pass", "pass", "fail", "pass", "pass"]


def test_the_same_distribution_does_not_drift_and_a_shift_does(frames):
    ref, _ = frames
    rng = np.random.default_rng(7)
    same = pl.DataFrame({"x": rng.normal(0, 1, 5000)})
    shifted = pl.DataFrame({"x": rng.normal(1, 1, 5000)})
    spec = "drift(x) < 0.1: psi against ref\ndrift(x) < 0.1: ks against ref"
    calm = run_checks(same, spec, namespace={"ref": ref})
    assert calm.passed and observed(calm, 1) < 0.02 and observed(calm, 2) < 0.05
    moved = run_checks(shifted, spec, namespace={"ref": ref})
    assert [r.status for r in moved.results] == ["fail", "fail"]
    assert observed(moved, 1) > 0.5
    ks_shift = stats.ks_2samp(ref["x"].to_numpy(), shifted["x"].to_numpy()).statistic
    assert observed(moved, 2) == pytest.approx(ks_shift, abs=0.01)


def test_drift_lines_parse_and_refuse_what_they_cannot_compare(frames):
    ref, cur = frames
    suite = parse_spec("drift(x) < 0.2: psi against last\nwarn: drift(s) < 0.1: ks against ref")
    assert [c.metric_key for c in suite] == [
        "drift(x): psi against last",
        "drift(s): ks against ref",
    ]
    with pytest.raises(DataOpsSyntaxError, match="needs a statistic and what to compare with"):
        parse_spec("drift(x) < 0.2")
    with pytest.raises(DataOpsSyntaxError, match="expected 'psi' or 'ks'"):
        parse_spec("drift(x) < 0.2: chi2 against last")
    with pytest.raises(DataOpsSyntaxError, match="expected 'against last' or 'against FRAME'"):
        parse_spec("drift(x) < 0.2: psi versus last")
    result = run_checks(
        cur,
        "drift(s) < 0.1: ks against ref\ndrift(x) < 0.1: psi against nowhere\n"
        "drift(x) < 0.1: psi against last",
        namespace={"ref": ref},
    )
    ks_text, no_frame, no_history = result.results
    assert ks_text.status == "error" and "use psi for categories" in ks_text.message
    assert no_frame.status == "error" and "no frame named 'nowhere'" in no_frame.message
    assert no_history.status == "baseline" and no_history.message.startswith("not judged")
    assert result.results[0].profile["type"] == "values"  # the current profile is kept anyway


def test_drift_is_an_spc_series_its_value_recorded_as_a_metric(frames):
    ref, cur = frames
    history = [0.01, 0.012, 0.009, 0.011, 0.01, 0.013, 0.008, 0.01]
    result = run_checks(
        cur,
        "spc drift(x): psi against ref: chart i, baseline 8",
        namespace={"ref": ref},
        history=lambda key: history if key == "drift(x): psi against ref" else [],
    )
    line = result.results[0]
    assert result.metrics["drift(x): psi against ref"] == line.observed
    assert line.spc["judged"] and line.status == "warn"  # far above its usual ~0.01
    assert "WE1" in line.spc["broken"]


def test_a_profile_of_numbers_is_the_reference_for_its_own_data(frames):
    ref, _ = frames
    profile = profile_of_frame(ref, "x")
    assert profile["type"] == "numeric" and len(profile["quantiles"]) == 21
    assert psi(profile, profile) == pytest.approx(0.0, abs=1e-12)


# the profile store: SQLite and PostgreSQL ----------------------------------------------------


def _run_with_profile(store, frame, status: str, mode: str = "production") -> int:  # noqa: ANN001
    pr = store.create_pipeline_run("shop", mode=mode)
    sr = store.create_step_run(pr, "load")
    store.start_step_run(sr)
    result = run_checks(frame, "drift(x) < 0.2: psi against last\ndrift(x) < 0.2: ks against last")
    store.record_suite(sr, result)
    store.finish_step_run(sr, status, error="drift" if status == "failed" else None)
    return sr


def test_last_profile_is_the_newest_successful_production_runs(store):
    rng = np.random.default_rng(5)
    frames = [pl.DataFrame({"x": rng.normal(m, 1, 500)}) for m in (0, 1, 2, 3)]
    assert store.last_profile("load", "x") is None
    first = _run_with_profile(store, frames[0], "success")
    second = _run_with_profile(store, frames[1], "success")
    _run_with_profile(store, frames[2], "failed")  # a failed run is no reference
    _run_with_profile(store, frames[3], "success", mode="test")  # nor a gate run
    expected = profile_of_frame(frames[1], "x")["quantiles"]
    assert store.last_profile("load", "x")["quantiles"] == pytest.approx(expected, rel=1e-9)
    # the current run never compares with itself
    older = store.last_profile("load", "x", exclude_step_run=second)
    assert older["quantiles"] == pytest.approx(
        profile_of_frame(frames[0], "x")["quantiles"], rel=1e-9
    )
    assert store.last_profile("load", "y") is None and store.last_profile("other", "x") is None
    assert first < second


# against last: real production runs ---------------------------------------------------------

NOTEBOOK_CELLS = [
    ("code", "mean = 50.0\nseed = 0", {"tags": ["parameters"]}),
    ("code", "%load_ext jupyter_dataops\nimport numpy as np\nimport polars as pl", {}),
    (
        "code",
        "rng = np.random.default_rng(seed)\n"
        "orders = pl.DataFrame({'amount': rng.normal(mean, 10, 3000),\n"
        "                       'status': rng.choice(['new', 'shipped'], 3000)})",
        {},
    ),
    (
        "code",
        "%%dataops_test orders\n"
        "drift(amount) < 0.2: psi against last\n"
        "drift(status) < 0.2: psi against last\n"
        "spc drift(amount): ks against last",
        {},
    ),
]


def make_drift_project(root: Path) -> Path:
    root.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    for _kind, source, meta in NOTEBOOK_CELLS:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata.update(meta)
        nb.cells.append(cell)
    nbformat.write(nb, root / "load.ipynb")
    (root / "dataops.yaml").write_text(
        textwrap.dedent(
            """\
            pipeline: shop
            steps:
              load:
                notebook: load.ipynb
            """
        )
    )
    return root


def dataops_run(root: Path, *params: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "jupyter_dataops.cli", "run", "--unpromoted"]
    for p in params:
        args += ["-p", p]
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_against_last_compares_with_the_previous_successful_production_run(tmp_path):
    root = make_drift_project(tmp_path / "proj")

    first = dataops_run(root, "seed=1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "not judged" in first.stdout  # nothing to compare with yet

    second = dataops_run(root, "seed=2")  # the same distribution, new sample
    assert second.returncode == 0, second.stdout + second.stderr

    third = dataops_run(root, "seed=3", "mean=58.0")  # the amounts moved up by 0.8 sd
    assert third.returncode != 0
    assert "drift(amount) < 0.2: psi against last" in third.stdout + third.stderr

    with open_store(root) as store:
        runs = sorted(store.list_runs(step="load"), key=lambda r: r["id"])
        assert [r["status"] for r in runs] == ["success", "success", "failed"]
        checks = [{c["source"]: c for c in store.get_run(r["id"])["check_results"]} for r in runs]
        psi_line = "drift(amount) < 0.2: psi against last"
        assert checks[0][psi_line]["status"] == "baseline"
        assert checks[1][psi_line]["status"] == "pass"
        assert checks[2][psi_line]["status"] == "fail"
        # the message says which run it compared with, and what that run was given
        message = checks[2][psi_line]["message"]
        assert message.endswith(f"(compared with run {runs[1]['id']}, seed=2)"), message
        # the failed run is no reference: the last one is still the second run's profile
        last = store.last_profile("load", "amount")
        second_data = pl.DataFrame({"amount": _amounts(2, 50.0)})
        assert last["quantiles"] == pytest.approx(
            profile_of_frame(second_data, "amount")["quantiles"], rel=1e-9
        )
        assert store.last_profile("load", "amount", exclude_step_run=runs[1]["id"])["n"] == 3000
        # each run compared with the previous successful run, recomputed from the raw values
        seeds = {runs[0]["id"]: (1, 50.0), runs[1]["id"]: (2, 50.0), runs[2]["id"]: (3, 58.0)}
        data = {rid: _amounts(*seeds[rid]) for rid in seeds}
        for earlier, later in ((runs[0], runs[1]), (runs[1], runs[2])):
            expected = exact_psi_numbers(data[earlier["id"]], data[later["id"]])
            got = checks[runs.index(later)][psi_line]["observed"]
            assert got == pytest.approx(expected, abs=0.02)
        # drift is an SPC series: its value is a metric of every production run that had one
        series = store.metric_series("load", "drift(amount): ks against last")
        assert [p["step_run_id"] for p in series] == [runs[1]["id"], runs[2]["id"]]
        assert series[1]["value"] > series[0]["value"]


def _amounts(seed: int, mean: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(mean, 10, 3000)
