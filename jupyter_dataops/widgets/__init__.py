"""Notebook widgets (ipywidgets): run history and control charts of the project's run store.

``%dataops_history`` and ``%dataops_chart`` call :func:`history` and :func:`chart`; both find the
project the way the CLI does (the nearest ``dataops.yaml`` from the working directory up) and open
its store with the same URL resolution as the pipeline runner.
"""

from __future__ import annotations

__all__ = [
    "MetricChartWidget",
    "RunHistory",
    "chart_widget",
    "history_widget",
]


def __getattr__(name: str):  # noqa: ANN202
    # ipywidgets and the store load only when a widget is asked for.
    if name == "RunHistory":
        from jupyter_dataops.widgets.history import RunHistory

        return RunHistory
    if name == "MetricChartWidget":
        from jupyter_dataops.widgets.chart import MetricChartWidget

        return MetricChartWidget
    raise AttributeError(f"module 'jupyter_dataops.widgets' has no attribute {name!r}")


def history_widget(
    step: str | None = None,
    *,
    status: str | None = None,
    page_size: int = 20,
    start: str | None = None,
):  # noqa: ANN201
    """The run-history widget of the project found from ``start`` (default: the cwd)."""
    from jupyter_dataops.pipeline.views.history import find_project_store
    from jupyter_dataops.widgets.history import RunHistory

    project = find_project_store(start)
    return RunHistory(
        project.store,
        step=step,
        status=status,
        page_size=page_size,
        pipeline=project.pipeline_name,
        project_dir=project.project_dir,
    )


def chart_widget(
    step: str,
    metric: str,
    *,
    window: int | None = 90,
    last: int | None = None,
    start: str | None = None,
):  # noqa: ANN201
    """The control-chart widget of ``metric`` of ``step`` over the project's production runs,
    drawn as its spc line judged it (chart type, rules and baseline are the line's): the newest
    ``window`` points (``last`` is its older name; None: all), paged to older ones."""
    from jupyter_dataops.pipeline.views.history import find_project_store
    from jupyter_dataops.widgets.chart import MetricChartWidget

    project = find_project_store(start)
    return MetricChartWidget(
        project.store,
        step,
        metric,
        window=window,
        last=last,
        pipeline=project.pipeline_name,
    )
