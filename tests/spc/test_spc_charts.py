"""Control charts match qcc 2.7's published numbers (rel. tol. 1e-6) and its conventions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jupyter_dataops import spc
from jupyter_dataops.errors import DataOpsError, SpcError

DATA = Path(__file__).parents[1] / "data" / "spc"
REL = 1e-6


def _close(actual, expected, rel=REL):
    assert actual == pytest.approx(expected, rel=rel), (actual, expected)


def pistonrings() -> list[list[float]]:
    df = pl.read_csv(DATA / "pistonrings.csv")
    return [g["diameter"].to_list() for _, g in df.group_by("sample", maintain_order=True)]


@pytest.fixture(scope="module")
def rings() -> list[list[float]]:
    return pistonrings()


# -- published numbers ---------------------------------------------------------------------


def test_pistonrings_xbar_matches_qcc(rings):
    cc = spc.control_chart(rings[:25], "xbar")
    _close(cc.center[0], 74.00118)
    _close(cc.sigma[0], 0.009785039)
    _close(cc.ucl[0], 74.0143)
    _close(cc.lcl[0], 73.98805)
    assert cc.sigma_method == "uwave-r"
    assert cc.beyond_limits == []


def test_pistonrings_r_chart_matches_qcc(rings):
    cc = spc.control_chart(rings[:25], "r")
    _close(cc.center[0], 0.02276)
    _close(cc.ucl[0], 0.04812533)
    assert cc.lcl[0] == 0.0  # 0.02276 − 3·d3(5)·σ < 0 is clamped


def test_pistonrings_s_chart_matches_qcc(rings):
    cc = spc.control_chart(rings[:25], "s")
    _close(cc.center[0], 0.009240037)
    _close(cc.ucl[0], 0.01930242)
    assert cc.lcl[0] == 0.0
    assert cc.sigma_method == "uwave-sd"


def test_viscosity_individuals_matches_qcc():
    df = pl.read_csv(DATA / "viscosity.csv").filter(pl.col("trial"))
    cc = spc.control_chart(df["viscosity"], "i")
    assert len(cc) == 20
    _close(cc.center[0], 34.088)
    _close(cc.sigma[0], 0.5076521)
    _close(cc.lcl[0], 32.56504)
    _close(cc.ucl[0], 35.61096)


def test_orangejuice_p_and_np_charts_match_qcc():
    df = pl.read_csv(DATA / "orangejuice.csv").filter(pl.col("trial"))
    p = spc.control_chart(df["D"], "p", sizes=df["size"])
    _close(p.center[0], 0.2313333)
    _close(p.lcl[0], 0.05242755)
    _close(p.ucl[0], 0.4102391)
    npc = spc.control_chart(df["D"], "np", sizes=df["size"])
    _close(npc.center[0], 11.56667)
    _close(npc.lcl[0], 2.621377)
    _close(npc.ucl[0], 20.51196)
    # qcc's example drops samples 15 and 23 as out of control
    assert p.beyond_limits == npc.beyond_limits == [14, 22]


def test_circuit_c_chart_matches_qcc():
    df = pl.read_csv(DATA / "circuit.csv").filter(pl.col("trial"))
    cc = spc.control_chart(df["x"], "c")
    _close(cc.center[0], 19.84615)
    _close(cc.lcl[0], 6.481447)
    _close(cc.ucl[0], 33.21086)
    assert cc.beyond_limits == [5, 19]  # qcc's example removes samples 6 and 20


def test_pcmanufact_u_chart_matches_qcc():
    df = pl.read_csv(DATA / "pcmanufact.csv")
    cc = spc.control_chart(df["x"], "u", sizes=df["size"])
    _close(cc.center[0], 1.93)
    _close(cc.lcl[0], 0.06613305)
    _close(cc.ucl[0], 3.793867)


# -- phase II --------------------------------------------------------------------------------


def test_phase_two_points_are_judged_against_phase_one_limits(rings):
    calib = spc.control_chart(rings[:25], "xbar")
    cc = spc.control_chart(rings, "xbar", phase1=25)
    assert len(cc) == 40 and cc.phase1 == 25
    np.testing.assert_allclose(cc.center, calib.center[0], rtol=0, atol=0)
    np.testing.assert_allclose(cc.ucl, calib.ucl[0], rtol=1e-15)
    np.testing.assert_allclose(cc.statistics[25:], [np.mean(g) for g in rings[25:]], rtol=1e-12)
    # Montgomery / qcc: samples 37, 38 and 39 plot above the upper limit
    assert cc.beyond_limits == [36, 37, 38]
    assert cc.to_polars()["phase"].to_list() == ["I"] * 25 + ["II"] * 15


def test_phase_two_individuals_use_phase_one_moving_ranges():
    df = pl.read_csv(DATA / "viscosity.csv")
    x = df["viscosity"].to_numpy()
    cc = spc.control_chart(x, "i", phase1=20)
    mr = [abs(x[i] - x[i - 1]) for i in range(1, 20)]
    _close(cc.sigma[-1], sum(mr) / len(mr) / 1.128, rel=1e-12)
    _close(cc.center[-1], sum(x[:20]) / 20, rel=1e-12)


def test_attribute_chart_phase_one_uses_only_leading_samples():
    df = pl.read_csv(DATA / "circuit.csv")
    cc = spc.control_chart(df["x"], "c", phase1=26)
    _close(cc.center[-1], 19.84615)
    assert len(cc) == 46


# -- conventions -----------------------------------------------------------------------------


def test_unequal_subgroups_give_per_subgroup_limits_and_size_weighted_centres(rings):
    # qcc's "variable control limits" example: pistonrings with 12 rows removed
    flat = [(k, v) for k, g in enumerate(rings) for v in g]
    out = {9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99, 100}  # 1-based rows
    kept = [kv for i, kv in enumerate(flat, start=1) if i not in out]
    groups = [[v for k, v in kept if k == j] for j in range(40)][:25]
    n = [len(g) for g in groups]
    assert len(set(n)) > 1
    d2 = {3: 1.693, 4: 2.059, 5: 2.326}
    d3 = {3: 0.8883697, 4: 0.8798108, 5: 0.8640855}
    ranges = [max(g) - min(g) for g in groups]
    means = [sum(g) / len(g) for g in groups]
    sds = [
        math.sqrt(sum((v - m) ** 2 for v in g) / (len(g) - 1))
        for g, m in zip(groups, means, strict=True)
    ]
    sigma_r = sum(r / d2[k] for r, k in zip(ranges, n, strict=True)) / len(n)
    grand = sum(m * k for m, k in zip(means, n, strict=True)) / sum(n)

    xbar = spc.control_chart(groups, "xbar")
    _close(xbar.center[0], grand, rel=1e-12)
    for i, k in enumerate(n):
        _close(xbar.ucl[i], grand + 3 * sigma_r / math.sqrt(k), rel=1e-12)

    r = spc.control_chart(groups, "r")
    r_centre = sum(rr * k for rr, k in zip(ranges, n, strict=True)) / sum(n)
    _close(r.center[0], r_centre, rel=1e-12)
    for i, k in enumerate(n):
        _close(r.ucl[i], r_centre + 3 * d3[k] * sigma_r, rel=1e-12)
        assert r.lcl[i] == max(0.0, r_centre - 3 * d3[k] * sigma_r)

    def c4(m):
        return math.sqrt(2 / (m - 1)) * math.gamma(m / 2) / math.gamma((m - 1) / 2)

    s = spc.control_chart(groups, "s")
    sigma_s = sum(sd / c4(k) for sd, k in zip(sds, n, strict=True)) / len(n)
    s_centre = sum(sd * k for sd, k in zip(sds, n, strict=True)) / sum(n)
    _close(s.center[0], s_centre, rel=1e-12)
    for i, k in enumerate(n):
        _close(s.ucl[i], s_centre + 3 * sigma_s * math.sqrt(1 - c4(k) ** 2), rel=1e-12)


def test_u_chart_with_unequal_sizes_has_per_sample_limits():
    df = pl.read_csv(DATA / "dyedcloth.csv")
    x, n = df["x"].to_list(), df["size"].to_list()
    cc = spc.control_chart(x, "u", sizes=n)
    ubar = sum(x) / sum(n)
    for i, ni in enumerate(n):
        _close(cc.ucl[i], ubar + 3 * math.sqrt(ubar / ni), rel=1e-12)
        _close(cc.lcl[i], max(0.0, ubar - 3 * math.sqrt(ubar / ni)), rel=1e-12)
    assert len(set(np.round(cc.ucl, 12))) > 1


def test_np_upper_limit_is_capped_at_the_sample_size_and_p_at_one():
    counts, n = [4, 5, 5, 3, 4], 5
    npc = spc.control_chart(counts, "np", sizes=n)
    pbar = sum(counts) / (5 * n)
    assert n * pbar + 3 * math.sqrt(n * pbar * (1 - pbar)) > n
    assert npc.ucl.tolist() == [5.0] * 5
    p = spc.control_chart(counts, "p", sizes=n)
    assert p.ucl.tolist() == [1.0] * 5


def test_negative_lower_limits_are_clamped_to_zero_for_count_charts():
    cc = spc.control_chart([1, 2, 0, 3, 1], "c")
    assert 1.4 - 3 * math.sqrt(1.4) < 0
    assert cc.lcl.tolist() == [0.0] * 5


def test_beyond_limits_is_strict():
    base = [10.0, 10.5, 9.8, 10.2, 9.9, 10.1, 10.4, 9.7]
    ucl = spc.control_chart(base, "i").ucl[0]
    at = spc.control_chart([*base, ucl], "i", phase1=len(base))
    assert at.ucl[-1] == ucl and at.beyond_limits == []
    above = spc.control_chart([*base, np.nextafter(ucl, np.inf)], "i", phase1=len(base))
    assert above.beyond_limits == [len(base)]


def test_moving_range_chart_uses_d3_and_starts_at_sample_two():
    x = pl.read_csv(DATA / "viscosity.csv")["viscosity"].to_list()[:20]
    cc = spc.control_chart(x, "mr")
    mr = [abs(x[i] - x[i - 1]) for i in range(1, 20)]
    mrbar = sum(mr) / 19
    assert len(cc) == 19 and cc.labels[0] == 2
    _close(cc.center[0], mrbar, rel=1e-12)
    _close(cc.ucl[0], mrbar + 3 * 0.8525033 * mrbar / 1.128, rel=1e-12)
    assert cc.lcl[0] == 0.0


def test_individuals_sd_method_uses_c4(rings):
    x = [v for g in rings[:5] for v in g]
    cc = spc.control_chart(x, "i", sigma_method="sd")
    m = len(x)
    c4 = math.sqrt(2 / (m - 1)) * math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2))
    _close(cc.sigma[0], float(np.std(x, ddof=1)) / c4, rel=1e-12)


def test_subgroup_sigma_methods_follow_qcc_formulas(rings):
    g = rings[:25]

    def c4(m):
        return math.sqrt(2 / (m - 1)) * math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2))

    sds = [float(np.std(s, ddof=1)) for s in g]
    rs = [max(s) - min(s) for s in g]
    w_sd = c4(5) ** 2 / (1 - c4(5) ** 2)
    expected = {
        "uwave-sd": sum(s / c4(5) for s in sds) / 25,
        "mvlue-r": sum(r / 2.326 for r in rs) / 25,  # equal sizes: equal weights
        "mvlue-sd": sum(s / c4(5) * w_sd for s in sds) / (25 * w_sd),
        "rmsdf": math.sqrt(sum(s * s for s in sds) / 25) / c4(25 * 4 + 1),
    }
    for method, sigma in expected.items():
        cc = spc.control_chart(g, "xbar", sigma_method=method)
        _close(cc.sigma[0], sigma, rel=1e-12)
        assert cc.sigma_method == method


def test_xbar_defaults_to_rmsdf_when_a_subgroup_exceeds_25_values():
    rng = np.random.default_rng(1)
    groups = [rng.normal(size=30), rng.normal(size=26), rng.normal(size=28)]
    cc = spc.control_chart(groups, "xbar")
    assert cc.sigma_method == "rmsdf"
    with pytest.raises(SpcError, match="d2"):
        spc.control_chart(groups, "xbar", sigma_method="uwave-r")


def test_nsigmas_scales_the_limits(rings):
    two = spc.control_chart(rings[:25], "xbar", nsigmas=2)
    _close(two.ucl[0] - two.center[0], 2 * 0.009785039 / math.sqrt(5))


def test_rules_are_reported_per_rule_with_qcc_default(rings):
    cc = spc.control_chart(rings, "xbar", phase1=25)
    assert set(cc.violations) == {"WE1", "SHIFT7"}
    assert cc.violations["WE1"] == cc.beyond_limits
    nelson = spc.control_chart(rings, "xbar", phase1=25, rules="nelson")
    assert list(nelson.violations) == [f"N{i}" for i in range(1, 9)]
    none = spc.control_chart(rings, "xbar", phase1=25, rules=None)
    assert none.violations == {} and none.beyond_limits == [36, 37, 38]


def test_to_polars_has_one_row_per_point_with_flags(rings):
    df = spc.control_chart(rings, "xbar", phase1=25).to_polars()
    assert df.height == 40
    assert {"sample", "phase", "statistic", "center", "lcl", "ucl", "violations"} <= set(df.columns)
    assert df.filter(pl.col("beyond_limits"))["index"].to_list() == [36, 37, 38]
    assert "WE1" in df["violations"][36].to_list()


def test_accepts_numpy_polars_and_pandas_inputs(rings):
    pd = pytest.importorskip("pandas")
    a = spc.control_chart(np.array(rings[:25]), "xbar")
    b = spc.control_chart(rings[:25], "xbar")
    assert a.ucl[0] == b.ucl[0]
    x = [34.05, 34.4, 33.59, 35.0, 34.2]
    assert (
        spc.control_chart(pl.Series(x), "i").ucl[0]
        == spc.control_chart(pd.Series(x), "i").ucl[0]
        == spc.control_chart(x, "i").ucl[0]
    )


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: spc.control_chart([], "i"), "empty"),
        (lambda: spc.control_chart([1.0, float("nan"), 2.0], "i"), "index 1"),
        (lambda: spc.control_chart([[1, 2], [3, float("inf")]], "xbar"), "subgroup 1"),
        (lambda: spc.control_chart([[1, 2], [3]], "r"), "at least 2"),
        (lambda: spc.control_chart([1, 2, 3], "xbar"), "subgroups"),
        (lambda: spc.control_chart([[1, 2], [3, 4]], "i"), "individual values"),
        (lambda: spc.control_chart([[1, 2], [3, 4]], "xbar", sizes=2), "sizes applies only"),
        (lambda: spc.control_chart([1, 2, 3], "c", sizes=5), "u chart"),
        (lambda: spc.control_chart([1, 2, 3], "p"), "needs sizes"),
        (lambda: spc.control_chart([1, 2, 3], "p", sizes=[5, 5]), "one sample size per point"),
        (lambda: spc.control_chart([1, 6, 3], "np", sizes=5), "exceed"),
        (lambda: spc.control_chart([1, 2, 3], "i", phase1=5), "phase1=5 is out of range"),
        (lambda: spc.control_chart([1, 2, 3], "i", phase1=1), "between 2 and 3"),
        (lambda: spc.control_chart([1, 2, 3], "pchart"), "unknown chart"),
        (lambda: spc.control_chart([1, 2, 3], "i", sigma_method="uwave-r"), "'mr', 'sd'"),
        (lambda: spc.control_chart([[1, 2], [3, 4]], "r", sigma_method="rmsdf"), "uwave-r"),
        (lambda: spc.control_chart([1, 2, 3], "c", sigma_method="sd"), "does not apply"),
        (lambda: spc.control_chart([1, 2, 3], "i", rules="nelsen"), "Did you mean 'nelson'"),
        (lambda: spc.control_chart([1, 2, 3], "i", nsigmas=0), "nsigmas"),
        (lambda: spc.control_chart(["a", "b"], "i"), "numbers"),
    ],
)
def test_bad_input_raises_spc_error_saying_what_to_do(call, message):
    with pytest.raises(SpcError, match=message) as info:
        call()
    assert isinstance(info.value, DataOpsError)
