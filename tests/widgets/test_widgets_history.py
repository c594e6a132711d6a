"""The run-history widget, driven through its ipywidgets objects on a real SQLite run store.

Runs are recorded through the store API with real check results (``run_checks`` on real frames),
the way the pipeline runner records them.
"""

from __future__ import annotations

import html as html_mod
import json
import re
from pathlib import Path

import polars as pl
import pytest

from jupyter_dataops import run_checks
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.store import open_store
from jupyter_dataops.widgets.history import RunHistory

SPEC = "row_count > 2\nmissing_count(x) = 0\nwarn: avg(x) < 10"
GOOD = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
BAD = pl.DataFrame({"x": [1.0, None, 30.0]})


def record_run(
    store,
    step,
    *,
    status="success",
    frame=GOOD,
    params=None,
    error=None,
    notebook_path=None,
    attempt=1,
    mode="production",
):  # noqa: ANN001, ANN201
    """One step run as the runner records it: created, started, checks recorded, finished."""
    store.upsert_step("demo", step, notebook=f"{step}.ipynb")
    prid = store.create_pipeline_run("demo", mode=mode)
    srid = store.create_step_run(prid, step, attempt=attempt, parameters=params or {"n": 3})
    store.start_step_run(srid)
    if frame is not None:
        store.record_suite(srid, run_checks(frame, SPEC, name=f"{step}_checks"))
    if status == "failed" and error is None:
        error = "cell [3] raised ValueError: bad batch"
    store.finish_step_run(srid, status, error=error, notebook_path=notebook_path)
    store.finish_pipeline_run(prid)
    return srid


@pytest.fixture
def store_url(tmp_path):  # the widgets' store: one SQLite file (``store``: tests/conftest.py)
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def seeded(store, tmp_path):  # noqa: ANN001, ANN201
    """load: success, success, failed (failing checks, error, executed notebook); report: 1."""
    executed = tmp_path / "project" / ".dataops" / "runs" / "load-3.ipynb"
    executed.parent.mkdir(parents=True)
    executed.write_text("{}")
    ids = {
        "load1": record_run(store, "load"),
        "load2": record_run(store, "load", params={"n": 5, "api_token": "s3cret"}),
        "load3": record_run(
            store,
            "load",
            status="failed",
            frame=BAD,
            attempt=2,
            error="DataOpsTestFailure: 1 check(s) of suite 'load_checks' failed",
            notebook_path=str(executed),
        ),
        "report1": record_run(store, "report", frame=None),
    }
    return store, ids, executed


def row_ids(widget: RunHistory) -> list[int]:
    return [run["id"] for run in widget.rows]


def visible_buttons(widget: RunHistory) -> list[str]:
    return [b.description for b in widget._row_buttons if b.layout.display != "none"]


def detail_html(widget: RunHistory) -> str:
    (output,) = widget.detail.outputs
    return output["data"]["text/html"]


def test_table_lists_newest_runs_first_with_status_step_attempt_and_checks(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store)
    assert row_ids(widget) == [ids["report1"], ids["load3"], ids["load2"], ids["load1"]]
    assert visible_buttons(widget) == [f"#{i}" for i in row_ids(widget)]
    html = widget.table_html()
    failed_row = re.search(rf'<tr data-run-id="{ids["load3"]}">(.*?)</tr>', html).group(1)
    assert "dataops-status-failed" in failed_row and "#c62828" in failed_row  # red badge
    assert ">load<" in failed_row and "production" in failed_row
    assert "<td>2</td>" in failed_row  # attempt
    # BAD frame: row_count passes, missing_count fails, avg(x)=15.5 warns
    assert 'title="1 passed"' in failed_row and 'title="1 warned"' in failed_row
    assert 'title="1 failed"' in failed_row
    good_row = re.search(rf'<tr data-run-id="{ids["load1"]}">(.*?)</tr>', html).group(1)
    assert "dataops-status-success" in good_row and 'title="3 passed"' in good_row
    assert widget.page_label.value == "runs 1–4 of 4"


def test_step_and_status_filters_narrow_the_table(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store)
    assert [label for label, _ in widget.step_filter.options] == ["all steps", "load", "report"]
    widget.step_filter.value = "load"
    assert row_ids(widget) == [ids["load3"], ids["load2"], ids["load1"]]
    widget.status_filter.value = "failed"
    assert row_ids(widget) == [ids["load3"]]
    widget.step_filter.value = "report"
    assert row_ids(widget) == []
    assert "No runs match these filters" in widget.message.value
    assert visible_buttons(widget) == []


def test_paging_moves_to_older_runs_and_back(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store, page_size=3)
    assert row_ids(widget) == [ids["report1"], ids["load3"], ids["load2"]]
    assert widget.prev_button.disabled and not widget.next_button.disabled
    widget.next_button.click()
    assert row_ids(widget) == [ids["load1"]]
    assert widget.page_label.value == "runs 4–4 of 4"
    assert visible_buttons(widget) == [f"#{ids['load1']}"]  # the unused row slots are hidden
    assert widget.next_button.disabled and not widget.prev_button.disabled
    widget.prev_button.click()
    assert row_ids(widget)[0] == ids["report1"]


def test_clicking_a_run_shows_parameters_checks_error_and_notebook_link(seeded, tmp_path):
    store, ids, executed = seeded
    widget = RunHistory(store, notebook_dir=tmp_path / "project" / "analysis")
    assert widget.detail_box.layout.display == "none"
    position = row_ids(widget).index(ids["load3"])
    widget._row_buttons[position].click()
    assert widget.detail_box.layout.display != "none"
    assert widget._row_buttons[position].button_style == "info"
    html = detail_html(widget)
    assert f'data-run-id="{ids["load3"]}"' in html
    assert re.search(r"<th[^>]*>n</th><td[^>]*>3</td>", html)
    assert "<code>missing_count(x) = 0</code>" in html
    check_row = re.search(r"<tr class='dataops-check dataops-check-fail'>(.*?)</tr>", html).group(1)
    assert re.search(r"<td[^>]*>1</td>", check_row) and "it must be = 0" in check_row
    assert "dataops-check-warn" in html and "15.5" in html
    assert "DataOpsTestFailure: 1 check(s) of suite &#x27;load_checks&#x27; failed" in html
    # opens the run's notebook through the Lab extension's read-only drive; shows the path
    # relative to the notebook showing the widget
    link = re.search(r'<a class="dataops-notebook-link"[^>]*>([^<]*)</a>', html)
    assert link.group(1) == "../.dataops/runs/load-3.ipynb"
    assert 'data-commandlinker-command="docmanager:open"' in link.group(0)
    args = html_mod.unescape(
        re.search(r'data-commandlinker-args="([^"]*)"', link.group(0)).group(1)
    )
    assert json.loads(args) == {"path": f"DataOpsRuns:{ids['load3']}/load-3.ipynb"}
    assert "file not found" not in html


def test_secret_parameters_stay_redacted_in_the_detail(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store)
    widget.show_run(ids["load2"])
    html = detail_html(widget)
    assert "s3cret" not in html and "api_token" in html and "***" in html


def test_missing_executed_notebook_is_flagged(seeded, tmp_path):
    store, ids, executed = seeded
    executed.unlink()
    widget = RunHistory(store, notebook_dir=tmp_path)
    widget.show_run(ids["load3"])
    assert "(file not found)" in detail_html(widget)
    widget.show_run(ids["load1"])
    assert "no executed notebook recorded" in detail_html(widget)


def test_hide_details_closes_the_detail_view(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store)
    widget.show_run(ids["load1"])
    widget.hide_detail_button.click()
    assert widget.detail_box.layout.display == "none"
    assert widget.detail.outputs == ()
    assert all(b.button_style == "" for b in widget._row_buttons)


def test_refresh_shows_runs_recorded_after_the_widget_was_built(seeded):
    store, ids, _ = seeded
    widget = RunHistory(store, step="load")
    widget.show_run(ids["load1"])
    new = record_run(store, "load", status="failed", frame=BAD)
    newstep = record_run(store, "publish")
    assert ids["load1"] in row_ids(widget) and new not in row_ids(widget)
    widget.refresh_button.click()
    assert row_ids(widget)[0] == new
    assert newstep not in row_ids(widget)  # the step filter is kept
    assert "publish" in [value for _, value in widget.step_filter.options]  # new step offered
    assert widget.selected["id"] == ids["load1"]  # the open detail is kept and re-read


def test_empty_store_says_how_to_record_runs(store):
    widget = RunHistory(store)
    assert widget.rows == [] and widget.page_label.value == "no runs"
    assert "dataops run" in widget.message.value
    assert widget.prev_button.disabled and widget.next_button.disabled


def test_each_query_reads_one_page_not_the_whole_history(store):
    for i in range(45):
        record_run(store, "load", status="failed" if i % 9 == 0 else "success", frame=None)

    class Recording:
        """Forwards to the real store and notes how many rows each call returned."""

        def __init__(self, inner):  # noqa: ANN001
            self.inner, self.calls = inner, []

        def __getattr__(self, name):  # noqa: ANN001, ANN204
            attr = getattr(self.inner, name)

            def call(*args, **kwargs):  # noqa: ANN202
                out = attr(*args, **kwargs)
                self.calls.append((name, kwargs, len(out) if isinstance(out, list) else out))
                return out

            return call

    spy = Recording(store)
    widget = RunHistory(spy, page_size=10)
    widget.next_button.click()
    widget.next_button.click()
    listed = [(kw, n) for name, kw, n in spy.calls if name == "list_runs"]
    assert [kw["offset"] for kw, _ in listed] == [0, 10, 20]
    assert all(kw["limit"] == 10 and n == 10 for kw, n in listed)
    assert ("count_runs", {"pipeline": None}, 45) in spy.calls
    assert widget.page_label.value == "runs 21–30 of 45"


def test_unknown_status_is_refused_with_the_valid_choices(store):
    with pytest.raises(DataOpsError, match=r"Unknown run status 'broken'.*success.*failed"):
        RunHistory(store, status="broken")


def test_history_opens_the_store_of_the_nearest_pipeline_file(tmp_path, monkeypatch):
    from jupyter_dataops.widgets import history_widget

    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    project = tmp_path / "proj"
    (project / "analysis").mkdir(parents=True)
    (project / "dataops.yaml").write_text(
        "pipeline: demo\nstore: sqlite:///custom/runs.db\nsteps:\n  load:\n    notebook: load.ipynb\n"
    )
    with open_store(f"sqlite:///{project / 'custom' / 'runs.db'}") as s:
        srid = record_run(s, "load")
    widget = history_widget(start=str(project / "analysis"))
    assert row_ids(widget) == [srid]
    assert widget.project_dir == project


def test_history_without_pipeline_file_says_what_to_do(tmp_path):
    from jupyter_dataops.widgets import history_widget

    with pytest.raises(
        DataOpsError, match=r"No dataops.yaml in .*promote a notebook first \(`dataops promote"
    ):
        history_widget(start=str(tmp_path))


def test_unknown_run_id_is_explained_in_the_detail_not_raised(seeded):
    store, _, _ = seeded
    widget = RunHistory(store)
    widget.show_run(999_999)
    assert "Run #999999 is no longer in the store." in detail_html(widget)
    widget.show_run("abc")
    assert "Could not read run #abc" in detail_html(widget)


def test_notebook_link_is_relative_to_the_notebook_folder(store, tmp_path):
    widget = RunHistory(store, project_dir=tmp_path / "p", notebook_dir=tmp_path / "p" / "a" / "b")
    link = widget.notebook_link(".dataops/runs/x.ipynb")  # stored relative to the project
    assert 'href="../../.dataops/runs/x.ipynb"' in link
    assert f'data-path="{Path(tmp_path / "p" / ".dataops/runs/x.ipynb")}"' in link


def test_a_broken_store_is_reported_in_the_widget_on_refresh(seeded):
    store, _, _ = seeded
    widget = RunHistory(store)
    with store.engine.begin() as conn:  # a damaged database file / half-migrated schema
        conn.exec_driver_sql("DROP TABLE check_results")
    widget.refresh_button.click()
    assert "Could not read the run store" in widget.message.value
    assert "check_results" in widget.message.value
    assert widget.rows == [] and widget.page_label.value == "no runs"
