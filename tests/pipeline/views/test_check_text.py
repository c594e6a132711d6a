"""A check line as the reports, alerts and the sample factory's summary show it: as written,
without its trailing comment, the parser saying where the check ends."""

from __future__ import annotations

import pytest

from jupyter_dataops.pipeline.views.report import check_text


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("row_count > 0  # must have rows", "row_count > 0"),
        (
            "  warn: spc row_count: seasonal weekday # weekly rhythm",
            "warn: spc row_count: seasonal weekday",
        ),
        # a regex runs to the end of its line: its `#` and what follows are the pattern
        (
            "invalid_count(code) = 0: valid regex ^#[0-9a-f]{6} # not a comment",
            "invalid_count(code) = 0: valid regex ^#[0-9a-f]{6} # not a comment",
        ),
        ("failed_rows(note = 'a # b') = 0  # quoted", "failed_rows(note = 'a # b') = 0"),
        ("row_count >", "row_count >"),  # a line that does not parse is shown as it is
        (None, ""),
    ],
)
def test_a_check_line_is_shown_without_its_comment(source, shown):
    assert check_text(source) == shown
