"""A notebook file's content hash is read without nbformat where it can be, and equals the hash
of the notebook nbformat reads (`dataops status` compares versions without importing it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.notebook import content_hash, read_notebook

SAMPLES = Path(__file__).resolve().parents[3] / "sample_notebooks"


def test_the_hash_of_a_file_is_the_hash_of_the_notebook_nbformat_reads(tmp_path):
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1\ny = 2", metadata={"tags": ["parameters", "a"]}),
            new_markdown_cell("# title\n\ntext"),
            new_code_cell("print(x)", outputs=[], metadata={}),
        ]
    )
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)  # sources written as lists of lines
    assert isinstance(json.loads(path.read_text())["cells"][0]["source"], list)
    assert content_hash(path) == content_hash(read_notebook(path)) == content_hash(str(path))
    for sample in sorted(SAMPLES.glob("*.ipynb")):
        assert content_hash(sample) == content_hash(read_notebook(sample)), sample.name


def test_a_file_that_is_no_v4_notebook_is_read_by_nbformat_and_refused_naming_it(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"nbformat": 4, "cells": [{"source": 1}]}')
    with pytest.raises(PipelineError, match="cannot read notebook"):
        content_hash(bad)
    with pytest.raises(PipelineError, match="does not exist"):
        content_hash(tmp_path / "missing.ipynb")


def test_dataops_status_reads_no_notebook_with_nbformat(tmp_path):
    code = (
        "import sys\nfrom jupyter_dataops.pipeline.views import status\n"
        "from jupyter_dataops.pipeline.definition.versions import step_state\n"
        "print('nbformat' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
