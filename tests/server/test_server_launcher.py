"""The server's launcher is a configurable class (``DataOpsExtension.launcher_class``).

A real jupyter_server with the extension, configured with the launcher class below by its dotted
name; "Run now" goes through it instead of starting a worker process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jupyter_dataops.server.launcher import RunLauncher

pytest_plugins = ["pytest_jupyter.jupyter_server"]


class RecordingLauncher(RunLauncher):
    """Starts nothing: records what it was asked to start and answers with made-up ids."""

    started: list[tuple[str, dict]] = []

    def start(self, state, step, *, parameters, store):  # noqa: ANN001, ANN201
        type(self).started.append((step, parameters))
        return {"pipeline_run_id": 41, "step_run_id": 42, "step": step, "status": "queued"}


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_dataops.server": True}},
        "DataOpsExtension": {"launcher_class": f"{__name__}.RecordingLauncher"},
    }


async def test_run_now_goes_through_the_configured_launcher_class(jp_fetch, jp_root_dir):
    (Path(jp_root_dir) / "dataops.yaml").write_text(
        yaml.safe_dump({"pipeline": "shop", "steps": {"orders": {"notebook": "orders.ipynb"}}})
    )
    RecordingLauncher.started.clear()
    response = await jp_fetch(
        "dataops",
        "api",
        "steps",
        "orders",
        "run",
        method="POST",
        body=json.dumps({"parameters": {"n_rows": 5}}),
    )
    assert response.code == 202
    assert json.loads(response.body)["step_run_id"] == 42
    assert RecordingLauncher.started == [("orders", {"n_rows": 5})]


def test_the_launcher_class_must_be_a_run_launcher():
    from traitlets import TraitError

    from jupyter_dataops.server.extension import DataOpsExtension

    with pytest.raises(TraitError):
        DataOpsExtension(launcher_class="builtins.dict")
