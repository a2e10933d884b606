"""The lists of a school year for one's schools: registered, not yet paid, waiting for a
waiver, credit earned."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.tests.factories import UserFactory
from district.tests.helpers import ask_waiver, pay, scene, staff_of
from grading.services.teaching import grade_set_by_staff
from payments.services.waivers import waiver_grant
from registration.models import Registration
from registration.services import registration_withdraw
from registration.tests.helpers import one_college_class, student_at

pytestmark = pytest.mark.django_db


def office():
    return UserFactory(username="office", is_staff=True)


def give_credit(student, consortium) -> Registration:
    """Pay the year, then the teacher's A: the credit rule awards the credit."""
    pay(student, consortium)
    registration = student.registrations.get()
    grade_set_by_staff(
        registration=registration,
        grade="A",
        enrollment=Registration.Enrollment.CONFIRMED,
        staff_user=office(),
    )
    return registration


@pytest.fixture
def school_year():
    """Students of every kind, in both districts and both years."""
    the_scene = scene()
    students = {}

    def add(name, school, **fields):
        student, consortium = the_scene.registered(school, legal_last_name=name, **fields)
        students[name] = student
        return student, consortium

    add("Adams", the_scene.s1)
    pay(*_last(students, "Adams"))
    give_credit(*add("Baker", the_scene.s1))
    add("Chen", the_scene.s1)
    ask_waiver(*add("Diaz", the_scene.s1))
    registration_withdraw(registration=add("Evans", the_scene.s1)[0].registrations.get())
    add("Fox", the_scene.s2)
    give_credit(*add("Gray", the_scene.t1))  # district B
    waiver_grant(waiver=ask_waiver(*add("Ito", the_scene.s1)), staff_user=office())
    ask_waiver(*add("Jones", the_scene.t1))  # district B
    hill = student_at(the_scene.s1, legal_last_name="Hill")  # last year only
    last_year = one_college_class(start_year=2025, school=the_scene.s1)
    Registration.objects.create(
        student=hill,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year_id=2025,
    )
    students["Hill"] = hill
    return the_scene, students


def _last(students, name):
    student = students[name]
    return student, student.school.consortium


def rows(client, slug, **filters):
    response = client.get(f"/district/lists/{slug}/", filters)
    page = response.content.decode()
    names = re.findall(r'data-testid="list-row">\s*<th[^>]*><a [^>]*>(\w+),', page)
    return response, page, names


def cells(page, testid) -> list[str]:
    return re.findall(rf'data-testid="{testid}">([^<]+)<', page)


def test_registered_this_year_lists_the_students_with_a_class_and_their_fee(client, school_year):
    the_scene, students = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    response, page, names = rows(client, "registered")

    assert response.status_code == 200
    assert "<title>Registered in 2026-27, Bellevue School District – SERS</title>" in page
    assert names == ["Adams", "Baker", "Chen", "Diaz", "Fox", "Ito"]
    assert cells(page, "fee-state") == ["Paid", "Paid", "Unpaid", "Unpaid", "Unpaid", "Waived"]
    assert cells(page, "class-count") == ["1"] * 6
    assert 'data-testid="row-count">6 students<' in page
    assert f'href="/district/students/{students["Adams"].sers_id}/"' in page
    assert "<caption" in page


def test_not_yet_paid_lists_unpaid_students_and_who_waits_for_a_waiver(client, school_year):
    the_scene, _ = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    _, page, names = rows(client, "not-paid")

    assert names == ["Chen", "Diaz", "Fox"]
    assert cells(page, "waiver") == ["None asked", "Waiting for a decision", "None asked"]
    assert cells(page, "fee-state") == ["Unpaid"] * 3


def test_waiting_for_a_waiver_lists_the_open_requests(client, school_year):
    the_scene, _ = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    _, page, names = rows(client, "waivers")

    assert names == ["Diaz"]
    assert cells(page, "waiver-reason") == ["Financial hardship"]
    assert "My family cannot pay" not in page, "the student's note stays with the office"


def test_credit_earned_lists_the_credits_of_the_year(client, school_year):
    the_scene, students = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    _, page, names = rows(client, "credit")

    assert names == ["Baker"]
    credit = students["Baker"].credits.get()
    assert cells(page, "college-course") == [
        f"{credit.college_course} {credit.college_course_title}"
    ]


def test_a_list_of_one_school_or_of_last_year(client, school_year):
    the_scene, _ = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    assert rows(client, "registered", school=the_scene.s2.pk)[2] == ["Fox"]
    _, page, names = rows(client, "registered", year=2025)
    assert names == ["Hill"]
    assert "Registered in 2025-26" in page
    assert rows(client, "not-paid", year=2025)[2] == ["Hill"]
    _, page, names = rows(client, "credit", year=2025)
    assert names == []
    assert (
        'data-testid="empty-list">No student of these schools has earned credit for 2025-26' in page
    )


def test_a_user_of_one_school_sees_only_its_rows_and_no_school_choice(client, school_year):
    the_scene, _ = school_year
    client.force_login(staff_of(the_scene.district_a, the_scene.s2).user)

    _, page, names = rows(client, "registered")

    assert names == ["Fox"]
    assert 'name="school"' not in page
    assert rows(client, "credit")[2] == []
    assert rows(client, "waivers")[2] == []


def test_a_school_or_year_not_offered_is_an_error_not_a_leak(client, school_year):
    the_scene, _ = school_year
    client.force_login(staff_of(the_scene.district_a).user)

    for filters in ({"school": the_scene.t1.pk}, {"year": 1999}, {"year": "next"}):
        response, page, names = rows(client, "registered", **filters)
        assert response.status_code == 400, filters
        assert "There is a problem" in page
        assert names == []


# --- Fixed queries however many rows ------------------------------------------------------------


def unpaid(the_scene):
    the_scene.registered(the_scene.s1)


def waiting(the_scene):
    ask_waiver(*the_scene.registered(the_scene.s1))


def credited(the_scene):
    give_credit(*the_scene.registered(the_scene.s2))


def list_queries(client, slug, expected_rows) -> int:
    with CaptureQueriesContext(connection) as queries:
        response, _, names = rows(client, slug)
    assert response.status_code == 200
    assert len(names) == expected_rows
    return len(queries)


@pytest.mark.parametrize(
    ("slug", "make_row"),
    [("registered", unpaid), ("not-paid", unpaid), ("waivers", waiting), ("credit", credited)],
)
def test_each_list_takes_the_same_queries_for_2_or_8_rows(client, slug, make_row):
    the_scene = scene()
    client.force_login(staff_of(the_scene.district_a).user)
    for _ in range(2):
        make_row(the_scene)
    few = list_queries(client, slug, 2)

    for _ in range(6):
        make_row(the_scene)
    many = list_queries(client, slug, 8)

    assert many == few
