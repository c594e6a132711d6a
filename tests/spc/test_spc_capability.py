"""Capability indices as qcc 2.7's process.capability (pistonrings, spec 73.95-74.05)."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import polars as pl
import pytest

from jupyter_dataops import spc
from jupyter_dataops.errors import SpcError

DATA = Path(__file__).parents[1] / "data" / "spc"
CENTRE, SIGMA = 74.00118, 0.009785039  # qcc's published xbar centre and sigma


@pytest.fixture(scope="module")
def rings():
    df = pl.read_csv(DATA / "pistonrings.csv")
    return [g["diameter"].to_list() for _, g in df.group_by("sample", maintain_order=True)][:25]


def test_pistonrings_capability_matches_qcc(rings):
    cap = spc.capability(rings, lsl=73.95, usl=74.05)
    assert (round(cap.cp, 2), round(cap.cpk, 2), round(cap.cpm, 2)) == (1.70, 1.66, 1.69)
    assert cap.n == 125 and cap.target == pytest.approx(74.0)
    assert cap.center == pytest.approx(CENTRE, rel=1e-6)
    assert cap.sigma == pytest.approx(SIGMA, rel=1e-6)
    # the formulas (qcc rounds the centre it prints, so use the checked centre and sigma)
    c, s = cap.center, cap.sigma
    assert cap.cp == pytest.approx(0.1 / (6 * SIGMA), rel=1e-6)
    assert cap.cpu == pytest.approx((74.05 - c) / (3 * s), rel=1e-12)
    assert cap.cpl == pytest.approx((c - 73.95) / (3 * s), rel=1e-12)
    assert cap.cpk == cap.cpu
    cpm = 0.1 / (6 * s) / math.sqrt(1 + ((c - 74.0) / s) ** 2)
    assert cap.cpm == pytest.approx(cpm, rel=1e-12)


def test_confidence_intervals_follow_qcc_formulas(rings):
    from scipy.stats import chi2

    cap = spc.capability(rings, lsl=73.95, usl=74.05, confidence=0.9)
    n, a = 125, 0.1
    lo, hi = cap.intervals["cp"]
    assert lo == pytest.approx(cap.cp * math.sqrt(chi2.ppf(a / 2, n - 1) / (n - 1)), rel=1e-9)
    assert hi == pytest.approx(cap.cp * math.sqrt(chi2.ppf(1 - a / 2, n - 1) / (n - 1)), rel=1e-9)
    z2 = NormalDist().inv_cdf(1 - a / 2)
    w = z2 * math.sqrt(1 / (9 * n * cap.cpk**2) + 1 / (2 * (n - 1)))
    assert cap.intervals["cpk"] == pytest.approx((cap.cpk * (1 - w), cap.cpk * (1 + w)), rel=1e-9)
    z1 = NormalDist().inv_cdf(1 - a)  # qcc: one-sided quantile for Cpl and Cpu
    w = z1 * math.sqrt(1 / (9 * n * cap.cpu**2) + 1 / (2 * (n - 1)))
    assert cap.intervals["cpu"] == pytest.approx((cap.cpu * (1 - w), cap.cpu * (1 + w)), rel=1e-9)
    d = (cap.center - 74.0) / cap.sigma
    df = n * (1 + d * d) / (1 + 2 * d * d)
    assert cap.intervals["cpm"][1] == pytest.approx(
        cap.cpm * math.sqrt(chi2.ppf(1 - a / 2, df) / df), rel=1e-9
    )


def test_one_spec_limit_gives_the_one_sided_index(rings):
    cap = spc.capability(rings, usl=74.05)
    assert cap.cp is None and cap.cpl is None and cap.cpm is None
    assert cap.cpk == cap.cpu == pytest.approx((74.05 - cap.center) / (3 * SIGMA), rel=1e-6)
    assert set(cap.intervals) == {"cpu", "cpk"}
    assert cap.observed["below_lsl"] is None


def test_fractions_out_of_spec_observed_and_expected():
    x = [9.8, 10.1, 10.4, 9.6, 10.0, 10.3, 9.9, 10.7, 9.5, 10.2]
    cap = spc.capability(x, lsl=9.7, usl=10.35, target=10.0)
    assert cap.observed["below_lsl"] == pytest.approx(2 / 10)
    assert cap.observed["above_usl"] == pytest.approx(2 / 10)
    mr = sum(abs(x[i] - x[i - 1]) for i in range(1, 10)) / 9 / 1.128
    m = sum(x) / 10
    assert cap.sigma == pytest.approx(mr, rel=1e-12)
    assert cap.expected["below_lsl"] == pytest.approx(NormalDist(m, mr).cdf(9.7), rel=1e-12)
    assert cap.expected["above_usl"] == pytest.approx(1 - NormalDist(m, mr).cdf(10.35), rel=1e-9)
    assert cap.to_polars().height == 5
    assert cap.to_dict()["cpk"] == cap.cpk


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one spec limit"),
        ({"lsl": 2.0, "usl": 1.0}, "below usl"),
        ({"lsl": 0.0, "confidence": 1.5}, "confidence"),
        ({"lsl": float("nan")}, "finite"),
    ],
)
def test_capability_bad_input(kwargs, message):
    with pytest.raises(SpcError, match=message):
        spc.capability([1.0, 2.0, 1.5, 1.7], **kwargs)
