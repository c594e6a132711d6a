"""``spc`` and ``drift ... against last`` lines of a promoted notebook find the step's production
history the same way in JupyterLab, under papermill and under nbclient (issue 25 item 5), and
say exactly why not when they cannot: each test runs the notebook on a real kernel."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from builders import cli_env, invoke, write_notebook

from jupyter_dataops.pipeline.execution import context

pytestmark = pytest.mark.slow

SPC = "spc avg(amount): baseline 3"
DRIFT = "warn: drift(amount) < 0.5: psi against last"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A promoted step ``orders`` of pipeline ``shop`` with three production runs (seeds 1-3);
    the test process is elsewhere and tells kernels nothing about the project."""
    root = tmp_path_factory.mktemp("shop")
    write_notebook(
        root / "orders.ipynb",
        "seed = 1",
        "%load_ext jupyter_dataops\nimport random\nimport polars as pl\n"
        "rng = random.Random(seed)\n"
        "orders = pl.DataFrame({'amount': [rng.gauss(50, 10) for _ in range(200)]})",
        f"%%dataops_test orders\n{SPC}\n{DRIFT}",
        "import json\n"
        "print('VERDICTS ' + json.dumps({r.source: [r.status, r.message] for r in _.results}))",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        cli_env(mp)
        for name in ("JPY_SESSION_NAME", context.ENV_MODE, context.ENV_PROJECT_DIR):
            mp.delenv(name, raising=False)
        out = invoke("promote", "orders.ipynb", "--step", "orders")
        assert out.exit_code == 0, out.output
        for seed in (1, 2, 3):
            out = invoke("run", "-p", f"seed={seed}")
            assert out.exit_code == 0, out.output
        runs = json.loads(invoke("runs", "--json").stdout)
        elsewhere = tmp_path_factory.mktemp("elsewhere")
        mp.chdir(elsewhere)
        yield {"root": root, "elsewhere": elsewhere, "last": runs[0]["id"], "runs": len(runs)}


def verdicts(nb) -> dict[str, list[str]]:
    """{check line: [status, message]} as the notebook's last cell printed them."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if text.startswith("VERDICTS "):
                return json.loads(text[len("VERDICTS ") :])
    raise AssertionError("the notebook printed no verdicts")


def assert_judged_against_production(found: dict, project: dict) -> None:
    status, message = found[SPC]
    assert status == "pass" and "is in control" in message, message
    assert "baseline 3 runs" in message
    status, message = found[DRIFT]
    assert status in ("pass", "warn"), message
    # the message names the run it compared with, and what that run was given
    assert f"(compared with run {project['last']}, seed=3)" in message, message
    # an interactive run reads the history and records nothing
    from jupyter_dataops.pipeline.definition.project import Project

    assert Project(project["root"]).require_store().count_runs() == project["runs"]


def test_jupyterlab_kernel_finds_the_history_from_its_session(project, monkeypatch):
    """As JupyterLab starts it: in the notebook's folder, the session's path in
    ``JPY_SESSION_NAME`` (jupyter_server's ``SessionManager.get_kernel_env``)."""
    from nbclient import NotebookClient

    root = project["root"]
    monkeypatch.chdir(root)
    nb = nbformat.read(root / "orders.ipynb", as_version=4)
    env = {**os.environ, "JPY_SESSION_NAME": str(root / "orders.ipynb")}
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute(
        env=env
    )
    assert_judged_against_production(verdicts(nb), project)


def test_papermill_from_another_folder_finds_it_with_cwd_or_says_why_not(project):
    import papermill as pm

    root, elsewhere = project["root"], project["elsewhere"]
    assert os.getcwd() == str(elsewhere)
    out = elsewhere / "out.ipynb"
    pm.execute_notebook(
        str(root / "orders.ipynb"), str(out), cwd=str(root), kernel_name="python3",
        progress_bar=False,
    )  # fmt: skip
    assert_judged_against_production(verdicts(nbformat.read(out, as_version=4)), project)

    # without cwd the kernel runs here, knowing neither its notebook nor its project
    pm.execute_notebook(
        str(root / "orders.ipynb"), str(out), kernel_name="python3", progress_bar=False
    )
    found = verdicts(nbformat.read(out, as_version=4))
    status, message = found[SPC]
    assert status == "baseline"
    assert message.startswith("collecting baseline 0/3 (no production history: this kernel was")
    assert f"{elsewhere} and its parents hold no dataops.yaml" in message
    assert "papermill: cwd=FOLDER or --cwd FOLDER" in message
    status, message = found[DRIFT]
    assert status == "baseline" and "this kernel was not told its notebook" in message


def test_nbclient_finds_the_history_from_its_resources_path(project):
    """nbclient starts the kernel in ``resources['metadata']['path']``; the kernel is not told
    its notebook, so the step is the one whose notebook holds this ``%%dataops_test`` cell."""
    from nbclient import NotebookClient

    root = project["root"]
    nb = nbformat.read(root / "orders.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    assert os.getcwd() == str(project["elsewhere"])
    assert_judged_against_production(verdicts(nb), project)
