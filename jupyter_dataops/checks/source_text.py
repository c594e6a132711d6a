"""A check line's source without its trailing ``# comment``, as the CLI, alerts and reports show
it (a module of its own: it asks the parser, which the number formatting in ``display`` must
not import)."""

from __future__ import annotations

from jupyter_dataops.checks.cursor import Line
from jupyter_dataops.checks.language import _parse_line
from jupyter_dataops.errors import DataOpsSyntaxError


def without_comment(source: str) -> str:
    """A check line as written, without its trailing ``# comment`` (the parser says where the
    check ends: a ``#`` inside quotes or a ``valid regex`` is part of the check). A line that
    does not parse is returned as it is."""
    cur = Line(source, 1, None)
    try:
        _parse_line(cur)
    except DataOpsSyntaxError:
        return source
    return source[: cur.pos].rstrip() if cur.at_end() else source
