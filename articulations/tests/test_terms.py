"""Which school year is today, and is the window open for this consortium."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

from articulations.models import ConsortiumYear, SchoolYear
from articulations.school_year import WindowState
from articulations.selectors import current_school_year, current_terms, year_terms
from articulations.tests.factories import ConsortiumFactory, SchoolYearFactory

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


def at(*when):
    return time_machine.travel(dt.datetime(*when, tzinfo=PACIFIC), tick=False)


@pytest.mark.parametrize(
    ("when", "state"),
    [
        ((2026, 11, 30, 23, 59), WindowState.NOT_YET_OPEN),
        ((2026, 12, 1, 0, 1), WindowState.OPEN),
        ((2027, 6, 15, 23, 30), WindowState.OPEN),  # already June 16 in UTC
        ((2027, 6, 16, 0, 1), WindowState.CLOSED),
    ],
)
def test_registration_window_of_the_consortium_in_pacific_time(when, state):
    consortium = ConsortiumFactory()

    with at(*when):
        terms = current_terms(consortium)
        assert terms.label == "2026-27"
        assert terms.registration_state() == state
        assert terms.payment_state() == state


def test_before_december_the_page_can_say_when_it_opens_and_after_june_when_it_closed():
    terms = year_terms(ConsortiumFactory(), 2026)

    assert terms.registration.opens_on == dt.date(2026, 12, 1)
    assert terms.registration.closes_on == dt.date(2027, 6, 15)
    assert terms.grading_deadline == dt.date(2027, 6, 25)


def test_a_consortium_moves_the_default_window_for_every_year():
    consortium = ConsortiumFactory(
        window_opens_month=11, window_opens_day=15, window_closes_month=5, window_closes_day=31
    )

    terms = year_terms(consortium, 2026)

    assert terms.registration.opens_on == dt.date(2026, 11, 15)
    assert terms.registration.closes_on == dt.date(2027, 5, 31)


def test_a_school_year_override_moves_dates_and_fees_for_that_year_only():
    consortium = ConsortiumFactory()
    ConsortiumYear.objects.create(
        consortium=consortium,
        school_year=SchoolYearFactory(start_year=2026),
        registration_closes_on=dt.date(2027, 6, 20),
        payment_closes_on=dt.date(2027, 6, 22),
        grading_deadline=dt.date(2027, 6, 28),
        consortium_fee=Decimal("0.00"),
    )

    with at(2027, 6, 18, 12, 0):
        terms = current_terms(consortium)
        assert terms.registration_state() == WindowState.OPEN
        assert terms.payment.closes_on == dt.date(2027, 6, 22)
        assert terms.grading_is_open()
        # $0.00 is an override, not "unset".
        assert terms.consortium_fee == Decimal("0.00")
        assert terms.late_fee_per_prior_year == Decimal("15.00")

    other_year = year_terms(consortium, 2027)
    assert other_year.registration.closes_on == dt.date(2028, 6, 15)
    assert other_year.consortium_fee == Decimal("50.00")


def test_payment_follows_registration_unless_it_has_its_own_dates():
    consortium = ConsortiumFactory()
    ConsortiumYear.objects.create(
        consortium=consortium,
        school_year=SchoolYearFactory(start_year=2026),
        registration_opens_on=dt.date(2026, 9, 1),
    )

    terms = year_terms(consortium, 2026)

    assert terms.payment.opens_on == dt.date(2026, 9, 1)
    assert terms.payment.closes_on == dt.date(2027, 6, 15)


def test_without_a_consortium_the_program_defaults_apply():
    terms = year_terms(None, 2025)

    assert terms.registration.opens_on == dt.date(2025, 12, 1)
    assert terms.consortium_fee == Decimal("50.00")


def test_current_school_year_is_made_on_first_use_and_then_reused():
    with at(2026, 11, 22, 9, 0):
        first = current_school_year()
        again = current_school_year()

    assert first.label == "2026-27"
    assert first == again
    assert SchoolYear.objects.filter(start_year=2026).count() == 1
