"""Run-history widget: a filtered, paged table of step runs and the detail of one run.

Every query goes through the run store's paged functions (``list_runs``/``count_runs`` with
``limit``/``offset``), so a store of 100k runs costs one page per click, never a full load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.widgets._format import (
    STORE_ERRORS,
    badge,
    check_counts,
    display_data,
    duration,
    esc,
    observed,
    value_text,
    when,
)

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

COLUMNS = ("Run", "Status", "Step", "Mode", "Started", "Duration", "Attempt", "Checks ✓ ⚠ ✗")
GRID_COLUMNS = "70px 100px minmax(120px,1.4fr) 95px 200px 95px 65px minmax(150px,1fr)"
ALL = "__all__"
# The read-only Lab drive of executed notebooks (labextension/src/drive.ts, RUNS_DRIVE).
RUNS_DRIVE = "DataOpsRuns"


class RunHistory(widgets.VBox):
    """The run history of a store: filters, a page of runs, and the detail of a clicked run.

    ``notebook_dir`` is the folder that links to executed notebooks are relative to (the folder of
    the notebook showing the widget, which is the kernel's working directory); ``project_dir``
    resolves notebook paths the store keeps relative to the project.
    """

    def __init__(
        self,
        store: Store,
        *,
        step: str | None = None,
        status: str | None = None,
        pipeline: str | None = None,
        page_size: int = 20,
        project_dir: str | os.PathLike | None = None,
        notebook_dir: str | os.PathLike | None = None,
    ) -> None:
        from jupyter_dataops.store import STATUSES

        if page_size < 1:
            raise DataOpsError(f"page_size must be at least 1, got {page_size}.")
        if status is not None and status not in STATUSES:
            raise DataOpsError(f"Unknown run status {status!r}: use one of {', '.join(STATUSES)}.")
        self.store = store
        self.pipeline = pipeline
        self.page_size = page_size
        self.project_dir = Path(project_dir) if project_dir is not None else None
        self.notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self.offset = 0
        self.total = 0
        self.rows: list[dict] = []
        self.selected: dict | None = None

        self.step_filter = widgets.Dropdown(
            options=self._step_options(step),
            value=step or ALL,
            description="Step",
            layout=widgets.Layout(width="240px"),
        )
        self.status_filter = widgets.Dropdown(
            options=[("all statuses", ALL)] + [(s, s) for s in STATUSES],
            value=status or ALL,
            description="Status",
            layout=widgets.Layout(width="200px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the run store again"
        )
        self.prev_button = widgets.Button(
            description="Newer",
            icon="chevron-left",
            tooltip="Previous page (newer runs)",
            layout=widgets.Layout(width="90px"),
        )
        self.next_button = widgets.Button(
            description="Older",
            icon="chevron-right",
            tooltip="Next page (older runs)",
            layout=widgets.Layout(width="90px"),
        )
        self.page_label = widgets.HTML()
        self.message = widgets.HTML()
        self.hide_detail_button = widgets.Button(
            description="Hide details", icon="times", layout=widgets.Layout(width="120px")
        )
        self.detail = widgets.Output()
        self.detail_box = widgets.VBox(
            [self.hide_detail_button, self.detail],
            layout=widgets.Layout(display="none", border="1px solid #ddd", padding="6px"),
        )

        header = [
            widgets.HTML(f"<b>{esc(title)}</b>", layout=widgets.Layout(overflow="hidden"))
            for title in COLUMNS
        ]
        self._row_buttons: list[widgets.Button] = []
        self._row_cells: list[list[widgets.HTML]] = []
        cells: list[widgets.Widget] = list(header)
        for i in range(page_size):
            button = widgets.Button(
                tooltip="Show this run's parameters, checks and notebook",
                layout=widgets.Layout(width="64px", height="26px", display="none"),
            )
            button.on_click(lambda _b, i=i: self.show_run(self.rows[i]["id"]))
            row = [
                widgets.HTML(layout=widgets.Layout(display="none", overflow="hidden"))
                for _ in COLUMNS[1:]
            ]
            self._row_buttons.append(button)
            self._row_cells.append(row)
            cells.extend([button, *row])
        self.table = widgets.GridBox(
            cells,
            layout=widgets.Layout(
                grid_template_columns=GRID_COLUMNS, grid_gap="2px 8px", align_items="center"
            ),
        )

        self.step_filter.observe(self._on_filter, names="value")
        self.status_filter.observe(self._on_filter, names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.prev_button.on_click(lambda _b: self.previous_page())
        self.next_button.on_click(lambda _b: self.next_page())
        self.hide_detail_button.on_click(lambda _b: self.hide_run())

        toolbar = widgets.HBox(
            [self.step_filter, self.status_filter, self.refresh_button],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        pager = widgets.HBox(
            [self.prev_button, self.page_label, self.next_button],
            layout=widgets.Layout(align_items="center", grid_gap="8px"),
        )
        super().__init__(
            [toolbar, self.message, self.table, pager, self.detail_box],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("dataops-history")
        self.refresh()

    # -- queries -----------------------------------------------------------------------------
    @property
    def step(self) -> str | None:
        return None if self.step_filter.value == ALL else self.step_filter.value

    @property
    def status(self) -> str | None:
        return None if self.status_filter.value == ALL else self.status_filter.value

    def _step_options(self, extra: str | None = None) -> list[tuple[str, str]]:
        names: list[str] = []
        try:
            for pipeline in self.store.list_pipelines():
                if self.pipeline and pipeline.get("name") != self.pipeline:
                    continue
                names.extend(s["name"] for s in pipeline.get("steps", []))
        except STORE_ERRORS:
            pass  # shown by refresh() with the store's own message
        if extra and extra not in names:
            names.append(extra)
        return [("all steps", ALL)] + [(n, n) for n in sorted(set(names))]

    def refresh(self) -> None:
        """Read the current page again (and the open run's detail), keeping filters and page."""
        try:
            steps = self._step_options(self.step)
            if list(self.step_filter.options) != steps:
                current = self.step_filter.value
                with self.hold_trait_notifications():
                    self.step_filter.unobserve(self._on_filter, names="value")
                    self.step_filter.options = steps
                    self.step_filter.value = current
                    self.step_filter.observe(self._on_filter, names="value")
            filters = {"pipeline": self.pipeline}
            self.total = self.store.count_runs(self.step, self.status, **filters)
            if self.offset >= self.total and self.total:
                self.offset = (self.total - 1) // self.page_size * self.page_size
            self.rows = self.store.list_runs(
                self.step, self.status, limit=self.page_size, offset=self.offset, **filters
            )
        except STORE_ERRORS as exc:
            self.rows, self.total = [], 0
            self.message.value = _note(f"Could not read the run store: {exc}", error=True)
            self._render_rows()
            return
        self.message.value = "" if self.rows else _note(self._empty_hint())
        self._render_rows()
        if self.selected is not None:
            self.show_run(self.selected["id"])

    def _empty_hint(self) -> str:
        if self.step or self.status:
            return (
                "No runs match these filters. Choose “all steps” / “all statuses” to see every run."
            )
        return (
            "No runs recorded yet. Run the pipeline with `dataops run` (or promote a notebook "
            "with `dataops promote`), then press Refresh."
        )

    def _on_filter(self, _change: dict) -> None:
        self.offset = 0
        self.refresh()

    def next_page(self) -> None:
        """Show older runs."""
        if self.offset + self.page_size < self.total:
            self.offset += self.page_size
            self.refresh()

    def previous_page(self) -> None:
        """Show newer runs."""
        if self.offset > 0:
            self.offset = max(0, self.offset - self.page_size)
            self.refresh()

    # -- rendering ---------------------------------------------------------------------------
    def _render_rows(self) -> None:
        selected_id = self.selected["id"] if self.selected else None
        for i, button in enumerate(self._row_buttons):
            cells = self._row_cells[i]
            if i < len(self.rows):
                run = self.rows[i]
                button.description = f"#{run['id']}"
                button.button_style = "info" if run["id"] == selected_id else ""
                values = [
                    badge(run.get("status")),
                    f'<span title="pipeline {esc(run.get("pipeline"))}">{esc(run.get("step"))}</span>',
                    esc(run.get("mode")),
                    esc(when(run.get("started_at") or run.get("created_at"))),
                    esc(duration(run.get("duration"))),
                    esc(run.get("attempt")),
                    check_counts(run.get("checks")),
                ]
                button.layout.display = None
                for cell, value in zip(cells, values, strict=True):
                    cell.value = value
                    cell.layout.display = None
            else:
                button.description = ""
                button.layout.display = "none"
                for cell in cells:
                    cell.layout.display = "none"
        if self.total:
            first, last = self.offset + 1, self.offset + len(self.rows)
            self.page_label.value = f"runs {first:,}–{last:,} of {self.total:,}"
        else:
            self.page_label.value = "no runs"
        self.prev_button.disabled = self.offset == 0
        self.next_button.disabled = self.offset + self.page_size >= self.total

    def table_html(self) -> str:
        """The visible page as one HTML table (what the grid shows; handy for tests and export)."""
        head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
        body = []
        for i, run in enumerate(self.rows):
            cells = "".join(f"<td>{c.value}</td>" for c in self._row_cells[i])
            body.append(f'<tr data-run-id="{run["id"]}"><td>#{run["id"]}</td>{cells}</tr>')
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def show_run(self, run_id: int) -> None:
        """Open the detail of one step run below the table."""
        try:
            run = self.store.get_run(run_id)
        except STORE_ERRORS as exc:
            run, error = None, f"Could not read run #{run_id}: {exc}"
        else:
            error = f"Run #{run_id} is no longer in the store." if run is None else None
        self.selected = run
        html = _note(error, error=True) if error else self.detail_html(run)
        # Rendered by JupyterLab's output renderer (not an HTML widget) so that the relative link
        # to the executed notebook opens it in a Lab tab.
        self.detail.outputs = (display_data(html, f"run #{run_id}"),)
        self.detail_box.layout.display = None
        self._render_rows()

    def hide_run(self) -> None:
        """Close the detail view."""
        self.selected = None
        self.detail.outputs = ()
        self.detail_box.layout.display = "none"
        self._render_rows()

    def notebook_link(self, notebook_path: str | None, run_id: int | None = None) -> str:
        """An ``<a>`` that opens the executed notebook in JupyterLab; shows its path.

        With a ``run_id`` the link opens ``DataOpsRuns:<run id>/<file>`` through Lab's command
        linker: the read-only drive of the jupyter-dataops Lab extension, served by
        ``GET /dataops/api/runs/{id}/notebook``, because Jupyter's contents API refuses files in
        the hidden ``.dataops/runs/`` folder. Without a run id it is a plain link relative to the
        notebook showing the widget, which Lab resolves against that notebook's folder.
        """
        if not notebook_path:
            return '<span style="color:#757575">no executed notebook recorded</span>'
        path = Path(notebook_path)
        if not path.is_absolute() and self.project_dir is not None:
            path = self.project_dir / path
        missing = "" if path.exists() else ' <span style="color:#c62828">(file not found)</span>'
        try:
            relative = Path(os.path.relpath(path, self.notebook_dir)).as_posix()
        except ValueError:  # another drive on Windows
            relative = str(path)
        title = "Open the executed notebook in JupyterLab"
        if run_id is None:
            return (
                f'<a class="dataops-notebook-link" href="{esc(relative)}" data-path="{esc(path)}" '
                f'title="{title}">{esc(relative)}</a>{missing}'
            )
        args = json.dumps({"path": f"{RUNS_DRIVE}:{run_id}/{path.name}"})
        return (
            f'<a class="dataops-notebook-link" href="#dataops-run-{esc(run_id)}-notebook" '
            'data-commandlinker-command="docmanager:open" '
            f'data-commandlinker-args="{esc(args)}" data-path="{esc(path)}" '
            f'title="{title} (read-only: the record of run #{esc(run_id)})">'
            f"{esc(relative)}</a>{missing}"
        )

    def detail_html(self, run: dict) -> str:
        """The detail of one run: summary, parameters, check lines, error, executed notebook."""
        summary = [
            ("Status", badge(run.get("status"))),
            ("Step", esc(run.get("step"))),
            ("Pipeline", esc(run.get("pipeline"))),
            ("Pipeline run", esc(run.get("pipeline_run_id"))),
            ("Mode", esc(run.get("mode"))),
            ("Attempt", esc(run.get("attempt"))),
            ("Started", esc(when(run.get("started_at")))),
            ("Ended", esc(when(run.get("ended_at")))),
            ("Duration", esc(duration(run.get("duration")))),
        ]
        version = run.get("version")
        if version:
            summary.append(("Step version", esc(version.get("version"))))
        parts = [
            f'<div class="dataops-run-detail" data-run-id="{esc(run["id"])}">',
            f"<h4 style='margin:4px 0'>Run #{esc(run['id'])} — {esc(run.get('step'))}</h4>",
            _kv_table(summary),
            "<h5 style='margin:8px 0 2px'>Executed notebook</h5>",
            self.notebook_link(run.get("notebook_path"), run["id"]),
        ]
        if run.get("error") or run.get("skip_reason"):
            parts.append("<h5 style='margin:8px 0 2px'>Error</h5>")
            if run.get("skip_reason"):
                parts.append(f"<p>Skipped: {esc(run['skip_reason'])}</p>")
            if run.get("error"):
                parts.append(
                    '<pre class="dataops-run-error" style="white-space:pre-wrap;'
                    f'background:#fff3f3;padding:6px">{esc(run["error"])}</pre>'
                )
        parts.append("<h5 style='margin:8px 0 2px'>Parameters</h5>")
        params = run.get("parameters") or {}
        parts.append(
            _kv_table([(esc(k), esc(value_text(v))) for k, v in params.items()])
            if params
            else '<span style="color:#757575">no parameters</span>'
        )
        parts.append("<h5 style='margin:8px 0 2px'>Checks</h5>")
        parts.append(_checks_table(run.get("check_results") or []))
        parts.append("</div>")
        return "".join(parts)


def _kv_table(items: list[tuple[str, str]]) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{k}</th>"
        f"<td style='text-align:left'>{v}</td></tr>"
        for k, v in items
    )
    return f"<table class='dataops-kv'>{rows}</table>"


def _checks_table(checks: list[dict]) -> str:
    if not checks:
        return '<span style="color:#757575">no checks recorded for this run</span>'
    head = "".join(
        f"<th style='text-align:left'>{h}</th>"
        for h in ("Suite", "Line", "Check", "Status", "Observed", "Threshold", "Message")
    )
    rows = []
    for c in checks:
        cells = [
            esc(c.get("suite")),
            esc(c.get("line")),
            f"<code>{esc(c.get('source'))}</code>",
            badge(c.get("status")),
            esc(observed(c)),
            esc(c.get("threshold")),
            esc(c.get("message")),
        ]
        tds = "".join(f"<td style='text-align:left'>{cell}</td>" for cell in cells)
        rows.append(f"<tr class='dataops-check dataops-check-{esc(c.get('status'))}'>{tds}</tr>")
    return f"<table class='dataops-checks'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _note(text: str, *, error: bool = False) -> str:
    colour = "#c62828" if error else "#555"
    return f'<div class="dataops-note" style="color:{colour};padding:4px 0">{esc(text)}</div>'
