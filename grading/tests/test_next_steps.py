"""The student's dashboard: what to do next, from their registrations, fees and grades."""

import pytest

from grading.services.teaching import grade_set_by_staff
from payments.tests.helpers import FEBRUARY, open_checkout, registered_student
from registration.models import Registration
from registration.tests.helpers import at

pytestmark = pytest.mark.django_db


def next_steps_of(client, student):
    client.force_login(student.user)
    page = client.get("/registrations/")
    assert page.status_code == 200
    return [step.text for step in page.context["next_steps"]], page.content.decode()


def test_a_student_without_a_class_this_year_is_told_to_register_while_it_is_open(client):
    student, _ = registered_student()  # a 2026-27 class

    with at(2027, 12, 5, 10, 0):  # 2027-28: open, and no class yet
        steps, page = next_steps_of(client, student)

    assert steps[0] == "Register your classes for 2027-28 by June 15, 2028."
    assert 'href="/registrations/new/"' in page


def test_after_registering_the_student_is_told_to_pay_and_to_wait_for_the_grade(client):
    student, _ = registered_student()

    with at(*FEBRUARY):
        steps, page = next_steps_of(client, student)

    assert steps == [
        "Pay the 2026-27 fee: $50.00 still owed, or ask for a fee waiver.",
        "Waiting for your teacher to post the final grade in 1 class.",
    ]
    assert 'href="/payments/"' in page


def test_a_payment_on_its_way_is_not_asked_for_again(client, stripe_settings):
    student, consortium = registered_student()
    with at(*FEBRUARY):
        checkout = open_checkout(student, consortium)
        stripe_settings.pay_later(checkout.stripe_session_id)
        client.get(f"/payments/checkout/success/?session_id={checkout.stripe_session_id}")
        steps, _ = next_steps_of(client, student)

    assert steps[0].startswith("Your 2026-27 payment is processing. Nothing to do")
    assert not any(step.startswith("Pay the") for step in steps)


def test_registration_closed_points_to_prior_year_credit(client):
    student, _ = registered_student()

    with at(2027, 7, 20, 10, 0):  # 2027-28 has not opened yet
        steps, _ = next_steps_of(client, student)
    assert steps[0] == "Registration for 2027-28 opens on December 1, 2027."

    with at(2028, 6, 20, 10, 0):  # and now it has closed
        steps, page = next_steps_of(client, student)
    assert steps[0].startswith("Registration for 2027-28 closed on June 15, 2028.")
    assert 'href="/registrations/prior-year/"' in page


def test_credit_earned_links_to_the_certificate(client, admin_user):
    from payments.tests.test_ledger import record_check

    student, consortium = registered_student()
    registration = Registration.objects.get(student=student)
    with at(*FEBRUARY):
        record_check(student, consortium, staff=admin_user)
    with at(2027, 6, 1, 10, 0):
        grade_set_by_staff(registration=registration, grade="A", staff_user=admin_user)
        steps, page = next_steps_of(client, student)

    assert "You earned college credit in 2026-27." in steps
    assert 'href="/registrations/certificate/2026/"' in page
