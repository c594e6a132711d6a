"""What ``retention: {keep_runs: N, keep_days: D}`` in the pipeline file says: parsed with the
rest of the file (``spec``), applied by ``scheduling.retention``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Retention:
    """How much run output to keep (None: no limit of that kind)."""

    keep_runs: int | None = None
    keep_days: float | None = None


def parse_retention(node: Any) -> Retention:
    """A ``retention:`` mapping; ``ValueError`` says what is wrong."""
    if not isinstance(node, Mapping):
        raise ValueError("expected a mapping such as `{keep_runs: 30, keep_days: 90}`")
    unknown = [str(k) for k in node if k not in ("keep_runs", "keep_days")]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; known: keep_runs, keep_days")
    keep_runs = node.get("keep_runs")
    if keep_runs is not None and (
        isinstance(keep_runs, bool) or not isinstance(keep_runs, int) or keep_runs < 1
    ):
        raise ValueError(f"keep_runs must be a whole number of 1 or more, got {keep_runs!r}")
    keep_days = node.get("keep_days")
    if keep_days is not None and (
        isinstance(keep_days, bool) or not isinstance(keep_days, int | float) or keep_days <= 0
    ):
        raise ValueError(f"keep_days must be a number of days above 0, got {keep_days!r}")
    if keep_runs is None and keep_days is None:
        raise ValueError("give keep_runs, keep_days or both")
    return Retention(
        int(keep_runs) if keep_runs is not None else None,
        float(keep_days) if keep_days is not None else None,
    )
