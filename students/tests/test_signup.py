import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core import mail

from articulations.tests.factories import SchoolFactory
from outbox.models import OutboxEmail
from registration.tests.factories import StudentFactory
from students.models import Student

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


@pytest.fixture(autouse=True)
def november_2026():
    with time_machine.travel(dt.datetime(2026, 11, 22, 10, tzinfo=PACIFIC), tick=False):
        yield


def signup_data(for_school, **changes):
    data = {
        "legal_first_name": "Maya",
        "legal_middle_name": "",
        "legal_last_name": "Lopez",
        "date_of_birth_month": "4",
        "date_of_birth_day": "27",
        "date_of_birth_year": "2010",
        "grade": "11",
        "expected_graduation_year": "",
        "school": str(for_school.pk),
        "email": "maya@example.org",
        "phone": "(425) 555 0100",
        "street": "123 Main St",
        "city": "Bellevue",
        "state": "wa",
        "zip_code": "98007",
        "free_reduced_lunch": "False",
        "guardian_name": "",
        "guardian_email": "",
        "username": "maya.lopez",
        "password1": "orca-kayak-sunrise",
        "password2": "orca-kayak-sunrise",
    }
    data.update(changes)
    return data


def test_sign_up_creates_the_student_logs_in_and_shows_the_sers_id(
    client, django_capture_on_commit_callbacks
):
    school = SchoolFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", signup_data(school), follow=True)

    student = Student.objects.get(user__username="maya.lopez")
    assert response.redirect_chain[-1][0] == "/accounts/welcome/"
    assert student.sers_id in response.content.decode()
    assert student.expected_graduation_year == 2028  # grade 11 in 2026-27
    assert student.phone == "425-555-0100"
    assert student.state == "WA"
    assert response.context["user"].is_authenticated

    email = OutboxEmail.objects.get(kind="account_created")
    assert email.status == OutboxEmail.Status.SENT
    assert mail.outbox[0].to == ["maya@example.org"]
    assert student.sers_id in mail.outbox[0].subject
    assert student.sers_id in mail.outbox[0].body
    assert "maya.lopez" in mail.outbox[0].body


def test_a_graduation_year_works_instead_of_a_grade(client):
    client.post(
        "/accounts/signup/", signup_data(SchoolFactory(), grade="", expected_graduation_year="2030")
    )

    assert Student.objects.get().grade_in_school_year(2026) == 9


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"legal_first_name": ""}, "legal_first_name", "Enter your legal first name."),
        (
            {"date_of_birth_day": "", "date_of_birth_month": "", "date_of_birth_year": ""},
            "date_of_birth",
            "Enter your date of birth.",
        ),
        (
            {"date_of_birth_day": "31", "date_of_birth_month": "2"},
            "date_of_birth",
            "Enter a real date of birth",
        ),
        ({"date_of_birth_year": "2020"}, "date_of_birth", "it makes you 6 years old"),
        ({"grade": ""}, "grade", "Choose your grade, or enter the year you expect to graduate."),
        (
            {"grade": "9", "expected_graduation_year": "2028"},
            "expected_graduation_year",
            "Grade 9 this year means you graduate in 2030",
        ),
        (
            {"grade": "", "expected_graduation_year": "2034"},
            "expected_graduation_year",
            "SERS is for students in grades 9 to 12",
        ),
        ({"zip_code": "9800"}, "zip_code", "Enter a ZIP code like 98007."),
        ({"phone": "555-0100"}, "phone", "Enter a phone number with area code, like 425-555-0100."),
        ({"email": "maya-at-example"}, "email", "Enter an email address like name@example.com."),
        ({"school": ""}, "school", "Choose your high school or skill center."),
        ({"password2": "something-else-1"}, "password2", "The two passwords are different."),
        (
            {"password1": "12345678", "password2": "12345678"},
            "password1",
            "This password is entirely numeric.",
        ),
        (
            {"free_reduced_lunch": ""},
            "free_reduced_lunch",
            "Say whether you get free or reduced-price lunch.",
        ),
    ],
)
def test_mistakes_are_explained_on_the_form_and_nothing_typed_is_lost(
    client, changes, field, message
):
    data = signup_data(SchoolFactory(), **changes)

    response = client.post("/accounts/signup/", data)

    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field])
    page = response.content.decode()
    assert "There is a problem" in page
    target = form[field].id_for_label or f"{form[field].auto_id}_0"
    assert f'href="#{target}"' in page
    assert f'id="{target}"' in page
    assert not Student.objects.exists()
    # What was typed comes back, except the passwords.
    if field != "street":
        assert 'value="123 Main St"' in page
    assert 'value="maya.lopez"' in page
    assert "orca-kayak-sunrise" not in page


def test_a_taken_username_is_refused_with_a_message(client):
    StudentFactory(user__username="maya.lopez")

    response = client.post("/accounts/signup/", signup_data(SchoolFactory()))

    assert response.context["form"].errors["username"] == [
        "The username maya.lopez is taken. Choose another one."
    ]
    assert 'value="Lopez"' in response.content.decode()
    assert Student.objects.count() == 1


def test_siblings_may_share_an_email_address(client):
    StudentFactory(email="family@example.org")

    client.post("/accounts/signup/", signup_data(SchoolFactory(), email="family@example.org"))

    assert Student.objects.filter(email="family@example.org").count() == 2
