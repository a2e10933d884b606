"""Registering classes: the window, one per class and year, one college, withdrawing."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from articulations.models import Articulation
from registration.models import Registration
from registration.services import (
    RegistrationRefused,
    registration_create,
    registration_delete_by_staff,
    registration_withdraw,
)
from registration.tests.helpers import at, one_college_class, student_at, two_college_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def february():
    with at(2027, 2, 1, 10, 0):
        yield


@pytest.mark.parametrize(
    ("when", "refusal"),
    [
        ((2026, 11, 30, 23, 59), "Registration for 2026-27 opens on December 1, 2026."),
        ((2026, 12, 1, 0, 1), None),
        ((2027, 6, 15, 23, 30), None),
        (
            (2027, 6, 16, 0, 1),
            "Registration for 2026-27 closed on June 15, 2027. If you took a class that year, ask for prior-year credit.",
        ),
    ],
)
def test_registration_is_open_december_1_to_june_15_pacific_time(when, refusal):
    course_class = one_college_class()
    student = student_at(course_class.school)

    with at(*when):
        if refusal:
            with pytest.raises(RegistrationRefused) as refused:
                registration_create(student=student, course_class=course_class)
            assert str(refused.value).startswith(refusal)
        else:
            assert registration_create(student=student, course_class=course_class).is_active


def test_registering_twice_is_refused_with_a_message(february):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class)

    with pytest.raises(RegistrationRefused, match="You already registered .* for 2026-27"):
        registration_create(student=student, course_class=course_class)
    assert Registration.objects.count() == 1


def test_the_database_refuses_a_second_row_for_the_same_class_and_year(february):
    course_class = one_college_class()
    first = registration_create(student=student_at(course_class.school), course_class=course_class)

    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.create(
            student=first.student,
            course_class=course_class,
            articulation=first.articulation,
            school_year=course_class.school_year,
        )


def test_a_class_with_two_colleges_needs_a_choice_and_gives_credit_from_one(february):
    course_class = two_college_class()
    student = student_at(course_class.school)
    first, second = course_class.articulations.order_by("pk")

    with pytest.raises(RegistrationRefused, match="Credit can come from one college only"):
        registration_create(student=student, course_class=course_class)
    registration = registration_create(
        student=student, course_class=course_class, articulation=second
    )

    assert registration.college == second.college
    with pytest.raises(RegistrationRefused, match="You already registered"):
        registration_create(student=student, course_class=course_class, articulation=first)


def test_a_college_the_class_does_not_offer_is_refused(february):
    course_class = one_college_class()
    other = one_college_class().articulations.get()

    with pytest.raises(RegistrationRefused, match="Choose one of the colleges this class offers"):
        registration_create(
            student=student_at(course_class.school), course_class=course_class, articulation=other
        )


@pytest.mark.parametrize("graduation_year", [2025, 2033])
def test_only_grades_9_to_12_may_register(february, graduation_year):
    course_class = one_college_class()
    student = student_at(course_class.school)
    student.expected_graduation_year = graduation_year
    student.save()

    with pytest.raises(RegistrationRefused, match="grades 9 to 12"):
        registration_create(student=student, course_class=course_class)


def test_a_class_of_another_year_or_an_inactive_articulation_is_refused(february):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    with pytest.raises(RegistrationRefused, match="This class is from 2025-26"):
        registration_create(student=student, course_class=last_year)

    expired = one_college_class(school=last_year.school)
    expired.articulations.update(status=Articulation.Status.EXPIRED)
    with pytest.raises(RegistrationRefused, match="is not open for registration in 2026-27"):
        registration_create(student=student, course_class=expired)


def test_registering_mails_a_confirmation_once(february, django_capture_on_commit_callbacks):
    course_class = one_college_class(period="2")
    student = student_at(course_class.school)
    articulation = course_class.articulations.get()

    with django_capture_on_commit_callbacks(execute=True):
        registration_create(student=student, course_class=course_class)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RegistrationRefused):
        registration_create(student=student, course_class=course_class)

    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    for expected in (
        student.sers_id,
        articulation.hs_course_name,
        course_class.teacher.name,
        f"{articulation.college_course} {articulation.college_course_title}",
        "College credits: 5",
        "2026-27",
        "Pay the $50.00 fee for 2026-27 by June 15, 2027, or ask for a fee waiver",
    ):
        assert expected in body
    assert student.sers_id in mail.outbox[0].subject


def test_the_confirmation_names_the_students_own_consortium_office(
    february, django_capture_on_commit_callbacks
):
    from articulations.tests.factories import ConsortiumFactory, SchoolFactory

    yakima = ConsortiumFactory(
        name="Yakima Valley Tech Prep",
        contact_email="techprep@yvcc.example.org",
        contact_phone="509-555-0142",
        mailing_address="Yakima Valley College\nPO Box 22520\nYakima, WA 98907",
    )
    course_class = one_college_class(school=SchoolFactory(district__consortium=yakima))
    student = student_at(course_class.school)

    with django_capture_on_commit_callbacks(execute=True):
        registration_create(student=student, course_class=course_class)

    [message] = mail.outbox
    assert "Questions? Contact Yakima Valley Tech Prep" in message.body
    assert "techprep@yvcc.example.org · 509-555-0142" in message.body
    assert "PO Box 22520" in message.body
    assert "PNWcollegecredit" not in message.body


def test_withdrawing_is_allowed_until_a_grade_is_posted(february):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration = registration_create(student=student, course_class=course_class)

    registration_withdraw(registration=registration)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.WITHDRAWN
    assert registration.changed_by == student.user

    # Registering again brings the same row back.
    again = registration_create(student=student, course_class=course_class)
    assert again.pk == registration.pk and again.is_active

    again.grade = "A"
    again.save()
    with pytest.raises(RegistrationRefused, match="posted your grade"):
        registration_withdraw(registration=again)


def test_staff_delete_keeps_the_row_and_its_history(february, admin_user):
    course_class = one_college_class()
    registration = registration_create(
        student=student_at(course_class.school), course_class=course_class
    )

    with pytest.raises(RegistrationRefused, match="Say why"):
        registration_delete_by_staff(registration=registration, staff_user=admin_user, reason=" ")
    assert registration_delete_by_staff(
        registration=registration,
        staff_user=admin_user,
        reason="Wrong class: student is in period 3",
    )

    registration.refresh_from_db()
    assert registration.status == Registration.Status.DELETED
    assert registration.changed_by == admin_user
    statuses = list(registration.history.order_by("history_date").values_list("status", flat=True))
    assert statuses == ["registered", "deleted"]
    with pytest.raises(RegistrationRefused, match="Our office removed"):
        registration_create(student=registration.student, course_class=course_class)
