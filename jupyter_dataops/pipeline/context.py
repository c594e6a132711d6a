"""The contract between the pipeline runner and the ``%%dataops_test`` magic.

The runner starts each papermill kernel with these environment variables; the magic asks
``current()`` whether it runs in production (or as a test/promotion gate) and, if so, where to
record its results. This module is the only place that reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

ENV_MODE = "DATAOPS_MODE"
ENV_STORE_URL = "DATAOPS_STORE_URL"
ENV_STEP = "DATAOPS_STEP"
ENV_STEP_RUN_ID = "DATAOPS_STEP_RUN_ID"
ENV_PROJECT_DIR = "DATAOPS_PROJECT_DIR"

Mode = Literal["production", "test"]
MODES: tuple[str, ...] = ("production", "test")


@dataclass(frozen=True)
class RunContext:
    """Where a notebook runs when it is not interactive."""

    mode: Mode
    step: str | None = None
    step_run_id: str | None = None
    store_url: str | None = None
    project_dir: str | None = None

    @property
    def gate(self) -> bool:
        """Failing checks must fail the notebook (production runs and test/promotion gates)."""
        return True

    def env(self) -> dict[str, str]:
        """The environment variables that reproduce this context in a kernel."""
        out = {ENV_MODE: self.mode}
        for key, value in (
            (ENV_STEP, self.step),
            (ENV_STEP_RUN_ID, self.step_run_id),
            (ENV_STORE_URL, self.store_url),
            (ENV_PROJECT_DIR, self.project_dir),
        ):
            if value is not None:
                out[key] = str(value)
        return out


def current(environ: dict[str, str] | None = None) -> RunContext | None:
    """The run context of this process, or ``None`` when the notebook runs interactively."""
    env = os.environ if environ is None else environ
    mode = env.get(ENV_MODE, "").strip().lower()
    if mode not in MODES:
        return None
    return RunContext(
        mode=mode,  # type: ignore[arg-type]
        step=env.get(ENV_STEP) or None,
        step_run_id=env.get(ENV_STEP_RUN_ID) or None,
        store_url=env.get(ENV_STORE_URL) or None,
        project_dir=env.get(ENV_PROJECT_DIR) or None,
    )
