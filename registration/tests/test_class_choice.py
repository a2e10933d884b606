"""Choosing a class, then a college: the register and prior-year pages share the steps."""

import pytest

from articulations.models import Articulation
from articulations.tests.factories import ArticulationFactory, CollegeFactory, SchoolYearFactory
from registration.models import PriorYearRequest, Registration
from registration.selectors import classes_open_for_registration, offered_articulations
from registration.services import RegistrationRefused, registration_create
from registration.tests.helpers import at, one_college_class, student_at, two_college_class

pytestmark = pytest.mark.django_db

COLLEGE_STEP = "Which college do you want credit from?"
CLASS_LIST = "Which class are you taking?"
SCHOOL_PICKER = "Show classes"


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def test_a_refusal_on_a_one_college_class_stays_on_the_class_list(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class)
    client.force_login(student.user)

    page = client.post("/registrations/new/", {"course_class": course_class.pk}).content.decode()

    assert f"You already registered {course_class.course_name} for 2026-27" in page
    assert 'data-testid="class-error"' in page
    assert CLASS_LIST in page and SCHOOL_PICKER in page
    assert COLLEGE_STEP not in page
    assert f'value="{course_class.pk}" id="id_course_class_0" checked' in page


def test_a_grade_refusal_stays_on_the_class_list_even_for_two_colleges(client):
    course_class = two_college_class()
    student = student_at(course_class.school, expected_graduation_year=2026)
    client.force_login(student.user)

    page = client.post("/registrations/new/", {"course_class": course_class.pk}).content.decode()

    assert "CTE Dual Credit is for students in grades 9 to 12." in page
    assert CLASS_LIST in page and SCHOOL_PICKER in page
    assert COLLEGE_STEP not in page


def test_the_college_step_without_a_choice_says_what_to_do(client):
    course_class = two_college_class()
    client.force_login(student_at(course_class.school).user)

    first = client.post("/registrations/new/", {"course_class": course_class.pk}).content.decode()
    assert COLLEGE_STEP in first and "There is a problem" not in first

    page = client.post(
        "/registrations/new/", {"course_class": course_class.pk, "step": "college"}
    ).content.decode()

    assert COLLEGE_STEP in page
    assert "There is a problem" in page
    assert 'data-testid="college-error"' in page
    assert "Choose the college you want credit from." in page
    assert SCHOOL_PICKER not in page
    assert not Registration.objects.exists()


def test_a_refusal_after_choosing_the_college_goes_back_to_the_class_list(client):
    course_class = two_college_class()
    student = student_at(course_class.school)
    first, second = course_class.articulations.order_by("pk")
    registration_create(student=student, course_class=course_class, articulation=first)
    client.force_login(student.user)

    page = client.post(
        "/registrations/new/",
        {"course_class": course_class.pk, "articulation": second.pk, "step": "college"},
    ).content.decode()

    assert f"You already registered {course_class.course_name}" in page
    assert CLASS_LIST in page and SCHOOL_PICKER in page
    assert COLLEGE_STEP not in page


def test_the_prior_year_college_step_without_a_choice_says_what_to_do(client):
    last_year = two_college_class(start_year=2025)
    client.force_login(student_at(last_year.school).user)

    page = client.post(
        "/registrations/prior-year/?year=2025",
        {"course_class": last_year.pk, "note": "I forgot.", "step": "college"},
    ).content.decode()

    assert COLLEGE_STEP in page
    assert 'data-testid="college-error"' in page
    assert "Choose the college you want credit from." in page
    assert "I forgot." in page
    assert not PriorYearRequest.objects.exists()


def test_a_prior_year_refusal_on_a_one_college_class_stays_on_the_class_list(client):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
    )
    client.force_login(student.user)

    page = client.post(
        "/registrations/prior-year/?year=2025", {"course_class": last_year.pk, "note": "I forgot."}
    ).content.decode()

    assert f"You already registered {last_year.course_name} for 2025-26" in page
    assert "Which class did you take?" in page and SCHOOL_PICKER in page
    assert COLLEGE_STEP not in page


# --- Which colleges a class offers: the same answer on every page --------------------------


def _class_with_an_expired_college(how: str):
    course_class = two_college_class()
    active, old = course_class.articulations.order_by("pk")
    if how == "status":
        old.status = Articulation.Status.EXPIRED
    else:
        old.valid_to = SchoolYearFactory(start_year=2025)
    old.save()
    return course_class, active, old


@pytest.mark.parametrize("how", ["status", "valid_to"])
def test_a_class_with_one_offered_college_registers_to_it_without_a_college_step(client, how):
    course_class, active, old = _class_with_an_expired_college(how)
    client.force_login(student_at(course_class.school).user)

    listed = client.get("/registrations/new/").content.decode()
    assert "Second College" not in listed and active.college.name in listed
    response = client.post("/registrations/new/", {"course_class": course_class.pk})

    assert response.status_code == 302
    assert Registration.objects.get().articulation == active


@pytest.mark.parametrize("how", ["status", "valid_to"])
def test_a_college_no_longer_offered_cannot_be_chosen(client, how):
    course_class, _, old = _class_with_an_expired_college(how)
    client.force_login(student_at(course_class.school).user)

    page = client.post(
        "/registrations/new/",
        {"course_class": course_class.pk, "articulation": old.pk, "step": "college"},
    ).content.decode()

    assert "Choose one of the colleges on this page." in page
    assert not Registration.objects.exists()
    with pytest.raises(RegistrationRefused, match="Choose one of the colleges this class offers"):
        registration_create(
            student=student_at(course_class.school), course_class=course_class, articulation=old
        )


def test_the_class_list_and_the_college_step_offer_the_same_colleges(client):
    course_class = two_college_class()
    third = ArticulationFactory(
        district=course_class.school.district,
        hs_course_name="Intro to Business",
        college=CollegeFactory(name="Third College"),
        college_course_number="103",
        valid_from=SchoolYearFactory(start_year=2027),
    )
    course_class.articulations.add(third)
    client.force_login(student_at(course_class.school).user)

    (listed,) = classes_open_for_registration(course_class.school, 2026)
    page = client.post("/registrations/new/", {"course_class": course_class.pk}).content.decode()

    assert list(listed.articulations.all()) == offered_articulations(course_class)
    assert "Third College" not in page
    assert COLLEGE_STEP in page and "Second College" in page


@pytest.mark.parametrize("how", ["status", "valid_to"])
def test_staff_in_the_admin_cannot_move_a_registration_to_a_college_no_longer_offered(
    admin_client, how
):
    course_class, active, old = _class_with_an_expired_college(how)
    registration = registration_create(
        student=student_at(course_class.school), course_class=course_class, articulation=active
    )
    url = f"/admin/registration/registration/{registration.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(articulation=old.pk, enrollment=registration.enrollment, grade="")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["articulation"]
    assert f"Pick a college course this class offers: {active.college_course}" in errors[0]
    assert old.college.name not in errors[0]
    registration.refresh_from_db()
    assert registration.articulation == active
