"""IPython front door: ``%%dataops_test`` and friends. Thin: the work happens in the rooms."""

from __future__ import annotations

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Enum

from jupyter_dataops.errors import DataOpsError, DataOpsSyntaxError, DataOpsTestFailure

FAIL_LEVELS = ("fail", "warn", "never")


@magics_class
class DataOpsMagics(Magics):
    """Magics of jupyter-dataops; configure with ``%config DataOpsMagics.fail_on = 'fail'``."""

    fail_on = Enum(
        FAIL_LEVELS,
        default_value="never",
        help=(
            "When an interactive %%dataops_test raises DataOpsTestFailure: on 'fail' (a fail or "
            "error), on 'warn' (also a warn) or 'never'. Production and test runs always raise "
            "on fail or error."
        ),
    ).tag(config=True)

    @magic_arguments()
    @argument(
        "frame",
        help="Name of the data in the namespace (a polars, pandas or pyarrow frame, a DuckDB "
        "relation, a Dask DataFrame, or a SQLAlchemy engine with --table), or a database URL.",
    )
    @argument(
        "--table",
        default=None,
        help="Table of the database (URL or engine variable): checked in SQL in the database.",
    )
    @argument("--name", default=None, help="Suite name recorded with the results.")
    @argument(
        "--fail-on",
        dest="fail_on",
        choices=FAIL_LEVELS,
        default=None,
        help="Raise DataOpsTestFailure on 'fail' (fail or error), 'warn' or 'never'.",
    )
    @argument("--as-of", dest="as_of", default=None, help="ISO time that freshness is measured at.")
    @cell_magic
    def dataops_test(self, line: str, cell: str):  # noqa: ANN201
        """Run the checks in the cell body on a frame and show pass/warn/fail per line.

        Example::

            %%dataops_test orders --name orders_quality
            row_count > 0
            missing_count(order_id) = 0
            warn: avg(amount) between 20 and 80
        """
        from jupyter_dataops.checks import parse_spec, run_checks
        from jupyter_dataops.pipeline.execution import context

        args = parse_argstring(self.dataops_test, line)
        ns = self.shell.user_ns
        is_url = "://" in args.frame
        if not is_url and args.frame not in ns:
            raise DataOpsError(
                f"%%dataops_test: no variable named {args.frame!r} in this notebook. "
                "Run the cell that creates the DataFrame first, or fix the name on the magic line."
            )
        if is_url and not args.table:
            raise DataOpsError(
                "%%dataops_test: a database URL needs the table: %%dataops_test URL --table NAME"
            )
        data = args.frame if is_url else ns[args.frame]
        name = args.name or (args.table if is_url else args.frame)
        try:
            suite = parse_spec(cell, name=name)
        except DataOpsSyntaxError as exc:
            # Line 1 is the first check line (after %%dataops_test), as in the result table.
            raise DataOpsSyntaxError(
                exc.message,
                line=exc.line,
                column=exc.column,
                text=exc.text,
                hint=exc.hint,
                source_name="%%dataops_test cell",
            ) from None

        ctx = context.current()
        result = run_checks(
            data,
            suite,
            name=name,
            namespace=ns,
            as_of=args.as_of,
            history=context.history_provider(
                ctx, suite=name, cell=f"%%dataops_test {line}\n{cell}"
            ),
            table=args.table,
        )
        context.record_suite(ctx, result)

        fail_on = args.fail_on or self.fail_on
        if ctx is not None and fail_on == "never":
            fail_on = "fail"  # the quality gate of production and test runs
        if _should_raise(result, fail_on):
            display(result)
            raise DataOpsTestFailure(result)
        return result

    @magic_arguments()
    @argument("frame", help="Name of the data in the namespace (as for %%dataops_test).")
    @argument("--table", default=None, help="Table of the database (URL or engine variable).")
    @argument("--as-of", dest="as_of", default=None, help="ISO time freshness is measured at.")
    @line_magic
    def dataops_suggest(self, line: str):  # noqa: ANN201
        """Profile a frame in one pass and put a ready ``%%dataops_test`` cell below, each
        suggested check commented with its evidence.

        Example: ``%dataops_suggest orders``
        """
        from jupyter_dataops.checks.suggest import suggest

        args = parse_argstring(self.dataops_suggest, line)
        ns = self.shell.user_ns
        is_url = "://" in args.frame
        if not is_url and args.frame not in ns:
            raise DataOpsError(
                f"%dataops_suggest: no variable named {args.frame!r} in this notebook. "
                "Run the cell that creates the DataFrame first, or fix the name."
            )
        data = args.frame if is_url else ns[args.frame]
        suggestion = suggest(data, table=args.table, as_of=args.as_of)
        magic_line = args.frame + (f" --table {args.table}" if args.table else "")
        self.shell.set_next_input(suggestion.cell(magic_line), replace=False)
        return suggestion

    @magic_arguments()
    @argument("step", nargs="?", default=None, help="Show only runs of this step.")
    @argument("--status", default=None, help="Show only runs with this status, e.g. failed.")
    @argument("--page-size", dest="page_size", type=int, default=20, help="Runs per page.")
    @line_magic
    def dataops_history(self, line: str):  # noqa: ANN201
        """Show the run history of this project's store: filters, pages, one run's detail.

        Example: ``%dataops_history load --status failed``
        """
        from jupyter_dataops.widgets import history_widget

        args = parse_argstring(self.dataops_history, line)
        return history_widget(args.step, status=args.status, page_size=args.page_size)

    @magic_arguments()
    @argument("step", help="The step whose metric is charted.")
    @argument("metric", help="The metric key as %%dataops_test records it, e.g. 'avg(amount)'.")
    @argument("--window", type=int, default=90, help="Plot N points at once (Older/Newer page).")
    @argument("--last", type=int, default=None, help="The older name of --window.")
    @line_magic
    def dataops_chart(self, line: str):  # noqa: ANN201
        """Show the control chart of one metric of a step over its production runs, as its spc
        line judged it (the line's chart type, rules and baseline; its verdicts as violations).

        Example: ``%dataops_chart load avg(amount) --window 100``
        """
        from jupyter_dataops.widgets import chart_widget

        args = parse_argstring(self.dataops_chart, line)
        return chart_widget(args.step, args.metric, window=args.window, last=args.last)

    @magic_arguments()
    @argument("step", help="The step whose output is wrong.")
    @argument("title", nargs="+", help="What is wrong, in a sentence (quotes optional).")
    @argument("--partition", default=None, help="The period it is wrong for, e.g. 2026-09-01.")
    @line_magic
    def dataops_incident(self, line: str):  # noqa: ANN201
        """Report a problem in a step's data to the people who run it: an incident, listed
        (``dataops incidents``) and alerted like a failing check.

        Example: ``%dataops_incident orders "revenue is zero for Belgium"``
        """
        import os

        from jupyter_dataops.pipeline.definition.project import Project
        from jupyter_dataops.pipeline.observers.incident_actions import report_incident
        from jupyter_dataops.pipeline.observers.incidents import current_user
        from jupyter_dataops.pipeline.views.history import open_project_store

        args = parse_argstring(self.dataops_incident, line)
        title = " ".join(args.title).strip().strip("\"'")
        project = Project.require()
        store = open_project_store(url=project.store_url)
        by = os.environ.get("JUPYTERHUB_USER") or current_user()
        done = report_incident(
            project.pipeline, store, args.step, title, partition=args.partition, by=by
        )
        verb = "opened" if done["opened_here"] else f"already open (seen {done['count']} times)"
        print(f"incident {done['id']} {verb}: {done['title']}")
        return None


def _should_raise(result, fail_on: str) -> bool:  # noqa: ANN001
    statuses = {r.status for r in result.results}
    if fail_on == "never":
        return False
    bad = {"fail", "error"} if fail_on == "fail" else {"fail", "error", "warn"}
    return bool(statuses & bad)


def _show_dataops_error(shell, etype, evalue, tb, tb_offset=None):  # noqa: ANN001, ANN202
    """Show our own errors as their message, without a Python traceback to scroll through.

    The cell still ends in error (papermill marks the notebook failed); only the display is short.
    """
    stb = [f"{etype.__name__}: {evalue}"]
    shell._showtraceback(etype, evalue, stb)
    return stb


def load_ipython_extension(ipython) -> None:  # noqa: ANN001
    """``%load_ext jupyter_dataops``: register the magics and short error display."""
    ipython.register_magics(DataOpsMagics(shell=ipython, parent=ipython))
    ipython.set_custom_exc((DataOpsError,), _show_dataops_error)


def unload_ipython_extension(ipython) -> None:  # noqa: ANN001
    ipython.set_custom_exc((), None)
