"""Exceptions raised by jupyter-dataops. ``DataOpsError`` is the root of all of them."""

from __future__ import annotations


class DataOpsError(Exception):
    """Root of every error jupyter-dataops raises on purpose."""


class NotUTF8Error(DataOpsError, ValueError):
    """Bytes that are not UTF-8 text: the 1-based ``line`` and ``column`` of the first bad
    ``byte``; ``str()`` says where it is and how to fix the file."""

    def __init__(self, data: bytes, exc: UnicodeDecodeError) -> None:
        before = data[: exc.start]
        self.line = before.count(b"\n") + 1
        self.column = exc.start - (before.rfind(b"\n") + 1) + 1
        self.byte = data[exc.start]
        super().__init__(
            f"byte 0x{self.byte:02x} at column {self.column} is not UTF-8 text. Save the file "
            "as UTF-8 (most editors: File > Save with Encoding > UTF-8) and run again."
        )


def decode_utf8(data: bytes) -> str:
    """``data`` as UTF-8 text; ``NotUTF8Error`` names the line and column of the first byte
    that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUTF8Error(data, exc) from None


class DataOpsSyntaxError(DataOpsError):
    """A check spec that cannot be parsed.

    Carries the 1-based ``line`` and ``column`` of the problem, the offending ``text`` and an
    optional ``hint`` (e.g. the nearest metric name for a typo). ``str()`` quotes the line with a
    caret under the column.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int,
        text: str = "",
        hint: str | None = None,
        source_name: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.text = text
        self.hint = hint
        self.source_name = source_name
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source_name}, " if self.source_name else ""
        out = [f"{where}line {self.line}, column {self.column}: {self.message}"]
        if self.text:
            out.append(f"    {self.text}")
            out.append("    " + " " * max(self.column - 1, 0) + "^")
        if self.hint:
            out.append(self.hint)
        return "\n".join(out)


class DataOpsTestFailure(DataOpsError):
    """Raised (in production/test runs, or with ``--fail-on``) when a check suite fails.

    ``result`` is the ``SuiteResult``; ``str()`` summarises the failing lines.
    """

    def __init__(self, result, message: str | None = None) -> None:  # noqa: ANN001
        self.result = result
        super().__init__(message or _summarise(result))


def _summarise(result) -> str:  # noqa: ANN001
    bad = [r for r in getattr(result, "results", []) if r.status in ("fail", "error")]
    name = getattr(result, "name", None) or "checks"
    lines = [f"{len(bad)} check(s) of suite {name!r} failed:"]
    for r in bad:
        lines.append(f"  line {r.line} [{r.status}] {r.source} -> {r.message}")
    return "\n".join(lines)


class PipelineError(DataOpsError):
    """A problem with a pipeline file, a step, promotion or a run, found before or while running."""


class StoreError(DataOpsError):
    """A problem opening or using the run store."""


class SpcError(DataOpsError):
    """Bad input to the SPC engine (empty or non-finite data, ragged subgroups, unknown chart,
    rule or sigma method, sizes where they do not apply, phase1 out of range)."""
