"""``python -m jupyter_dataops.server.run_worker PROJECT_DIR STEP [key=value ...]``.

The process the server starts for "Run now": it calls ``run_pipeline`` (the function behind
``dataops run --step STEP``) and prints one JSON line with the pipeline run id as soon as the run
exists, so the REST call can answer at once while the step runs on. A separate process keeps the
Jupyter server's event loop and threads away from the runner's forked workers.
"""

from __future__ import annotations

import json
import sys

from jupyter_dataops.errors import DataOpsError


def main(argv: list[str] | None = None) -> int:
    """Run one step of the project in ``argv[0]``; exit 0 when it succeeded, 1 otherwise."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: run_worker PROJECT_DIR STEP [key=value ...]", file=sys.stderr)
        return 2
    project_dir, step, params = args[0], args[1], args[2:]

    from jupyter_dataops.pipeline.runner import NullReporter, run_pipeline
    from jupyter_dataops.pipeline.spec import load_pipeline

    class Announce(NullReporter):
        def run_started(self, run_id: int, plans: dict) -> None:  # noqa: ARG002
            print(json.dumps({"pipeline_run_id": run_id}), flush=True)

    try:
        result = run_pipeline(
            load_pipeline(project_dir), [step], params, reporter=Announce(), trigger="jupyter"
        )
    except DataOpsError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
