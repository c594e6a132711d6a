"""What ``incidents: {resolve_after: N}`` in the pipeline file says: parsed with the rest of the
file (``spec``), applied by ``observers.incidents``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IncidentOptions:
    """``resolve_after``: passing production runs in a row that resolve an incident."""

    resolve_after: int = 1


def parse_incidents(node: Any) -> IncidentOptions:
    """An ``incidents:`` mapping; ``ValueError`` says what is wrong."""
    if not isinstance(node, Mapping):
        raise ValueError("expected a mapping such as `{resolve_after: 2}`")
    unknown = [str(k) for k in node if k != "resolve_after"]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; known: resolve_after")
    value = node.get("resolve_after", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"resolve_after must be a whole number of passing runs, 1 or more, got {value!r}"
        )
    return IncidentOptions(resolve_after=value)
