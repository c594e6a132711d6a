"""What the pipeline needs to know about a notebook before any kernel starts.

Its parameters cell (papermill's ``parameters`` tag, read with papermill's own inspector), the
type of each parameter, how a ``key=value`` text is split and typed, and a content hash for
versions.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from jupyter_dataops.errors import PipelineError

if TYPE_CHECKING:
    import nbformat

PARAMETERS_TAG = "parameters"
TYPES = ("int", "float", "str", "bool", "list", "dict", "any")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ParameterError(PipelineError):
    """A parameter that the notebook does not define, or a value of the wrong type."""


@dataclass(frozen=True)
class NotebookParameter:
    """One variable of a notebook's parameters cell.

    ``type`` is one of ``TYPES``: from the annotation (``n: int = 5``) or else the type of the
    literal default; ``any`` when the default is an expression. ``optional`` accepts ``None``.
    """

    name: str
    type: str
    default: Any
    source: str
    optional: bool = False
    help: str = ""


def read_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read a notebook file, with an error that says which file and what is wrong."""
    import nbformat

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"notebook {str(path)!r} does not exist.")
    if path.suffix != ".ipynb":
        raise PipelineError(f"{str(path)!r} is not a notebook (expected a .ipynb file).")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad files
        raise PipelineError(f"cannot read notebook {str(path)!r}: {exc}") from None
    for cell in nb.cells:  # papermill's inspector expects every cell to have tags
        cell.setdefault("metadata", {}).setdefault("tags", [])
    return nb


def content_hash(nb: nbformat.NotebookNode | Path | str) -> str:
    """SHA-256 of the notebook's cell types and sources: outputs and metadata do not count,
    so running a notebook does not change its version, editing its code does."""
    cells = _plain_cells(nb) if isinstance(nb, (str, Path)) else None
    if cells is None:
        cells = (read_notebook(nb) if isinstance(nb, (str, Path)) else nb).cells
    digest = hashlib.sha256()
    for cell in cells:
        tags = sorted(cell.get("metadata", {}).get("tags", []) or [])
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        digest.update(json.dumps([cell["cell_type"], source, tags]).encode("utf-8"))
    return digest.hexdigest()


def _plain_cells(path: Path | str) -> list[dict[str, Any]] | None:
    """The cells of an nbformat 4 notebook file read as plain JSON: all ``content_hash`` needs,
    without importing nbformat (and jsonschema's format grammars, ~2 CPU-s) in a command that
    only compares versions (``dataops status``). None for anything else: ``read_notebook``
    reads it, or says what is wrong with it."""
    if not str(path).endswith(".ipynb"):
        return None
    try:
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    cells = data.get("cells") if isinstance(data, dict) and data.get("nbformat") == 4 else None
    if not isinstance(cells, list):
        return None
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        source, meta = cell.get("source", ""), cell.get("metadata", {})
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            return None
        tags = meta.get("tags", []) if isinstance(meta, dict) else None
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            return None
    return cells


def parameters_cell_index(nb: nbformat.NotebookNode) -> int:
    """Index of the first cell tagged ``parameters``, or -1."""
    for i, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in (cell.get("metadata", {}).get("tags") or []):
            return i
    return -1


def _type_from_annotation(annotation: str) -> tuple[str, bool]:
    text = annotation.replace(" ", "")
    optional = False
    if text.startswith("Optional[") and text.endswith("]"):
        text, optional = text[len("Optional[") : -1], True
    parts = [p for p in text.split("|") if p]
    if "None" in parts:
        optional = True
        parts = [p for p in parts if p != "None"]
    base = parts[0].split("[")[0].lower() if len(parts) == 1 else "any"
    aliases = {"integer": "int", "string": "str", "boolean": "bool", "tuple": "list"}
    base = aliases.get(base, base)
    return (base if base in TYPES else "any"), optional


def _literal(source: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _type_of(value: Any) -> str:
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(value, kind):
            return name
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def notebook_parameters(
    notebook: Path | str | nbformat.NotebookNode, *, require: bool = True
) -> dict[str, NotebookParameter]:
    """The parameters defined in a notebook's ``parameters`` cell, by name.

    With ``require`` a notebook without such a cell is refused with a message saying how to add
    one (papermill would otherwise inject parameters into a new cell nobody reads).
    """
    from papermill.inspection import _infer_parameters

    from_file = isinstance(notebook, (str, Path))
    nb = read_notebook(notebook) if from_file else notebook
    where = f"{str(notebook)!r}: " if from_file else ""
    if parameters_cell_index(nb) < 0:
        if not require:
            return {}
        raise ParameterError(
            f"{where}no parameters cell. Put the values a run may change (dates, paths, sizes) "
            "in one code cell and give it the tag 'parameters' (JupyterLab: right sidebar, "
            'Property Inspector > Cell Tags), e.g.\n    run_date = "2024-01-01"\n    limit = 1000'
        )
    found = {p.name: (p.inferred_type_name, p.default, p.help) for p in _infer_parameters(nb)}
    found.update(_python_assignments(nb, found))
    out: dict[str, NotebookParameter] = {}
    for name, (annotation, default_source, help_text) in found.items():
        p = _Found(name, annotation, default_source, help_text)
        ok, default = _literal(p.default)
        if p.inferred_type_name and p.inferred_type_name != "None":
            kind, optional = _type_from_annotation(p.inferred_type_name)
        elif ok and default is not None:
            kind, optional = _type_of(default), False
        else:
            kind, optional = "any", True
        out[p.name] = NotebookParameter(
            name=p.name,
            type=kind,
            default=default if ok else None,
            source=p.default,
            optional=optional,
            help=p.help or "",
        )
    return out


@dataclass(frozen=True)
class _Found:
    name: str
    inferred_type_name: str | None
    default: str
    help: str


def _python_assignments(
    nb: nbformat.NotebookNode, known: dict[str, tuple[str | None, str, str]]
) -> dict[str, tuple[str | None, str, str]]:
    """Assignments papermill's line-based inspector misses (e.g. ``n: int | None = None``),
    read with ``ast`` from a Python parameters cell; papermill's own findings win."""
    language = (nb.metadata.get("kernelspec", {}) or {}).get("language", "python")
    if language != "python":
        return {}
    source = nb.cells[parameters_cell_index(nb)].source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out: dict[str, tuple[str | None, str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, annotation, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, annotation, value = node.targets[0].id, None, node.value
        else:
            continue
        if name in known and (known[name][0] not in (None, "None") or annotation is None):
            continue
        text = ast.get_source_segment(source, value) or ast.unparse(value)
        help_text = known[name][2] if name in known else ""
        out[name] = (annotation, text, help_text)
    return out


def _describe(param: NotebookParameter) -> str:
    kind = f"{param.type} or None" if param.optional and param.type != "any" else param.type
    return f"{kind} (default {param.source} in the parameters cell)"


def _shown(param: NotebookParameter, value: Any) -> Any:
    """``value`` as an error may quote it: ``***`` for a secret (the run store's rule) or a
    ``${NAME}`` reference, a long text cut short."""
    from jupyter_dataops.store.redact import REDACTED, redact_parameters

    if isinstance(value, str) and value.strip().startswith("${"):
        return REDACTED
    shown = redact_parameters({param.name: value})[param.name]
    if isinstance(shown, str) and len(shown) > 80:
        return f"{shown[:80]}… ({len(shown):,} characters)"
    return shown


def parse_value(raw: str, param: NotebookParameter, *, where: str = "") -> Any:
    """Turn the text of ``-p key=value`` into a value of the parameter's type, or refuse."""
    text = raw.strip()
    if param.optional and text in ("None", "null", "~"):
        return None
    kind = param.type
    try:
        if kind == "str":
            return raw
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("use true or false")
        if kind in ("list", "dict"):
            try:
                value = yaml.safe_load(text)
            except (yaml.YAMLError, RecursionError):
                value = None  # refused below with the form to write
            if _type_of(value) != kind:
                raise ValueError(
                    f"write it as YAML/JSON, e.g. {'[1, 2]' if kind == 'list' else '{a: 1}'}"
                )
            return value
    except ValueError as exc:
        hint = str(exc) if "use " in str(exc) or "write" in str(exc) else ""
        got = _shown(param, raw)
        prefix = f"{where}parameter {param.name!r} expects {_describe(param)}, got {got!r}"
        raise ParameterError(
            f"{prefix}." + (f" {hint[0].upper()}{hint[1:]}." if hint else "")
        ) from None
    # any: a Python/YAML literal when it is one, else the text itself.
    ok, value = _literal(text)
    if ok:
        return value
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return raw


def check_value(value: Any, param: NotebookParameter, *, where: str = "") -> Any:
    """Check a typed value (from ``dataops.yaml``) against the parameter's type; ints widen to
    float, text is parsed as for ``-p`` so ``"5"`` works for an int."""
    if value is None and (param.optional or param.type == "any"):
        return None
    if param.type == "any":
        return value
    if isinstance(value, str) and param.type != "str":
        return parse_value(value, param, where=where)
    actual = _type_of(value)
    if actual == param.type:
        return list(value) if param.type == "list" else value
    if param.type == "float" and actual == "int":
        return float(value)
    raise ParameterError(
        f"{where}parameter {param.name!r} expects {_describe(param)}, got {_shown(param, value)!r} "
        f"({actual})."
    )


def unknown_parameter(
    name: str, params: dict[str, NotebookParameter], *, where: str = ""
) -> ParameterError:
    """The error for a key that the parameters cell does not define (papermill would accept it
    silently and inject a variable nothing reads)."""
    import difflib

    close = difflib.get_close_matches(name, list(params), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    known = ", ".join(f"{p.name}: {p.type}" for p in params.values()) or "(none)"
    return ParameterError(
        f"{where}unknown parameter {name!r}: the parameters cell does not define it.{hint} "
        f"Parameters defined there: {known}."
    )


def split_assignment(item: str) -> tuple[str | None, str, str]:
    """``"key=value"`` -> ``(None, key, value)``; ``"step.key=value"`` -> ``(step, key, value)``."""
    if "=" not in item:
        shown = item if len(item) <= 80 else f"{item[:80]}…"
        raise ParameterError(
            f"-p {shown!r}: expected key=value (or step.key=value for one step), e.g. -p limit=100."
        )
    key, value = item.split("=", 1)
    key = key.strip()
    step = None
    if "." in key:
        step, key = key.split(".", 1)
        step = step.strip()
    if not key.isidentifier():
        shown = key if len(key) <= 80 else f"{key[:80]}…"
        raise ParameterError(
            f"-p {shown}=...: {shown!r} is not a valid parameter name (letters, digits and '_')."
        )
    return step, key, value
