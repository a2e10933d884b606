"""The demo teacher grades the demo student on a phone; the student sees the credit earned."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from articulations.models import Class
from articulations.selectors import current_school_year
from payments.models import Payment
from payments.services.offline import payment_record_offline
from registration.services import class_terms, registration_create
from sers.demo import DEMO_PASSWORD, demo_load
from sers.formatting import long_date
from students.models import Student

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def open_menu(page):
    """At 375 px the header is collapsed behind its Menu button."""
    page.get_by_role("button", name="Menu").click()


def test_the_demo_teacher_grades_the_demo_student_who_then_sees_the_credit(page):
    demo_load()
    school_year = current_school_year()
    # A class of the demo teacher at the student's school that one college articulates.
    course_class = (
        Class.objects.filter(
            teacher__user__username="teacher",
            school__name="Bellevue High School",
            school_year=school_year,
        )
        .annotate(colleges=Count("articulations"))
        .filter(colleges=1)
        .order_by("period")
        .first()
    )
    articulation = course_class.articulations.get()
    student = Student.objects.get(user__username="student")
    registration_create(student=student, course_class=course_class)
    payment_record_offline(
        student=student,
        consortium_id=course_class.school.consortium_id,
        start_year=school_year.start_year,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference="2001",
        amount=class_terms(course_class).consortium_fee,
        received_on=class_terms(course_class).today(),
        staff_user=get_user_model().objects.get(username="staff"),
    )

    log_in(page, "teacher")
    open_menu(page)
    page.get_by_role("link", name="My classes").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"My classes, {school_year.label}"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_role(
        "link",
        name=f"{articulation.hs_course_name} roster, Bellevue High School, period {course_class.period}",
    ).click()

    assert page.get_by_role("heading", level=1).inner_text() == articulation.hs_course_name
    deadline = long_date(class_terms(course_class).grading_deadline)
    assert f"You can post and change grades until {deadline}." in page.content()
    row = page.get_by_test_id("roster-row").filter(has_text=student.sers_id)
    assert "Maya Lopez" in row.inner_text()
    assert row.get_by_test_id("fee-state").inner_text() == "Paid"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_label("Enrollment for Maya Lopez").select_option(label="Enrolled")
    page.get_by_label("Final grade for Maya Lopez").select_option(label="A")
    page.get_by_role("button", name="Save roster").click()

    assert "Roster saved: 1 student updated." in page.content()
    row = page.get_by_test_id("roster-row").filter(has_text=student.sers_id)
    assert row.get_by_test_id("student-status").inner_text() == "Graded — credit earned"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    log_in(page, "student")
    page.goto("/registrations/")
    card = page.get_by_test_id("registration").filter(has_text=articulation.hs_course_name)
    assert "Graded — credit earned" in card.inner_text()
    assert articulation.college_course in card.inner_text()

    page.get_by_role("link", name=f"Credit certificate for {school_year.label}").click()
    assert articulation.college_course in page.get_by_test_id("certificate-credit").inner_text()
    assert "Maya Lopez" in page.content()
