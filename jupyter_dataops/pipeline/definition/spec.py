"""The pipeline file ``dataops.yaml``: load, validate, and write one step back.

The file is edited by people and kept in git, so loading reports every problem with the file,
the line, the step and the key, and writing a promoted step keeps the rest of the file (other
steps, comments, key order) as it was. ruamel.yaml's round-trip mode does both.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import PipelineError
from jupyter_dataops.pipeline.definition.dag import check_graph
from jupyter_dataops.pipeline.definition.values import (  # noqa: F401 - public here too
    _plain_number,
    _string_list,
    parse_duration,
    plain,
    validate_schedule,
)

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml import YAML

# ruamel.yaml (round trip: line numbers for errors, comments kept when writing) is imported on
# first use: `dataops runs` and kernels reading only `store:` never need it.

PIPELINE_FILE = "dataops.yaml"
STATE_DIR = ".dataops"
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
TOP_KEYS = ("pipeline", "store", "steps", "schedule", "timezone", "catchup", "max_catchup")
TOP_KEYS += ("alerts", "retention", "incidents")
TOP_KEYS += ("executor", "dask_address")  # where `dataops run` runs steps
TOP_KEYS += ("partitions", "expect_by")  # the period each run is for; when it should be done
SCHEDULING_KEYS = ("timezone", "catchup", "max_catchup", "retention")
CATCHUP = ("skip", "latest", "all")
STEP_KEYS = (
    "notebook",
    "parameters",
    "depends_on",
    "schedule",
    "retries",
    "retry_delay",
    "timeout",
    "kernel",
    "inputs",
    "outputs",
    "operations",
    "expect_by",
    *SCHEDULING_KEYS,
)


class PipelineFileError(PipelineError):
    """A ``dataops.yaml`` that cannot be used; names the file, line, step and key."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        step: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.step = step
        self.key = key
        self.line = line
        self.message = message
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if step is not None:
            where.append(f"step {step!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class StepSpec:
    """One step of a pipeline as declared in ``dataops.yaml``.

    ``notebook`` is the path as written (relative to the pipeline folder); ``retry_delay`` and
    ``timeout`` are seconds; ``timeout`` bounds the whole step, not one cell.
    """

    name: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    schedule: str | None = None
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    kernel: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timezone: str | None = (
        None  # scheduling: see pipeline/scheduling/scheduler.py; None = the pipeline's
    )
    catchup: str | None = None
    max_catchup: int | None = None
    retention: Any = None  # retention_policy.Retention
    operations: Any = None  # operations_options.OperationsOptions; None = judged with the defaults
    expect_by: str | None = None  # "07:00": a partition not successful by then is late

    def to_yaml(self) -> dict[str, Any]:
        """The mapping written under ``steps.<name>``: only keys that differ from the defaults."""
        out: dict[str, Any] = {"notebook": self.notebook}
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.depends_on:
            out["depends_on"] = list(self.depends_on)
        if self.schedule:
            out["schedule"] = self.schedule
        if self.retries:
            out["retries"] = self.retries
        if self.retry_delay:
            out["retry_delay"] = _plain_number(self.retry_delay)
        if self.timeout is not None:
            out["timeout"] = _plain_number(self.timeout)
        if self.kernel:
            out["kernel"] = self.kernel
        if self.inputs:
            out["inputs"] = list(self.inputs)
        if self.outputs:
            out["outputs"] = list(self.outputs)
        for key in ("timezone", "catchup", "max_catchup", "expect_by"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.retention is not None:
            out["retention"] = {k: v for k, v in vars(self.retention).items() if v is not None}
        if self.operations is not None:
            out["operations"] = self.operations.to_yaml()
        return out


@dataclass(frozen=True)
class Pipeline:
    """A loaded, validated pipeline file."""

    path: Path
    name: str
    steps: dict[str, StepSpec]
    store: str | None = None
    schedule: str | None = None  # runs every step; scheduling keys are each step's defaults
    timezone: str | None = None
    catchup: str | None = None
    max_catchup: int | None = None
    alerts: tuple[Any, ...] = ()  # alerts.AlertSpec
    retention: Any = None  # retention_policy.Retention
    incidents: Any = None  # incident_options.IncidentOptions; None: the defaults
    executor: str | None = None  # `dataops run` / the scheduler without --executor
    dask_address: str | None = None  # the dask executor's scheduler (none: a local cluster)
    partitions: Any = None  # partitions.Partitions; None: runs are for no period
    expect_by: str | None = None  # "07:00": each step's default deadline after its partition

    def executor_options(self, name: str) -> dict[str, Any]:
        """What this file says to executor ``name`` (``dask_address`` for ``dask``)."""
        return {"address": self.dask_address} if name == "dask" and self.dask_address else {}

    @property
    def project_dir(self) -> Path:
        """The folder holding ``dataops.yaml``; relative paths in the file start here."""
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        """``.dataops/`` beside the pipeline file: the default store and the executed notebooks."""
        return self.project_dir / STATE_DIR

    def notebook_path(self, step: str) -> Path:
        """Absolute path of a step's notebook."""
        return (self.project_dir / self.steps[step].notebook).resolve()

    def step_for_notebook(self, notebook: Path | str) -> StepSpec | None:
        """The step whose notebook is ``notebook`` (compared as resolved paths), if any."""
        target = Path(notebook).resolve()
        for name in self.steps:
            if self.notebook_path(name) == target:
                return self.steps[name]
        return None


def ensure_state_dir(project_dir: Path | str) -> Path:
    """``.dataops/`` of a project, made with a ``.gitignore`` so that executed notebooks and the
    SQLite store stay out of git while ``dataops.yaml`` is committed."""
    state = Path(project_dir) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# run history and executed notebooks of jupyter-dataops\n*\n")
    return state


def find_pipeline_file(start: Path | str | None = None) -> Path | None:
    """The nearest ``dataops.yaml`` in ``start`` (default: the cwd) or one of its parents."""
    here = Path(start or os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / PIPELINE_FILE
        if candidate.is_file():
            return candidate
    return None


def configured_store(path: Path | str) -> str | None:
    """The ``store:`` URL of a pipeline file, for commands that only read history.

    Read with PyYAML's C parser (a few ms; the round-trip parser that keeps line numbers for
    error messages costs ten times more). Anything unexpected (a YAML error, a file that is
    not a mapping, a ``store:`` that is not text) goes through ``load_pipeline``, so it is
    reported exactly as every other command reports it.
    """
    path = Path(path)
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


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _read(path: Path) -> Any:
    try:
        text = _decode(path, path.read_bytes())
    except FileNotFoundError:
        raise PipelineFileError(
            "file not found. Promote a notebook (`dataops promote NOTEBOOK --step NAME`) to "
            "create it, or run the command from the folder holding dataops.yaml.",
            path=path,
        ) from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise PipelineFileError(f"not valid YAML: {problem}", path=path, line=line) from None
    except YAMLError as exc:  # a character YAML refuses (a NUL, a control character)
        at = getattr(exc, "position", None)
        line = text.count("\n", 0, at) + 1 if isinstance(at, int) else None
        char = getattr(exc, "character", None)
        what = f"character U+{char:04X}" if isinstance(char, int) else "a character"
        raise PipelineFileError(
            f"not valid YAML: {what} is not allowed in a YAML file. Remove it and run again.",
            path=path,
            line=line,
        ) from None


def _decode(path: Path, data: bytes) -> str:
    """The file's text; a byte that is not UTF-8 is refused with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise PipelineFileError(
            f"byte 0x{data[exc.start]:02x} at column {column} is not UTF-8 text. Save the file "
            "as UTF-8 (most editors: File > Save with Encoding > UTF-8) and run again.",
            path=path,
            line=line,
        ) from None


def _line(node: Any, key: Any = None) -> int | None:
    """1-based line of ``node`` (or of ``key`` inside it) in the file, when ruamel knows it."""
    try:
        if key is not None and isinstance(node, Mapping) and hasattr(node, "lc"):
            return node.lc.key(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _scheduling(node: Any, bad: Any) -> dict[str, Any]:
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


def _expect_by(value: Any, bad: Any) -> str:
    from jupyter_dataops.pipeline.definition.partitions import parse_expect_by

    try:
        return parse_expect_by(value)
    except ValueError as exc:
        raise bad("expect_by", str(exc)) from None


def _alerts(path: Path, node: Any) -> tuple[Any, ...]:
    from jupyter_dataops.pipeline.observers.alerts import AlertConfigError, parse_alert

    if not isinstance(node, list):
        raise PipelineFileError(
            "`alerts:` must be a list, e.g. `- {webhook: https://..., on: [failure]}`.",
            path=path,
            key="alerts",
            line=_line(node),
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
                line=(_line(entry, exc.key) if known else _line(entry)) or _line(node),
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


def _parse_step(path: Path, name: Any, node: Any, steps_node: Any) -> StepSpec:
    line = _line(steps_node, name)
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
                f"unknown key.{_suggest(str(key), STEP_KEYS)} Known keys: {', '.join(STEP_KEYS)}.",
                path=path,
                step=name,
                key=str(key),
                line=_line(node, key),
            )

    def bad(key: str, message: str) -> PipelineFileError:
        return PipelineFileError(message, path=path, step=name, key=key, line=_line(node, key))

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
    kwargs.update(_scheduling(node, bad))
    if node.get("expect_by") is not None:
        kwargs["expect_by"] = _expect_by(node["expect_by"], bad)
    if "operations" in node:
        from jupyter_dataops.pipeline.definition.operations_options import parse_options

        try:
            kwargs["operations"] = parse_options(node["operations"])
        except ValueError as exc:
            raise bad("operations", str(exc)) from None
    return StepSpec(**kwargs)


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
    return _build(path, _read(path), allow_no_steps=allow_no_steps)


def _build(path: Path, data: Any, *, allow_no_steps: bool = False) -> Pipeline:
    """Validate a loaded file (``data``) that lives, or will live, at ``path``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PipelineFileError(
            "the file must be a mapping with a `steps:` key.", path=path, line=_line(data)
        )
    for key in data:
        if key not in TOP_KEYS:
            raise PipelineFileError(
                f"unknown top-level key.{_suggest(str(key), TOP_KEYS)} Known keys: "
                f"{', '.join(TOP_KEYS)}.",
                path=path,
                key=str(key),
                line=_line(data, key),
            )
    name = data.get("pipeline") or path.parent.name
    if not isinstance(name, str):
        raise PipelineFileError(
            "`pipeline:` must be a name.", path=path, key="pipeline", line=_line(data, "pipeline")
        )
    store = data.get("store")
    if store is not None and (not isinstance(store, str) or not store.strip()):
        raise PipelineFileError(
            "`store:` must be a SQLAlchemy URL such as 'postgresql+psycopg://user@host/db'.",
            path=path,
            key="store",
            line=_line(data, "store"),
        )
    steps_node = data.get("steps") or {}
    if not isinstance(steps_node, Mapping):
        raise PipelineFileError(
            "`steps:` must map step names to step settings.",
            path=path,
            key="steps",
            line=_line(data, "steps"),
        )
    steps = {str(n): _parse_step(path, n, node, steps_node) for n, node in steps_node.items()}

    def bad(key: str, message: str) -> PipelineFileError:
        return PipelineFileError(message, path=path, key=key, line=_line(data, key))

    extra = _scheduling(data, bad)
    if data.get("schedule") is not None:
        try:
            extra["schedule"] = validate_schedule(data["schedule"])
        except ValueError as exc:
            raise bad("schedule", str(exc)) from None
    if data.get("alerts") is not None:
        extra["alerts"] = _alerts(path, data["alerts"])
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
        extra["expect_by"] = _expect_by(data["expect_by"], bad)
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
            line=_line(data, "steps") if "steps" in data else None,
        )
    pipeline = Pipeline(
        path=path, name=str(name), steps=steps, store=store.strip() if store else None, **extra
    )

    check_graph(pipeline)
    return pipeline


def _to_node(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _to_node(v)
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_to_node(v) for v in value)
        if all(not isinstance(v, Mapping | list | tuple) for v in value) and len(value) <= 8:
            seq.fa.set_flow_style()
        return seq
    return value


def write_step(path: Path | str, step: StepSpec) -> Path:
    """Add or replace ``steps.<name>`` in a pipeline file, keeping the rest of it as it was.

    Creates the file when missing. The result is validated before it replaces the old file, so a
    bad step never leaves a broken ``dataops.yaml`` behind.
    """
    path = Path(path).resolve()
    if path.is_dir():
        path = path / PIPELINE_FILE
    from ruamel.yaml.comments import CommentedMap

    yaml = _yaml()
    if path.exists():
        data = _read(path)
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
    steps = data.get("steps")
    if steps is None:
        steps = CommentedMap()
        data["steps"] = steps
    new = _to_node(step.to_yaml())
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
    _build(path, _yaml().load(text))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
