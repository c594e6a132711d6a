"""Running a pipeline: the runner, one papermill attempt, executors (local, Dask), the run context
shared with the kernel, and promotion (which runs the gate)."""
