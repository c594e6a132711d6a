"""Run rules: each fires at exactly one known point of a hand-built series, and the vectorised
engine agrees with a definitional (window-by-window) implementation written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_dataops.errors import SpcError
from jupyter_dataops.spc import rules

# centre 0, sigma 1 throughout the hand-built series
HAND_BUILT = {
    "WE1": ([0, 0.2, 3.5, -0.1, 0], 2),
    "N1": ([0, 0.2, -3.5, -0.1, 0], 2),
    "WE2": ([0, 2.5, 0, 2.5, 0], 3),
    "N5": ([0, -2.5, 0, -2.5, 0], 3),
    "WE3": ([0, 1.5, 1.5, 0, 1.5, 1.5, 0], 5),
    "N6": ([0, -1.5, -1.5, 0, -1.5, -1.5, 0], 5),
    "WE4": ([0, *[0.5] * 8, 0], 8),
    "N2": ([0, *[-0.5] * 9, 0], 9),
    "N3": ([0, -1, -0.5, 0, 0.5, 1, 1.5, 0], 6),
    "N4": ([0.5, *[0.5, -0.5] * 7], 14),
    "N7": ([1.5, *[0.5, -0.5] * 7, 0.5, 2], 15),
    "N8": ([0, *[1.5, -1.5] * 4, 0], 8),
    "SHIFT7": ([0, *[0.5] * 7, 0], 7),
    "TREND7": ([0, 1, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 0], 8),
}


@pytest.mark.parametrize("rule", sorted(HAND_BUILT))
def test_each_rule_fires_at_exactly_one_known_point(rule):
    series, at = HAND_BUILT[rule]
    assert rules.evaluate(series, 0, 1, rule) == {rule: [at]}


def test_every_western_electric_and_nelson_rule_has_a_hand_built_series():
    wanted = set(rules.RULE_SETS["western_electric"]) | set(rules.RULE_SETS["nelson"])
    assert wanted <= set(HAND_BUILT)


def test_run_keeps_flagging_while_it_continues():
    assert rules.evaluate([0.5] * 11, 0, 1, "N2") == {"N2": [8, 9, 10]}


def test_point_exactly_at_centre_breaks_a_side_run():
    series = [0.5] * 4 + [0.0] + [0.5] * 8
    assert rules.evaluate(series, 0, 1, ["N2", "WE4"]) == {"N2": [], "WE4": [12]}


def test_two_of_three_flags_only_points_themselves_beyond_the_zone():
    assert rules.evaluate([2.5, 2.5, 0], 0, 1, "WE2") == {"WE2": [1]}
    assert rules.evaluate([2.5, 0, 2.5], 0, 1, "WE2") == {"WE2": [2]}
    # opposite sides do not add up
    assert rules.evaluate([2.5, -2.5, 0.1, -0.1], 0, 1, "WE2") == {"WE2": []}
    assert rules.evaluate([2.5, -2.5, -2.5], 0, 1, "WE2") == {"WE2": [2]}


def test_zone_boundaries_are_strict():
    assert rules.evaluate([2.0, 2.0, 2.0], 0, 1, "WE2") == {"WE2": []}
    assert rules.evaluate([3.0], 0, 1, "WE1") == {"WE1": []}
    assert rules.evaluate([0.0] * 14 + [1.0], 0, 1, "N7") == {"N7": []}


def test_equal_neighbours_break_trends_and_alternations():
    assert rules.evaluate([0, 1, 2, 2, 3, 4, 5], 0, 10, "N3") == {"N3": []}
    series = [0.5, -0.5] * 3 + [-0.5] + [0.5, -0.5] * 4
    assert rules.evaluate(series, 0, 1, "N4") == {"N4": []}


def test_centre_and_sigma_may_vary_per_point():
    centre = np.array([0, 0, 10, 10, 10])
    sigma = np.array([1, 1, 2, 2, 2])
    x = np.array([0, 0, 15, 10, 17])  # 2.5σ and 3.5σ above their own centres
    got = rules.evaluate(x, centre, sigma, ["WE1", "WE2"])
    assert got == {"WE1": [4], "WE2": [4]}


def test_explicit_limits_replace_three_sigma_for_beyond_limits():
    x = [0.0, -0.5, 0.0, 4.0]
    got = rules.evaluate(x, 0, 1, ["WE1"], lcl=[-0.4] * 4, ucl=5.0)
    assert got == {"WE1": [1]}


def test_rule_sets_expand_in_order():
    assert list(rules.evaluate([0.0], 0, 1, "nelson")) == [f"N{i}" for i in range(1, 9)]
    assert list(rules.evaluate([0.0], 0, 1, "western_electric")) == ["WE1", "WE2", "WE3", "WE4"]
    assert list(rules.evaluate([0.0], 0, 1, "qcc")) == ["WE1", "SHIFT7"]
    assert list(rules.evaluate([0.0], 0, 1, "nhs")) == ["WE1", "SHIFT7", "TREND7", "WE2"]
    assert list(rules.evaluate([0.0], 0, 1, ["qcc", "N3", "WE1"])) == ["WE1", "SHIFT7", "N3"]


def test_rules_are_described_in_words():
    assert rules.describe("N2") == "9 points in a row on the same side of the centre line"
    assert "15 points" in rules.describe("N7")
    assert all(rules.describe(r) for r in rules.RULES)
    assert "N8:" in rules.describe("nelson")


def test_unknown_rule_raises_with_a_suggestion():
    with pytest.raises(SpcError, match="Did you mean 'WE2'"):
        rules.evaluate([0.0], 0, 1, "WE22")
    with pytest.raises(SpcError, match="unknown run rule"):
        rules.describe("Z9")


def test_bad_arrays_raise():
    with pytest.raises(SpcError, match="one per point"):
        rules.evaluate([0.0, 1.0], [0, 0, 0], 1, "N1")
    with pytest.raises(SpcError, match="finite"):
        rules.evaluate([0.0, np.nan], 0, 1, "N1")


# -- agreement with a definitional implementation ------------------------------------------


def _definitional(x, c, s, name):
    """Window-by-window reading of each rule's definition, one point at a time."""
    n = len(x)
    d = [x[i] - c[i] for i in range(n)]
    flagged = []

    def window(i, m):
        return range(max(0, i - m + 1), i + 1)

    def full(i, m):
        return range(i - m + 1, i + 1) if i >= m - 1 else None

    def same_side(i, m):
        w = full(i, m)
        return w is not None and (all(d[j] > 0 for j in w) or all(d[j] < 0 for j in w))

    def k_of_m(i, k, m, z):
        up = d[i] > z * s[i] and sum(d[j] > z * s[j] for j in window(i, m)) >= k
        dn = d[i] < -z * s[i] and sum(d[j] < -z * s[j] for j in window(i, m)) >= k
        return up or dn

    def trend(i, m):
        w = full(i, m)
        if w is None:
            return False
        js = list(w)[1:]
        return all(x[j] > x[j - 1] for j in js) or all(x[j] < x[j - 1] for j in js)

    def alternating(i, m):
        w = full(i, m)
        if w is None:
            return False
        diffs = [x[j] - x[j - 1] for j in list(w)[1:]]
        return all(a * b < 0 for a, b in zip(diffs, diffs[1:], strict=False))

    tests = {
        "WE1": lambda i: abs(d[i]) > 3 * s[i],
        "N1": lambda i: abs(d[i]) > 3 * s[i],
        "WE2": lambda i: k_of_m(i, 2, 3, 2),
        "N5": lambda i: k_of_m(i, 2, 3, 2),
        "WE3": lambda i: k_of_m(i, 4, 5, 1),
        "N6": lambda i: k_of_m(i, 4, 5, 1),
        "WE4": lambda i: same_side(i, 8),
        "N2": lambda i: same_side(i, 9),
        "SHIFT7": lambda i: same_side(i, 7),
        "N3": lambda i: trend(i, 6),
        "TREND7": lambda i: trend(i, 7),
        "N4": lambda i: alternating(i, 14),
        "N7": lambda i: full(i, 15) is not None and all(abs(d[j]) < s[j] for j in full(i, 15)),
        "N8": lambda i: full(i, 8) is not None and all(abs(d[j]) > s[j] for j in full(i, 8)),
    }
    for i in range(n):
        if tests[name](i):
            flagged.append(i)
    return flagged


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_rules_agree_with_definitions_on_random_series(seed):
    rng = np.random.default_rng(seed)
    n = 600
    # coarse values produce ties (equal neighbours, points at the centre) and long runs
    x = np.round(rng.normal(size=n) * [0.5, 1.0, 2.0][seed % 3] + np.sin(np.arange(n) / 40), 1)
    c = np.where(np.arange(n) < 300, 0.0, 0.3)
    s = np.where(np.arange(n) % 7 == 0, 1.2, 1.0)
    got = rules.evaluate(x, c, s, list(rules.RULES))
    for name in rules.RULES:
        assert got[name] == _definitional(x.tolist(), c.tolist(), s.tolist(), name), name
    assert sum(len(v) for v in got.values()) > 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=-4, max_value=4), min_size=1, max_size=60))
def test_vectorised_rules_agree_with_definitions_on_tied_integer_series(values):
    # integers around centre 0 with sigma 1: many points at the centre, on zone edges, and ties
    x = [v * 0.75 for v in values]
    got = rules.evaluate(x, 0.0, 1.0, list(rules.RULES))
    n = len(x)
    for name in rules.RULES:
        assert got[name] == _definitional(x, [0.0] * n, [1.0] * n, name), name
