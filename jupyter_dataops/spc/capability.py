"""Process capability indices with confidence intervals, as qcc 2.7's ``process.capability``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import SpcError
from .charts import baseline

__all__ = ["Capability", "capability"]

_NORMAL = NormalDist()


@dataclass
class Capability:
    """Cp, Cpl, Cpu, Cpk, Cpm (None where a spec limit they need is missing), their confidence
    ``intervals`` (name → (low, high)), and fractions out of spec: ``observed`` (share of the
    data) and ``expected`` (under a normal with the process centre and sigma), each a dict with
    ``below_lsl``, ``above_usl`` and ``total``."""

    cp: float | None
    cpl: float | None
    cpu: float | None
    cpk: float | None
    cpm: float | None
    intervals: dict[str, tuple[float, float]]
    observed: dict[str, float | None]
    expected: dict[str, float | None]
    center: float
    sigma: float
    sigma_method: str
    n: int
    lsl: float | None
    usl: float | None
    target: float | None
    confidence: float
    nsigmas: float = 3.0
    _names: tuple[str, ...] = field(default=("cp", "cpl", "cpu", "cpk", "cpm"), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            **{k: getattr(self, k) for k in self._names},
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "observed": dict(self.observed),
            "expected": dict(self.expected),
            "center": self.center,
            "sigma": self.sigma,
            "sigma_method": self.sigma_method,
            "n": self.n,
            "lsl": self.lsl,
            "usl": self.usl,
            "target": self.target,
            "confidence": self.confidence,
        }

    def to_polars(self):  # noqa: ANN201
        """One row per index: name, value, lower and upper confidence bound."""
        import polars as pl

        rows = [
            (k, getattr(self, k), *self.intervals.get(k, (None, None)))
            for k in self._names
            if getattr(self, k) is not None
        ]
        return pl.DataFrame(rows, schema=["index", "value", "low", "high"], orient="row")

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k):.4g}" for k in self._names if getattr(self, k) is not None]
        return (
            f"<Capability {' '.join(parts)} (n={self.n}, centre {self.center:.7g}, sigma "
            f"{self.sigma:.7g} {self.sigma_method}); out of spec observed "
            f"{self.observed['total']:.4%}, expected {self.expected['total']:.4%}>"
        )


def _opt(v: Any, name: str) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = float("nan")
    if not math.isfinite(f):
        raise SpcError(f"{name} must be a finite number or None; got {v!r}.")
    return f


def capability(
    data: Any,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    confidence: float = 0.95,
) -> Capability:
    """Capability of individual values (sigma MR̄/d2(2)) or subgroups (sigma as the xbar chart
    estimates it: UWAVE-R, RMSDF for subgroups over 25), centre = grand mean, 3σ, as qcc 2.7."""
    from scipy.stats import chi2

    lo, hi, tgt = _opt(lsl, "lsl"), _opt(usl, "usl"), _opt(target, "target")
    if lo is None and hi is None:
        raise SpcError("capability needs at least one spec limit: pass lsl=..., usl=... or both.")
    if lo is not None and hi is not None and lo >= hi:
        raise SpcError(f"lsl ({lo}) must be below usl ({hi}).")
    conf = _opt(confidence, "confidence")
    if conf is None or not 0 < conf < 1:
        raise SpcError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    b = baseline(data, None, what="capability")
    center, sd, x, k = b.center, b.sigma, b.values, 3.0
    n = int(x.size)
    if sd <= 0:
        raise SpcError("the data have no variation (sigma = 0); capability is undefined.")
    if tgt is None and lo is not None and hi is not None:
        tgt = (lo + hi) / 2
    alpha = 1 - conf
    z1 = _NORMAL.inv_cdf(conf)  # qcc uses the one-sided quantile for Cpl/Cpu ...
    z2 = _NORMAL.inv_cdf(1 - alpha / 2)  # ... and the two-sided one for Cpk.

    def wald(c: float, z: float) -> tuple[float, float]:
        w = z * math.sqrt(1 / (9 * n * c**2) + 1 / (2 * (n - 1)))
        return (c * (1 - w), c * (1 + w))

    def chisq(c: float, df: float) -> tuple[float, float]:
        return (
            c * math.sqrt(chi2.ppf(alpha / 2, df) / df),
            c * math.sqrt(chi2.ppf(1 - alpha / 2, df) / df),
        )

    intervals: dict[str, tuple[float, float]] = {}
    cpu = (hi - center) / (k * sd) if hi is not None else None
    cpl = (center - lo) / (k * sd) if lo is not None else None
    cp = cpm = None
    if lo is not None and hi is not None:
        cp = (hi - lo) / (2 * k * sd)
        intervals["cp"] = chisq(cp, n - 1)
    if cpl is not None:
        intervals["cpl"] = wald(cpl, z1)
    if cpu is not None:
        intervals["cpu"] = wald(cpu, z1)
    cpk = min(c for c in (cpl, cpu) if c is not None)
    intervals["cpk"] = wald(cpk, z2)
    if cp is not None and tgt is not None:
        d = (center - tgt) / sd
        cpm = cp / math.sqrt(1 + d * d)
        intervals["cpm"] = chisq(cpm, n * (1 + d * d) / (1 + 2 * d * d))
    obs_lo = float(np.mean(x < lo)) if lo is not None else None
    obs_hi = float(np.mean(x > hi)) if hi is not None else None
    exp_lo = _NORMAL.cdf((lo - center) / sd) if lo is not None else None
    exp_hi = _NORMAL.cdf((center - hi) / sd) if hi is not None else None
    return Capability(
        cp=cp,
        cpl=cpl,
        cpu=cpu,
        cpk=cpk,
        cpm=cpm,
        intervals=intervals,
        observed={"below_lsl": obs_lo, "above_usl": obs_hi, "total": (obs_lo or 0) + (obs_hi or 0)},
        expected={"below_lsl": exp_lo, "above_usl": exp_hi, "total": (exp_lo or 0) + (exp_hi or 0)},
        center=center,
        sigma=sd,
        sigma_method=b.sigma_method,
        n=n,
        lsl=lo,
        usl=hi,
        target=tgt,
        confidence=conf,
    )
