"""EWMA control chart with qcc 2.7's semantics: starts at the centre, exact widening limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpcError
from ._data import check_nsigmas
from .charts import ChartDisplay, baseline

__all__ = ["EwmaResult", "ewma"]


@dataclass
class EwmaResult(ChartDisplay):
    """EWMA per point: ``ewma`` (smoothed statistic), ``center``, ``sigma`` (process sigma),
    ``se`` (standard error of the EWMA at that point), ``lcl``/``ucl`` and ``signals``."""

    statistics: np.ndarray
    sizes: np.ndarray
    ewma: np.ndarray
    center: np.ndarray
    sigma: np.ndarray
    se: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    signals: list[int]
    lam: float
    nsigmas: float
    phase1: int
    sigma_method: str

    def __len__(self) -> int:
        return int(self.ewma.size)

    @property
    def title(self) -> str:
        return (
            f"EWMA chart (λ = {self.lam:g}) · sigma: {self.sigma_method.upper()} · "
            f"{self.nsigmas:g}σ limits"
        )

    def to_polars(self):  # noqa: ANN201
        """One row per point: sample, phase, statistic, ewma, centre, limits, signal."""
        import polars as pl

        sig = np.zeros(len(self), dtype=bool)
        sig[self.signals] = True
        idx = np.arange(len(self))
        return pl.DataFrame(
            {
                "index": idx,
                "sample": idx + 1,
                "phase": np.where(idx < self.phase1, "I", "II"),
                "statistic": self.statistics,
                "size": self.sizes,
                "ewma": self.ewma,
                "center": self.center,
                "lcl": self.lcl,
                "ucl": self.ucl,
                "se": self.se,
                "signal": sig,
            }
        )

    def chart(self, **properties: Any):  # noqa: ANN201
        """An altair layered chart of the EWMA with its limits."""
        from .picture import ewma_picture

        return ewma_picture(self, **properties)

    def __repr__(self) -> str:
        return (
            f"<EwmaResult n={len(self)} lambda={self.lam:g} centre {self.center[0]:.7g} "
            f"sigma {self.sigma[0]:.7g} ({self.sigma_method}); signals {self.signals}>"
        )


def ewma(
    data: Any,
    *,
    lam: float = 0.2,
    nsigmas: float = 3,
    sizes: Any = None,
    phase1: int | None = None,
) -> EwmaResult:
    """EWMA chart on individual values or subgroups (means), like qcc 2.7's ``ewma``.

    z₀ = centre, zᵢ = λ·xᵢ + (1−λ)·zᵢ₋₁; limits centre ± L·σ/√nᵢ·√(λ/(2−λ)·(1−(1−λ)^{2i})).
    ``sizes`` splits flat data into consecutive subgroups of those lengths. Centre and sigma come
    from the first ``phase1`` points.
    """
    try:
        lam_f = float(lam)
    except (TypeError, ValueError):
        lam_f = float("nan")
    if not 0 < lam_f <= 1:
        raise SpcError(f"lam (the EWMA weight λ) must be in (0, 1]; got {lam!r}. 0.2 is usual.")
    ns = check_nsigmas(nsigmas)
    b = baseline(data, phase1, sizes=sizes, what="the EWMA chart")
    from scipy.signal import lfilter

    a = 1.0 - lam_f
    z = lfilter([lam_f], [1.0, -a], b.statistics, zi=[a * b.center])[0]
    i = np.arange(1, z.size + 1, dtype=np.float64)
    se = b.sigma / np.sqrt(b.sizes) * np.sqrt(lam_f / (2 - lam_f) * (1 - a ** (2 * i)))
    center = np.full(z.size, b.center)
    lcl, ucl = center - ns * se, center + ns * se
    return EwmaResult(
        statistics=b.statistics,
        sizes=b.sizes,
        ewma=z,
        center=center,
        sigma=np.full(z.size, b.sigma),
        se=se,
        lcl=lcl,
        ucl=ucl,
        signals=np.flatnonzero((z < lcl) | (z > ucl)).tolist(),
        lam=lam_f,
        nsigmas=ns,
        phase1=b.phase1,
        sigma_method=b.sigma_method,
    )
