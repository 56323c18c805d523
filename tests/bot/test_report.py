"""HR's report: periods are checked, and the CSV never hands a spreadsheet a formula typed by an asker."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from bot.report import Item, Report, SchoolReport, parse_period, report_csv, spreadsheet_safe

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def test_periods_in_hours_days_and_weeks():
    assert parse_period("12h", NOW) == NOW - dt.timedelta(hours=12)
    assert parse_period(" 30d ", NOW) == NOW - dt.timedelta(days=30)
    assert parse_period("2w", NOW) == NOW - dt.timedelta(weeks=2)


@pytest.mark.parametrize("text", ["99999999d", "999999w", "9" * 5000 + "d", "soon", "", "-3d", "1.5d"])
def test_an_impossible_or_malformed_period_is_a_value_error_with_a_message(text):
    with pytest.raises(ValueError, match="period"):
        parse_period(text, NOW)


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("can i post = ok?", "can i post = ok?"),  # only the first character matters
        (3, 3),  # numbers are left as numbers
    ],
)
def test_cells_that_start_like_a_formula_get_a_leading_quote(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_the_csv_report_neutralises_formulas_in_logged_questions_and_keeps_the_rest():
    def item(question: str) -> Item:
        return Item(question=question, times=1, last_asked="2026-11-24T10:00:00+00:00", nearest=())

    school = SchoolReport(
        school="reading",
        questions=3,
        answered=0,
        no_match=3,
        thumbs_up=0,
        thumbs_down=0,
        down_rate=0.0,
        top_topics=(),
        unanswered=(item("=1+1"), item("@cmd"), item("how do i book leave?")),
        downvoted=(),
    )
    rows = list(csv.reader(io.StringIO(report_csv(Report("a", "b", (school,))))))
    questions = [row[2] for row in rows if row[1] == "unanswered"]
    assert questions == ["'=1+1", "'@cmd", "how do i book leave?"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
