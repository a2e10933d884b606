"""School years and their registration window: the one home of these dates.

A school year runs July 1 – June 30 and is written ``2025-26``. Students may
register and pay from December 1 to June 15 inclusive, and teachers post grades
until June 25, all in the consortium's time zone. Consortia and school years
may move these dates; callers pass their own ``WindowRule`` when they do.
"""

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

CONSORTIUM_TIME_ZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class MonthDay:
    month: int
    day: int

    def in_year(self, year: int) -> dt.date:
        return dt.date(year, self.month, self.day)


@dataclass(frozen=True)
class WindowRule:
    """When, within a school year, registration opens and closes and grading ends."""

    opens: MonthDay = MonthDay(12, 1)
    closes: MonthDay = MonthDay(6, 15)
    grading_deadline: MonthDay = MonthDay(6, 25)


DEFAULT_WINDOW = WindowRule()


def _date_in_school_year(start_year: int, month_day: MonthDay) -> dt.date:
    # July–December fall in the first calendar year, January–June in the second.
    year = start_year if month_day.month >= 7 else start_year + 1
    return month_day.in_year(year)


class WindowState(enum.StrEnum):
    NOT_YET_OPEN = "not yet open"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class SchoolYearDates:
    start_year: int
    starts_on: dt.date
    ends_on: dt.date
    window_opens_on: dt.date
    window_closes_on: dt.date
    grading_deadline: dt.date

    @property
    def label(self) -> str:
        return school_year_label(self.start_year)

    def window_state(self, today: dt.date) -> "WindowState":
        if today < self.window_opens_on:
            return WindowState.NOT_YET_OPEN
        if today > self.window_closes_on:
            return WindowState.CLOSED
        return WindowState.OPEN


def school_year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def school_year_dates(start_year: int, rule: WindowRule = DEFAULT_WINDOW) -> SchoolYearDates:
    return SchoolYearDates(
        start_year=start_year,
        starts_on=dt.date(start_year, 7, 1),
        ends_on=dt.date(start_year + 1, 6, 30),
        window_opens_on=_date_in_school_year(start_year, rule.opens),
        window_closes_on=_date_in_school_year(start_year, rule.closes),
        grading_deadline=_date_in_school_year(start_year, rule.grading_deadline),
    )


def start_year_on(day: dt.date) -> int:
    return day.year if day.month >= 7 else day.year - 1


def local_today(time_zone: str = CONSORTIUM_TIME_ZONE) -> dt.date:
    """Today's date where the consortium is, whatever the server's clock zone."""
    return timezone.now().astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def current_school_year(
    rule: WindowRule = DEFAULT_WINDOW, time_zone: str = CONSORTIUM_TIME_ZONE
) -> SchoolYearDates:
    return school_year_dates(start_year_on(local_today(time_zone)), rule)
