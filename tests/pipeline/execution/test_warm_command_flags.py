"""Interpreter options given to the ``dataops`` process reach a command forked from the
project's kernel template (``warm_command``): those a running interpreter can take (-W, -B, -u,
-X faulthandler, -X int_max_str_digits) are applied in the forked child, which then behaves as
the command run in-process; for the others (-X importtime, -X dev, -O, ...) the command runs
in-process. Real commands (``python ... -m jupyter_dataops.cli run``) on a real template.

The project's executor is a plug-in (an entry point in the project folder) that records the
interpreter it was imported in, then warns that its API is deprecated: the command process
itself warns, as a user's plug-in would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jupyter_dataops.pipeline.execution import warm_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not warm_server.supported(), reason="forks commands from a template"),
]

EXECUTOR = """\
import faulthandler, json, os, sys, warnings
from jupyter_dataops.pipeline.execution.executors import LocalExecutor

with open(os.environ["WHO_FILE"], "w") as fh:
    json.dump({
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "warnoptions": sys.warnoptions,
        "filters": [f"{a}:{c.__name__}:{getattr(m, 'pattern', m)}" for a, _, c, m, _ in warnings.filters],
        "faulthandler": faulthandler.is_enabled(),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "int_max_str_digits": sys.get_int_max_str_digits(),
        "xoptions": sys._xoptions,
        "stdout": [type(sys.stdout.buffer).__name__, sys.stdout.write_through],
    }, fh)
warnings.warn("the loud executor uses an old API", DeprecationWarning, stacklevel=2)


class Loud(LocalExecutor):
    pass
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Iterator[Path]:
    """A project that has run (``.dataops/``), its executor a plug-in in its folder; its
    step was never promoted, so a command that gets past the executor stops there (no kernel
    is needed). The project's template is stopped at the end."""
    root = tmp_path_factory.mktemp("flags")
    (root / "dataops.yaml").write_text(
        "pipeline: p\nexecutor: loud\nsteps:\n  s: {notebook: s.ipynb}\n"
    )
    (root / "s.ipynb").write_text("{}")
    (root / ".dataops").mkdir()
    (root / "loud_executor.py").write_text(EXECUTOR)
    info = root / "loud-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loud\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[jupyter_dataops.executor]\nloud = loud_executor:Loud\n"
    )
    yield root
    for pid in TEMPLATES:  # the templates the forked commands came from
        try:
            template = psutil.Process(pid)
            if "jupyter_dataops.pipeline.execution.warm" in template.cmdline():
                template.terminate()
                template.wait(15)
        except psutil.NoSuchProcess:
            continue


TEMPLATES: set[int] = set()


def dataops(
    project: Path, *options: str, warm_on: bool = True, command: str = "run"
) -> tuple[subprocess.CompletedProcess, dict]:
    """``python OPTIONS -m jupyter_dataops.cli COMMAND`` in the project (forked from its
    template unless ``warm_on`` is false); the process and what the executor recorded."""
    who = project / "who.json"
    who.unlink(missing_ok=True)
    env = {**os.environ, "DATAOPS_WARM_IDLE": "30", "WHO_FILE": str(who), "COLUMNS": "200"}
    env.pop("DATAOPS_STORE_URL", None)
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONDEVMODE", None)
    env.pop("PYTHONFAULTHANDLER", None)
    env.pop("PYTHONUNBUFFERED", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DATAOPS_WARM_KERNELS"] = "1" if warm_on else "0"
    done = subprocess.run(
        [sys.executable, *options, "-m", "jupyter_dataops.cli", command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = json.loads(who.read_text()) if who.exists() else {}
    if found and forked(found):
        TEMPLATES.add(found["ppid"])
    return done, found


def forked(who: dict) -> bool:
    """Whether the executor was imported in a child of the project's template (not in the
    ``dataops`` process, a child of this test)."""
    return who["ppid"] != os.getpid()


def test_a_warnings_option_reaches_the_forked_command_as_in_process(project):
    # no option: the plug-in's DeprecationWarning is ignored (not __main__'s); the command gets
    # past the executor and refuses the unpromoted step
    done, who = dataops(project)
    assert forked(who), who
    assert done.returncode != 0 and "old API" not in done.stderr, done.stderr
    assert "promot" in done.stdout + done.stderr

    # -W error::DeprecationWarning: the plug-in cannot load, in the forked child as in-process
    # (and an invalid option, said once at the start, as Python does)
    options = ("-W", "error::DeprecationWarning", "-W", "nosuchaction")
    here, in_process = dataops(project, *options, warm_on=False)
    done, who = dataops(project, *options)
    assert forked(who) and not forked(in_process), (who, in_process)
    assert "could not be loaded" in here.stderr and "old API" in here.stderr, here.stderr
    assert done.returncode == here.returncode != 0
    assert done.stderr == here.stderr and here.stderr.count("Invalid -W option") == 1
    assert who["warnoptions"] == in_process["warnoptions"] == list(options[1::2])
    # the option's filter just before the defaults, imports' filters in front, as at a start
    defaults = in_process["filters"][-6:]
    assert defaults[0] == "error:DeprecationWarning:None" and who["filters"][-6:] == defaults


def test_options_a_running_interpreter_takes_are_applied_in_the_forked_command(project):
    options = ("-B", "-u", "-X", "faulthandler", "-X", "int_max_str_digits=5000")
    _, who = dataops(project, *options)
    _, in_process = dataops(project, *options, warm_on=False)
    _, plain = dataops(project)
    assert forked(who) and forked(plain) and not forked(in_process)
    keys = ("faulthandler", "dont_write_bytecode", "int_max_str_digits", "xoptions", "stdout")
    for key in keys:
        assert who[key] == in_process[key] != plain[key], key


def test_importtime_runs_the_command_in_process_and_shows_the_import_times(project):
    done, who = dataops(project, "-X", "importtime")
    assert who and not forked(who), who
    assert "promot" in done.stdout + done.stderr  # the command ran, to its usual end
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert any("jupyter_dataops.pipeline.execution.runner" in line for line in lines)


PROBE = (
    "import json; from jupyter_dataops.pipeline.execution.warm_command import interpreter; "
    "print(json.dumps(interpreter()))"
)


@pytest.mark.parametrize(
    ("options", "env", "forks"),
    [
        ((), {}, True),
        (("-W", "error::DeprecationWarning", "-W", "ignore:x:UserWarning"), {}, True),
        ((), {"PYTHONWARNINGS": "error"}, True),
        (("-B", "-u", "-q"), {}, True),
        (("-X", "faulthandler", "-X", "int_max_str_digits=5000"), {}, True),
        (("-X", "pycache_prefix=/tmp/nowhere"), {}, True),
        (("-X", "importtime"), {}, False),
        ((), {"PYTHONPROFILEIMPORTTIME": "1"}, False),
        (("-X", "dev"), {}, False),
        (("-X", "utf8"), {}, False),
        (("-X", "tracemalloc=5"), {}, False),
        (("-X", "frozen_modules=off"), {}, False),
        (("-X", "warn_default_encoding"), {}, False),
        (("-X", "no_such_option"), {}, False),
        (("-O",), {}, False),
        (("-OO",), {}, False),
        (("-E",), {}, False),
        (("-I",), {}, False),
        (("-s",), {}, False),
        (("-b",), {}, False),
        (("-P",), {}, False),
        ((), {"PYTHONHASHSEED": "0"}, False),
        ((), {"PYTHONMALLOC": "malloc"}, False),
    ],
)
def test_which_interpreter_options_a_forked_command_can_take(options, env, forks):
    """Each option of the caller against an interpreter started plainly (this one, as the
    template is): applied in the child (forks), or only a new interpreter can have it."""
    import json as json_

    from jupyter_dataops.pipeline.execution.warm_command import mismatch

    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS",)}
    done = subprocess.run(
        [sys.executable, *options, "-c", PROBE],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    caller = json_.loads(done.stdout)
    why = mismatch(caller)
    assert (why is None) == forks, why


def test_dataops_status_with_importtime_runs_in_process_and_shows_the_import_times(project):
    dataops(project)  # the template runs: status would be forked from it
    done, _ = dataops(project, "-X", "importtime", command="status")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert any("jupyter_dataops.pipeline.definition.model" in line for line in lines)
    plain, _ = dataops(project, command="status")
    assert plain.returncode == 0 and "import time:" not in plain.stderr
