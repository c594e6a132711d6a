"""Warm kernels: each step's kernel is forked from a preloaded template, on real kernels."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from builders import dataops, promoted, wait_for, write_notebook

from jupyter_dataops.pipeline.execution import warm
from jupyter_dataops.pipeline.execution.execute import NotebookJob, execute_notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix" or not hasattr(os, "fork"), reason="forks kernels"),
]

WHO = "import os, json\nprint(json.dumps({'pid': os.getpid(), 'ppid': os.getppid()}))"


@pytest.fixture(autouse=True)
def warm_on(monkeypatch):
    monkeypatch.delenv(warm.ENV_WARM, raising=False)
    monkeypatch.setattr(warm, "_said", set())


def run(path: Path, out: str, **kw) -> tuple:
    result = execute_notebook(
        NotebookJob(str(path), str(path.parent / out), cwd=str(path.parent), **kw)
    )
    return result, nbformat.read(result.output, as_version=4)


def who(nb, index: int = 1) -> dict:
    return json.loads(nb.cells[index].outputs[0]["text"])


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_each_step_is_a_fresh_forked_process_that_sees_nothing_of_the_step_before(tmp_path):
    first = write_notebook(
        tmp_path / "first.ipynb",
        "x = 1",
        WHO,
        "import json, polars\nLEAK = 'step 1'\njson.LEAK = polars.LEAK = 'step 1'",
    )
    second = write_notebook(
        tmp_path / "second.ipynb",
        "x = 2",
        WHO,
        "import json, polars\nprint(json.dumps({'global': 'LEAK' in globals(),\n"
        "    'json': hasattr(json, 'LEAK'), 'polars': hasattr(polars, 'LEAK')}))",
    )
    one, nb1 = run(first, "out1.ipynb", env={"DATAOPS_MODE": "test"})
    two, nb2 = run(second, "out2.ipynb")

    assert one.ok and two.ok, (one.error, two.error)
    template = warm.template()
    assert template is not None
    k1, k2 = who(nb1), who(nb2)
    assert k1["ppid"] == k2["ppid"] == template.pid  # forked from the template, not started
    assert k1["pid"] != k2["pid"] and gone(k1["pid"]) and gone(k2["pid"])
    assert json.loads(nb2.cells[-1].outputs[0]["text"]) == {
        "global": False,
        "json": False,
        "polars": False,
    }


def test_the_kernel_runs_in_the_step_folder_with_the_step_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOPS_MODE", "not this")  # the job's env wins, as with a plain start
    src = write_notebook(
        tmp_path / "step" / "env.ipynb",
        "x = 1",
        "import os, sys\nprint(os.getcwd(), os.environ['DATAOPS_MODE'], sys.path[0] == os.getcwd())",
    )
    result, nb = run(src, "out.ipynb", env={"DATAOPS_MODE": "production"})
    assert result.ok, result.error
    assert nb.cells[1].outputs[0]["text"].split() == [str(src.parent), "production", "True"]


def test_the_executed_notebook_is_what_papermill_writes(tmp_path, monkeypatch):
    import papermill as pm

    src = write_notebook(tmp_path / "nb.ipynb", "x = 1", "y = x * 2\nprint(y)", "y")
    warm_result, warm_nb = run(src, "warm.ipynb", parameters={"x": 21})
    pm.execute_notebook(
        str(src),
        str(tmp_path / "plain.ipynb"),
        parameters={"x": 21},
        cwd=str(tmp_path),
        progress_bar=False,
    )
    plain_nb = nbformat.read(tmp_path / "plain.ipynb", as_version=4)

    assert warm_result.ok
    assert set(warm_nb.metadata) == set(plain_nb.metadata)
    assert set(warm_nb.metadata.papermill) == set(plain_nb.metadata.papermill)
    assert warm_nb.metadata.papermill["parameters"] == {"x": 21}
    assert [c.metadata.get("tags") for c in warm_nb.cells] == [
        c.metadata.get("tags") for c in plain_nb.cells
    ]
    assert "injected-parameters" in warm_nb.cells[1].metadata.tags
    strip = ("execution_count",)
    for ours, theirs in zip(warm_nb.cells, plain_nb.cells, strict=True):
        assert ours.source == theirs.source
        assert [
            {k: v for k, v in o.items() if k not in strip} for o in ours.get("outputs", [])
        ] == [{k: v for k, v in o.items() if k not in strip} for o in theirs.get("outputs", [])]
        assert set(ours.metadata.papermill) == set(theirs.metadata.papermill)
    assert warm_nb.cells[2].outputs[0]["text"] == "42\n"


def test_a_warm_kernel_over_the_step_timeout_is_killed_and_reaped(tmp_path):
    src = write_notebook(tmp_path / "slow.ipynb", "x = 1", WHO, "import time\ntime.sleep(120)")
    start = time.monotonic()
    result, nb = run(src, "out.ipynb", timeout=8)

    assert result.reason == "timeout" and "timeout of 8 s" in result.error
    assert time.monotonic() - start < 60
    kernel = who(nb)["pid"]
    deadline = time.monotonic() + 10
    while not gone(kernel) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(kernel)  # killed, and reaped by the template (no zombie)


def test_killing_a_forked_kernel_through_its_manager(tmp_path):
    from jupyter_dataops.pipeline.execution.execute import _WatchedKernelManager

    async def start_and_kill() -> tuple[int, int | None]:
        km = _WatchedKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path))
        pid = km.provisioner.pid
        assert psutil.Process(pid).ppid() == warm.template().pid
        await km.shutdown_kernel(now=True)  # kill by pid; the template reaps it
        return pid, await km.provisioner.poll()

    pid, code = asyncio.run(start_and_kill())
    assert not psutil.pid_exists(pid)
    assert code is not None


def test_a_kernel_crash_is_kernel_died_and_the_template_survives_it(tmp_path):
    crash = write_notebook(tmp_path / "crash.ipynb", "x = 1", WHO, "import os\nos._exit(3)")
    result, nb = run(crash, "out.ipynb")
    assert result.reason == "kernel_died" and result.ename == "DeadKernelError"
    assert nb.cells[2].outputs[-1]["ename"] == "DeadKernelError"

    template = warm.template()
    assert template is not None and who(nb)["ppid"] == template.pid
    assert psutil.Process(template.pid).is_running()
    after, nb_after = run(write_notebook(tmp_path / "ok.ipynb", "x = 1", WHO), "ok-out.ipynb")
    assert after.ok and who(nb_after)["ppid"] == template.pid


def test_no_forked_kernel_outlives_its_step_nor_the_template_its_process(tmp_path):
    src = write_notebook(tmp_path / "nb.ipynb", "x = 1", WHO)
    pids = [who(run(src, f"out{i}.ipynb")[1])["pid"] for i in range(2)]
    template = warm.template()
    assert template is not None
    assert psutil.Process(template.pid).children() == []
    assert all(not psutil.pid_exists(pid) for pid in pids)

    warm.shutdown()
    assert not psutil.pid_exists(template.pid)
    assert not Path(template.path).exists()


def test_with_warm_kernels_off_kernels_start_plainly_and_one_line_says_so(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(warm.ENV_WARM, "0")
    src = write_notebook(tmp_path / "nb.ipynb", "x = 1", WHO)
    with caplog.at_level(logging.INFO, logger=warm.__name__):
        results = [run(src, f"out{i}.ipynb") for i in range(2)]

    assert all(result.ok for result, _ in results)
    assert all(who(nb)["ppid"] == os.getpid() for _, nb in results)  # our own child: Popen
    lines = [r.getMessage() for r in caplog.records if r.name == warm.__name__]
    assert lines == ["warm kernels off: DATAOPS_WARM_KERNELS=0; kernels start plainly"]


def test_only_this_interpreters_python3_kernel_is_forked():
    python = [os.sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"]
    assert warm.why_not_warm(python, {}) is None
    assert warm.why_not_warm([*python, "--HistoryManager.hist_file=:memory:"], {}) is None
    assert "not this interpreter" in warm.why_not_warm(["/usr/bin/R", "--slave", "-f", "x"], {})
    assert "not this interpreter" in warm.why_not_warm([*python, "extra"], {})
    assert warm.why_not_warm(python, {warm.ENV_WARM: "0"}) == "DATAOPS_WARM_KERNELS=0"


def test_a_step_on_a_dask_worker_runs_in_a_kernel_forked_there_that_sees_nothing_before(
    tmp_path, monkeypatch
):
    pytest.importorskip("distributed")
    from builders import dask_cluster

    from jupyter_dataops.pipeline.definition.spec import load_pipeline
    from jupyter_dataops.pipeline.execution.runner import run_pipeline

    monkeypatch.delenv("DATAOPS_STORE_URL", raising=False)
    # who forked the kernel: the parent's command line, read while the cluster still runs
    parent = (
        "import os, json, psutil\nprint(json.dumps({'pid': os.getpid(), "
        "'parent': psutil.Process(os.getppid()).cmdline()}))"
    )
    write_notebook(
        tmp_path / "first.ipynb",
        "x = 1",
        parent,
        "import json, polars\nLEAK = 'step 1'\njson.LEAK = polars.LEAK = 'step 1'",
    )
    write_notebook(
        tmp_path / "second.ipynb",
        "x = 2",
        parent,
        "import json, polars\nprint(json.dumps({'global': 'LEAK' in globals(),\n"
        "    'json': hasattr(json, 'LEAK'), 'polars': hasattr(polars, 'LEAK')}))",
    )
    (tmp_path / "dataops.yaml").write_text(
        "pipeline: p\nsteps:\n  first: {notebook: first.ipynb}\n"
        "  second: {notebook: second.ipynb, depends_on: [first]}\n"
    )
    with dask_cluster() as (address, _client):
        result = run_pipeline(
            load_pipeline(tmp_path / "dataops.yaml"),
            unpromoted=True,
            executor="dask",
            executor_options={"address": address},
        )
        assert result.ok, {n: o.error for n, o in result.steps.items()}
        nbs = {n: nbformat.read(o.notebook, as_version=4) for n, o in result.steps.items()}

    kernels = [json.loads(nbs[n].cells[1].outputs[0]["text"]) for n in ("first", "second")]
    for kernel in kernels:  # forked by a template on the worker, not started by Popen
        assert kernel["parent"][1:][:2] == ["-m", "jupyter_dataops.pipeline.execution.warm"]
    assert kernels[0]["pid"] != kernels[1]["pid"]
    assert json.loads(nbs["second"].cells[-1].outputs[0]["text"]) == {
        "global": False,
        "json": False,
        "polars": False,
    }


def test_dataops_run_after_dataops_run_forks_from_the_projects_template_until_it_idles(tmp_path):
    write_notebook(
        tmp_path / "who.ipynb",
        'run_date = "x"',
        WHO,
        "import json\nprint(hasattr(json, 'LEAK'))\njson.LEAK = run_date",
    )
    yaml = promoted(tmp_path, "who", "pipeline: p\n")
    yaml.write_text("pipeline: p\nsteps:\n  who: {notebook: who.ipynb}\n")
    env = {**os.environ, "DATAOPS_WARM_IDLE": "20"}
    kernels = []
    for day in ("d1", "d2"):
        done = dataops("run", "-p", f"run_date={day}", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        newest = max((tmp_path / ".dataops" / "runs").iterdir(), key=lambda p: int(p.name))
        nb = nbformat.read(newest / "who.ipynb", as_version=4)
        kernels.append({**who(nb, 2), "leak": nb.cells[3].outputs[0]["text"].strip()})

    first, second = kernels  # the second command's kernel: forked by the template the first
    assert first["ppid"] == second["ppid"]  # command started, which outlived it
    assert first["pid"] != second["pid"] and second["leak"] == "False"  # a fresh process
    template = psutil.Process(first["ppid"])
    assert template.cmdline()[1:3] == ["-m", "jupyter_dataops.pipeline.execution.warm"]
    # where it listens: the project's .dataops/, or a private folder of the user's when that
    # path is too long for a Unix socket (pytest-xdist's temp folders can be)
    socket_file = Path(template.cmdline()[3])
    assert socket_file.name.startswith(("warm-", "dataops-warm-")) or socket_file.parent.name == (
        f"dataops-warm-{os.getuid()}"
    )
    assert socket_file.is_socket() and socket_file.stat().st_mode & 0o077 == 0  # the user's only
    if socket_file.parent != tmp_path / ".dataops":
        assert socket_file.parent.stat().st_mode & 0o077 == 0

    wait_for(lambda: gone(template.pid), 60, "the idle template to exit")
    assert not socket_file.exists()


def test_a_stale_project_socket_is_replaced_by_a_live_template(tmp_path, monkeypatch):
    import socket as sockets

    from jupyter_dataops.pipeline.execution import warm_server

    monkeypatch.setattr(warm, "_template", None)
    monkeypatch.setattr(warm, "_project", None)
    monkeypatch.setenv("DATAOPS_WARM_IDLE", "60")
    state = tmp_path / ".dataops"
    state.mkdir()
    path = warm_server.socket_path(state, warm_server.environment_key(warm.PRELOAD))
    stale = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    stale.bind(path)  # what a killed template leaves: the file, nobody listening
    stale.close()
    warm.use_project_server(state)
    src = write_notebook(tmp_path / "nb.ipynb", "x = 1", WHO)
    try:
        result, nb = run(src, "out.ipynb")
        template = warm.template()
        assert result.ok, result.error
        assert isinstance(template, warm.SharedTemplate) and template.path == path
        assert who(nb)["ppid"] == template.pid != os.getpid()
    finally:
        if warm._template is not None:
            os.kill(warm._template.pid, 15)
    wait_for(lambda: gone(template.pid), 15, "the template to stop")


def test_dataops_run_in_a_project_that_ran_is_forked_from_its_template_and_stays_the_command(
    tmp_path,
):
    """In a project that has run, `dataops run` runs in a child of the project's template
    (warm_command): its output and exit code are the command's, its runs name the `dataops`
    process, SIGTERM sent to that process records the step interrupted, and when that process
    is killed nothing it started lives on."""
    import signal
    import subprocess
    import sys

    from jupyter_dataops.store import open_store

    write_notebook(tmp_path / "nap.ipynb", "seconds = 0", WHO, "import time\ntime.sleep(seconds)")
    yaml = promoted(tmp_path, "nap", "pipeline: p\n")  # .dataops/ exists from here on
    yaml.write_text("pipeline: p\nsteps:\n  nap: {notebook: nap.ipynb}\n")
    env = {**os.environ, "DATAOPS_WARM_IDLE": "5", "COLUMNS": "120"}
    env.pop("DATAOPS_STORE_URL", None)

    done = dataops("run", cwd=tmp_path, env=env)
    assert done.returncode == 0 and "nap" in done.stdout, done.stdout + done.stderr
    refused = dataops("run", "-p", "seconds=soon", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "expects int" in refused.stderr, refused.stderr
    newest = max((tmp_path / ".dataops" / "runs").iterdir(), key=lambda p: int(p.name))
    nb = nbformat.read(newest / "nap.ipynb", as_version=4)
    template = psutil.Process(who(nb, [c.source for c in nb.cells].index(WHO))["ppid"])

    procs: list[subprocess.Popen] = []

    def started() -> tuple[subprocess.Popen, int]:
        command = [sys.executable, "-m", "jupyter_dataops.cli", "run", "-p", "seconds=120"]
        procs.append(subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL))
        with open_store(tmp_path) as store:
            run = wait_for(
                lambda: [r for r in store.list_runs() if r["status"] == "running"], 60, "a step"
            )[0]
            assert store.get_run(run["id"])["pid"] == procs[-1].pid  # the dataops process
        assert psutil.Process(procs[-1].pid).children() == []  # the run is the template's
        wait_for(lambda: len(template.children()) == 2, 30, "the run and its kernel")
        return procs[-1], run["id"]

    try:
        proc, stopped = started()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        with open_store(tmp_path) as store:
            detail = store.get_run(stopped)
        assert detail["status"] == "interrupted" and "runner was stopped" in detail["error"]

        proc, killed = started()
        proc.kill()
        proc.wait(timeout=30)
        wait_for(lambda: template.children() == [], 30, "the run and its kernel to be killed")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    out = dataops("runs", "--json", cwd=tmp_path, env=env)
    (row,) = [r for r in json.loads(out.stdout) if r["id"] == killed]
    assert row["status"] == "interrupted"
    with open_store(tmp_path) as store:
        assert f"runner process {proc.pid}" in store.get_run(killed)["error"]
