"""REST handlers under ``/dataops/api/``: thin doors onto the store and the pipeline rooms.

Every handler requires Jupyter's authentication (``@tornado.web.authenticated``: 403 without a
token or login cookie; POST also needs the XSRF token when authenticated by cookie). Blocking work
(SQL, loading the pipeline file, starting a run) runs in a worker thread so the server stays
responsive. The routes are described in ``openapi.yaml`` beside this module; a test keeps the two
in step.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.server import actions, incident_actions
from jupyter_dataops.server.answers import clock_bucket, to_json
from jupyter_dataops.server.locator import OutsideRootError, ProjectLocator

API = "/dataops/api"
MAX_LIMIT = 500
CHART_WINDOW = 90  # the points a chart shows unless asked for more (limit=0: all)
STEP_NAME = r"(?P<step>[A-Za-z_][A-Za-z0-9_\-]*)"
RUN_ID = r"(?P<run_id>[0-9]+)"
MAX_BODY_BYTES = 1_048_576  # a request body (docs/SECURITY.md); a parameter: MAX_VALUE_CHARS
MAX_ID = 2**63 - 1  # the largest id a store column holds; a larger one names no run
#: a partition key (2026-09-01T06, 2026-09-01, 2026-W36, 2026-09); checked against the pipeline's
#: ``partitions:`` by the route, which says what is wrong with a bad one
PARTITION = r"(?P<partition>[0-9A-Za-z\-]{1,32})"
INCIDENT_ID = r"(?P<incident_id>[0-9]+)"


class DataOpsHandler(ExtensionHandlerMixin, APIHandler):
    """Base: JSON in and out, errors as ``{"message": ...}`` with a status code."""

    @property
    def locator(self) -> ProjectLocator:
        return self.extensionapp.locator  # type: ignore[attr-defined]

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user and len(self.request.body or b"") > MAX_BODY_BYTES:
            raise tornado.web.HTTPError(
                413,
                f"the request body is {len(self.request.body):,} bytes, more than the limit of "
                f"{MAX_BODY_BYTES:,}. Pass large data as a file path or a table name.",
            )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:  # RFC 9110: a 405 says which methods the route has
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        super().write_error(status_code, **kwargs)

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler defines (the others answer 405)."""
        base = tornado.web.RequestHandler
        methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
        return [m for m in methods if getattr(cls, m.lower()) is not getattr(base, m.lower())]

    def send(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    def int_arg(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw) if len(raw) <= 40 else None
        except ValueError:
            value = None
        if value is None:
            shown = raw if len(raw) <= 40 else f"{raw[:40]}…"
            raise tornado.web.HTTPError(
                400, f"query parameter {name!r} must be a whole number, not {shown!r}."
            )
        if value < minimum or value > (MAX_ID if maximum is None else maximum):
            top = f" and at most {MAX_ID if maximum is None else maximum}"
            raise tornado.web.HTTPError(
                400, f"query parameter {name!r} must be at least {minimum}{top}, not {value}."
            )
        return value

    def str_arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value.strip() or None if value is not None else None

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except json.JSONDecodeError as exc:
            raise tornado.web.HTTPError(
                400,
                f"the request body is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.",
            ) from None
        except (RecursionError, ValueError):  # nested too deep; a number too long to read
            raise tornado.web.HTTPError(
                400, "the request body is JSON nested too deeply or with a number too long to read."
            ) from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object.")
        return body

    def run_id(self, raw: str) -> int:
        """A run id from the path; 0 or one larger than any stored id is 404, not an overflow."""
        if len(raw) > len(str(MAX_ID)) or int(raw) > MAX_ID:
            raise tornado.web.HTTPError(404, "run not found: no run has an id that large.")
        if int(raw) < 1:
            raise tornado.web.HTTPError(404, "run not found: run ids start at 1.")
        return int(raw)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking room function in a worker thread; turn its errors into HTTP errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except OutsideRootError as exc:
            raise tornado.web.HTTPError(403, str(exc)) from None
        except actions.NotFound as exc:
            raise tornado.web.HTTPError(404, str(exc)) from None
        except DataOpsError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None

    async def answer(
        self,
        fn: Any,
        *args: Any,
        clock: bool = False,
        files: Any = None,
        compact: bool = False,
        **kwargs: Any,
    ) -> None:
        """Send ``fn(locator, *args, **kwargs)`` as JSON, kept in the server's answers while the
        pipeline file and the store are unchanged (``answers``). ``clock``: the answer depends
        on the time too, keep it a second at most; ``files(locator)``: the stamp of other files
        it reads (None: do not keep it). The reading and the stamps run in a worker thread."""
        locator = self.locator

        def read() -> bytes:
            stamp = locator.stamp()
            more = files(locator) if files is not None and stamp is not None else ()
            key = None
            if stamp is not None and more is not None:
                bucket = clock_bucket() if clock else None
                key = (fn.__name__, args, tuple(sorted(kwargs.items())), stamp, more, bucket)
            return locator.answers.get(
                key, lambda: to_json(fn(locator, *args, **kwargs), compact=compact)
            )

        body = await self.call(read)
        self.set_status(200)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)


class PipelinesHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        # next run times and whether notebooks changed since promotion: the clock and the
        # notebooks' files, not only the store
        await self.answer(actions.pipelines, clock=True, files=actions.notebook_stamps)


class StatusHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(actions.status, clock=True)  # heartbeats age, ticks come due


class RunsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(
            actions.runs,
            step=self.str_arg("step"),
            status=self.str_arg("status"),
            pipeline=self.str_arg("pipeline"),
            limit=self.int_arg("limit", 50, minimum=1, maximum=MAX_LIMIT),
            offset=self.int_arg("offset", 0),
        )


class RunHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        self.send(await self.call(actions.run_detail, self.locator, self.run_id(run_id)))


class RunNotebookHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        content = self.get_query_argument("content", "1") not in ("0", "false")
        self.send(
            await self.call(
                actions.executed_notebook, self.locator, self.run_id(run_id), content=content
            )
        )


class MetricsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        step = self.str_arg("step")
        metric = self.str_arg("metric")
        if not step or not metric:
            raise tornado.web.HTTPError(
                400,
                "give both `step` and `metric`, e.g. /dataops/api/metrics?step=load&metric=row_count"
                " (GET /dataops/api/steps/{step}/metrics lists a step's metrics).",
            )
        await self.answer(
            actions.metric_chart,
            step=step,
            metric=metric,
            pipeline=self.str_arg("pipeline"),
            limit=self.int_arg("limit", CHART_WINDOW) or None,
            before=self.int_arg("before", 0) or None,
            compact=True,  # 10,000 points of a year stay under 1 MB
        )


class StepMetricsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self, step: str) -> None:
        await self.answer(actions.step_metrics, step, pipeline=self.str_arg("pipeline"))


class StepRunHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def post(self, step: str) -> None:
        body = self.json_body()
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise tornado.web.HTTPError(400, "`parameters` must be a JSON object of name: value.")
        payload = await self.call(
            actions.start_step_run,
            self.locator,
            step,
            parameters=parameters,
            launcher=self.extensionapp.launcher,  # type: ignore[attr-defined]
        )
        self.send(payload, status=202)


class PromoteHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        notebook = body.get("notebook")
        step = body.get("step")
        if not isinstance(notebook, str) or not notebook.strip():
            raise tornado.web.HTTPError(
                400, "`notebook` is required: the notebook's path relative to the Jupyter root."
            )
        if not isinstance(step, str) or not step.strip():
            raise tornado.web.HTTPError(400, "`step` is required: the name of the pipeline step.")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise tornado.web.HTTPError(400, "`parameters` must be a JSON object of name: value.")
        schedule = body.get("schedule") or None
        if schedule is not None and not isinstance(schedule, str):
            raise tornado.web.HTTPError(400, "`schedule` must be a cron expression string.")
        payload = await self.call(
            actions.promote_notebook,
            self.locator,
            notebook=notebook,
            step=step.strip(),
            parameters=parameters,
            schedule=schedule,
            launcher=self.extensionapp.launcher,  # type: ignore[attr-defined]
            user=self.current_user.username if self.current_user else None,
        )
        self.send(payload)


class GridHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(  # late partitions: the clock too
            actions.grid,
            pipeline=self.str_arg("pipeline"),
            limit=self.int_arg("limit", 14, minimum=1, maximum=MAX_LIMIT),
            offset=self.int_arg("offset", 0),
            clock=True,
        )


class PartitionRunHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def post(self, partition: str) -> None:
        payload = await self.call(
            actions.rerun_partition,
            self.locator,
            partition,
            launcher=self.extensionapp.launcher,  # type: ignore[attr-defined]
        )
        self.send(payload, status=202)


class IncidentsHandler(DataOpsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        everything = (self.str_arg("all") or "false").lower()
        if everything not in ("true", "false"):
            raise tornado.web.HTTPError(400, "query parameter 'all' must be true or false.")
        payload = await self.call(
            incident_actions.incidents, self.locator, include_resolved=everything == "true"
        )
        self.send(payload)

    @tornado.web.authenticated
    async def post(self) -> None:
        payload = await self.call(
            incident_actions.report, self.locator, self.json_body(), user=user_name(self)
        )
        self.send(payload, status=201 if payload.get("opened_here") else 200)


def user_name(handler: DataOpsHandler) -> str:
    """Who acted: the Jupyter user (JupyterHub's name, or the server's user)."""
    user = handler.current_user
    return str(getattr(user, "username", None) or getattr(user, "name", None) or user)


class IncidentActionHandler(DataOpsHandler):
    action = "ack"  # or "resolve"

    @tornado.web.authenticated
    async def post(self, incident_id: str) -> None:
        if len(incident_id) > len(str(MAX_ID)) or not 0 < int(incident_id) <= MAX_ID:
            raise tornado.web.HTTPError(404, "incident not found: ids are whole numbers from 1.")
        payload = await self.call(
            incident_actions.act,
            self.locator,
            int(incident_id),
            self.action,
            user=user_name(self),
            note=self.json_body().get("note"),
        )
        self.send(payload)


class IncidentResolveHandler(IncidentActionHandler):
    action = "resolve"
    post = IncidentActionHandler.post  # a route's own methods (the route-table test reads them)


class UnknownRouteHandler(DataOpsHandler):
    """Any other path under the API (an unknown route, a step name or run id the route's
    pattern refuses): a JSON 404 like every other error here, not the server's HTML page."""

    @tornado.web.authenticated
    async def get(self) -> None:
        raise tornado.web.HTTPError(
            404,
            f"no such route: {self.request.method} {self.request.path[:120]}. The routes are "
            "described in openapi.yaml; step names start with a letter or '_', run ids are "
            "whole numbers.",
        )

    post = put = patch = delete = get


#: served after ``ROUTES`` (extension.py), so that it only answers what no route matched
UNKNOWN_ROUTE: tuple[str, type[DataOpsHandler]] = (f"{API}/.*", UnknownRouteHandler)

ROUTES: list[tuple[str, type[DataOpsHandler]]] = [
    (f"{API}/pipelines", PipelinesHandler),
    (f"{API}/status", StatusHandler),
    (f"{API}/runs", RunsHandler),
    (f"{API}/runs/{RUN_ID}", RunHandler),
    (f"{API}/runs/{RUN_ID}/notebook", RunNotebookHandler),
    (f"{API}/metrics", MetricsHandler),
    (f"{API}/steps/{STEP_NAME}/metrics", StepMetricsHandler),
    (f"{API}/steps/{STEP_NAME}/run", StepRunHandler),
    (f"{API}/promote", PromoteHandler),
    (f"{API}/grid", GridHandler),
    (f"{API}/partitions/{PARTITION}/run", PartitionRunHandler),
    (f"{API}/incidents", IncidentsHandler),
    (f"{API}/incidents/{INCIDENT_ID}/ack", IncidentActionHandler),
    (f"{API}/incidents/{INCIDENT_ID}/resolve", IncidentResolveHandler),
]
