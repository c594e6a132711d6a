"""``DataOpsExtension``: the jupyter_server ExtensionApp that serves ``/dataops/api/``."""

from __future__ import annotations

import importlib

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, Type, Unicode

from jupyter_dataops.server.handlers import ROUTES, UNKNOWN_ROUTE
from jupyter_dataops.server.launcher import RunLauncher
from jupyter_dataops.server.locator import ProjectLocator

# The modules the routes import when first asked, in worker threads. Two first requests at once
# (the sidebar's status and a chart tab restored with the layout) would import them in two
# threads; where their imports form a cycle, Python's deadlock avoidance then hands one thread a
# partly initialised module, and that route answers 500 until the server restarts. Imported here,
# once, on the main thread, before the server takes a request.
ROUTE_MODULES = (
    "jupyter_dataops.checks.planner",  # the package itself loads its names lazily
    "jupyter_dataops.checks.language",
    "jupyter_dataops.checks.display",
    "jupyter_dataops.store.api",
    "jupyter_dataops.pipeline.definition.project",
    "jupyter_dataops.pipeline.definition.secret_params",
    "jupyter_dataops.pipeline.definition.versions",
    "jupyter_dataops.pipeline.execution.promote",
    "jupyter_dataops.pipeline.execution.runner",
    "jupyter_dataops.pipeline.observers.incident_actions",
    "jupyter_dataops.pipeline.scheduling.schedule_status",
    "jupyter_dataops.pipeline.views.charts",
    "jupyter_dataops.pipeline.views.grid",
    "jupyter_dataops.pipeline.views.status",
)


class DataOpsExtension(ExtensionApp):
    """REST API of jupyter-dataops for the JupyterLab panel.

    Configure with ``--DataOpsExtension.project_dir=sub/folder`` when the project
    (``dataops.yaml``) is not in the server's root folder, and with
    ``--DataOpsExtension.launcher_class=mypkg.MyLauncher`` to start "Run now" runs and
    promotions somewhere else (a ``RunLauncher`` subclass: ``start``, ``promote``, ``shutdown``).
    """

    name = "jupyter_dataops"
    load_other_extensions = True

    project_dir = Unicode(
        "",
        config=True,
        help=(
            "Folder of the project's dataops.yaml, relative to the server's root folder "
            "(default: the root folder itself)."
        ),
    )

    launcher_class = Type(
        default_value=RunLauncher,
        klass=RunLauncher,
        config=True,
        help=(
            "The class that starts runs and promotions for the REST API (a subclass of "
            "jupyter_dataops.server.launcher.RunLauncher), as an importable dotted name."
        ),
    )

    answer_cache_mb = Int(
        64,
        min=0,
        config=True,
        help=(
            "Memory (MiB) for the read routes' kept answers, reused while the pipeline file and "
            "the run store are unchanged; 0 keeps none (every request reads the store)."
        ),
    )

    def initialize_settings(self) -> None:
        root = self.serverapp.root_dir if self.serverapp is not None else "."
        self.locator = ProjectLocator(root, self.project_dir)
        self.locator.answers.max_bytes = self.answer_cache_mb * 2**20
        self.launcher = self.launcher_class(log=self.log)
        for module in ROUTE_MODULES:
            importlib.import_module(module)
        self.log.info("jupyter-dataops: serving the project in %s", self.locator.project_dir)

    def initialize_handlers(self) -> None:
        self.handlers.extend([*ROUTES, UNKNOWN_ROUTE])  # the fallback last

    async def stop_extension(self) -> None:
        self.launcher.shutdown()
        self.locator.close()
