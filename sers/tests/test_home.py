import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")

pytestmark = pytest.mark.django_db


def at(year, month, day):
    return time_machine.travel(dt.datetime(year, month, day, 12, tzinfo=PACIFIC), tick=False)


def test_home_explains_the_five_steps_to_credit(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    for step in (
        "Enroll in an eligible class",
        "Create a SERS account",
        "Register your class in SERS",
        "Pay the fee or get a fee waiver",
        "Earn a B or better",
    ):
        assert step in page
    assert "$50.00" in page
    assert "<title>Earn college credit in high school – SERS</title>" in page


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (at(2026, 11, 22), "Registration for 2026-27 opens on December 1, 2026."),
        (at(2027, 2, 3), "The deadline to register and pay is June 15, 2027."),
        (at(2027, 6, 20), "Registration for 2026-27 closed on June 15, 2027."),
    ],
)
def test_home_shows_this_school_years_dates_and_whether_registration_is_open(
    client, today, expected
):
    with today:
        page = client.get("/").content.decode()

    assert expected in page


def test_home_footer_gives_the_consortium_contact(client):
    page = client.get("/").content.decode()

    assert "PNW College Credit" in page
    assert "info@PNWcollegecredit.org" in page
    assert "425-564-6060" in page


def test_a_signed_in_student_sees_their_own_consortiums_office_in_the_footer(client):
    from articulations.tests.factories import ConsortiumFactory, SchoolFactory
    from registration.tests.factories import StudentFactory

    yakima = ConsortiumFactory(
        name="Yakima Valley Tech Prep",
        contact_email="techprep@yvcc.example.org",
        contact_phone="509-555-0142",
        mailing_address="Yakima Valley College\nPO Box 22520\nYakima, WA 98907",
    )
    student = StudentFactory(school=SchoolFactory(district__consortium=yakima))
    client.force_login(student.user)

    page = client.get("/").content.decode()

    assert "Yakima Valley Tech Prep" in page
    assert "techprep@yvcc.example.org" in page
    assert "509-555-0142" in page
    assert "PO Box 22520<br>" in page
    assert "info@PNWcollegecredit.org" not in page


def test_a_signed_in_student_reads_their_own_consortiums_dates_and_fees(client):
    from articulations.models import ConsortiumYear
    from articulations.tests.factories import ConsortiumFactory, SchoolFactory, SchoolYearFactory
    from registration.tests.factories import StudentFactory

    ConsortiumFactory(name="PNW College Credit")  # the site's home consortium
    yakima = ConsortiumFactory(name="Yakima Valley Tech Prep", consortium_fee=Decimal("45.00"))
    ConsortiumYear.objects.create(
        consortium=yakima,
        school_year=SchoolYearFactory(start_year=2026),
        registration_closes_on=dt.date(2027, 5, 28),
    )
    student = StudentFactory(school=SchoolFactory(district__consortium=yakima))

    with at(2027, 2, 3):
        anonymous = client.get("/").content.decode()
        client.force_login(student.user)
        signed_in = client.get("/").content.decode()

    assert "May 28, 2027" in signed_in and "May 28, 2027" not in anonymous
    assert "$45.00" in signed_in and "$45.00" not in anonymous


def test_home_gives_the_payment_deadline_when_it_differs_from_registrations(client):
    from articulations.models import ConsortiumYear
    from articulations.tests.factories import ConsortiumFactory, SchoolYearFactory

    ConsortiumYear.objects.create(
        consortium=ConsortiumFactory(),
        school_year=SchoolYearFactory(start_year=2026),
        payment_closes_on=dt.date(2027, 6, 1),
    )
    with at(2027, 2, 3):
        page = client.get("/").content.decode()

    assert "Register by June 15, 2027 and pay by June 1, 2027." in page
    assert "The deadline to register and pay" not in page


def test_after_the_window_home_links_to_the_prior_year_request(client):
    with at(2027, 6, 20):
        page = client.get("/").content.decode()

    assert 'href="/registrations/prior-year/">Ask for prior-year credit</a>' in page


def words(markup: str) -> str:
    """What a reader sees: tags dropped, runs of spaces made one."""
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


def test_home_says_prior_year_credit_costs_the_years_fee_plus_the_late_fee(client):
    with at(2027, 2, 3):
        page = words(client.get("/").content.decode())

    assert (
        "For each earlier school year you pay that year's $50.00 fee plus a $15.00 late fee: "
        "$65.00 for that year, however many classes." in page
    )
    assert "costs a $15.00 late fee" not in page


def test_home_takes_the_prior_year_amounts_from_the_consortiums_terms(client):
    from articulations.models import ConsortiumYear
    from articulations.tests.factories import ConsortiumFactory, SchoolYearFactory

    ConsortiumYear.objects.create(
        consortium=ConsortiumFactory(consortium_fee=Decimal("40.00")),
        school_year=SchoolYearFactory(start_year=2026),
        late_fee_per_prior_year=Decimal("12.50"),
    )
    with at(2027, 2, 3):
        page = words(client.get("/").content.decode())

    assert "that year's $40.00 fee plus a $12.50 late fee: $52.50 for that year" in page
