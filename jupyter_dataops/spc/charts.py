"""Shewhart control charts (i, mr, xbar, r, s, p, np, c, u) with qcc 2.7's conventions.

Centre and sigma come from the first ``phase1`` points (phase I); every point, phase I and II, is
judged against those limits. See docs/spc.md for the formulas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SpcError
from . import rules as _rules
from ._constants import c4, d2, d3
from ._data import (
    Subgroups,
    as_sizes,
    as_subgroups,
    as_values,
    check_nsigmas,
    check_phase1,
)

__all__ = [
    "CHARTS",
    "CHART_TYPES",
    "DEFAULT_RULES",
    "RULE_CHARTS",
    "SIZED_CHARTS",
    "ControlChart",
    "control_chart",
]

#: Chart type → (title, allowed sigma methods with the default first).
CHARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "i": ("Individuals (I) chart", ("mr", "sd")),
    "mr": ("Moving-range (MR) chart", ("mr",)),
    "xbar": ("X̄ chart", ("uwave-r", "uwave-sd", "mvlue-r", "mvlue-sd", "rmsdf")),
    "r": ("R chart", ("uwave-r", "mvlue-r")),
    "s": ("S chart", ("uwave-sd", "mvlue-sd", "rmsdf")),
    "p": ("p chart", ("binomial",)),
    "np": ("np chart", ("binomial",)),
    "c": ("c chart", ("poisson",)),
    "u": ("u chart", ("poisson",)),
}

#: The chart types that judge one value per run (an ``spc`` check line, a metric's chart): the
#: Shewhart charts judged by run rules, then EWMA and CUSUM (their own signal rule, no run rules).
RULE_CHARTS: tuple[str, ...] = ("i", "mr", "c", "p", "np", "u")
CHART_TYPES: tuple[str, ...] = (*RULE_CHARTS, "ewma", "cusum")
#: Charts that judge each value against its sample size n (p, np: defectives; u: defects).
SIZED_CHARTS: tuple[str, ...] = ("p", "np", "u")
#: The run-rule set used when none is named (qcc 2.7's default; see ``rules.RULE_SETS``).
DEFAULT_RULES = "qcc"

_SUBGROUPED = ("xbar", "r", "s")


class ChartDisplay:
    """Shared by the SPC results: a notebook shows them as their chart, through the offline
    vega-lite 5 bundle (altair is imported only then)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from .picture import result_mimebundle

        return result_mimebundle(self)


@dataclass
class ControlChart(ChartDisplay):
    """A computed control chart: one value per plotted point in every array.

    ``sigma`` is the process standard deviation as qcc reports it (``std.dev``); ``se`` is the
    standard error of each plotted statistic (the width of one zone, used by the run rules).
    """

    chart_type: str
    sigma_method: str
    nsigmas: float
    statistics: np.ndarray
    center: np.ndarray
    sigma: np.ndarray
    se: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    sizes: np.ndarray | None
    phase1: int
    rules: list[str]
    beyond_limits: list[int] = field(default_factory=list)
    violations: dict[str, list[int]] = field(default_factory=dict)
    first_label: int = 1

    def __len__(self) -> int:
        return int(self.statistics.size)

    @property
    def labels(self) -> np.ndarray:
        """1-based sample numbers as plotted (the MR chart starts at 2)."""
        return np.arange(self.first_label, self.first_label + len(self))

    @property
    def title(self) -> str:
        name = CHARTS[self.chart_type][0]
        ns = f"{self.nsigmas:g}σ limits"
        return f"{name} · sigma: {self.sigma_method.upper()} · {ns}"

    def point_rules(self) -> list[list[str]]:
        """Rule names broken at each point (beyond-limits first)."""
        out: list[list[str]] = [[] for _ in range(len(self))]
        for name, idx in self.violations.items():
            for i in idx:
                out[i].append(name)
        return out

    def to_polars(self):  # noqa: ANN201 - polars imported lazily
        """One row per point: sample, phase, statistic, centre, limits, sigma, se, size, flags."""
        import polars as pl

        rules = self.point_rules()
        beyond = np.zeros(len(self), dtype=bool)
        beyond[self.beyond_limits] = True
        return pl.DataFrame(
            {
                "index": np.arange(len(self)),
                "sample": self.labels,
                "phase": np.where(np.arange(len(self)) < self.phase1, "I", "II"),
                "statistic": self.statistics,
                "center": self.center,
                "lcl": self.lcl,
                "ucl": self.ucl,
                "sigma": self.sigma,
                "se": self.se,
                "size": self.sizes if self.sizes is not None else np.full(len(self), None),
                "beyond_limits": beyond,
                "violations": rules,
            },
            schema_overrides={"size": pl.Float64, "violations": pl.List(pl.String)},
        )

    def chart(self, **properties: Any):  # noqa: ANN201 - altair imported lazily
        """An altair layered chart (see ``jupyter_dataops.spc.picture``)."""
        from .picture import control_chart_picture

        return control_chart_picture(self, **properties)

    def __repr__(self) -> str:
        lo, hi = np.unique(self.lcl), np.unique(self.ucl)
        lim = (
            f"LCL {lo[0]:.7g}, UCL {hi[0]:.7g}"
            if lo.size == 1 and hi.size == 1
            else f"LCL {lo.min():.7g}..{lo.max():.7g}, UCL {hi.min():.7g}..{hi.max():.7g}"
        )
        cen = np.unique(self.center)
        c = f"{cen[0]:.7g}" if cen.size == 1 else f"{cen.min():.7g}..{cen.max():.7g}"
        broken = {k: v for k, v in self.violations.items() if v}
        return (
            f"<ControlChart {self.chart_type} n={len(self)} phase1={self.phase1} centre {c} "
            f"sigma {self.sigma[0]:.7g} ({self.sigma_method}) {lim}; "
            f"beyond limits {self.beyond_limits}; rules broken {broken or 'none'}>"
        )


# -- sigma estimators -----------------------------------------------------------------------


def _subgroup_sigma(g: Subgroups, method: str) -> float:
    """qcc 2.7 ``sd.xbar``: within-subgroup sigma by the named method."""
    n = g.sizes
    if method == "uwave-r":
        return float(np.mean(g.ranges() / d2(n, what="sigma_method='uwave-r'")))
    if method == "uwave-sd":
        return float(np.mean(g.sds() / c4(n)))
    if method == "mvlue-r":
        dd2 = d2(n, what="sigma_method='mvlue-r'")
        w = (dd2 / d3(n, what="sigma_method='mvlue-r'")) ** 2
        return float(np.sum(g.ranges() / dd2 * w) / np.sum(w))
    if method == "mvlue-sd":
        cc = c4(n)
        w = cc**2 / (1 - cc**2)
        return float(np.sum(g.sds() / cc * w) / np.sum(w))
    if method == "rmsdf":
        w = n - 1
        return float(np.sqrt(np.sum(g.sds() ** 2 * w) / np.sum(w)) / c4(np.sum(w) + 1))
    raise AssertionError(method)


def _mr_sigma(x: np.ndarray) -> tuple[float, float]:
    """(mean moving range, sigma = MR̄ / d2(2)) of individual values."""
    mr = float(np.mean(np.abs(np.diff(x))))
    return mr, mr / float(d2(2))


def individuals_sigma(x: np.ndarray, method: str = "mr") -> float:
    """qcc 2.7 ``sd.xbar.one``: MR̄/d2(2) or sd/c4(n)."""
    if method == "mr":
        return _mr_sigma(x)[1]
    return float(np.std(x, ddof=1) / c4(x.size))


def _method(chart: str, sigma_method: str | None, default: str) -> str:
    allowed = CHARTS[chart][1]
    if sigma_method is None:
        return default
    m = str(sigma_method).lower().replace("_", "-")
    if m not in allowed:
        if chart in ("p", "np", "c", "u"):
            raise SpcError(
                f"sigma_method={sigma_method!r} does not apply to the {chart} chart: its sigma "
                f"follows from the centre ({allowed[0]} model). Leave sigma_method unset."
            )
        raise SpcError(
            f"unknown sigma_method {sigma_method!r} for the {chart} chart; "
            f"use one of {', '.join(repr(a) for a in allowed)}."
        )
    return m


# -- the charts ------------------------------------------------------------------------------


def control_chart(
    data: Any,
    chart: str,
    *,
    sizes: Any = None,
    phase1: int | None = None,
    sigma_method: str | None = None,
    nsigmas: float = 3,
    rules: str | Iterable[str] | None = DEFAULT_RULES,
) -> ControlChart:
    """Compute a Shewhart control chart the way qcc 2.7 does.

    ``data``: individual values (i, mr), subgroups (xbar, r, s: a list of sequences, sizes may
    differ, or a 2-D array), or counts (p, np, c, u; ``sizes`` = sample sizes for p, np and u).
    ``phase1``: leading points used for centre and sigma (default all; for mr it counts the
    individual values). ``rules``: a rule name, rule set or list of them (None for none).
    """
    key = str(chart).lower() if isinstance(chart, str) else chart
    if key not in CHARTS:
        raise SpcError(f"unknown chart {chart!r}; use one of {', '.join(repr(c) for c in CHARTS)}.")
    chart = key
    ns = check_nsigmas(nsigmas)
    if sizes is not None and chart not in SIZED_CHARTS:
        hint = (
            " Subgroup sizes come from the subgroups themselves."
            if chart in _SUBGROUPED
            else " For counts per varying sample size use the u chart."
            if chart == "c"
            else ""
        )
        raise SpcError(
            f"sizes applies only to the p, np and u charts, not to the {chart} chart; "
            f"drop the sizes argument.{hint}"
        )
    rule_names = _rules.expand(rules)
    if chart in ("i", "mr"):
        cc = _individuals(data, chart, phase1, sigma_method, ns)
    elif chart in _SUBGROUPED:
        cc = _subgrouped(data, chart, phase1, sigma_method, ns)
    else:
        cc = _attributes(data, chart, sizes, phase1, sigma_method, ns)
    x = cc.statistics
    cc.beyond_limits = np.flatnonzero((x > cc.ucl) | (x < cc.lcl)).tolist()
    cc.rules = rule_names
    cc.violations = _rules.evaluate(x, cc.center, cc.se, rule_names, lcl=cc.lcl, ucl=cc.ucl)
    return cc


def _make(chart, method, ns, stats, center, sigma, se, sizes, p1, first_label=1) -> ControlChart:  # noqa: ANN001
    n = stats.size
    center = np.broadcast_to(np.asarray(center, dtype=np.float64), (n,)).copy()
    sigma_arr = np.full(n, float(sigma))
    se = np.broadcast_to(np.asarray(se, dtype=np.float64), (n,)).copy()
    return ControlChart(
        chart_type=chart,
        sigma_method=method,
        nsigmas=ns,
        statistics=stats,
        center=center,
        sigma=sigma_arr,
        se=se,
        lcl=center - ns * se,
        ucl=center + ns * se,
        sizes=sizes,
        phase1=p1,
        rules=[],
        first_label=first_label,
    )


def _individuals(data, chart, phase1, sigma_method, ns) -> ControlChart:  # noqa: ANN001
    x = as_values(data, chart=f"the {chart} chart")
    method = _method(chart, sigma_method, "mr")
    p1 = check_phase1(phase1, x.size, minimum=2, unit="values")
    base = x[:p1]
    if chart == "i":
        sigma = individuals_sigma(base, method)
        return _make(chart, method, ns, x, base.mean(), sigma, sigma, None, p1)
    mrbar, sigma = _mr_sigma(base)
    mr = np.abs(np.diff(x))
    cc = _make(chart, method, ns, mr, mrbar, sigma, float(d3(2)) * sigma, None, p1 - 1, 2)
    np.maximum(cc.lcl, 0.0, out=cc.lcl)
    return cc


def _subgrouped(data, chart, phase1, sigma_method, ns) -> ControlChart:  # noqa: ANN001
    g = as_subgroups(data, chart=chart)
    p1 = check_phase1(phase1, len(g), minimum=1, unit="subgroups")
    base = g.head(p1)
    if chart == "xbar":
        default = "rmsdf" if (base.sizes > 25).any() else "uwave-r"
    else:
        default = CHARTS[chart][1][0]
    method = _method(chart, sigma_method, default)
    sigma = _subgroup_sigma(base, method)
    n = g.sizes
    if chart == "xbar":
        stats, bstats = g.means(), base.means()
        center = np.sum(base.sizes * bstats) / np.sum(base.sizes)
        return _make(chart, method, ns, stats, center, sigma, sigma / np.sqrt(n), n, p1)
    if chart == "r":
        stats, bstats = g.ranges(), base.ranges()
        se = d3(n, what="the R chart") * sigma
    else:
        stats, bstats = g.sds(), base.sds()
        se = sigma * np.sqrt(1 - c4(n) ** 2)
    center = np.sum(base.sizes * bstats) / np.sum(base.sizes)
    cc = _make(chart, method, ns, stats, center, sigma, se, n, p1)
    np.maximum(cc.lcl, 0.0, out=cc.lcl)
    return cc


def _attributes(data, chart, sizes, phase1, sigma_method, ns) -> ControlChart:  # noqa: ANN001
    counts = as_values(data, what="counts", chart=f"the {chart} chart")
    if (counts < 0).any():
        i = int(np.argmax(counts < 0))
        raise SpcError(f"counts[{i}] = {counts[i]}; counts of the {chart} chart must be ≥ 0.")
    method = _method(chart, sigma_method, CHARTS[chart][1][0])
    if chart in SIZED_CHARTS:
        if sizes is None:
            raise SpcError(
                f"the {chart} chart needs sizes (the sample size behind each count); pass "
                "sizes=<number or one per point>."
            )
        n = as_sizes(sizes, counts.size, chart=chart)
    else:
        n = None
    if chart in ("p", "np") and (counts > n).any():
        i = int(np.argmax(counts > n))
        raise SpcError(
            f"counts[{i}] = {counts[i]} defectives exceed the sample size {n[i]}; "
            f"the {chart} chart counts defective units, at most one per unit."
        )
    p1 = check_phase1(phase1, counts.size, minimum=1)
    if chart in ("p", "np"):
        pbar = counts[:p1].sum() / n[:p1].sum()
        sigma = np.sqrt(pbar * (1 - pbar))
        if chart == "p":
            cc = _make(chart, method, ns, counts / n, pbar, sigma, sigma / np.sqrt(n), n, p1)
            np.clip(cc.lcl, 0.0, None, out=cc.lcl)
            np.minimum(cc.ucl, 1.0, out=cc.ucl)
        else:
            cc = _make(chart, method, ns, counts, n * pbar, sigma, sigma * np.sqrt(n), n, p1)
            np.clip(cc.lcl, 0.0, None, out=cc.lcl)
            np.minimum(cc.ucl, n, out=cc.ucl)
        return cc
    if chart == "c":
        cbar = counts[:p1].mean()
        sigma = np.sqrt(cbar)
        cc = _make(chart, method, ns, counts, cbar, sigma, sigma, None, p1)
    else:
        ubar = counts[:p1].sum() / n[:p1].sum()
        sigma = np.sqrt(ubar)
        cc = _make(chart, method, ns, counts / n, ubar, sigma, np.sqrt(ubar / n), n, p1)
    np.clip(cc.lcl, 0.0, None, out=cc.lcl)
    return cc


@dataclass(frozen=True)
class _Baseline:
    """Statistics, sizes, phase I centre and process sigma for EWMA, CUSUM and capability."""

    statistics: np.ndarray
    sizes: np.ndarray
    center: float
    sigma: float
    sigma_method: str
    phase1: int
    values: np.ndarray  # every individual observation (capability)


def baseline(data: Any, phase1: int | None, *, sizes: Any = None, what: str) -> _Baseline:
    """Individuals (sigma MR̄/d2(2)) or subgroups (sigma as the xbar chart's default: UWAVE-R, or
    RMSDF when a subgroup has more than 25 values), qcc 2.7's ``ewma``/``cusum`` defaults.

    ``sizes`` (EWMA only) splits a flat series into consecutive subgroups of those sizes.
    """
    if sizes is not None:
        flat = as_values(data, chart=what)
        if np.isscalar(sizes):
            k = int(sizes)  # type: ignore[arg-type]
            if k < 1 or flat.size % k:
                raise SpcError(
                    f"sizes={sizes!r} must divide the {flat.size} values into whole subgroups."
                )
            cuts = np.full(flat.size // k, k)
        else:
            cuts = np.asarray(sizes)
            if cuts.ndim != 1 or not np.issubdtype(cuts.dtype, np.integer) or (cuts < 1).any():
                raise SpcError("sizes must be positive whole numbers (the subgroup lengths).")
            if cuts.sum() != flat.size:
                raise SpcError(
                    f"sizes add up to {int(cuts.sum())} but data has {flat.size} values; sizes "
                    "splits the flat data into consecutive subgroups and must cover it exactly."
                )
        data = flat if (cuts == 1).all() else np.split(flat, np.cumsum(cuts)[:-1])
    from ._data import is_subgrouped

    if is_subgrouped(data) or (isinstance(data, list) and data and isinstance(data[0], np.ndarray)):
        g = as_subgroups(data, chart=what)
        p1 = check_phase1(phase1, len(g), minimum=1, unit="subgroups")
        base = g.head(p1)
        method = "rmsdf" if (base.sizes > 25).any() else "uwave-r"
        sigma = _subgroup_sigma(base, method)
        stats = g.means()
        center = float(np.sum(base.sizes * base.means()) / np.sum(base.sizes))
        return _Baseline(stats, g.sizes.astype(np.float64), center, sigma, method, p1, g.values)
    x = as_values(data, chart=what)
    p1 = check_phase1(phase1, x.size, minimum=2, unit="values")
    sigma = individuals_sigma(x[:p1], "mr")
    return _Baseline(x, np.ones(x.size), float(x[:p1].mean()), sigma, "mr", p1, x)
