"""Writing one promoted step back into ``dataops.yaml``, keeping the rest of the file (other
steps, comments, key order) as it was; the result is validated before it replaces the file."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_dataops.pipeline.definition.model import PIPELINE_FILE, PipelineFileError, StepSpec
from jupyter_dataops.pipeline.definition.spec import build_pipeline
from jupyter_dataops.pipeline.definition.yaml_file import read_yaml, round_trip_yaml


def to_node(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = to_node(v)
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(to_node(v) for v in value)
        if all(not isinstance(v, Mapping | list | tuple) for v in value) and len(value) <= 8:
            seq.fa.set_flow_style()
        return seq
    return value


def write_step(path: Path | str, step: StepSpec) -> Path:
    """Add or replace ``steps.<name>`` in a pipeline file, keeping the rest of it as it was.

    Creates the file when missing, with ``pipeline:`` the folder's name (as when the key is
    missing: the name the run history is kept under). The result is validated before it replaces the old file, so a
    bad step never leaves a broken ``dataops.yaml`` behind.
    """
    path = Path(path).resolve()
    if path.is_dir():
        path = path / PIPELINE_FILE
    from ruamel.yaml.comments import CommentedMap

    yaml = round_trip_yaml()
    if path.exists():
        data = read_yaml(path)
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise PipelineFileError("the file must be a mapping with a `steps:` key.", path=path)
    else:
        data = CommentedMap()
        data.yaml_set_start_comment(
            "jupyter-dataops pipeline: steps are notebooks run by `dataops run`.\n"
            "Written by `dataops promote`; edit freely (comments and order are kept)."
        )
    if "pipeline" not in data:
        # the name the history is kept under, written down on first use: a `pipeline:` line
        # added later would otherwise name a new, empty pipeline
        data.insert(0, "pipeline", path.parent.name)
    steps = data.get("steps")
    if steps is None:
        steps = CommentedMap()
        data["steps"] = steps
    new = to_node(step.to_yaml())
    if step.name in steps and isinstance(steps[step.name], CommentedMap):
        old = steps[step.name]
        # Keep the old mapping (and its comments); update its keys in place.
        for key in list(old):
            if key not in new:
                del old[key]
        for key, value in new.items():
            old[key] = value
    else:
        steps[step.name] = new
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    build_pipeline(path, round_trip_yaml().load(text))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
