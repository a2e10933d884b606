"""A student's record: IDs, email, this year's classes and each year's fee; the login reminder."""

import re
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.tests.factories import UserFactory
from district.models import StudentLookup
from district.tests.helpers import ask_waiver, pay, scene, staff_of
from grading.services.teaching import grade_set_by_staff
from outbox.models import OutboxEmail
from registration.models import Registration
from registration.services import registration_create, registration_withdraw
from registration.tests.helpers import one_college_class, student_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def the_scene():
    return scene()


@pytest.fixture
def staff(client, the_scene):
    staff = staff_of(the_scene.district_a)
    client.force_login(staff.user)
    return staff


def record_url(student) -> str:
    return f"/district/students/{student.sers_id}/"


def last_years_class_unpaid(student, school) -> Registration:
    """A 2025-26 class on the student's record, whose fee was never paid."""
    course_class = one_college_class(start_year=2025, school=school)
    return Registration.objects.create(
        student=student,
        course_class=course_class,
        articulation=course_class.articulations.get(),
        school_year_id=2025,
    )


def test_the_record_shows_ids_email_this_years_classes_and_each_years_fee(client, the_scene, staff):
    student, consortium = the_scene.registered(
        the_scene.s1, legal_first_name="Maya", legal_last_name="Lopez", email="maya@example.org"
    )
    graded = registration_create(
        student=student, course_class=one_college_class(school=the_scene.s1)
    )
    withdrawn = registration_create(
        student=student, course_class=one_college_class(school=the_scene.s2)
    )
    registration_withdraw(registration=withdrawn)
    pay(student, consortium)
    grade_set_by_staff(
        registration=graded,
        grade="A",
        enrollment=Registration.Enrollment.CONFIRMED,
        staff_user=UserFactory(username="office", is_staff=True),
    )
    last_year = last_years_class_unpaid(student, the_scene.s1)

    response = client.get(record_url(student))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Maya Lopez, Bellevue School District – SERS</title>" in page
    assert f'data-testid="sers-id">{student.sers_id}<' in page
    assert f'data-testid="username">{student.user.username}<' in page
    assert 'data-testid="email">maya@example.org<' in page
    assert 'data-testid="grade-level">10<' in page
    assert "Classes in 2026-27" in page
    statuses = re.findall(r'data-testid="class-status">([^<]+)<', page)
    assert statuses == ["Registered", "Graded — credit earned", "Withdrawn"]
    assert last_year.articulation.hs_course_name not in page, "only this year's classes"
    fees = re.findall(
        r'data-testid="fee-year">\s*<th[^>]*>(\S+) .*?data-testid="fee-state">([^<]+)<', page, re.S
    )
    assert fees == [("2026-27", "Paid"), ("2025-26", "Unpaid")]
    assert 'data-testid="balance">$0.00<' in page
    assert 'data-testid="balance">$50.00<' in page
    # Read-only: the only form on the page is the login reminder.
    assert page.count("<form") == 2  # the header's log-out button, and the reminder
    assert "Email a login reminder</button>" in page


def test_each_look_up_of_the_record_is_logged(client, the_scene, staff):
    student = student_at(the_scene.s1)

    client.get(record_url(student))
    client.get(record_url(student))

    lookups = list(StudentLookup.objects.order_by("pk"))
    assert len(lookups) == 2
    for lookup in lookups:
        assert (lookup.user, lookup.student, lookup.page) == (
            staff.user,
            student,
            StudentLookup.Page.RECORD,
        )
        assert lookup.looked_up_at is not None


def test_a_waiting_waiver_shows_on_the_record(client, the_scene, staff):
    student, consortium = the_scene.registered(the_scene.s1)
    ask_waiver(student, consortium)

    page = client.get(record_url(student)).content.decode()

    assert 'data-testid="fee-state">Unpaid<' in page
    assert 'data-testid="waiver">Waiting for a decision<' in page


def record_queries(client, student) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(record_url(student))
    assert response.status_code == 200
    return len(queries)


def test_the_record_takes_the_same_queries_for_one_class_or_many_over_years(
    client, the_scene, staff
):
    few_student, consortium = the_scene.registered(the_scene.s1)
    pay(few_student, consortium)  # a fee account, as every year with a payment has
    few = record_queries(client, few_student)

    many_student, consortium = the_scene.registered(the_scene.s1)
    for school in (the_scene.s1, the_scene.s2, the_scene.t1):
        registration_create(student=many_student, course_class=one_college_class(school=school))
    pay(many_student, consortium)
    last_years_class_unpaid(many_student, the_scene.s2)
    ask_waiver(many_student, consortium, start_year=2025)
    many = record_queries(client, many_student)

    assert many == few


# --- The login reminder -------------------------------------------------------------------------


def click_id_of(page: str) -> str:
    return re.search(r'name="click_id" value="([0-9a-f-]+)"', page).group(1)


def send_reminder(client, student, click_id, capture):
    with capture(execute=True):
        return client.post(
            f"/district/students/{student.sers_id}/login-reminder/", {"click_id": click_id}
        )


def test_the_login_reminder_mails_the_address_on_file_once_per_click(
    client, the_scene, staff, django_capture_on_commit_callbacks
):
    student = student_at(the_scene.s1, email="lopez.family@example.org")
    sibling = student_at(the_scene.s2, email="lopez.family@example.org")
    click = click_id_of(client.get(record_url(student)).content.decode())

    response = send_reminder(client, student, click, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == record_url(student)
    emails = OutboxEmail.objects.filter(kind="forgot_login")
    assert [email.recipient for email in emails] == ["lopez.family@example.org"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["lopez.family@example.org"]
    # The forgot-login email: every username and SERS ID at the address.
    for account in (student, sibling):
        assert account.user.username in message.body
        assert account.sers_id in message.body
    page = client.get(record_url(student)).content.decode()
    assert "We emailed a login reminder to lopez.family@example.org" in page
    reminder = StudentLookup.objects.get(page=StudentLookup.Page.LOGIN_REMINDER)
    assert (reminder.user, reminder.student, str(reminder.click_id)) == (staff.user, student, click)

    # The same click posted again (a double click, the form resent): nothing more goes out.
    send_reminder(client, student, click, django_capture_on_commit_callbacks)
    assert OutboxEmail.objects.filter(kind="forgot_login").count() == 1
    assert len(mail.outbox) == 1

    # A new click from the page is a new reminder.
    send_reminder(client, student, click_id_of(page), django_capture_on_commit_callbacks)
    assert OutboxEmail.objects.filter(kind="forgot_login").count() == 2
    assert StudentLookup.objects.filter(page=StudentLookup.Page.LOGIN_REMINDER).count() == 2


def test_a_reminder_without_its_click_sends_nothing(
    client, the_scene, staff, django_capture_on_commit_callbacks
):
    student = student_at(the_scene.s1)

    response = send_reminder(client, student, "not-a-click", django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert not OutboxEmail.objects.filter(kind="forgot_login").exists()
    assert "Reload this page" in client.get(record_url(student)).content.decode()


def test_a_closed_account_gets_no_reminder(
    client, the_scene, staff, django_capture_on_commit_callbacks
):
    student = student_at(the_scene.s1)
    student.user.is_active = False
    student.user.save(update_fields=["is_active"])

    page = client.get(record_url(student)).content.decode()
    assert "Email a login reminder</button>" not in page
    assert 'data-testid="account-closed"' in page

    send_reminder(client, student, str(uuid.uuid4()), django_capture_on_commit_callbacks)
    assert not OutboxEmail.objects.filter(kind="forgot_login").exists()
    assert not StudentLookup.objects.filter(page=StudentLookup.Page.LOGIN_REMINDER).exists()
    assert "account is closed" in client.get(record_url(student)).content.decode()
