"""A student's SERS ID is theirs for good: accounts are closed, never deleted, and an ID is
never given out again."""

import pytest

from articulations.tests.factories import SchoolFactory
from registration.tests.factories import StudentFactory
from students import services
from students.models import Student
from students.tests.helpers import sign_up

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/students/student/"


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
