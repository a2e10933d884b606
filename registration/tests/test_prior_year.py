"""Prior-year credit: asked by the student, decided by staff, one late fee per year."""

import pytest
from django.core import mail

from payments.selectors import fee_facts
from registration.models import PriorYearRequest, Registration
from registration.services import (
    RegistrationRefused,
    prior_year_request_approve,
    prior_year_request_create,
    prior_year_request_deny,
    registration_create,
)
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def ask(student, course_class, note="I did not know I had to register."):
    return prior_year_request_create(
        student=student, course_class=course_class, articulation=None, note=note
    )


def test_only_classes_of_earlier_years_can_be_requested():
    this_year = one_college_class()

    with pytest.raises(RegistrationRefused, match="register it instead"):
        ask(student_at(this_year.school), this_year)


def test_asking_twice_for_the_same_class_is_one_request():
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    ask(student, last_year)

    with pytest.raises(RegistrationRefused, match="You already asked"):
        ask(student, last_year)
    assert PriorYearRequest.objects.count() == 1


def test_approving_two_classes_of_one_year_charges_one_late_fee_for_that_year(admin_user):
    school_class = one_college_class(start_year=2025)
    student = student_at(school_class.school, expected_graduation_year=2027)  # grade 10 in 2024-25
    other_class = one_college_class(start_year=2025, school=school_class.school)
    older_class = one_college_class(start_year=2024, school=school_class.school)
    requests = [
        ask(student, course_class) for course_class in (school_class, other_class, older_class)
    ]

    for request in requests:
        assert prior_year_request_approve(request=request, staff_user=admin_user)

    registrations = Registration.objects.filter(student=student)
    assert registrations.count() == 3
    assert all(registration.is_late for registration in registrations)
    assert fee_facts(student).late_fee_years == {2024, 2025}
    request = PriorYearRequest.objects.get(pk=requests[0].pk)
    assert request.status == PriorYearRequest.Status.APPROVED
    assert request.decided_by == admin_user
    assert request.registration.school_year_id == 2025


def test_staff_may_waive_the_late_fee_for_a_class_spanning_two_years(admin_user):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)

    prior_year_request_approve(
        request=ask(student, last_year), staff_user=admin_user, waive_late_fee=True
    )

    assert Registration.objects.get().late_fee_waived
    assert fee_facts(student).late_fee_years == set()


def test_a_denied_request_registers_nothing_and_tells_why(
    admin_user, django_capture_on_commit_callbacks
):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    request = ask(student, last_year)

    with django_capture_on_commit_callbacks(execute=True):
        assert prior_year_request_deny(
            request=request, staff_user=admin_user, reason="The class was not articulated then."
        )

    request.refresh_from_db()
    assert request.status == PriorYearRequest.Status.DENIED
    assert not Registration.objects.exists()
    assert "Not approved" in mail.outbox[0].subject
    assert "The class was not articulated then." in mail.outbox[0].body


def test_the_decision_is_mailed_once_however_often_staff_click(
    admin_user, django_capture_on_commit_callbacks
):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    request = ask(student, last_year)

    with django_capture_on_commit_callbacks(execute=True):
        assert prior_year_request_approve(request=request, staff_user=admin_user)
        assert not prior_year_request_approve(request=request, staff_user=admin_user)
        assert not prior_year_request_deny(request=request, staff_user=admin_user)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.startswith("Approved")
    assert student.sers_id in message.body
    assert "Prior-year credit for 2025-26 costs $65.00" in message.body


def test_a_class_already_registered_cannot_also_be_requested():
    this_year = one_college_class()
    student = student_at(this_year.school)
    registration_create(student=student, course_class=this_year)

    with at(2027, 9, 1, 10, 0), pytest.raises(RegistrationRefused, match="You already registered"):
        ask(student, this_year)
