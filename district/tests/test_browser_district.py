"""The demo counselor looks up the demo student on a phone and sends a login reminder."""

import pytest
from django.db.models import Count

from articulations.models import Class
from articulations.selectors import current_school_year
from district.models import StudentLookup
from outbox.models import OutboxEmail
from registration.services import registration_create
from sers.demo import DEMO_PASSWORD, demo_load
from students.models import Student

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_the_demo_counselor_finds_the_demo_student_and_reminds_the_login_on_a_phone(page):
    demo_load()
    student = Student.objects.get(user__username="student")
    course_class = (
        Class.objects.filter(school=student.school, school_year=current_school_year())
        .annotate(colleges=Count("articulations"))
        .filter(colleges=1)
        .order_by("period")
        .first()
    )
    registration_create(student=student, course_class=course_class)

    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill("district")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Menu").click()  # at 375 px the header is collapsed
    page.get_by_role("link", name="Student look-up").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Student look-up"
    assert page.get_by_test_id("scope").inner_text() == "Bellevue School District"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # Typed as read aloud over the phone.
    page.get_by_label("Name, SERS ID, username or email").fill(
        student.sers_id.lower().replace("-", " ")
    )
    page.get_by_role("button", name="Find a student").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Maya Lopez"
    assert page.get_by_test_id("sers-id").inner_text() == student.sers_id
    assert page.get_by_test_id("username").inner_text() == "student"
    assert page.get_by_test_id("email").inner_text() == student.email
    assert page.get_by_test_id("class-status").inner_text() == "Registered"
    assert page.get_by_test_id("fee-state").inner_text() == "Unpaid"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    button = page.get_by_role("button", name="Email a login reminder")
    assert button.bounding_box()["height"] >= 44

    button.click()

    assert (
        f"We emailed a login reminder to {student.email}" in page.get_by_role("status").inner_text()
    )
    assert OutboxEmail.objects.filter(kind="forgot_login", recipient=student.email).count() == 1
    assert set(StudentLookup.objects.values_list("page", flat=True)) == {
        StudentLookup.Page.RECORD,
        StudentLookup.Page.LOGIN_REMINDER,
    }

    page.locator("main").get_by_role("link", name="Student look-up").click()
    page.get_by_role("link", name="Registered this year").click()
    row = page.get_by_test_id("list-row").filter(has_text=student.sers_id)
    assert "Lopez, Maya" in row.inner_text()
    assert row.get_by_test_id("fee-state").inner_text() == "Unpaid"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
