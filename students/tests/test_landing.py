"""After logging in, each role lands where its work is."""

import pytest

from articulations.tests.factories import (
    CollegeFactory,
    SchoolDistrictFactory,
    TeacherFactory,
    UserFactory,
)
from credit_lists.models import Registrar
from district.models import DistrictStaff
from registration.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def log_in(client, user, next_page=""):
    user.set_password(PASSWORD)
    user.save()
    url = "/accounts/login/" + (f"?next={next_page}" if next_page else "")
    return client.post(url, {"username": user.username, "password": PASSWORD})


def test_a_student_lands_on_what_to_do_next(client):
    student = StudentFactory()

    response = log_in(client, student.user)

    assert response.status_code == 302
    assert response["Location"] == "/registrations/"
    assert "What to do next" in client.get("/registrations/").content.decode()


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        ("teacher", "/teacher/"),
        ("registrar", "/registrar/"),
        ("district", "/district/"),
        ("staff", "/admin/"),
    ],
)
def test_every_other_role_lands_where_its_work_is(client, role, landing):
    user = UserFactory()
    if role == "teacher":
        TeacherFactory(user=user)
    elif role == "registrar":
        Registrar.objects.create(user=user, college=CollegeFactory())
    elif role == "district":
        DistrictStaff.objects.create(user=user, district=SchoolDistrictFactory())
    else:
        user.is_staff = True
        user.save()

    response = log_in(client, user)

    assert response["Location"] == landing
    assert client.get(landing).status_code == 200


def test_a_login_asked_for_by_a_page_goes_back_to_that_page(client):
    student = StudentFactory()

    response = log_in(client, student.user, next_page="/payments/")

    assert response["Location"] == "/payments/"


def test_an_account_without_a_role_lands_on_the_home_page(client):
    response = log_in(client, UserFactory())

    assert response["Location"] == "/"
