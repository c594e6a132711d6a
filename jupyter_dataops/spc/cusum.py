"""Tabular (standardised) CUSUM with qcc 2.7's semantics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpcError
from .charts import ChartDisplay, baseline

__all__ = ["CusumResult", "cusum"]


@dataclass
class CusumResult(ChartDisplay):
    """Upper and lower cumulative sums per point, in standard errors (``lower`` ≤ 0 as in qcc);
    a point signals when ``upper > h`` or ``lower < −h``."""

    statistics: np.ndarray
    sizes: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    center: np.ndarray
    sigma: np.ndarray
    se: np.ndarray
    signals: list[int]
    signals_upper: list[int]
    signals_lower: list[int]
    decision_interval: float
    se_shift: float
    phase1: int
    sigma_method: str

    def __len__(self) -> int:
        return int(self.upper.size)

    @property
    def title(self) -> str:
        return (
            f"CUSUM chart (h = {self.decision_interval:g}, shift = {self.se_shift:g} SE) · "
            f"sigma: {self.sigma_method.upper()}"
        )

    def to_polars(self):  # noqa: ANN201
        """One row per point: sample, phase, statistic, upper and lower sums, signal."""
        import polars as pl

        idx = np.arange(len(self))
        sig = np.zeros(len(self), dtype=bool)
        sig[self.signals] = True
        return pl.DataFrame(
            {
                "index": idx,
                "sample": idx + 1,
                "phase": np.where(idx < self.phase1, "I", "II"),
                "statistic": self.statistics,
                "size": self.sizes,
                "upper": self.upper,
                "lower": self.lower,
                "center": self.center,
                "se": self.se,
                "signal": sig,
            }
        )

    def chart(self, **properties: Any):  # noqa: ANN201
        """An altair layered chart of both sums against ±h."""
        from .picture import cusum_picture

        return cusum_picture(self, **properties)

    def __repr__(self) -> str:
        return (
            f"<CusumResult n={len(self)} h={self.decision_interval:g} centre "
            f"{self.center[0]:.7g} sigma {self.sigma[0]:.7g} ({self.sigma_method}); "
            f"signals upper {self.signals_upper} lower {self.signals_lower}>"
        )


def _lindley(z: np.ndarray) -> np.ndarray:
    """S₀ = 0, Sᵢ = max(0, Sᵢ₋₁ + zᵢ), vectorised: Sᵢ = Cᵢ − min(0, min_{j≤i} Cⱼ), C = cumsum z."""
    c = np.cumsum(z)
    return c - np.minimum(np.minimum.accumulate(c), 0.0)


def cusum(
    data: Any,
    *,
    decision_interval: float = 5,
    se_shift: float = 1,
    phase1: int | None = None,
) -> CusumResult:
    """CUSUM on individual values or subgroups, like qcc 2.7's ``cusum``.

    zᵢ = (xᵢ − centre)/(σ/√nᵢ); upper Sᵢ = max(0, Sᵢ₋₁ + zᵢ − k), lower Tᵢ = max(0, Tᵢ₋₁ − zᵢ − k)
    reported as −Tᵢ, with k = se_shift/2; signal when a sum passes ±decision_interval.
    """
    h, shift = _positive(decision_interval, "decision_interval"), _positive(se_shift, "se_shift")
    b = baseline(data, phase1, what="the CUSUM chart")
    if b.sigma == 0:
        raise SpcError("the phase I data have no variation (sigma = 0); CUSUM cannot standardise.")
    se = b.sigma / np.sqrt(b.sizes)
    z = (b.statistics - b.center) / se
    upper = _lindley(z - shift / 2)
    lower = -_lindley(-z - shift / 2)
    up = np.flatnonzero(upper > h)
    lo = np.flatnonzero(lower < -h)
    return CusumResult(
        statistics=b.statistics,
        sizes=b.sizes,
        upper=upper,
        lower=lower,
        center=np.full(z.size, b.center),
        sigma=np.full(z.size, b.sigma),
        se=se,
        signals=np.union1d(up, lo).tolist(),
        signals_upper=up.tolist(),
        signals_lower=lo.tolist(),
        decision_interval=h,
        se_shift=shift,
        phase1=b.phase1,
        sigma_method=b.sigma_method,
    )


def _positive(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = float("nan")
    if not np.isfinite(f) or f <= 0:
        raise SpcError(f"{name} must be a positive number; got {v!r}.")
    return f
