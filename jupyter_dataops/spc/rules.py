"""Run rules (Western Electric, Nelson, qcc, NHS Making Data Count), vectorised with numpy.

Conventions: a rule flags the *last* point of each qualifying window and keeps flagging every
further point while the run continues. "Beyond kσ" is strict (``x − centre > k·σ``); "within 1σ"
is strict too (``|x − centre| < σ``). For "2 of 3" and "4 of 5" the flagged point must itself be
beyond the zone on the same side, and windows at the start of the series count the points that
exist. A point exactly at the centre belongs to neither side and breaks a same-side run; an equal
neighbour breaks a trend or an alternation.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import SpcError

__all__ = ["RULES", "RULE_SETS", "describe", "evaluate", "expand"]

#: Every rule name with its description in words (tooltips, check messages).
RULES: dict[str, str] = {
    "WE1": "1 point beyond the control limits (3σ)",
    "WE2": "2 of 3 points in a row beyond 2σ on the same side of the centre line",
    "WE3": "4 of 5 points in a row beyond 1σ on the same side of the centre line",
    "WE4": "8 points in a row on the same side of the centre line",
    "N1": "1 point beyond the control limits (3σ)",
    "N2": "9 points in a row on the same side of the centre line",
    "N3": "6 points in a row steadily increasing or decreasing",
    "N4": "14 points in a row alternating up and down",
    "N5": "2 of 3 points in a row beyond 2σ on the same side of the centre line",
    "N6": "4 of 5 points in a row beyond 1σ on the same side of the centre line",
    "N7": "15 points in a row within 1σ of the centre line (either side)",
    "N8": "8 points in a row beyond 1σ on either side of the centre line (none within 1σ)",
    "SHIFT7": "7 points in a row on the same side of the centre line",
    "TREND7": "7 points in a row steadily increasing or decreasing",
}

#: Rule sets a user can name instead of single rules.
RULE_SETS: dict[str, tuple[str, ...]] = {
    "western_electric": ("WE1", "WE2", "WE3", "WE4"),
    "nelson": ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"),
    # qcc 2.7's default: points beyond the limits and runs of 7 (qcc.options("run.length")).
    "qcc": ("WE1", "SHIFT7"),
    # NHS Making Data Count: outside limits, shift of 7, trend of 7, 2 of 3 near a limit.
    "nhs": ("WE1", "SHIFT7", "TREND7", "WE2"),
}


def describe(rule: str) -> str:
    """The rule (or rule set) in words, e.g. ``describe("N2")``."""
    if rule in RULES:
        return RULES[rule]
    if rule in RULE_SETS:
        return "; ".join(f"{r}: {RULES[r]}" for r in RULE_SETS[rule])
    raise _unknown(rule)


def _unknown(rule: Any) -> SpcError:
    names = list(RULES) + list(RULE_SETS)
    close = difflib.get_close_matches(str(rule), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return SpcError(
        f"unknown run rule {rule!r}.{hint} Known rules: {', '.join(RULES)}; "
        f"rule sets: {', '.join(RULE_SETS)}."
    )


def expand(rules: str | Iterable[str] | None) -> list[str]:
    """Rule names (sets expanded, duplicates dropped, order kept) for ``rules``."""
    if rules is None:
        return []
    items = [rules] if isinstance(rules, str) else list(rules)
    out: list[str] = []
    for item in items:
        if item in RULE_SETS:
            names: Iterable[str] = RULE_SETS[item]
        elif item in RULES:
            names = (item,)
        else:
            raise _unknown(item)
        out.extend(n for n in names if n not in out)
    return out


# -- vectorised building blocks ------------------------------------------------------------
# Everything works on boolean arrays with shifted ANDs/sums (1 byte per point), which is several
# times faster than integer run-length bookkeeping on long series.


def _shift_and(a: np.ndarray, b: np.ndarray, lag: int) -> np.ndarray:
    """out[i] = a[i] & b[i - lag] (False where i < lag)."""
    out = np.zeros_like(a)
    if lag < a.size:
        np.logical_and(a[lag:], b[: a.size - lag], out=out[lag:])
    return out


def _run_at_least(b: np.ndarray, length: int) -> np.ndarray:
    """True where ``b`` has been True for the last ``length`` points (this one included).

    Doubling: ``p`` covers windows of 1, 2, 4, ... points; the binary digits of ``length`` pick
    which of them ``out`` is extended with.
    """
    out: np.ndarray | None = None
    covered = 0
    p, plen = b, 1
    k = length
    while k:
        if k & 1:
            if out is None:
                out, covered = p, plen
            else:
                out = _shift_and(out, p, covered)
                covered += plen
        k >>= 1
        if k:
            p = _shift_and(p, p, plen)
            plen *= 2
    assert out is not None
    return out


def _count_in_window(b: np.ndarray, m: int) -> np.ndarray:
    """Number of True among the last ``m`` points up to each index (fewer at the start)."""
    out = b.astype(np.uint8)
    for lag in range(1, min(m, b.size)):
        out[lag:] += b[: b.size - lag]
    return out


def _k_of_m(above: np.ndarray, below: np.ndarray, k: int, m: int) -> np.ndarray:
    return (above & (_count_in_window(above, m) >= k)) | (below & (_count_in_window(below, m) >= k))


def _trend(x: np.ndarray, length: int, dx: np.ndarray) -> np.ndarray:
    """Points ending ``length`` points in a row each strictly above (or below) the previous."""
    out = np.zeros(x.size, dtype=bool)
    if x.size >= length:
        need = length - 1
        out[1:] = _run_at_least(dx > 0, need) | _run_at_least(dx < 0, need)
    return out


def _alternating(x: np.ndarray, length: int, dx: np.ndarray) -> np.ndarray:
    """Points ending ``length`` points in a row alternating up and down."""
    out = np.zeros(x.size, dtype=bool)
    if x.size >= length:
        up, down = dx > 0, dx < 0
        flips = (up[1:] & down[:-1]) | (down[1:] & up[:-1])  # diffs j, j+1 change direction
        out[2:] = _run_at_least(flips, length - 2)
    return out


class _Ctx:
    """Per-evaluation cache of the zone tests so a rule set computes each once."""

    def __init__(self, x: np.ndarray, c: np.ndarray, s: np.ndarray, lcl: Any, ucl: Any) -> None:
        self.x, self.d, self.s, self.lcl, self.ucl = x, x - c, s, lcl, ucl
        self._cache: dict[Any, np.ndarray] = {}

    def above(self, k: float) -> np.ndarray:
        key = ("a", k)
        if key not in self._cache:
            self._cache[key] = self.d > k * self.s
        return self._cache[key]

    def below(self, k: float) -> np.ndarray:
        key = ("b", k)
        if key not in self._cache:
            self._cache[key] = self.d < -k * self.s
        return self._cache[key]

    @property
    def dx(self) -> np.ndarray:
        if "dx" not in self._cache:
            self._cache["dx"] = np.diff(self.x)
        return self._cache["dx"]

    def beyond_limits(self) -> np.ndarray:
        if self.lcl is None and self.ucl is None:
            return self.above(3) | self.below(3)
        out = np.zeros(self.x.size, dtype=bool)
        if self.ucl is not None:
            out |= self.x > self.ucl
        if self.lcl is not None:
            out |= self.x < self.lcl
        return out

    def same_side(self, n: int) -> np.ndarray:
        key = ("side", n)
        if key not in self._cache:
            self._cache[key] = _run_at_least(self.d > 0, n) | _run_at_least(self.d < 0, n)
        return self._cache[key]


_IMPL: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "WE1": lambda t: t.beyond_limits(),
    "WE2": lambda t: _k_of_m(t.above(2), t.below(2), 2, 3),
    "WE3": lambda t: _k_of_m(t.above(1), t.below(1), 4, 5),
    "WE4": lambda t: t.same_side(8),
    "N1": lambda t: t.beyond_limits(),
    "N2": lambda t: t.same_side(9),
    "N3": lambda t: _trend(t.x, 6, t.dx),
    "N4": lambda t: _alternating(t.x, 14, t.dx),
    "N5": lambda t: _k_of_m(t.above(2), t.below(2), 2, 3),
    "N6": lambda t: _k_of_m(t.above(1), t.below(1), 4, 5),
    "N7": lambda t: _run_at_least(np.abs(t.d) < t.s, 15),
    "N8": lambda t: _run_at_least(t.above(1) | t.below(1), 8),
    "SHIFT7": lambda t: t.same_side(7),
    "TREND7": lambda t: _trend(t.x, 7, t.dx),
}


def _per_point(v: Any, n: int, name: str) -> np.ndarray:
    """A 0-d array when ``v`` is one number (or the same number everywhere), else one per point;
    scalars keep the zone tests at one pass over the data."""
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 0:
        return arr
    if arr.shape != (n,):
        raise SpcError(f"{name} must be one number or one per point ({n}); got shape {arr.shape}.")
    if n and (arr == arr[0]).all():
        return arr[0:1].reshape(())
    return arr


def evaluate(
    values: Any,
    center: Any,
    sigma: Any,
    rules: str | Iterable[str] | None = "nelson",
    *,
    lcl: Any = None,
    ucl: Any = None,
) -> dict[str, list[int]]:
    """Run ``rules`` on the plotted ``values``.

    ``center`` and ``sigma`` (the standard error of each plotted point, i.e. the zone width) are
    numbers or one per point. ``lcl``/``ucl`` (optional, per point or scalar) replace the ±3σ
    test of WE1/N1 so clamped or capped limits are honoured. Returns rule name → sorted 0-based
    indices of the flagged points, one entry per requested rule.
    """
    names = expand(rules)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise SpcError(f"values must be one-dimensional; got shape {x.shape}.")
    n = x.size
    c = _per_point(center, n, "center")
    s = _per_point(sigma, n, "sigma")
    for arr, what in ((x, "values"), (c, "center"), (s, "sigma")):
        if not np.isfinite(arr).all():
            i = int(np.argmax(~np.isfinite(arr)))
            raise SpcError(f"{what}[{i}] is not a finite number; drop or fill it first.")
    if (s < 0).any():
        raise SpcError("sigma must not be negative.")
    lo = None if lcl is None else _per_point(lcl, n, "lcl")
    hi = None if ucl is None else _per_point(ucl, n, "ucl")
    ctx = _Ctx(x, c, s, lo, hi)
    return {name: np.flatnonzero(_IMPL[name](ctx)).tolist() for name in names}
