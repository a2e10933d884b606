"""A teacher whose approval ended (or has not started) posts no grade, whichever way they try."""

import datetime as dt

import pytest

from articulations.models import Teacher
from grading.services.teaching import RosterEntry, roster_save
from registration.models import Registration
from registration.services import RegistrationRefused, registration_create
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db

# Inside 2026-27's grading time (the deadline is June 25, 2027).
FEBRUARY = (2027, 2, 1, 10, 0)

APPROVALS = {
    "ended": {"approved_on": dt.date(2024, 8, 15), "approval_expires_on": dt.date(2027, 1, 31)},
    "not-yet": {"approved_on": dt.date(2027, 3, 1), "approval_expires_on": None},
    "never": {"approved_on": None, "approval_expires_on": None},
}


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


@pytest.fixture
def registration() -> Registration:
    course_class = one_college_class()
    return registration_create(student=student_at(course_class.school), course_class=course_class)


def approve(teacher: Teacher, **dates) -> None:
    Teacher.objects.filter(pk=teacher.pk).update(**dates)
    teacher.refresh_from_db()


def graded_a(registration) -> list[RosterEntry]:
    return [
        RosterEntry(
            registration_id=registration.pk,
            enrollment=Registration.Enrollment.CONFIRMED,
            grade="A",
        )
    ]


@pytest.mark.parametrize("approval", list(APPROVALS), ids=list(APPROVALS))
def test_the_service_refuses_a_teacher_who_is_not_approved_today(registration, approval):
    teacher = registration.course_class.teacher
    approve(teacher, **APPROVALS[approval])

    with pytest.raises(RegistrationRefused) as refusal:
        roster_save(
            teacher=teacher, course_class=registration.course_class, entries=graded_a(registration)
        )

    if approval == "ended":
        assert str(refusal.value) == (
            "Your approval as a CTE Dual Credit teacher ended on January 31, 2027, so you cannot "
            "post grades. Email info@PNWcollegecredit.org to be approved again."
        )
    else:
        assert "waits for the consortium office's approval" in str(refusal.value)
    registration.refresh_from_db()
    assert registration.grade == ""
    assert registration.enrollment == Registration.Enrollment.UNCONFIRMED


def test_the_last_day_of_an_approval_still_posts_grades(registration):
    teacher = registration.course_class.teacher
    approve(teacher, approved_on=dt.date(2024, 8, 15), approval_expires_on=dt.date(2027, 2, 1))

    changed = roster_save(
        teacher=teacher, course_class=registration.course_class, entries=graded_a(registration)
    )

    assert changed == 1
    registration.refresh_from_db()
    assert registration.grade == "A"


def test_an_ended_teacher_posting_the_roster_page_changes_nothing(client, registration):
    teacher = registration.course_class.teacher
    client.force_login(teacher.user)
    roster = f"/teacher/classes/{registration.course_class_id}/"
    assert client.get(roster).status_code == 200  # the form was open while approved
    approve(teacher, **APPROVALS["ended"])

    response = client.post(
        roster,
        {
            f"enrollment-{registration.pk}": Registration.Enrollment.CONFIRMED,
            f"grade-{registration.pk}": "A",
        },
    )

    assert response.status_code == 403
    assert "Your teacher approval ended" in response.content.decode()
    registration.refresh_from_db()
    assert registration.grade == ""
    assert registration.enrollment == Registration.Enrollment.UNCONFIRMED
