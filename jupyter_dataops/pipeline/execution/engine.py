"""The papermill engine of every step attempt: papermill's own, with cheaper saves mid-run.

papermill saves the output notebook when it starts, before and after every cell, and at the end
(``request_save_on_cell_execute``): the notebook is kept up to the cell that was running if the
kernel dies or the whole step is stopped. Each save is ``nbformat.writes``: a deep copy, a
schema validation and a pretty-printed dump through the pure-Python JSON encoder, ~6-12 ms for
a sample step's notebook, ~20 saves a step. Here the saves while the notebook runs are written
compact (C encoder, no copy, no validation; any notebook reader reads them), and the last save
- the executed notebook that stays - is papermill's own ``nbformat.writes``, validated and
pretty-printed as papermill writes it. Registered as papermill engine ``dataops``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from papermill.engines import (
    NBClientEngine,
    NotebookExecutionManager,
    catch_nb_assignment,
    papermill_engines,
)

ENGINE = "dataops"


class _CheapSaves(NotebookExecutionManager):
    """papermill's execution manager whose saves before the end are compact and unvalidated."""

    finished = False

    @catch_nb_assignment
    def save(self, **kwargs: Any) -> None:
        if self.finished or not self.output_path:
            return super().save(**kwargs)
        try:
            text = json.dumps(self.nb, ensure_ascii=False)
        except (TypeError, ValueError):  # bytes in an output: papermill's own writer encodes it
            return super().save(**kwargs)
        # written whole, then renamed: a reader (the panel) never sees half a notebook
        partial = f"{self.output_path}.saving"
        with open(partial, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(partial, self.output_path)
        self.last_save_time = self.now()

    def notebook_complete(self, **kwargs: Any) -> None:
        self.finished = True
        super().notebook_complete(**kwargs)


class DataOpsEngine(NBClientEngine):
    """nbclient through papermill (``NBClientEngine``) with ``_CheapSaves``."""

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        nb_man = _CheapSaves(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


papermill_engines.register(ENGINE, DataOpsEngine)
