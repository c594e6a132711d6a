"""Projects a browser test module serves from a ``jupyter lab`` of its own: its files and run
store written by the module (recorded runs go straight into the store with ``builders``'
``record_partition``/``check_line``/``suite_result``), the lab started once for the module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .conftest import start_lab, stop_lab, write_notebook


def partition_notebook(path: Path, *cells: str) -> Path:
    """A step notebook of a daily pipeline: ``run_date`` (the partition key) as its parameter,
    then ``cells``."""
    return write_notebook(path, list(cells), parameters='run_date = "2000-01-01"')


@contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory, name: str, write: Callable[[Path], Any]
) -> Iterator[SimpleNamespace]:
    """A new project folder written by ``write(root)`` and a lab serving it, stopped after:
    ``root``, ``runs`` (what ``write`` returned) and ``server``."""
    root = tmp_path_factory.mktemp(f"{name}_root")
    runs = write(root)
    server = start_lab(root, tmp_path_factory.mktemp(f"{name}_lab_state"))
    try:
        yield SimpleNamespace(root=root, runs=runs, server=server)
    finally:
        stop_lab(server)
