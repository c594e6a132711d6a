"""Reading ``dataops.yaml`` with ruamel.yaml's round-trip parser: line numbers for every error,
comments and key order kept when a step is written back. ruamel is imported on first use:
`dataops runs` and kernels reading only `store:` never need it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_dataops.errors import NotUTF8Error, decode_utf8
from jupyter_dataops.pipeline.definition.model import PipelineFileError

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml import YAML


def round_trip_yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


#: a file changed this recently may be changed again within the file system's timestamp
#: granularity with the same size (git's "racy" files): its stamp is not trusted until then
RACY_NS = 2_000_000_000


def file_stamp(path: Path) -> tuple[int, ...] | None:
    """A file's identity, size and change times (None: no such file): an edit changes it."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def settled(stamp: tuple[int, ...] | None) -> bool:
    """Whether a stamp can be trusted to change with the next edit: a file changed in the last
    ``RACY_NS`` is read afresh until then."""
    return stamp is None or time.time_ns() - max(stamp[2], stamp[3]) > RACY_NS


def read_yaml(path: Path) -> Any:
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
        return round_trip_yaml().load(text)
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
        return decode_utf8(data)
    except NotUTF8Error as exc:
        raise PipelineFileError(str(exc), path=path, line=exc.line) from None


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of ``node`` (or of ``key`` inside it) in the file, when ruamel knows it."""
    try:
        if key is not None and isinstance(node, Mapping) and hasattr(node, "lc"):
            return node.lc.key(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, TypeError):
        return None
