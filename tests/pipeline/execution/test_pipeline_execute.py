"""One attempt of one notebook through papermill, on a real kernel."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import nbformat
import pytest
from builders import write_notebook

from jupyter_dataops.pipeline.execution.execute import AttemptResult, NotebookJob, execute_notebook

CONNECTION = """\
import json
from ipykernel import get_connection_file
info = json.load(open(get_connection_file()))
print(json.dumps({"transport": info["transport"], "ip": info["ip"],
                  "file": get_connection_file()}))
"""


def notebook(path: Path, *sources: str) -> Path:
    return write_notebook(path, "x = 1", *sources)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="Unix sockets are POSIX only (TCP elsewhere)")
def test_kernels_connect_over_unix_sockets_not_tcp_ports_and_leave_no_files(tmp_path):
    # Parallel steps start kernels from separate pool workers; TCP ports probed per process
    # could collide ("Address already in use", a client talking to another step's kernel).
    src = notebook(tmp_path / "where.ipynb", CONNECTION)
    result = execute_notebook(NotebookJob(str(src), str(tmp_path / "out.ipynb"), cwd=str(tmp_path)))

    assert result.ok, result.error
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    info = json.loads(out.cells[-1].outputs[0]["text"])
    assert info["transport"] == "ipc"
    assert Path(info["ip"]).name.startswith("dataops-kernel-")
    assert Path(info["ip"]).parent == Path(tempfile.gettempdir())
    assert not list(Path(info["ip"]).parent.glob(Path(info["file"]).stem + "*"))  # cleaned up
    assert "running over TCP" not in (tmp_path / "out.log").read_text()


def test_a_failed_attempt_without_an_error_text_says_where_to_look():
    bare = AttemptResult("failed", "/runs/7/load.ipynb", 1.0, reason="kernel_died")
    assert bare.error == (
        "the attempt failed (kernel_died) without an error message; see the executed notebook "
        "/runs/7/load.ipynb and the kernel log /runs/7/load.log"
    )
    named = AttemptResult("failed", "x.ipynb", 1.0, ename="KeyError", evalue="'a'\n'amount'")
    assert named.error == "KeyError: 'amount'"
    assert AttemptResult("success", "x.ipynb", 1.0).error is None


def test_a_step_stopped_while_its_kernel_started_says_so_in_the_first_code_cell(tmp_path):
    from jupyter_dataops.pipeline.execution.execute import _annotate_stopped

    path = notebook(tmp_path / "kept.ipynb", "print('never ran')")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# title"))
    nbformat.write(nb, path)

    assert _annotate_stopped(path, "StepTimeout", "the step ran longer than 6 s") == 1
    kept = nbformat.read(path, as_version=4)
    error = kept.cells[1].outputs[-1]
    assert error.ename == "StepTimeout" and "while the kernel was starting" in error.evalue
    assert kept.cells[2].outputs == [] and kept.metadata.papermill["exception"] is True
