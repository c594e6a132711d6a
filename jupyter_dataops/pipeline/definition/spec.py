"""The pipeline file ``dataops.yaml``: load and validate it.

The file is edited by people and kept in git, so loading reports every problem with the file,
the line, the step and the key (``step_keys`` checks each key, ``yaml_file`` reads it with
ruamel.yaml's round-trip parser, ``spec_writer`` writes a promoted step back).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.dag import check_graph
from jupyter_dataops.pipeline.definition.model import (
    PIPELINE_FILE,
    TOP_KEYS,
    Pipeline,
    PipelineFileError,
    find_pipeline_file,
)
from jupyter_dataops.pipeline.definition.step_keys import (
    expect_by_key,
    parse_alerts,
    parse_step,
    scheduling_keys,
    suggest,
)
from jupyter_dataops.pipeline.definition.values import plain, validate_schedule
from jupyter_dataops.pipeline.definition.yaml_file import file_stamp, line_of, read_yaml, settled

#: (resolved file, allow_no_steps) -> (the file's stamp when read, its pipeline): a command, a
#: server or a scheduler asks for the pipeline from many places; the file is parsed again only
#: when its stamp changed (an edit, a replaced file) or is too fresh to be trusted
_LOADED: dict[tuple[str, bool], tuple[tuple[int, ...], Pipeline]] = {}
_LOADED_MAX = 64


def configured_store(path: Path | str) -> str | None:
    """The ``store:`` URL of a pipeline file, for commands that only read history.

    Read with PyYAML's C parser (a few ms; the round-trip parser that keeps line numbers for
    error messages costs ten times more). Anything unexpected (a YAML error, a file that is
    not a mapping, a ``store:`` that is not text) goes through ``load_pipeline``, so it is
    reported exactly as every other command reports it.
    """
    path = Path(path)
    loaded = loaded_pipeline(path.resolve())
    if loaded is not None:
        return loaded.store
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe
    except Exception:  # yaml.YAMLError, OSError, UnicodeDecodeError: let load_pipeline say it
        data = None
    if isinstance(data, dict) and "store" not in data:
        return None
    if isinstance(data, dict) and isinstance(data["store"], str) and data["store"].strip():
        return data["store"].strip()
    return load_pipeline(path).store


def load_pipeline(path: Path | str | None = None, *, allow_no_steps: bool = False) -> Pipeline:
    """Load and validate a pipeline file (default: the nearest ``dataops.yaml``).

    Checks every key and value, and that ``depends_on`` names existing steps and has no cycle,
    so that a broken file is refused before anything runs. A file without steps (empty, no
    ``steps:`` or ``steps: {}``) is refused too, unless ``allow_no_steps`` (promotion, which
    adds the first step).
    """
    if path is None:
        found = find_pipeline_file()
        if found is None:
            raise PipelineError(
                f"no {PIPELINE_FILE} in {os.getcwd()} or its parent folders. Run the command in "
                "your project folder, or promote a notebook first (`dataops promote`)."
            )
        path = found
    path = Path(path).resolve()
    if path.is_dir():
        path = path / PIPELINE_FILE
    stamp = file_stamp(path)  # before reading: an edit while reading changes it for next time
    known = _still_loaded(path, stamp, allow_no_steps)
    if known is not None:
        return known
    pipeline = build_pipeline(path, read_yaml(path), allow_no_steps=allow_no_steps)
    if stamp is not None:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)), None)
        _LOADED[(str(path), allow_no_steps)] = (stamp, pipeline)
    return pipeline


def loaded_pipeline(path: Path) -> Pipeline | None:
    """The pipeline already loaded from ``path`` (resolved) if the file has not changed since,
    else None; never reads the file."""
    stamp = file_stamp(path)
    for allow_no_steps in (False, True):
        known = _still_loaded(path, stamp, allow_no_steps)
        if known is not None:
            return known
    return None


def _still_loaded(
    path: Path, stamp: tuple[int, ...] | None, allow_no_steps: bool
) -> Pipeline | None:
    """The pipeline kept for ``path`` if it was read at ``stamp`` and that stamp is settled."""
    known = _LOADED.get((str(path), allow_no_steps))
    if known is not None and known[0] == stamp and settled(stamp):
        return known[1]
    return None


def build_pipeline(path: Path, data: Any, *, allow_no_steps: bool = False) -> Pipeline:
    """Validate a loaded file (``data``) that lives, or will live, at ``path``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PipelineFileError(
            "the file must be a mapping with a `steps:` key.", path=path, line=line_of(data)
        )
    for key in data:
        if key not in TOP_KEYS:
            raise PipelineFileError(
                f"unknown top-level key.{suggest(str(key), TOP_KEYS)} Known keys: "
                f"{', '.join(TOP_KEYS)}.",
                path=path,
                key=str(key),
                line=line_of(data, key),
            )
    name = data.get("pipeline") or path.parent.name
    if not isinstance(name, str):
        raise PipelineFileError(
            "`pipeline:` must be a name.", path=path, key="pipeline", line=line_of(data, "pipeline")
        )
    store = data.get("store")
    if store is not None and (not isinstance(store, str) or not store.strip()):
        raise PipelineFileError(
            "`store:` must be a SQLAlchemy URL such as 'postgresql+psycopg://user@host/db'.",
            path=path,
            key="store",
            line=line_of(data, "store"),
        )
    steps_node = data.get("steps") or {}
    if not isinstance(steps_node, Mapping):
        raise PipelineFileError(
            "`steps:` must map step names to step settings.",
            path=path,
            key="steps",
            line=line_of(data, "steps"),
        )
    steps = {str(n): parse_step(path, n, node, steps_node) for n, node in steps_node.items()}

    def bad(key: str, message: str) -> PipelineFileError:
        return PipelineFileError(message, path=path, key=key, line=line_of(data, key))

    extra = scheduling_keys(data, bad)
    if data.get("schedule") is not None:
        try:
            extra["schedule"] = validate_schedule(data["schedule"])
        except ValueError as exc:
            raise bad("schedule", str(exc)) from None
    if data.get("alerts") is not None:
        extra["alerts"] = parse_alerts(path, data["alerts"])
    if data.get("incidents") is not None:
        from jupyter_dataops.pipeline.definition.incident_options import parse_incidents

        try:
            extra["incidents"] = parse_incidents(plain(data["incidents"]))
        except ValueError as exc:
            raise bad("incidents", str(exc)) from None
    if data.get("partitions") is not None:
        from jupyter_dataops.pipeline.definition.partitions import parse_partitions

        try:
            extra["partitions"] = parse_partitions(data["partitions"])
        except ValueError as exc:
            raise bad("partitions", str(exc)) from None
    if data.get("expect_by") is not None:
        extra["expect_by"] = expect_by_key(data["expect_by"], bad)
    if (extra.get("expect_by") or any(s.expect_by for s in steps.values())) and not extra.get(
        "partitions"
    ):
        raise bad("expect_by", "`expect_by:` needs `partitions:` (a deadline is per period).")
    for key, example in (
        ("executor", "'local' or 'dask'"),
        ("dask_address", "'tcp://10.0.0.5:8786'"),
    ):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise bad(key, f"`{key}:` must be text such as {example}, got {plain(value)!r}.")
            extra[key] = value.strip()
    if not steps and not allow_no_steps:
        raise PipelineFileError(
            ("`steps:` is empty" if "steps" in data else "the file has no `steps:`")
            + ", so there is nothing to run. A step is a notebook: add one with "
            '`dataops promote NOTEBOOK --step NAME` in this folder (or "Promote this notebook" '
            "in JupyterLab), which gates the notebook and writes it under `steps:`.",
            path=path,
            key="steps" if "steps" in data else None,
            line=line_of(data, "steps") if "steps" in data else None,
        )
    pipeline = Pipeline(
        path=path, name=str(name), steps=steps, store=store.strip() if store else None, **extra
    )

    check_graph(pipeline)
    return pipeline
