"""The keys of ``dataops.yaml``, one by one: a step's settings (notebook, parameters,
dependencies, schedule, retries, timeouts, kernel, scheduling, ``expect_by``, ``operations``)
and the scheduling and ``alerts:`` keys the pipeline shares. Each bad value is a
``PipelineFileError`` naming its line, step and key; ``spec`` puts them together."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_dataops.pipeline.definition.alert_config import AlertConfigError, parse_alert
from jupyter_dataops.pipeline.definition.model import (
    CATCHUP,
    STEP_KEYS,
    STEP_NAME,
    PipelineFileError,
    StepSpec,
)
from jupyter_dataops.pipeline.definition.values import (
    _string_list,
    parse_duration,
    plain,
    validate_schedule,
)
from jupyter_dataops.pipeline.definition.yaml_file import line_of


def suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def scheduling_keys(node: Any, bad: Any) -> dict[str, Any]:
    """``timezone``, ``catchup``, ``max_catchup`` and ``retention`` of a step or the pipeline;
    ``bad(key, message)`` builds the error naming the line."""
    out: dict[str, Any] = {}
    if node.get("timezone") is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            if not isinstance(node["timezone"], str):
                raise ValueError("not a name")
            out["timezone"] = ZoneInfo(node["timezone"]).key
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            zone = str(plain(node["timezone"]))
            zone = zone if len(zone) <= 80 else f"{zone[:80]}…"
            msg = f"unknown time zone {zone!r}; use one such as 'Europe/Paris'."
            raise bad("timezone", msg) from None
    if node.get("catchup") is not None:
        if node["catchup"] not in CATCHUP:
            got = plain(node["catchup"])
            raise bad("catchup", f"expected one of {', '.join(CATCHUP)}, got {got!r}.")
        out["catchup"] = str(node["catchup"])
    if node.get("max_catchup") is not None:
        n = node["max_catchup"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise bad("max_catchup", f"expected a whole number of 1 or more, got {plain(n)!r}")
        out["max_catchup"] = int(n)
    if node.get("retention") is not None:
        from jupyter_dataops.pipeline.definition.retention_policy import parse_retention

        try:
            out["retention"] = parse_retention(plain(node["retention"]))
        except ValueError as exc:
            raise bad("retention", str(exc)) from None
    return out


def expect_by_key(value: Any, bad: Any) -> str:
    from jupyter_dataops.pipeline.definition.partitions import parse_expect_by

    try:
        return parse_expect_by(value)
    except ValueError as exc:
        raise bad("expect_by", str(exc)) from None


def parse_alerts(path: Path, node: Any) -> tuple[Any, ...]:
    if not isinstance(node, list):
        raise PipelineFileError(
            "`alerts:` must be a list, e.g. `- {webhook: https://..., on: [failure]}`.",
            path=path,
            key="alerts",
            line=line_of(node),
        )
    out = []
    for i, entry in enumerate(node, 1):
        try:
            out.append(parse_alert(plain(entry)))
        except AlertConfigError as exc:
            known = isinstance(entry, Mapping) and exc.key in entry
            raise PipelineFileError(
                f"alert {i}: {exc}",
                path=path,
                key=exc.key or "alerts",
                line=(line_of(entry, exc.key) if known else line_of(entry)) or line_of(node),
            ) from None
    return tuple(out)


def _parameter_defaults(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of parameter name to value, got {plain(value)!r}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"parameter name {key!r} is not a Python identifier")
        out[key] = plain(item)
    return out


def parse_step(path: Path, name: Any, node: Any, steps_node: Any) -> StepSpec:
    line = line_of(steps_node, name)
    if not isinstance(name, str) or not STEP_NAME.match(name):
        raise PipelineFileError(
            f"step name {name!r} must start with a letter or '_' and hold only letters, digits, "
            "'_' and '-' (no dots: `-p step.key=value` uses the dot).",
            path=path,
            line=line,
        )
    if not isinstance(node, Mapping):
        raise PipelineFileError(
            "a step is a mapping with at least `notebook: path/to/notebook.ipynb`.",
            path=path,
            step=name,
            line=line,
        )
    for key in node:
        if key not in STEP_KEYS:
            raise PipelineFileError(
                f"unknown key.{suggest(str(key), STEP_KEYS)} Known keys: {', '.join(STEP_KEYS)}.",
                path=path,
                step=name,
                key=str(key),
                line=line_of(node, key),
            )

    def bad(key: str, message: str) -> PipelineFileError:
        return PipelineFileError(message, path=path, step=name, key=key, line=line_of(node, key))

    notebook = node.get("notebook")
    if not isinstance(notebook, str) or not notebook.strip():
        raise PipelineFileError(
            "missing `notebook:` (path of the step's notebook, relative to this file).",
            path=path,
            step=name,
            key="notebook",
            line=line,
        )
    kwargs: dict[str, Any] = {"name": name, "notebook": notebook.strip()}
    try:
        kwargs["parameters"] = _parameter_defaults(node.get("parameters"))
    except ValueError as exc:
        raise bad("parameters", str(exc)) from None
    for key in ("depends_on", "inputs", "outputs"):
        try:
            kwargs[key] = _string_list(node.get(key), key)
        except ValueError as exc:
            raise bad(key, str(exc)) from None
    if node.get("schedule") is not None:
        try:
            kwargs["schedule"] = validate_schedule(node["schedule"])
        except ValueError as exc:
            raise bad("schedule", str(exc)) from None
    if node.get("retries") is not None:
        retries = node["retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise bad("retries", f"expected a whole number of 0 or more, got {plain(retries)!r}")
        kwargs["retries"] = int(retries)
    for key in ("retry_delay", "timeout"):
        if node.get(key) is not None:
            try:
                kwargs[key] = parse_duration(node[key])
            except ValueError as exc:
                raise bad(key, str(exc)) from None
    if kwargs.get("timeout") == 0:
        raise bad("timeout", "a timeout of 0 seconds would stop every run; remove the key instead.")
    if node.get("kernel") is not None:
        kernel = node["kernel"]
        if not isinstance(kernel, str) or not kernel.strip():
            raise bad("kernel", f"expected a kernel name such as 'python3', got {plain(kernel)!r}")
        kwargs["kernel"] = kernel.strip()
    kwargs.update(scheduling_keys(node, bad))
    if node.get("expect_by") is not None:
        kwargs["expect_by"] = expect_by_key(node["expect_by"], bad)
    if "operations" in node:
        from jupyter_dataops.pipeline.definition.operations_options import parse_options

        try:
            kwargs["operations"] = parse_options(node["operations"])
        except ValueError as exc:
            raise bad("operations", str(exc)) from None
    return StepSpec(**kwargs)
