"""Invitation to work, in a browser: staff invite in the admin, the person sets a password on a
phone, logs in and lands on their work. One journey each for a teacher, a registrar and a
district staff member."""

import re

import pytest
from django.conf import settings

from articulations.models import Teacher
from articulations.selectors import current_school_year
from articulations.tests.factories import (
    ArticulationFactory,
    ClassFactory,
    CollegeFactory,
    SchoolDistrictFactory,
    SchoolFactory,
    UserFactory,
)
from credit_lists.models import Registrar
from district.models import DistrictStaff
from outbox.models import OutboxEmail
from registration.tests.helpers import student_at

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
LINK = re.compile(r"http://\S+/accounts/invitation/[^/\s]+/[^/\s]+/")
STAFF_PASSWORD = "correct-horse-battery"  # UserFactory's
NEW_PASSWORD = "spruce-lathe-harbor-42"


@pytest.fixture
def staff_page(browser, live_server):
    """Consortium staff work in the admin at a desk, not on a phone."""
    UserFactory(username="office", is_staff=True, is_superuser=True)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    staff_page = context.new_page()
    staff_page.goto("/admin/login/")
    staff_page.get_by_label("Username").fill("office")
    staff_page.get_by_label("Password").fill(STAFF_PASSWORD)
    staff_page.get_by_role("button", name="Log in").click()
    yield staff_page
    context.close()


def pick(staff_page, field: str, typed: str, choice: str):
    """Choose in one of the admin's autocomplete boxes, as staff do: type, then click."""
    staff_page.locator(f".field-{field} .select2-selection").click()
    # The open box's search field: a many-to-many box keeps one of its own on the page.
    staff_page.locator(".select2-container--open .select2-search__field").fill(typed)
    staff_page.locator(".select2-results__option", has_text=choice).click()


def invitation_path(email: str) -> str:
    """The link in the invitation email, read from the outbox as the person's inbox would."""
    message = OutboxEmail.objects.filter(kind="invitation", recipient=email).latest("pk")
    return LINK.search(message.body_text).group(0).removeprefix(settings.SITE_URL)


def choose_password_and_log_in(page, link: str, username: str, lands_on: str):
    page.goto(link)
    assert page.title() == "Choose your password – SERS"
    assert page.get_by_test_id("invited-username").inner_text() == username
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save my password").click()

    page.wait_for_url("**/accounts/login/")
    assert page.title() == "Log in – SERS"
    assert f"Your password is set. Log in with your username, {username}" in page.content()
    page.get_by_label("Username or SERS ID").fill(username)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{lands_on}")


def test_an_invited_teacher_sets_a_password_on_a_phone_and_lands_on_my_classes(page, staff_page):
    school = SchoolFactory(name="Interlake High School")
    articulation = ArticulationFactory(district=school.district, hs_course_name="Marketing 1")

    staff_page.goto("/admin/articulations/teacher/add/")
    staff_page.get_by_label("First name").fill("Jane")
    staff_page.get_by_label("Last name").fill("Doe")
    staff_page.get_by_label("School email").fill("Jane.Doe@bsd405.org")
    pick(staff_page, "schools", "Interlake", "Interlake High School")
    staff_page.get_by_role("button", name="Save", exact=True).click()
    assert staff_page.locator(".messagelist .info").inner_text() == (
        "SERS emailed Jane.Doe@bsd405.org an invitation to choose a password. "
        "Until they do, they cannot log in."
    )
    assert staff_page.locator("td.field-activated").inner_text() == "no"

    # Staff give the new teacher their class, as they do in the class admin.
    teacher = Teacher.objects.get(user__username="jane.doe@bsd405.org")
    ClassFactory(
        teacher=teacher,
        school=school,
        school_year=current_school_year(),
        period="2",
        articulations=[articulation],
    )

    choose_password_and_log_in(
        page, invitation_path("Jane.Doe@bsd405.org"), "jane.doe@bsd405.org", lands_on="/teacher/"
    )

    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == f"My classes, {current_school_year().label}"
    assert "Marketing 1" in page.content() and "Interlake High School" in page.content()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    staff_page.reload()
    assert staff_page.locator("td.field-activated").inner_text() == "yes"


def test_an_invited_registrar_sets_a_password_on_a_phone_and_lands_on_the_credit_list(
    page, staff_page
):
    CollegeFactory(name="Renton Technical College", code="RTC")

    staff_page.goto("/admin/credit_lists/registrar/add/")
    staff_page.get_by_label("First name").fill("Nkem")
    staff_page.get_by_label("Last name").fill("Okafor")
    staff_page.get_by_label("Email").fill("nokafor@rtc.edu")
    pick(staff_page, "college", "Renton", "Renton Technical College")
    staff_page.get_by_role("button", name="Save", exact=True).click()
    assert "SERS emailed nokafor@rtc.edu an invitation" in (
        staff_page.locator(".messagelist .info").inner_text()
    )
    assert Registrar.objects.get(user__username="nokafor@rtc.edu").college.code == "RTC"

    choose_password_and_log_in(
        page, invitation_path("nokafor@rtc.edu"), "nokafor@rtc.edu", lands_on="/registrar/"
    )

    assert page.get_by_role("heading", level=1).inner_text() == "Credit list"
    assert "Renton Technical College" in page.content()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # The link worked once.
    page.goto(invitation_path("nokafor@rtc.edu"))
    assert page.get_by_role("heading", level=1).inner_text() == (
        "This invitation link does not work any more"
    )


def test_invited_district_staff_set_a_password_on_a_phone_and_find_a_student_of_their_district(
    page, staff_page
):
    district = SchoolDistrictFactory(name="Bellevue School District")
    # Like the demo student: Maya Lopez of Bellevue High School.
    student = student_at(
        SchoolFactory(district=district, name="Bellevue High School"),
        legal_first_name="Maya",
        legal_last_name="Lopez",
    )
    elsewhere = student_at(SchoolFactory(name="Issaquah High School"), legal_last_name="Okafor")

    staff_page.goto("/admin/district/districtstaff/add/")
    staff_page.get_by_label("First name").fill("Alex")
    staff_page.get_by_label("Last name").fill("Morgan")
    staff_page.get_by_label("Email").fill("AMorgan@bsd405.org")
    pick(staff_page, "district", "Bellevue", "Bellevue School District")
    # No school chosen: they see every school of the district.
    staff_page.get_by_role("button", name="Save", exact=True).click()
    assert staff_page.locator(".messagelist .info").inner_text() == (
        "SERS emailed AMorgan@bsd405.org an invitation to choose a password. "
        "Until they do, they cannot log in."
    )
    assert staff_page.locator("td.field-sees").inner_text() == (
        "Every school of Bellevue School District"
    )
    assert staff_page.locator("td.field-activated").inner_text() == "no"
    assert DistrictStaff.objects.get(user__username="amorgan@bsd405.org").district == district

    choose_password_and_log_in(
        page, invitation_path("AMorgan@bsd405.org"), "amorgan@bsd405.org", lands_on="/district/"
    )

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
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # A student of another district is not theirs to see.
    page.locator("main").get_by_role("link", name="Student look-up").click()
    page.get_by_label("Name, SERS ID, username or email").fill(elsewhere.sers_id)
    page.get_by_role("button", name="Find a student").click()
    assert page.get_by_test_id("result-count").inner_text() == "No student found"

    staff_page.reload()
    assert staff_page.locator("td.field-activated").inner_text() == "yes"
