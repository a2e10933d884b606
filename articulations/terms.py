"""What a consortium's school year means: its fees and its dates (``YearTerms``).

Kept apart from the models and the selectors so both can use it: a year override's
validation (models) and every page (selectors) work the terms out the same way.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from articulations.school_year import (
    Window,
    WindowState,
    local_today,
    school_year_dates,
    school_year_label,
)


@dataclass(frozen=True)
class YearTerms:
    """What a school year means for one consortium: its fees and its dates.

    Every question "is it open?", "when does it open?", "what does it cost?"
    for a consortium's school year is answered here, from the consortium's
    defaults and the year's override.
    """

    start_year: int
    time_zone: str
    consortium_fee: Decimal
    late_fee_per_prior_year: Decimal
    registration: Window
    payment: Window
    grading_deadline: dt.date

    @property
    def label(self) -> str:
        return school_year_label(self.start_year)

    @property
    def prior_year_price(self) -> Decimal:
        """What approved prior-year credit costs for the year: its fee plus the late fee, once."""
        return self.consortium_fee + self.late_fee_per_prior_year

    def today(self) -> dt.date:
        return local_today(self.time_zone)

    def registration_state(self, today: dt.date | None = None) -> WindowState:
        return self.registration.state(today or self.today())

    def payment_state(self, today: dt.date | None = None) -> WindowState:
        return self.payment.state(today or self.today())

    def grading_is_open(self, today: dt.date | None = None) -> bool:
        return (today or self.today()) <= self.grading_deadline


class _NoOverride:
    """A year without its own amounts or dates: every field unset."""

    def __getattr__(self, name):
        return None


def terms_with_override(consortium, start_year: int, override) -> YearTerms:
    """The terms of a consortium's year: its own defaults, and the year's override (a
    ``ConsortiumYear``, saved or not; None for none) where one is set."""
    dates = school_year_dates(start_year, consortium.window_rule)
    override = override or _NoOverride()
    registration = Window(
        override.registration_opens_on or dates.window.opens_on,
        override.registration_closes_on or dates.window.closes_on,
    )
    return YearTerms(
        start_year=start_year,
        time_zone=consortium.time_zone,
        consortium_fee=_first_set(override.consortium_fee, consortium.consortium_fee),
        late_fee_per_prior_year=_first_set(
            override.late_fee_per_prior_year, consortium.late_fee_per_prior_year
        ),
        registration=registration,
        payment=Window(
            override.payment_opens_on or registration.opens_on,
            override.payment_closes_on or registration.closes_on,
        ),
        grading_deadline=override.grading_deadline or dates.grading_deadline,
    )


def _first_set(override: Decimal | None, default: Decimal) -> Decimal:
    # Not `or`: an override of $0.00 is a real choice.
    return default if override is None else override
