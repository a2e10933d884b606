"""School years and their windows: the one home of these dates.

A school year runs July 1 – June 30 and is written ``2025-26``. By default
students register and pay from December 1 to June 15 inclusive, and teachers
post grades until June 25, in the consortium's time zone. A consortium moves
the defaults with its ``WindowRule``; a school year's override moves single
dates (see ``articulations.selectors.year_terms``, which combines the two).
"""

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

DEFAULT_TIME_ZONE = "America/Los_Angeles"


class WindowState(enum.StrEnum):
    NOT_YET_OPEN = "not yet open"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class MonthDay:
    month: int
    day: int

    def in_year(self, year: int) -> dt.date:
        return dt.date(year, self.month, self.day)

    def in_school_year(self, start_year: int) -> dt.date:
        # July–December fall in the first calendar year, January–June in the second.
        return self.in_year(start_year if self.month >= 7 else start_year + 1)


@dataclass(frozen=True)
class WindowRule:
    """When, within any school year, registration opens and closes and grading ends."""

    opens: MonthDay = MonthDay(12, 1)
    closes: MonthDay = MonthDay(6, 15)
    grading_deadline: MonthDay = MonthDay(6, 25)


DEFAULT_WINDOW = WindowRule()


@dataclass(frozen=True)
class Window:
    """A span of days, both ends included."""

    opens_on: dt.date
    closes_on: dt.date

    def state(self, today: dt.date) -> WindowState:
        if today < self.opens_on:
            return WindowState.NOT_YET_OPEN
        if today > self.closes_on:
            return WindowState.CLOSED
        return WindowState.OPEN

    def is_open(self, today: dt.date) -> bool:
        return self.state(today) == WindowState.OPEN


@dataclass(frozen=True)
class SchoolYearDates:
    start_year: int
    starts_on: dt.date
    ends_on: dt.date
    window: Window
    grading_deadline: dt.date

    @property
    def label(self) -> str:
        return school_year_label(self.start_year)


def school_year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def school_year_dates(start_year: int, rule: WindowRule = DEFAULT_WINDOW) -> SchoolYearDates:
    return SchoolYearDates(
        start_year=start_year,
        starts_on=dt.date(start_year, 7, 1),
        ends_on=dt.date(start_year + 1, 6, 30),
        window=Window(
            rule.opens.in_school_year(start_year), rule.closes.in_school_year(start_year)
        ),
        grading_deadline=rule.grading_deadline.in_school_year(start_year),
    )


def start_year_on(day: dt.date) -> int:
    return day.year if day.month >= 7 else day.year - 1


def local_today(time_zone: str = DEFAULT_TIME_ZONE) -> dt.date:
    """Today's date where the consortium is, whatever zone the server's clock is in."""
    return timezone.now().astimezone(zoneinfo.ZoneInfo(time_zone)).date()
