import datetime as dt
import zoneinfo

import pytest
import time_machine

from articulations.school_year import (
    MonthDay,
    WindowRule,
    WindowState,
    local_today,
    school_year_dates,
    start_year_on,
)

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


def test_school_year_runs_july_to_june_and_is_written_with_two_digit_end():
    year = school_year_dates(2025)

    assert year.label == "2025-26"
    assert year.starts_on == dt.date(2025, 7, 1)
    assert year.ends_on == dt.date(2026, 6, 30)
    assert year.window.opens_on == dt.date(2025, 12, 1)
    assert year.window.closes_on == dt.date(2026, 6, 15)
    assert year.grading_deadline == dt.date(2026, 6, 25)


def test_label_across_a_century():
    assert school_year_dates(2099).label == "2099-00"


@pytest.mark.parametrize(
    ("day", "start_year"),
    [
        (dt.date(2026, 6, 30), 2025),
        (dt.date(2026, 7, 1), 2026),
        (dt.date(2026, 11, 22), 2026),
        (dt.date(2027, 1, 15), 2026),
    ],
)
def test_which_school_year_a_day_belongs_to(day, start_year):
    assert start_year_on(day) == start_year


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (dt.date(2026, 11, 30), WindowState.NOT_YET_OPEN),
        (dt.date(2026, 12, 1), WindowState.OPEN),
        (dt.date(2027, 6, 15), WindowState.OPEN),
        (dt.date(2027, 6, 16), WindowState.CLOSED),
    ],
)
def test_window_is_december_1_to_june_15_inclusive(day, state):
    assert school_year_dates(2026).window.state(day) == state


def test_a_rule_may_move_the_window():
    rule = WindowRule(
        opens=MonthDay(9, 15), closes=MonthDay(5, 31), grading_deadline=MonthDay(6, 10)
    )
    year = school_year_dates(2026, rule)

    assert year.window.opens_on == dt.date(2026, 9, 15)
    assert year.window.closes_on == dt.date(2027, 5, 31)
    assert year.grading_deadline == dt.date(2027, 6, 10)


def test_today_is_the_date_in_washington_not_on_the_server_clock():
    # 11:30 pm on June 15 in Seattle is already June 16 in UTC.
    with time_machine.travel(dt.datetime(2027, 6, 15, 23, 30, tzinfo=PACIFIC), tick=False):
        assert local_today() == dt.date(2027, 6, 15)
        assert local_today("UTC") == dt.date(2027, 6, 16)
