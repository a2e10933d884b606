"""Staff add a teacher in the admin: the login is made and invited; who has not activated yet."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains

from articulations.models import Teacher
from articulations.tests.factories import SchoolFactory, TeacherFactory, UserFactory
from invitations.services import is_activated, user_invite
from outbox.models import OutboxEmail

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
SEPTEMBER_1_2026 = dt.datetime(2026, 9, 1, 10, tzinfo=PACIFIC)
ADD = reverse("admin:articulations_teacher_add")
LIST = reverse("admin:articulations_teacher_changelist")


def new_teacher(**fields) -> dict:
    return {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "Jane.Doe@bellevue.k12.wa.us",
        "schools": [],
        "approved_on": "2026-09-01",
        "approval_expires_on": "2027-06-30",
        **fields,
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def invited_teacher(admin_user, email) -> Teacher:
    user = user_invite(
        email=email, first_name="Sam", last_name="Lee", invited_by=admin_user, role="teacher"
    )
    return TeacherFactory(user=user)


@time_machine.travel(SEPTEMBER_1_2026, tick=False)
def test_the_add_page_asks_for_the_person_and_is_active_from_today(admin_client):
    page = admin_client.get(ADD)

    form = page.context["adminform"].form
    assert list(form.fields) == [
        "first_name",
        "last_name",
        "email",
        "schools",
        "approved_on",
        "approval_expires_on",
    ]
    assert form.fields["email"].label == "School email"
    assert form.fields["approved_on"].label == "Active from"
    assert form.fields["approval_expires_on"].label == "Active to"
    assert form["approved_on"].value() == dt.date(2026, 9, 1)
    assertContains(page, "emails them a link to choose a password")


@time_machine.travel(SEPTEMBER_1_2026, tick=False)
def test_adding_a_teacher_makes_the_login_and_emails_the_invitation(admin_client, admin_user):
    schools = [SchoolFactory(), SchoolFactory()]

    response = admin_client.post(
        ADD, new_teacher(schools=[school.pk for school in schools]), follow=True
    )

    assert response.redirect_chain[-1][0] == LIST
    teacher = Teacher.objects.select_related("user").get()
    assert teacher.user.username == "jane.doe@bellevue.k12.wa.us"
    assert teacher.user.get_full_name() == "Jane Doe"
    assert not is_activated(teacher.user)
    assert set(teacher.schools.all()) == set(schools)
    assert teacher.approved_on == dt.date(2026, 9, 1)
    assert teacher.approval_expires_on == dt.date(2027, 6, 30)
    assert teacher.approved_by == admin_user  # also when the default date was kept
    email = OutboxEmail.objects.get(kind="invitation")
    assert email.recipient == "Jane.Doe@bellevue.k12.wa.us"
    assert "/accounts/invitation/" in email.body_text
    assert messages_of(response)[0] == (
        "SERS emailed Jane.Doe@bellevue.k12.wa.us an invitation to choose a password. "
        "Until they do, they cannot log in."
    )
    assert LogEntry.objects.filter(
        object_id=str(teacher.pk), action_flag=ADDITION, user=admin_user
    ).exists()


def test_an_email_another_login_uses_is_refused_on_the_form(admin_client):
    UserFactory(username="jdoe", email="jane.doe@bellevue.k12.wa.us")

    response = admin_client.post(ADD, new_teacher())

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "The SERS login jdoe already uses Jane.Doe@bellevue.k12.wa.us. Each person needs an "
        "email address of their own: enter another one."
    ]
    assertContains(response, "The SERS login jdoe already uses")
    assert not Teacher.objects.exists()
    assert get_user_model().objects.filter(email__iexact="jane.doe@bellevue.k12.wa.us").count() == 1
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize(
    ("dates", "field", "message"),
    [
        (
            {"approved_on": "2026-09-01", "approval_expires_on": "2026-08-31"},
            "approval_expires_on",
            "Enter an end on or after the day they start.",
        ),
        (
            {"approved_on": "", "approval_expires_on": "2027-06-30"},
            "approved_on",
            "Enter the day they are active from, or no end date.",
        ),
    ],
    ids=["ends-before-it-starts", "ends-without-a-start"],
)
def test_active_dates_that_do_not_fit_are_refused_on_the_form(admin_client, dates, field, message):
    response = admin_client.post(ADD, new_teacher(schools=[SchoolFactory().pk], **dates))

    assert response.context["adminform"].form.errors == {field: [message]}
    assert not get_user_model().objects.filter(username="jane.doe@bellevue.k12.wa.us").exists()


def test_a_teacher_added_without_an_approval_date_is_not_approved(admin_client):
    admin_client.post(
        ADD, new_teacher(schools=[SchoolFactory().pk], approved_on="", approval_expires_on="")
    )

    teacher = Teacher.objects.get()
    assert teacher.approved_on is None and teacher.approved_by is None


def test_the_change_page_stays_the_teachers_own(admin_client):
    teacher = TeacherFactory()

    form = (
        admin_client.get(reverse("admin:articulations_teacher_change", args=[teacher.pk]))
        .context["adminform"]
        .form
    )

    assert list(form.fields) == ["user", "schools", "approved_on", "approval_expires_on"]


def test_the_list_says_who_has_activated_and_filters_by_it(admin_client, admin_user):
    waiting = invited_teacher(admin_user, "waiting@example.org")
    active = TeacherFactory()  # a login with a password

    listed = admin_client.get(LIST)
    assertContains(listed, '<td class="field-activated">no</td>', count=1)
    assertContains(listed, '<td class="field-activated">yes</td>', count=1)
    assert list(admin_client.get(LIST, {"activated": "no"}).context["cl"].result_list) == [waiting]
    assert list(admin_client.get(LIST, {"activated": "yes"}).context["cl"].result_list) == [active]


def test_resend_mails_only_those_who_have_not_activated_and_says_how_many(admin_client, admin_user):
    with time_machine.travel(SEPTEMBER_1_2026, tick=False):
        waiting = [invited_teacher(admin_user, f"waiting{n}@example.org") for n in range(2)]
        active = TeacherFactory()
    assert OutboxEmail.objects.count() == 2

    with time_machine.travel(SEPTEMBER_1_2026 + dt.timedelta(days=2), tick=False):
        response = admin_client.post(
            LIST,
            {
                "action": "resend_invitation",
                "_selected_action": [teacher.pk for teacher in [*waiting, active]],
            },
            follow=True,
        )

    assert messages_of(response) == [
        "Sent the invitation again to 2 teachers. 1 has already chosen a password and got nothing."
    ]
    resent = OutboxEmail.objects.filter(kind="invitation").order_by("pk")[2:]
    assert sorted(email.recipient for email in resent) == [
        "waiting0@example.org",
        "waiting1@example.org",
    ]
    assert not OutboxEmail.objects.filter(recipient=active.user.email).exists()
    for teacher in waiting:
        assert LogEntry.objects.filter(
            object_id=str(teacher.pk), change_message="Sent the invitation again."
        ).exists()
