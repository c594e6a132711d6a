"""CUSUM follows qcc 2.7: standardised sums, k = se_shift/2, signal beyond ±h."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jupyter_dataops import spc
from jupyter_dataops.errors import SpcError

DATA = Path(__file__).parents[1] / "data" / "spc"


def _loop_cusum(stats, sizes, centre, sigma, h, shift):
    pos, neg, up, lo = 0.0, 0.0, [], []
    for x, n in zip(stats, sizes, strict=True):
        z = (x - centre) / (sigma / math.sqrt(n))
        pos = max(0.0, pos + z - shift / 2)
        neg = max(0.0, neg - z - shift / 2)
        up.append(pos)
        lo.append(-neg)
    return up, lo


def test_cusum_on_subgroups_matches_qcc_recursion():
    df = pl.read_csv(DATA / "pistonrings.csv")
    groups = [g["diameter"].to_list() for _, g in df.group_by("sample", maintain_order=True)]
    r = spc.cusum(groups, phase1=25)
    assert r.sigma[0] == pytest.approx(0.009785039, rel=1e-6)
    means = [sum(g) / len(g) for g in groups]
    up, lo = _loop_cusum(means, [5] * 40, r.center[0], r.sigma[0], 5, 1)
    np.testing.assert_allclose(r.upper, up, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.lower, lo, rtol=1e-9, atol=1e-12)
    assert r.signals_upper == [i for i in range(40) if up[i] > 5]
    assert r.signals_lower == [i for i in range(40) if lo[i] < -5]
    assert r.signals == sorted(set(r.signals_upper) | set(r.signals_lower))
    assert r.signals_upper and min(r.signals_upper) >= 25


def test_cusum_on_individuals_detects_a_downward_shift():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(10, 1, 50), rng.normal(9.0, 1, 30)])
    r = spc.cusum(x, decision_interval=4, se_shift=1.5, phase1=50)
    mr = np.abs(np.diff(x[:50])).mean() / 1.128
    up, lo = _loop_cusum(x, [1] * 80, x[:50].mean(), mr, 4, 1.5)
    np.testing.assert_allclose(r.upper, up, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.lower, lo, rtol=1e-9, atol=1e-12)
    assert (r.lower <= 0).all() and (r.upper >= 0).all()
    assert r.signals_lower and min(r.signals_lower) >= 50
    assert r.to_polars().filter(pl.col("signal")).height == len(r.signals)


def test_cusum_bad_input():
    with pytest.raises(SpcError, match="decision_interval"):
        spc.cusum([1.0, 2.0, 3.0], decision_interval=0)
    with pytest.raises(SpcError, match="no variation"):
        spc.cusum([1.0, 1.0, 1.0])
    with pytest.raises(SpcError, match="non-finite"):
        spc.cusum([1.0, float("nan"), 2.0])
