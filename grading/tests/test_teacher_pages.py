"""The teacher's pages: my classes with their counts, and the roster with enrollment and grades."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.tests.factories import TeacherFactory, UserFactory
from grading.models import Credit
from payments.models import Payment
from payments.services.offline import payment_record_offline
from registration.models import Registration
from registration.services import (
    class_terms,
    registration_create,
    registration_withdraw,
)
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db

FEBRUARY = (2027, 2, 1, 10, 0)


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


def roster_url(course_class) -> str:
    return f"/teacher/classes/{course_class.pk}/"


def register(course_class, **student_fields) -> Registration:
    student = student_at(course_class.school, **student_fields)
    return registration_create(student=student, course_class=course_class)


def pay(registration: Registration) -> Payment:
    """The year's fee paid in full by check, recorded by staff."""
    course_class = registration.course_class
    return payment_record_offline(
        student=registration.student,
        consortium_id=course_class.school.consortium_id,
        start_year=course_class.school_year_id,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference=f"10{registration.pk}",
        amount=class_terms(course_class).consortium_fee,
        received_on=dt.date(2027, 2, 1),
        staff_user=UserFactory(username="office", is_staff=True),
    )


def roster_post(registrations, **overrides) -> dict:
    """The roster form as the page sends it: every student's current values, then the changes."""
    data = {}
    for registration in registrations:
        data[f"enrollment-{registration.pk}"] = registration.enrollment
        data[f"grade-{registration.pk}"] = registration.grade
    data.update(overrides)
    return data


# --- My classes -----------------------------------------------------------------------------


def test_my_classes_lists_this_years_classes_with_their_counts(client):
    course_class = one_college_class(period="3")
    teacher = course_class.teacher
    second = one_college_class(school=course_class.school, teacher=teacher, period="5")
    last_year = one_college_class(start_year=2025, teacher=teacher, period="3")
    someone_elses = one_college_class(school=course_class.school)
    confirmed_and_graded, confirmed, unconfirmed, withdrawn = (
        register(course_class) for _ in range(4)
    )
    Registration.objects.filter(pk__in=[confirmed_and_graded.pk, confirmed.pk]).update(
        enrollment=Registration.Enrollment.CONFIRMED
    )
    Registration.objects.filter(pk=confirmed_and_graded.pk).update(grade="B")
    registration_withdraw(registration=withdrawn)
    register(someone_elses)
    client.force_login(teacher.user)

    response = client.get("/teacher/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>My classes – SERS</title>" in page
    assert "My classes, 2026-27" in page
    assert course_class.school.name in page and "period 3" in page and "period 5" in page
    assert f'href="/teacher/classes/{course_class.pk}/"' in page
    assert f'href="/teacher/classes/{second.pk}/"' in page
    assert f"/teacher/classes/{last_year.pk}/" not in page
    assert f"/teacher/classes/{someone_elses.pk}/" not in page
    # Withdrawn students are not counted; the empty class counts zeros.
    classes = {course_class.pk: (3, 2, 1), second.pk: (0, 0, 0)}
    for class_id, (registered, confirmed_count, graded) in classes.items():
        card = page.split(f'href="/teacher/classes/{class_id}/"')[1].split(
            'data-testid="teacher-class"'
        )[0]
        assert f'data-testid="registered-count">{registered}<' in card
        assert f'data-testid="confirmed-count">{confirmed_count}<' in card
        assert f'data-testid="graded-count">{graded}<' in card
    assert course_class.articulations.get().hs_course_name in page


@pytest.mark.parametrize(
    ("day", "listed"), [(dt.date(2027, 7, 5), True), (dt.date(2027, 7, 21), False)]
)
def test_after_july_1_my_classes_keeps_last_years_classes_until_their_grading_ends(
    client, day, listed
):
    from articulations.models import ConsortiumYear

    course_class = one_college_class(start_year=2026, period="3")
    ConsortiumYear.objects.create(
        consortium=course_class.school.consortium,
        school_year=course_class.school_year,
        grading_deadline=dt.date(2027, 7, 20),
    )
    with at(day.year, day.month, day.day):
        client.force_login(course_class.teacher.user)  # sessions are made after the travel
        page = client.get("/teacher/").content.decode()

    assert "My classes, 2027-28" in page
    assert ("Grades still open for 2026-27" in page) is listed
    assert (f'href="/teacher/classes/{course_class.pk}/"' in page) is listed


def test_the_header_links_a_teacher_to_my_classes(client):
    course_class = one_college_class()
    client.force_login(course_class.teacher.user)

    page = client.get("/").content.decode()

    assert 'href="/teacher/">My classes</a>' in page


def test_my_classes_counts_in_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    course_class = one_college_class(period="1")
    teacher = course_class.teacher
    client.force_login(teacher.user)
    with CaptureQueriesContext(connection) as few:
        client.get("/teacher/")
    for period in range(2, 8):
        register(one_college_class(school=course_class.school, teacher=teacher, period=period))

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/teacher/").content.decode()

    assert page.count('data-testid="teacher-class"') == 7


def test_a_user_who_is_not_a_teacher_gets_not_found(client):
    course_class = one_college_class()
    student = register(course_class).student
    client.force_login(student.user)

    assert client.get("/teacher/").status_code == 404
    assert client.get(roster_url(course_class)).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    course_class = one_college_class()

    response = client.get(roster_url(course_class))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    "approval",
    [
        {"approved_on": None},
        {"approved_on": dt.date(2027, 3, 1)},
        {"approved_on": dt.date(2024, 8, 15), "approval_expires_on": dt.date(2026, 12, 31)},
    ],
    ids=["never-approved", "approved-from-march", "approval-expired"],
)
def test_a_teacher_not_approved_today_sees_who_to_ask(client, approval):
    teacher = TeacherFactory(**approval)
    course_class = one_college_class(teacher=teacher)
    client.force_login(teacher.user)

    for url in ("/teacher/", roster_url(course_class)):
        response = client.get(url)
        assert response.status_code == 403
        page = response.content.decode()
        assert 'data-testid="not-approved"' in page
        # The teacher's own consortium office.
        office = course_class.school.consortium
        assert office.contact_email in page
        assert office.contact_phone in page
        assert course_class.articulations.get().hs_course_name not in page
    if "approval_expires_on" in approval:
        assert "ended on December 31, 2026" in page
    else:
        assert "waits for the consortium office's approval" in page


# --- The roster -----------------------------------------------------------------------------


def test_another_teachers_roster_is_not_found(client):
    course_class = one_college_class()
    register(course_class)
    other_teacher = one_college_class(school=course_class.school).teacher
    client.force_login(other_teacher.user)

    assert client.get(roster_url(course_class)).status_code == 404
    assert client.post(roster_url(course_class), {}).status_code == 404
    assert client.get("/teacher/classes/999999/").status_code == 404


def test_the_roster_shows_each_students_id_grade_level_fee_and_status(client):
    course_class = one_college_class(period="3")
    paid = register(course_class, legal_first_name="Ana", legal_last_name="Alvarez")
    unpaid = register(
        course_class,
        legal_first_name="Ben",
        legal_last_name="Baker",
        expected_graduation_year=2027,
    )
    withdrawn = register(course_class, legal_first_name="Cy", legal_last_name="Cole")
    registration_withdraw(registration=withdrawn)
    pay(paid)
    client.force_login(course_class.teacher.user)

    response = client.get(roster_url(course_class))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"<title>Roster of {course_class.course_name} – SERS</title>" in page
    assert page.count("<h1") == 1
    assert course_class.school.name in page and "2026-27" in page
    assert "<dt>Period</dt><dd>3</dd>" in page
    assert "You can post and change grades until June 25, 2027." in page
    rows = {
        registration.pk: page.split(f'id="student-{registration.pk}"')[1].split("</tr>")[0]
        for registration in (paid, unpaid)
    }
    assert paid.student.sers_id in rows[paid.pk]
    assert "Ana Alvarez" in rows[paid.pk]
    assert 'data-testid="grade-level">10<' in rows[paid.pk]
    assert 'data-testid="fee-state">Paid<' in rows[paid.pk]
    assert 'data-testid="student-status">Registered<' in rows[paid.pk]
    assert unpaid.student.sers_id in rows[unpaid.pk]
    assert 'data-testid="grade-level">12<' in rows[unpaid.pk]
    assert 'data-testid="fee-state">Unpaid<' in rows[unpaid.pk]
    assert "Cy Cole" not in page
    # Every control is labelled with the student's name; one button saves them all.
    assert (
        f'<label class="form-label roster-label" for="id_grade-{paid.pk}">Final grade<span class="visually-hidden"> for Ana Alvarez</span></label>'
        in page
    )
    assert (
        f'for="id_enrollment-{unpaid.pk}">Enrollment<span class="visually-hidden"> for Ben Baker</span>'
        in page
    )
    assert page.count('type="submit" class="btn btn-primary') == 1
    assert "Save roster</button>" in page


def test_saving_the_roster_confirms_rejects_and_grades(client, django_capture_on_commit_callbacks):
    course_class = one_college_class()
    enrolled = register(course_class, legal_first_name="Ana", legal_last_name="Alvarez")
    rejected = register(course_class, legal_first_name="Ben", legal_last_name="Baker")
    unpaid = register(course_class, legal_first_name="Cy", legal_last_name="Cole")
    untouched = register(course_class, legal_first_name="Dee", legal_last_name="Diaz")
    pay(enrolled)
    client.force_login(course_class.teacher.user)
    data = roster_post(
        [enrolled, rejected, unpaid, untouched],
        **{
            f"enrollment-{enrolled.pk}": "confirmed",
            f"grade-{enrolled.pk}": "B",
            f"enrollment-{rejected.pk}": "rejected",
            f"enrollment-{unpaid.pk}": "confirmed",
            f"grade-{unpaid.pk}": "A",
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(roster_url(course_class), data)

    assert response.status_code == 302
    assert response.url == roster_url(course_class)
    for registration in (enrolled, rejected, unpaid, untouched):
        registration.refresh_from_db()
    assert (enrolled.enrollment, enrolled.grade) == ("confirmed", "B")
    assert enrolled.grade_posted_at is not None
    assert enrolled.changed_by == course_class.teacher.user
    assert (rejected.enrollment, rejected.grade) == ("rejected", "")
    assert (unpaid.enrollment, unpaid.grade) == ("confirmed", "A")
    assert (untouched.enrollment, untouched.grade) == ("unconfirmed", "")
    # A B with the fee paid earns credit; an A without the fee does not yet.
    credit = Credit.objects.get()
    assert credit.registration == enrolled
    assert credit.grade == "B"
    assert credit.college_course == enrolled.articulation.college_course
    rejection = [email for email in mail.outbox if rejected.student.email in email.to]
    assert len(rejection) == 1
    assert "not in" in rejection[0].subject
    assert not [email for email in mail.outbox if untouched.student.email in email.to]

    page = client.get(response.url).content.decode()
    assert "Roster saved: 3 students updated." in page
    assert 'data-testid="student-status">Graded — credit earned<' in page
    assert 'data-testid="student-status">Grade posted — fee not settled<' in page
    assert 'data-testid="student-status">Not in the class, says your teacher<' in page
    assert '<option value="B" selected>B</option>' in page


def test_saving_an_unchanged_roster_says_no_one_was_updated(client):
    course_class = one_college_class()
    registration = register(course_class)
    client.force_login(course_class.teacher.user)

    response = client.post(roster_url(course_class), roster_post([registration]), follow=True)

    assert "Roster saved: 0 students updated." in response.content.decode()


def test_a_grade_for_a_student_not_in_the_class_shows_the_problem_and_changes_nothing(client):
    course_class = one_college_class()
    graded = register(course_class, legal_first_name="Ana", legal_last_name="Alvarez")
    rejected = register(course_class, legal_first_name="Ben", legal_last_name="Baker")
    client.force_login(course_class.teacher.user)
    data = roster_post(
        [graded, rejected],
        **{
            f"enrollment-{graded.pk}": "confirmed",
            f"grade-{graded.pk}": "A",
            f"enrollment-{rejected.pk}": "rejected",
            f"grade-{rejected.pk}": "C",
        },
    )

    response = client.post(roster_url(course_class), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert "Ben Baker is marked not in the class, so they cannot get a grade." in page
    assert "<title>Error: Roster of" in page
    # What the teacher chose is still chosen.
    graded_row = page.split(f'id="student-{graded.pk}"')[1].split("</tr>")[0]
    assert '<option value="confirmed" selected>Enrolled</option>' in graded_row
    assert '<option value="A" selected>A</option>' in graded_row
    rejected_row = page.split(f'id="student-{rejected.pk}"')[1].split("</tr>")[0]
    assert '<option value="rejected" selected>Not in the class</option>' in rejected_row
    assert '<option value="C" selected>C</option>' in rejected_row
    assert "so they cannot get a grade." in rejected_row  # beside Ben's grade
    for registration in (graded, rejected):
        registration.refresh_from_db()
        assert (registration.enrollment, registration.grade) == ("unconfirmed", "")
    assert not Credit.objects.exists()


def test_an_unknown_grade_or_enrollment_is_a_message_beside_the_field_not_an_error_page(client):
    course_class = one_college_class()
    registration = register(course_class, legal_first_name="Ana", legal_last_name="Alvarez")
    client.force_login(course_class.teacher.user)
    data = roster_post(
        [registration],
        **{f"enrollment-{registration.pk}": "maybe", f"grade-{registration.pk}": "A+"},
    )

    response = client.post(roster_url(course_class), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert (
        f'<a href="#id_enrollment-{registration.pk}">Choose Not confirmed yet, Enrolled or Not in the class for Ana Alvarez</a>'
        in page
    )
    assert (
        f'<a href="#id_grade-{registration.pk}">Choose a grade from the list for Ana Alvarez, or — for no grade yet</a>'
        in page
    )
    assert f'aria-describedby="id_grade-{registration.pk}-error"' in page
    registration.refresh_from_db()
    assert (registration.enrollment, registration.grade) == ("unconfirmed", "")


def test_a_student_who_withdrew_since_the_page_loaded_is_named_and_nothing_is_saved(client):
    course_class = one_college_class()
    staying = register(course_class)
    leaving = register(course_class)
    client.force_login(course_class.teacher.user)
    data = roster_post(
        [staying, leaving],
        **{f"enrollment-{staying.pk}": "confirmed", f"enrollment-{leaving.pk}": "confirmed"},
    )
    registration_withdraw(registration=leaving)

    response = client.post(roster_url(course_class), data)

    assert response.status_code == 200
    assert "no longer on the roster. Reload the page." in response.content.decode()
    staying.refresh_from_db()
    assert staying.enrollment == "unconfirmed"


def test_a_student_who_registered_since_the_page_loaded_keeps_their_values(client):
    course_class = one_college_class()
    first = register(course_class)
    client.force_login(course_class.teacher.user)
    data = roster_post([first], **{f"enrollment-{first.pk}": "confirmed"})
    newcomer = register(course_class)

    response = client.post(roster_url(course_class), data, follow=True)

    assert "Roster saved: 1 student updated." in response.content.decode()
    newcomer.refresh_from_db()
    assert (newcomer.enrollment, newcomer.grade) == ("unconfirmed", "")


def test_after_the_grading_deadline_the_roster_is_read_only_and_a_post_changes_nothing(client):
    course_class = one_college_class()
    registration = register(course_class, legal_first_name="Ana", legal_last_name="Alvarez")
    Registration.objects.filter(pk=registration.pk).update(enrollment="confirmed", grade="B+")

    with at(2027, 6, 26, 9, 0):
        client.force_login(course_class.teacher.user)
        page = client.get(roster_url(course_class)).content.decode()
        data = roster_post([registration], **{f"grade-{registration.pk}": "F"})
        response = client.post(roster_url(course_class), data)

    assert "Grades for 2026-27 closed on June 25, 2027." in page
    assert f'email <a href="mailto:{course_class.school.consortium.contact_email}' in page
    assert "<select" not in page and '<form method="post" novalidate' not in page
    assert "Save roster" not in page
    assert 'data-testid="enrollment">Enrolled<' in page
    assert 'data-testid="grade">B+<' in page
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert "closed on June 25, 2027" in response.content.decode()
    registration.refresh_from_db()
    assert registration.grade == "B+"


def test_the_roster_page_makes_the_same_number_of_queries_for_2_and_12_students(client):
    course_class = one_college_class()
    students = [register(course_class) for _ in range(2)]
    pay(students[0])
    client.force_login(course_class.teacher.user)
    client.get(roster_url(course_class))  # a warm session, as for any page after the first
    with CaptureQueriesContext(connection) as few:
        assert client.get(roster_url(course_class)).status_code == 200
    more = [register(course_class) for _ in range(10)]
    Registration.objects.filter(pk__in=[each.pk for each in more[:5]]).update(
        enrollment="confirmed", grade="A"
    )

    with CaptureQueriesContext(connection) as many:
        page = client.get(roster_url(course_class)).content.decode()

    assert page.count('data-testid="roster-row"') == 12
    assert len(many.captured_queries) == len(few.captured_queries)
