"""A student's SERS ID is theirs for good: accounts are closed, never deleted, and an ID is
never given out again."""

import datetime as dt

import pytest

from articulations.tests.factories import SchoolFactory
from registration.tests.factories import StudentFactory
from students import services
from students.models import Student

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/students/student/"


def sign_up(school, username):
    return services.student_create(
        username=username,
        password="orca-kayak-sunrise",
        email="family@example.org",
        legal_first_name="Sam",
        legal_middle_name="",
        legal_last_name="Rivera",
        date_of_birth=dt.date(2010, 1, 1),
        expected_graduation_year=2028,
        school=school,
        street="1 Main St",
        city="Bellevue",
        state="WA",
        zip_code="98007",
        phone="425-555-0100",
        free_reduced_lunch=False,
    )


def test_the_id_of_a_removed_student_is_never_given_to_another(monkeypatch):
    school = SchoolFactory()
    first = sign_up(school, "first")
    removed_id = first.sers_id
    # Removed outside SERS's pages (a shell, a database fix): the history keeps the row.
    user = first.user
    first.delete()
    user.delete()
    draws = iter([removed_id, "TP3-55-1234"])
    monkeypatch.setattr(services, "random_sers_id", lambda: next(draws))

    second = sign_up(school, "second")

    assert second.sers_id == "TP3-55-1234"
    assert not Student.objects.filter(sers_id=removed_id).exists()


def test_staff_cannot_delete_a_student_and_close_the_account_instead(admin_client, client):
    student = StudentFactory()
    student.user.set_password("orca-kayak-sunrise")
    student.user.save()

    page = admin_client.get(CHANGELIST)
    assert "delete_selected" not in page.content.decode()
    delete = admin_client.post(f"{CHANGELIST}{student.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403

    response = admin_client.post(
        CHANGELIST, {"action": "close_accounts", "_selected_action": [student.pk], "index": 0}
    )
    assert response.status_code == 302
    student.refresh_from_db()
    student.user.refresh_from_db()
    assert not student.user.is_active
    assert Student.objects.filter(sers_id=student.sers_id).exists()
    closed = admin_client.get(CHANGELIST, {"user__is_active__exact": "0"})
    assert list(closed.context["cl"].result_list) == [student]
    login = client.post(
        "/accounts/login/",
        {"username": student.sers_id, "password": "orca-kayak-sunrise"},
    )
    assert login.status_code == 200  # the form again, with its message: not logged in
    assert "_auth_user_id" not in client.session

    admin_client.post(
        CHANGELIST, {"action": "reopen_accounts", "_selected_action": [student.pk], "index": 0}
    )
    student.user.refresh_from_db()
    assert student.user.is_active
