import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from registration.tests.factories import StudentFactory
from students.models import Student

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/students/student/"


def found(admin_client, term):
    response = admin_client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


@pytest.mark.parametrize("typed", ["{id}", "{lower}", "{spaced}", "{bare}"])
def test_staff_find_a_student_by_sers_id_typed_any_way(admin_client, typed):
    student, _other = StudentFactory(), StudentFactory()
    sers_id = student.sers_id
    term = typed.format(
        id=sers_id,
        lower=sers_id.lower(),
        spaced=sers_id.replace("-", " "),
        bare=sers_id.replace("-", ""),
    )

    assert found(admin_client, term) == {student}


def test_staff_find_a_student_by_name_email_school_or_date_of_birth(admin_client):
    student = StudentFactory(
        legal_last_name="Okonkwo", email="okonkwo@example.org", date_of_birth=dt.date(2009, 3, 5)
    )
    StudentFactory(date_of_birth=dt.date(2010, 1, 1))

    assert found(admin_client, "okonkwo") == {student}
    assert found(admin_client, "okonkwo@example.org") == {student}
    assert found(admin_client, student.school.name) == {student}
    assert found(admin_client, "3/5/2009") == {student}
    assert found(admin_client, "2009-03-05") == {student}


def test_the_student_list_makes_the_same_queries_for_many_rows(
    admin_client, django_assert_max_num_queries
):
    StudentFactory.create_batch(2)
    with django_assert_max_num_queries(20) as few:
        admin_client.get(CHANGELIST)
    baseline = len(few.captured_queries)
    StudentFactory.create_batch(20)

    with django_assert_max_num_queries(baseline):
        admin_client.get(CHANGELIST)


def test_every_change_is_kept_with_who_made_it(admin_client, admin_user):
    student = StudentFactory()
    page = admin_client.get(f"{CHANGELIST}{student.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        legal_first_name="Mayra",
        date_of_birth=student.date_of_birth.isoformat(),
        free_reduced_lunch="on",
    )

    response = admin_client.post(f"{CHANGELIST}{student.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    latest = Student.history.filter(id=student.pk).latest("history_date")
    assert latest.legal_first_name == "Mayra"
    assert latest.history_user == admin_user


def test_the_history_page_reads_in_local_time_and_full_names_and_cannot_revert(admin_client):
    import time_machine

    staff = get_user_model().objects.create_user(
        "jreyes", first_name="Jordan", last_name="Reyes", is_staff=True
    )
    with time_machine.travel(dt.datetime(2026, 12, 1, 21, 47, tzinfo=dt.UTC), tick=False):
        student = StudentFactory()  # made by SERS itself: nobody signed in
        student.legal_first_name = "Mayra"
        student._history_user = staff
        student.save()

    page = admin_client.get(f"{CHANGELIST}{student.pk}/history/").content.decode()

    assert "Dec 1, 2026, 1:47 p.m." in page  # 21:47 UTC is 1:47 p.m. in Washington
    assert "Jordan Reyes" in page and "jreyes" not in page
    assert "SERS (automatic)" in page
    assert ">None<" not in page
    version = Student.history.filter(id=student.pk).earliest("history_date")
    old = admin_client.get(f"{CHANGELIST}{student.pk}/history/{version.history_id}/")
    assert old.status_code == 200
    assert "Revert" not in old.content.decode()
    assert (
        admin_client.post(
            f"{CHANGELIST}{student.pk}/history/{version.history_id}/", {"_continue": "1"}
        ).status_code
        == 403
    )


def test_staff_fixing_a_students_email_sends_password_resets_there(
    admin_client, django_capture_on_commit_callbacks
):
    student = StudentFactory(email="old@example.org")
    page = admin_client.get(f"{CHANGELIST}{student.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(email="new@example.org", date_of_birth=student.date_of_birth.isoformat())
    response = admin_client.post(f"{CHANGELIST}{student.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    admin_client.logout()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("password_reset"), {"email": "new@example.org"})

    assert [message.to for message in mail.outbox] == [["new@example.org"]]


def test_staff_email_a_password_reset_link(admin_client, django_capture_on_commit_callbacks):
    student = StudentFactory(email="maya@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "send_password_reset_link", "_selected_action": [student.pk]},
            follow=True,
        )

    assert "Password reset links queued for 1 student(s)." in response.content.decode()
    assert mail.outbox[0].to == ["maya@example.org"]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_the_change_page_links_to_the_students_emails_and_password(admin_client):
    student = StudentFactory()

    page = admin_client.get(f"{CHANGELIST}{student.pk}/change/").content.decode()

    assert f"/admin/outbox/outboxemail/?q={student.sers_id}" in page
    assert f"/admin/auth/user/{student.user_id}/password/" in page
    assert "readonly" in page and student.sers_id in page
