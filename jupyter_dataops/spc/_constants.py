"""Control-chart constants exactly as qcc 2.7 uses them.

d2 (``exp.R.unscaled``, the mean of the relative range R/σ) comes from qcc's 3-decimal table for
n = 2..25; d3 (``se.R.unscaled``, the standard deviation of R/σ) from its 7-decimal table for
n = 2..50; c4 is computed exactly from the gamma function.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpcError

#: d2(n) for n = 2..25 (index n), qcc 2.7 ``qcc.options("exp.R.unscaled")``.
D2_TABLE = (
    math.nan, math.nan,
    1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336, 3.407,
    3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931,
)  # fmt: skip

#: d3(n) for n = 2..50 (index n), qcc 2.7 ``qcc.options("se.R.unscaled")``.
D3_TABLE = (
    math.nan, math.nan,
    0.8525033, 0.8883697, 0.8798108, 0.8640855, 0.8480442, 0.8332108, 0.8198378, 0.8078413,
    0.7970584, 0.7873230, 0.7784873, 0.7704257, 0.7630330, 0.7562217, 0.7499188, 0.7440627,
    0.7386021, 0.7334929, 0.7286980, 0.7241851, 0.7199267, 0.7158987, 0.7120802, 0.7084528,
    0.7050004, 0.7017086, 0.6985648, 0.6955576, 0.6926770, 0.6899137, 0.6872596, 0.6847074,
    0.6822502, 0.6798821, 0.6775973, 0.6753910, 0.6732584, 0.6711952, 0.6691976, 0.6672619,
    0.6653848, 0.6635632, 0.6617943, 0.6600754, 0.6584041, 0.6567780, 0.6551950, 0.6536532,
    0.6521506,
)  # fmt: skip

D2_MAX = len(D2_TABLE) - 1
D3_MAX = len(D3_TABLE) - 1


def d2(n: np.ndarray | int, *, what: str = "this sigma method") -> np.ndarray:
    """d2(n) from qcc's table; raises SpcError for n outside 2..25."""
    arr = np.asarray(n, dtype=np.int64)
    if arr.size and (arr.min() < 2 or arr.max() > D2_MAX):
        raise SpcError(
            f"{what} needs the d2 constant, tabulated (as in qcc) for subgroup sizes 2..{D2_MAX}; "
            f"got sizes {int(arr.min())}..{int(arr.max())}. For larger subgroups use "
            "sigma_method='uwave-sd' or 'rmsdf' (an s chart instead of an r chart)."
        )
    return np.asarray(D2_TABLE)[arr]


def d3(n: np.ndarray | int, *, what: str = "this chart") -> np.ndarray:
    """d3(n) from qcc's table; raises SpcError for n outside 2..50."""
    arr = np.asarray(n, dtype=np.int64)
    if arr.size and (arr.min() < 2 or arr.max() > D3_MAX):
        raise SpcError(
            f"{what} needs the d3 constant, tabulated (as in qcc) for subgroup sizes 2..{D3_MAX}; "
            f"got sizes {int(arr.min())}..{int(arr.max())}. Use an s chart for larger subgroups."
        )
    return np.asarray(D3_TABLE)[arr]


def c4(n: np.ndarray | int | float) -> np.ndarray:
    """Exact c4(n) = sqrt(2/(n-1)) · Γ(n/2) / Γ((n-1)/2), the bias of the sample sd."""
    arr = np.asarray(n, dtype=np.float64)
    flat = arr.ravel()
    uniq, inverse = np.unique(flat, return_inverse=True)
    vals = np.array(
        [math.sqrt(2.0 / (m - 1.0)) * math.exp(math.lgamma(m / 2.0) - math.lgamma((m - 1.0) / 2.0))
         for m in uniq]
    )  # fmt: skip
    return vals[inverse].reshape(arr.shape)
