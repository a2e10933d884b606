"""Prior-year credit says its whole price: the year's fee plus the late fee, and how to pay."""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.core import mail

from articulations.models import ConsortiumYear
from payments.models import Payment
from payments.services.offline import payment_record_offline
from registration.models import Registration
from registration.services import (
    prior_year_request_approve,
    prior_year_request_create,
    prior_year_request_deny,
)
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def words(markup: str) -> str:
    """What a reader sees: tags dropped, entities decoded, runs of spaces made one."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def override(course_class, **amounts):
    return ConsortiumYear.objects.create(
        consortium=course_class.school.consortium,
        school_year=course_class.school_year,
        **amounts,
    )


def pay_by_check(student, course_class, amount, staff_user):
    return payment_record_offline(
        student=student,
        consortium_id=course_class.school.consortium_id,
        start_year=course_class.school_year_id,
        method=Payment.Method.CHECK,
        payer="Parent",
        reference="4242",
        amount=Decimal(amount),
        received_on=dt.date(2027, 2, 1),
        staff_user=staff_user,
    )


def approved(student, course_class, staff_user, *, waive_late_fee=False, capture):
    request = prior_year_request_create(
        student=student, course_class=course_class, articulation=None, note="I forgot."
    )
    with capture(execute=True):
        assert prior_year_request_approve(
            request=request, staff_user=staff_user, waive_late_fee=waive_late_fee
        )
    (message,) = [m for m in mail.outbox if m.subject.startswith("Approved")]
    return message


# --- The request form -------------------------------------------------------------------------


def test_the_request_form_states_the_whole_price_of_the_chosen_year(client):
    last_year = one_college_class(start_year=2025)
    override(last_year, consortium_fee=Decimal("45.00"))
    client.force_login(student_at(last_year.school).user)

    page = words(client.get("/registrations/prior-year/", {"year": 2025}).content.decode())

    assert (
        "If we approve, you pay the 2025-26 fee of $45.00 plus a $15.00 late fee: $60.00 for "
        "2025-26, however many classes, less anything you already paid for 2025-26. "
        "A fee waiver covers both." in page
    )
    assert "a late fee is charged once for that year" not in page


def test_the_request_form_states_each_years_own_amounts(client):
    older = one_college_class(start_year=2024)
    override(older, late_fee_per_prior_year=Decimal("20.00"))
    one_college_class(start_year=2025, school=older.school)
    client.force_login(student_at(older.school, expected_graduation_year=2028).user)

    page = words(client.get("/registrations/prior-year/", {"year": 2024}).content.decode())

    assert "you pay the 2024-25 fee of $50.00 plus a $20.00 late fee: $70.00 for 2024-25" in page


# --- My registrations -------------------------------------------------------------------------


def test_my_registrations_says_the_whole_price_of_a_prior_year(client):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
        is_late=True,
    )
    client.force_login(student.user)

    page = words(client.get("/registrations/").content.decode())

    assert (
        "Prior-year credit for 2025-26 costs $65.00: the 2025-26 fee of $50.00 plus a $15.00 "
        "late fee, however many classes." in page
    )
    assert "A late fee of $15.00 applies" not in page


# --- The approval email -----------------------------------------------------------------------


def test_the_approval_email_says_how_much_is_owed_now_and_how_to_pay_it(
    admin_user, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://sers.example.org"
    last_year = one_college_class(start_year=2025)
    consortium = last_year.school.consortium
    consortium.name = "PNW College Credit"
    consortium.mailing_address = "Consortium Office\nPO Box 4242\nRenton, WA 98057"
    consortium.save()
    student = student_at(last_year.school, legal_last_name="Nguyen")

    message = approved(student, last_year, admin_user, capture=django_capture_on_commit_callbacks)

    for body in (message.body, words(message.alternatives[0][0])):
        assert (
            "Prior-year credit for 2025-26 costs $65.00: the year's $50.00 fee plus a $15.00 "
            "late fee, once for the year however many classes." in body
        )
        assert "You now owe $65.00 for 2025-26" in body
        assert "You can pay it now, even though the 2025-26 payment deadline has passed." in body
        assert "https://sers.example.org/payments/" in body
        assert "https://sers.example.org/payments/pay/" in body
        assert f"your SERS ID ({student.sers_id}) and your last name" in body
        assert "check or money order payable to PNW College Credit" in body
        assert f"Write your SERS ID ({student.sers_id}) and the school year (2025-26) on it" in body
    assert "mailed to:\n   Consortium Office\n   PO Box 4242\n   Renton, WA 98057\n" in message.body
    assert "Consortium Office<br>PO Box 4242<br>Renton, WA 98057" in message.alternatives[0][0]


def test_the_approval_email_counts_what_was_already_paid_for_that_year(
    admin_user, django_capture_on_commit_callbacks
):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    # Registered in time that year and paid; a second class of that year comes late.
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
    )
    pay_by_check(student, last_year, "50.00", admin_user)
    forgotten = one_college_class(start_year=2025, school=last_year.school)

    message = approved(student, forgotten, admin_user, capture=django_capture_on_commit_callbacks)

    assert "You now owe $15.00 for 2025-26" in message.body
    assert "payable to" in message.body


def test_the_approval_email_says_nothing_is_owed_when_the_year_is_settled(
    admin_user, django_capture_on_commit_callbacks
):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
    )
    pay_by_check(student, last_year, "50.00", admin_user)
    forgotten = one_college_class(start_year=2025, school=last_year.school)

    message = approved(
        student,
        forgotten,
        admin_user,
        waive_late_fee=True,
        capture=django_capture_on_commit_callbacks,
    )

    for body in (message.body, words(message.alternatives[0][0])):
        assert "You owe nothing for 2025-26." in body
        assert "You now owe" not in body
        assert "payable to" not in body
        assert "/payments/pay/" not in body


def test_the_denial_email_asks_for_no_money(admin_user, django_capture_on_commit_callbacks):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    request = prior_year_request_create(
        student=student, course_class=last_year, articulation=None, note="I forgot."
    )

    with django_capture_on_commit_callbacks(execute=True):
        prior_year_request_deny(request=request, staff_user=admin_user, reason="Not articulated.")

    (message,) = mail.outbox
    assert "owe" not in message.body
    assert "payable to" not in message.body
    assert "/payments/" not in message.body
