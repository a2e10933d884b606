"""The student's credit certificate: their own credit of one school year, and nothing else."""

import datetime as dt

import pytest

from articulations.tests.factories import (
    ArticulationFactory,
    ClassFactory,
    SchoolFactory,
    SchoolYearFactory,
    TeacherFactory,
)
from grading.models import Credit
from registration.models import Registration
from registration.services import registration_create
from registration.tests.helpers import at, earned_credit, one_college_class, student_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def more_credit(student, *, number, start_year=2026):
    """Another credit for ``student``, from a class at another school (and consortium)."""
    school = SchoolFactory()
    articulation = ArticulationFactory(
        district=school.district, college_course_prefix="ACC", college_course_number=number
    )
    course_class = ClassFactory(
        school=school,
        school_year=SchoolYearFactory(start_year=start_year),
        articulations=[articulation],
    )
    registration = Registration.objects.create(
        student=student,
        course_class=course_class,
        articulation=articulation,
        school_year_id=start_year,
        enrollment=Registration.Enrollment.CONFIRMED,
        grade="A",
    )
    return Credit.objects.create(
        registration=registration,
        student=student,
        college=articulation.college,
        school_year_id=start_year,
        college_course=articulation.college_course,
        college_course_title=articulation.college_course_title,
        college_credits=articulation.college_credits,
        grade="A",
        earned_on=dt.date(2027, 2, 1),
    )


def certificate_of(client, start_year):
    return client.get(f"/registrations/certificate/{start_year}/")


def test_the_certificate_lists_the_students_credit_of_the_year(client):
    mine = earned_credit(prefix="BUS", number="101")
    client.force_login(mine.student.user)

    response = certificate_of(client, 2026)

    assert response.status_code == 200
    page = response.content.decode()
    assert "CTE Dual Credit certificate, 2026-27" in page
    assert mine.student.sers_id in page
    assert page.count('data-testid="certificate-credit"') == 1
    assert "BUS 101" in page


def test_another_students_credit_never_shows_on_a_certificate(client):
    mine = earned_credit(prefix="BUS", number="101")
    theirs = earned_credit(school=mine.registration.course_class.school, prefix="ACC", number="299")
    theirs_last_year = more_credit(theirs.student, number="298", start_year=2025)
    client.force_login(mine.student.user)

    page = certificate_of(client, 2026).content.decode()

    assert page.count('data-testid="certificate-credit"') == 1
    assert "BUS 101" in page
    assert theirs.college_course not in page
    assert theirs.student.sers_id not in page
    # A year only the other student has credit in is not the student's to see at all.
    assert certificate_of(client, 2025).status_code == 404
    assert theirs_last_year.college_course not in certificate_of(client, 2025).content.decode()


def test_a_year_with_registrations_but_no_credit_yet_shows_how_credit_is_earned(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class)
    client.force_login(student.user)

    response = certificate_of(client, 2026)

    assert response.status_code == 200
    assert 'data-testid="no-credit"' in response.content.decode()


@pytest.mark.parametrize("start_year", [2024, 2027, 1, 99999999999999999999])
def test_a_year_the_student_registered_nothing_in_has_no_certificate(client, start_year):
    credit = earned_credit()
    client.force_login(credit.student.user)

    response = certificate_of(client, start_year)

    assert response.status_code == 404
    assert "99999999999999999999-00" not in response.content.decode()


def test_a_withdrawn_registration_still_has_its_years_certificate(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration = registration_create(student=student, course_class=course_class)
    registration.status = Registration.Status.WITHDRAWN
    registration.save()
    client.force_login(student.user)

    assert certificate_of(client, 2026).status_code == 200


def test_the_certificate_is_for_students_only(client, admin_user):
    earned_credit()
    assert certificate_of(client, 2026).status_code == 302

    client.force_login(admin_user)
    assert certificate_of(client, 2026).status_code == 404

    client.force_login(TeacherFactory().user)
    assert certificate_of(client, 2026).status_code == 404


def test_the_certificate_makes_the_same_queries_however_many_credits(
    client, django_assert_max_num_queries, django_assert_num_queries
):
    credit = earned_credit()
    student = credit.student
    client.force_login(student.user)
    with django_assert_max_num_queries(50) as few:
        certificate_of(client, 2026)
    for number in range(201, 211):
        more_credit(student, number=str(number))

    with django_assert_num_queries(len(few.captured_queries)):
        page = certificate_of(client, 2026).content.decode()

    assert page.count('data-testid="certificate-credit"') == 11
