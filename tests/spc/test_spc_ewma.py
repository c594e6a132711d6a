"""EWMA follows qcc 2.7: starts at the centre, exact widening limits, phase I estimates."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jupyter_dataops import spc
from jupyter_dataops.errors import SpcError

DATA = Path(__file__).parents[1] / "data" / "spc"


def _loop_ewma(stats, sizes, centre, sigma, lam, L):
    z, prev, lcl, ucl = [], centre, [], []
    for i, (x, n) in enumerate(zip(stats, sizes, strict=True), start=1):
        prev = lam * x + (1 - lam) * prev
        z.append(prev)
        se = sigma / math.sqrt(n) * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)))
        lcl.append(centre - L * se)
        ucl.append(centre + L * se)
    return z, lcl, ucl


def test_ewma_on_individuals_matches_the_recursion():
    x = pl.read_csv(DATA / "viscosity.csv")["viscosity"].to_list()
    r = spc.ewma(x, lam=0.2, phase1=20)
    mr = [abs(x[i] - x[i - 1]) for i in range(1, 20)]
    sigma = sum(mr) / 19 / 1.128
    centre = sum(x[:20]) / 20
    z, lcl, ucl = _loop_ewma(x, [1] * len(x), centre, sigma, 0.2, 3)
    np.testing.assert_allclose(r.ewma, z, rtol=1e-12)
    np.testing.assert_allclose(r.lcl, lcl, rtol=1e-12)
    np.testing.assert_allclose(r.ucl, ucl, rtol=1e-12)
    assert r.center[0] == pytest.approx(centre, rel=1e-12)
    assert r.sigma[0] == pytest.approx(sigma, rel=1e-12)
    expected = [i for i in range(len(x)) if z[i] > ucl[i] or z[i] < lcl[i]]
    assert r.signals == expected
    assert r.ucl[0] < r.ucl[5] < r.ucl[-1]  # limits widen towards the asymptote


def test_ewma_on_subgroups_uses_means_and_uwave_r_sigma():
    df = pl.read_csv(DATA / "pistonrings.csv")
    groups = [g["diameter"].to_list() for _, g in df.group_by("sample", maintain_order=True)]
    r = spc.ewma(groups, lam=0.3, nsigmas=2.5, phase1=25)
    assert r.sigma[0] == pytest.approx(0.009785039, rel=1e-6)
    assert r.center[0] == pytest.approx(74.00118, rel=1e-6)
    means = [sum(g) / len(g) for g in groups]
    z, lcl, ucl = _loop_ewma(means, [5] * 40, r.center[0], r.sigma[0], 0.3, 2.5)
    np.testing.assert_allclose(r.ewma, z, rtol=1e-12)
    np.testing.assert_allclose(r.ucl, ucl, rtol=1e-12)
    assert r.signals == [i for i in range(40) if z[i] > ucl[i] or z[i] < lcl[i]]
    assert set(range(36, 40)) <= set(r.signals)  # the phase II shift (samples 37-40) signals


def test_ewma_sizes_split_flat_data_into_subgroups():
    df = pl.read_csv(DATA / "pistonrings.csv")
    flat = df["diameter"].to_list()
    groups = [flat[i : i + 5] for i in range(0, len(flat), 5)]
    a = spc.ewma(flat, sizes=[5] * 40, phase1=25)
    b = spc.ewma(groups, phase1=25)
    np.testing.assert_array_equal(a.ewma, b.ewma)
    np.testing.assert_array_equal(spc.ewma(flat, sizes=5, phase1=25).ucl, b.ucl)


def test_ewma_to_polars_and_bad_input():
    r = spc.ewma([1.0, 2.0, 1.5, 1.7, 1.2])
    assert r.to_polars().height == 5
    with pytest.raises(SpcError, match="lam"):
        spc.ewma([1.0, 2.0], lam=1.5)
    with pytest.raises(SpcError, match="sizes add up"):
        spc.ewma([1.0, 2.0, 3.0], sizes=[2, 2])
    with pytest.raises(SpcError, match="phase1"):
        spc.ewma([1.0, 2.0, 3.0], phase1=4)
    with pytest.raises(SpcError, match="empty"):
        spc.ewma([])
