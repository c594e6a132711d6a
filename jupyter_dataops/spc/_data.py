"""Input checking shared by the SPC functions: turn user data into float arrays or subgroups,
or raise ``SpcError`` saying what is wrong, where, and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpcError


@dataclass(frozen=True)
class Subgroups:
    """Subgroups flattened for vectorised statistics: ``values`` in order, ``sizes`` per subgroup
    and ``starts`` (offset of each subgroup in ``values``)."""

    values: np.ndarray
    sizes: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return int(self.sizes.size)

    def head(self, k: int) -> Subgroups:
        """The first ``k`` subgroups (phase I)."""
        end = int(self.starts[k]) if k < len(self) else self.values.size
        return Subgroups(self.values[:end], self.sizes[:k], self.starts[:k])

    def means(self) -> np.ndarray:
        return np.add.reduceat(self.values, self.starts) / self.sizes

    def ranges(self) -> np.ndarray:
        return np.maximum.reduceat(self.values, self.starts) - np.minimum.reduceat(
            self.values, self.starts
        )

    def sds(self) -> np.ndarray:
        """Sample standard deviation (n-1 denominator) of each subgroup."""
        means = self.means()
        dev = self.values - np.repeat(means, self.sizes)
        ss = np.add.reduceat(dev * dev, self.starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(ss / (self.sizes - 1))


def _is_sequence(x: Any) -> bool:
    return (
        isinstance(x, (Sequence, np.ndarray))
        and not isinstance(x, (str, bytes))
        or (hasattr(x, "to_numpy") and hasattr(x, "__len__"))
    )


def is_subgrouped(data: Any) -> bool:
    """True when ``data`` is a 2-D array or a sequence whose first element is a sequence."""
    if isinstance(data, np.ndarray):
        return data.ndim == 2
    if hasattr(data, "to_numpy") and hasattr(data, "columns"):  # a DataFrame: rows = subgroups
        return True
    try:
        first = data[0]
    except (TypeError, IndexError, KeyError):
        return False
    return _is_sequence(first)


def _to_numpy(data: Any) -> np.ndarray:
    if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):
        data = data.to_numpy()
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpcError(
            f"data must be numbers; could not read them as numbers ({exc}). "
            "Pass a list, numpy array or polars/pandas Series of numbers."
        ) from None
    return arr


def as_values(data: Any, *, what: str = "data", chart: str = "this chart") -> np.ndarray:
    """1-D float array of finite values, or SpcError."""
    if data is None:
        raise SpcError(f"{what} is None; pass a sequence of numbers.")
    if is_subgrouped(data):
        raise SpcError(
            f"{what} for {chart} must be individual values (a flat sequence), but it holds "
            "subgroups (a sequence of sequences). Use chart='xbar', 'r' or 's' for subgroups."
        )
    arr = _to_numpy(data)
    if arr.ndim != 1:
        raise SpcError(f"{what} must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise SpcError(f"{what} is empty; {chart} needs at least one value.")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise SpcError(
            f"{what} has a missing or non-finite value ({arr[i]}) at index {i} "
            f"({int(bad.sum())} in all); drop or fill missing values before charting."
        )
    return arr


def as_subgroups(data: Any, *, chart: str) -> Subgroups:
    """Subgroups from a 2-D array, a DataFrame (rows) or a sequence of sequences (sizes may differ)."""
    if data is None:
        raise SpcError("data is None; pass a list of subgroups (a list of lists of numbers).")
    if isinstance(data, np.ndarray) or (hasattr(data, "to_numpy") and hasattr(data, "columns")):
        arr = _to_numpy(data)
        if arr.ndim != 2:
            raise SpcError(
                f"the {chart} chart needs subgroups: a 2-D array (one row per subgroup) or a list "
                f"of sequences; got an array of shape {arr.shape}. For individual values use "
                "chart='i'."
            )
        groups = list(arr)
    else:
        try:
            groups = list(data)
        except TypeError:
            raise SpcError(
                f"the {chart} chart needs a list of subgroups; got {type(data).__name__}."
            ) from None
    if not groups:
        raise SpcError(f"data is empty; the {chart} chart needs at least one subgroup.")
    parts = []
    for k, g in enumerate(groups):
        if not _is_sequence(g):
            raise SpcError(
                f"subgroup {k} is a single value ({g!r}), not a sequence; the {chart} chart needs "
                "subgroups (a list of lists). For individual values use chart='i'."
            )
        a = _to_numpy(g)
        if a.ndim != 1:
            raise SpcError(f"subgroup {k} must be a flat sequence of numbers; got shape {a.shape}.")
        bad = ~np.isfinite(a)
        if bad.any():
            j = int(np.argmax(bad))
            raise SpcError(
                f"subgroup {k} has a missing or non-finite value ({a[j]}) at position {j}; drop "
                "missing values from the subgroup (sizes may differ) before charting."
            )
        if a.size < 2:
            raise SpcError(
                f"subgroup {k} has {a.size} value(s); the {chart} chart needs at least 2 values per "
                "subgroup to estimate within-subgroup variation. Use chart='i' for single values."
            )
        parts.append(a)
    sizes = np.fromiter((p.size for p in parts), dtype=np.int64, count=len(parts))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return Subgroups(np.concatenate(parts), sizes, starts)


def as_sizes(sizes: Any, n: int, *, chart: str) -> np.ndarray:
    """Per-point sample sizes (a scalar is repeated), all positive and finite."""
    if np.isscalar(sizes):
        arr = np.full(n, float(sizes))  # type: ignore[arg-type]
    else:
        arr = _to_numpy(sizes)
        if arr.ndim != 1 or arr.size != n:
            raise SpcError(
                f"sizes has {arr.size} value(s) but data has {n}; give one sample size per point "
                "or a single number for all."
            )
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise SpcError(
            f"sizes[{i}] = {arr[i]}; sample sizes for the {chart} chart must be positive numbers."
        )
    return arr


def check_phase1(phase1: Any, n: int, *, minimum: int, unit: str = "points") -> int:
    """Validate ``phase1`` (leading points used for centre and sigma); default all ``n``."""
    if phase1 is None:
        if n < minimum:
            raise SpcError(f"need at least {minimum} {unit} to estimate centre and sigma; got {n}.")
        return n
    if isinstance(phase1, bool) or not isinstance(phase1, (int, np.integer)):
        raise SpcError(f"phase1 must be a whole number of {unit}; got {phase1!r}.")
    phase1 = int(phase1)
    if phase1 < minimum or phase1 > n:
        raise SpcError(
            f"phase1={phase1} is out of range: it counts the leading {unit} used to compute centre "
            f"and sigma, so it must be between {minimum} and {n} (the number of {unit})."
        )
    return phase1


def check_nsigmas(nsigmas: Any) -> float:
    try:
        v = float(nsigmas)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v <= 0:
        raise SpcError(f"nsigmas must be a positive number (usually 3); got {nsigmas!r}.")
    return v
