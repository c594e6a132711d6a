"""The %%dataops_test magic through a real IPython shell."""

from __future__ import annotations

import polars as pl
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_dataops import DataOpsError, DataOpsSyntaxError, DataOpsTestFailure
from jupyter_dataops.pipeline.execution import context


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext jupyter_dataops", store_history=False)
    yield sh
    sh.run_cell("%unload_ext jupyter_dataops", store_history=False)


@pytest.fixture(autouse=True)
def interactive(monkeypatch, shell):
    for var in (context.ENV_MODE, context.ENV_STEP_RUN_ID, context.ENV_STORE_URL):
        monkeypatch.delenv(var, raising=False)
    shell.run_cell("%config DataOpsMagics.fail_on = 'never'", store_history=False)
    shell.user_ns["orders"] = pl.DataFrame(
        {"order_id": [1, 2, 3, 3], "amount": [10.0, 20.0, None, 40.0]}
    )


def run(shell, cell: str):
    return shell.run_cell(cell, store_history=False)


def test_passing_suite_returns_suite_result(shell):
    res = run(shell, "%%dataops_test orders --name orders_ok\nrow_count = 4\nmax(amount) <= 40\n")
    assert res.error_in_exec is None
    suite = res.result
    assert suite.passed and suite.name == "orders_ok"
    assert [r.status for r in suite.results] == ["pass", "pass"]
    assert "pass" in suite._repr_html_()


def test_failing_suite_does_not_raise_interactively(shell):
    res = run(shell, "%%dataops_test orders\nduplicate_count(order_id) = 0\n")
    assert res.error_in_exec is None
    assert not res.result.passed
    assert res.result.results[0].status == "fail"
    assert res.result.results[0].observed == 1


def test_fail_on_flag_raises_test_failure(shell):
    res = run(shell, "%%dataops_test orders --fail-on fail\nduplicate_count(order_id) = 0\n")
    assert isinstance(res.error_in_exec, DataOpsTestFailure)
    assert "duplicate_count(order_id) = 0" in str(res.error_in_exec)
    # the shell lives on: the next cell runs
    assert run(shell, "1 + 1").result == 2


def test_fail_on_warn_raises_on_a_warning(shell):
    cell = "%%dataops_test orders --fail-on {}\nwarn: row_count > 100\n"
    assert run(shell, cell.format("fail")).error_in_exec is None
    assert isinstance(run(shell, cell.format("warn")).error_in_exec, DataOpsTestFailure)


def test_config_sets_the_default_fail_level(shell):
    run(shell, "%config DataOpsMagics.fail_on = 'fail'")
    res = run(shell, "%%dataops_test orders\nrow_count > 100\n")
    assert isinstance(res.error_in_exec, DataOpsTestFailure)


@pytest.mark.parametrize("mode", ["production", "test"])
def test_gated_modes_raise_on_fail_without_flags(shell, monkeypatch, mode):
    monkeypatch.setenv(context.ENV_MODE, mode)
    res = run(shell, "%%dataops_test orders\nrow_count > 100\n")
    assert isinstance(res.error_in_exec, DataOpsTestFailure)
    assert run(shell, "%%dataops_test orders\nrow_count > 0\n").error_in_exec is None


def test_syntax_error_names_the_cell_line_and_column(shell):
    res = run(shell, "%%dataops_test orders\nrow_count > 0\nmisng_count(amount) = 0\n")
    err = res.error_in_exec
    assert isinstance(err, DataOpsSyntaxError)
    assert err.line == 2  # line 1 is the first check line, as in the result table
    fixed = run(shell, "%%dataops_test orders\nrow_count > 0\nmissing_count(amount) >= 0\n")
    assert [r.line for r in fixed.result.results] == [1, 2]
    assert err.column >= 1
    assert "missing_count" in str(err)  # suggests the nearest metric


def test_unknown_frame_is_a_clear_error(shell):
    res = run(shell, "%%dataops_test ordrs\nrow_count > 0\n")
    assert isinstance(res.error_in_exec, DataOpsError)
    assert "ordrs" in str(res.error_in_exec)


def test_reference_frames_come_from_the_user_namespace(shell):
    shell.user_ns["customers"] = pl.DataFrame({"id": [1, 2]})
    res = run(
        shell, "%%dataops_test orders\nreference_missing_count(order_id) = 0: in customers.id\n"
    )
    check = res.result.results[0]
    assert check.status == "fail" and check.observed == 2


def test_as_of_sets_freshness_reference(shell):
    shell.user_ns["events"] = pl.DataFrame(
        {"ts": pl.Series(["2026-01-01T00:00:00"]).str.to_datetime()}
    )
    res = run(shell, "%%dataops_test events --as-of 2026-01-01T06:00:00\nfreshness(ts) < 1h\n")
    check = res.result.results[0]
    assert check.observed == pytest.approx(6 * 3600)
    assert check.status == "fail"
