"""The check language: every line of issue 2 parses as written; bad lines say where and why."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_dataops.checks import CATALOGUE, parse_spec, run_checks
from jupyter_dataops.errors import DataOpsSyntaxError

ISSUE_LINES = r"""row_count between 1000 and 50000
row_count > 0
missing_count(customer_id) = 0
missing_percent(customer_id) < 2%
duplicate_count(order_id) = 0
duplicate_count(order_id, line_no) = 0
duplicate_percent(email) <= 1%
distinct_count(status) = 5
min(amount) >= 0
max(amount) <= 10_000
avg(amount) between 20 and 80
stddev(amount) < 50
sum(amount) > 0
median(amount) between 10 and 100
percentile(amount, 0.95) < 500
invalid_count(status) = 0: valid values [new, shipped, returned]
invalid_percent(email) < 5%: valid regex ^[^@]+@[^@]+\.[^@]+$
invalid_count(email) = 0: valid format email
invalid_count(amount) = 0: valid range -100 .. 10000
invalid_count(code) = 0: valid length 3 .. 8
failed_rows(shipped_at < created_at) = 0
freshness(created_at) < 24h
columns: order_id, customer_id, status
schema: order_id Int64, status String, amount Float64
reference_missing_count(customer_id) = 0: in customers.customer_id
warn: row_count > 10000
missing_count(email): warn > 0, fail > 100"""


def test_every_issue_line_parses_as_written():
    suite = parse_spec(ISSUE_LINES)
    assert len(suite) == 27
    assert [c.line for c in suite] == list(range(1, 28))
    assert [c.source for c in suite] == ISSUE_LINES.splitlines()


def test_parsed_lines_carry_their_meaning():
    s = {c.line: c for c in parse_spec(ISSUE_LINES)}
    assert s[1].condition.op == "between" and (
        s[1].condition.low.value,
        s[1].condition.high.value,
    ) == (1000, 50000)
    assert s[4].condition.low.value == 2 and s[4].condition.low.unit == "%"
    assert s[6].args == ("order_id", "line_no")
    assert s[10].condition.low.value == 10000
    assert s[15].args == ("amount", 0.95)
    assert s[16].rule.kind == "values" and s[16].rule.values == ("new", "shipped", "returned")
    assert s[17].rule.pattern == r"^[^@]+@[^@]+\.[^@]+$"
    assert s[19].rule.low.value == -100 and s[19].rule.high.value == 10000
    assert s[21].args == ("shipped_at < created_at",)
    assert s[22].condition.low.value == 24 * 3600 and s[22].condition.low.unit == "s"
    assert s[23].kind == "columns" and s[23].columns == ("order_id", "customer_id", "status")
    assert s[24].schema == (("order_id", "Int64"), ("status", "String"), ("amount", "Float64"))
    assert (s[25].reference.frame, s[25].reference.column) == ("customers", "customer_id")
    assert s[26].severity == "warn"
    assert s[27].kind == "graded" and s[27].triggers["warn"].low.value == 0
    assert s[27].triggers["fail"].op == ">" and s[27].triggers["fail"].low.value == 100


def test_comments_blank_lines_and_trailing_comments_are_ignored():
    suite = parse_spec("# header\n\n   # indented comment\nrow_count > 0  # must have rows\n")
    assert len(suite) == 1 and suite.checks[0].line == 4
    assert suite.checks[0].condition.low.value == 0


def test_regex_runs_to_end_of_line_including_hash():
    (c,) = parse_spec("invalid_count(code) = 0: valid regex ^#[0-9a-f]{6} # not a comment")
    assert c.rule.pattern == "^#[0-9a-f]{6} # not a comment"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("24h", 86400), ("7d", 604800), ("90", 90)]
)
def test_durations(text, seconds):
    (c,) = parse_spec(f"freshness(created_at) < {text}")
    assert c.condition.low.value == seconds


def test_fail_prefix_not_between_and_dates():
    a, b, c = parse_spec(
        "fail: row_count > 0\navg(x) not between 1 and 2\nmin(ts) >= 2024-01-01 06:00:00+02:00"
    )
    assert a.severity == "fail"
    assert b.condition.op == "not_between"
    assert c.condition.low.value.utcoffset().total_seconds() == 7200


def test_spc_lines_and_their_options():
    a, b, c = parse_spec(
        "spc row_count\nspc avg(amount): rules nelson\nfail: spc missing_percent(email): chart ewma, baseline 10"
    )
    assert (
        a.kind == "spc"
        and a.severity == "warn"
        and (a.spc.chart, a.spc.rules, a.spc.baseline) == ("i", "qcc", 20)
    )
    assert b.spc.rules == "nelson" and b.metric_key == "avg(amount)"
    assert c.severity == "fail" and c.spc.chart == "ewma" and c.spc.baseline == 10
    assert not (a.spc.rolling or c.spc.rolling)
    (d,) = parse_spec("spc row_count: baseline 30 rolling, rules nelson")
    assert (d.spc.baseline, d.spc.rolling, d.spc.rules) == (30, True, "nelson")
    assert d.spc.text == "chart i, rules nelson, baseline 30 rolling"


def test_a_rolling_baseline_is_refused_on_charts_with_their_own_memory():
    e = _err("spc row_count: chart ewma, baseline 10 rolling")
    assert e.column == 22 and "drop 'rolling'" in e.message  # at the chart's name
    e = _err("spc row_count: baseline 10 rollin")
    assert "expected" in e.message


def _err(text: str) -> DataOpsSyntaxError:
    with pytest.raises(DataOpsSyntaxError) as info:
        parse_spec(text)
    return info.value


def test_misspelled_metric_suggests_nearest_name_with_caret():
    e = _err("row_count > 0\n  mising_count(email) = 0")
    assert (e.line, e.column) == (2, 3)
    assert e.hint == "did you mean 'missing_count'?"
    text = str(e)
    assert "    mising_count(email) = 0" in text and "\n      ^" in text


def test_percent_on_a_count_is_a_syntax_error():
    e = _err("missing_count(x) < 2%")
    assert e.column == 21 and "percent" in e.message


@pytest.mark.parametrize(
    ("text", "column", "needle"),
    [
        ("avg(amount) between 20", 23, "'and'"),
        ("invalid_count(status) = 0", 26, "validity rule"),
        ("freshness(created_at) < 24x", 27, "unexpected"),
        ("row_count > 1%", 14, "percent"),
        ("avg(x) < 2h", 10, "duration"),
        ("percentile(amount, 95) < 5", 20, "between 0 and 1"),
        ("schema: a Int46", 11, "unknown dtype"),
        ("failed_rows(a <) = 0", 15, "condition"),
        ("invalid_count(s) = 0: valid regex ([", 35, "regex"),
        ("invalid_count(s) = 0: valid format emial", 36, "unknown format"),
        ("spc avg(x): chart xbar", 19, "subgroups"),
        ("spc avg(x): chart p", 19, "takes missing_percent"),
        ("avg(x) = 1: valid values [a]", 13, "nothing after"),
        ("row_count > 0 and more", 15, "unexpected"),
        ("avg(x)", 7, "comparison"),
    ],
)
def test_syntax_errors_point_at_the_problem(text, column, needle):
    e = _err(text)
    assert e.line == 1
    assert e.column == column, str(e)
    assert needle in e.message


def test_every_catalogue_example_parses():
    for cls in CATALOGUE.values():
        (c,) = parse_spec(cls.example)
        assert c.metric == cls.name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_fuzz_any_text_gives_a_suite_or_a_syntax_error(text):
    try:
        suite = parse_spec(text)
    except DataOpsSyntaxError as e:
        assert e.line >= 1 and e.column >= 1
    else:
        assert all(c.line >= 1 for c in suite)


_TOKENS = [
    "row_count",
    "avg(amount)",
    "missing_percent(x)",
    "invalid_count(s)",
    "warn:",
    "fail:",
    "between",
    "and",
    "not",
    "<",
    "<=",
    "=",
    ">",
    "!=",
    "1",
    "2%",
    "24h",
    "-1.5e3",
    "10_000",
    ":",
    "valid",
    "values",
    "[a, b]",
    "regex",
    "^a.*$",
    "format",
    "email",
    "range",
    "..",
    "in",
    "t.c",
    "spc",
    "chart",
    "rules",
    "nelson",
    "#",
    "columns:",
    "schema:",
    "a Int64",
    ",",
    "(",
    ")",
    "failed_rows(a < b)",
    "'x'",
    "2024-01-01",
]


_FRAME = pl.DataFrame(
    {
        "amount": [1.0, None, 3.5],
        "x": [1, 2, 2],
        "s": ["a", "b", None],
        "a": [1, 2, 3],
        "b": [3, 2, 1],
        "c": ["x", "y", "z"],
        "ts": [None, dt.datetime(2024, 1, 1), None],
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_TOKENS), max_size=9), max_size=4))
def test_fuzz_token_soup_gives_a_result_or_a_syntax_error(lines):
    """Whatever parses also runs: every line gets a status, nothing raises."""
    text = "\n".join(" ".join(toks) for toks in lines)
    try:
        suite = parse_spec(text)
    except DataOpsSyntaxError as e:
        assert 1 <= e.line <= max(len(lines), 1)
        return
    result = run_checks(_FRAME, suite, namespace={"t": _FRAME})
    assert len(result.results) == len(suite)
    # "baseline": an spc line with no history is not judged (never shown as a pass)
    assert {r.status for r in result.results} <= {"pass", "warn", "fail", "error", "baseline"}
