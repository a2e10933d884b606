"""Staff add a college registrar in the admin: the login is made and invited, like a teacher's."""

import datetime as dt
import itertools
import zoneinfo

import pytest
import time_machine
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core import checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from articulations.tests.factories import CollegeFactory, UserFactory
from credit_lists.models import Registrar
from invitations.services import is_activated, user_invite
from outbox.models import OutboxEmail

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
NOVEMBER_2 = dt.datetime(2026, 11, 2, 9, tzinfo=PACIFIC)
ADD = reverse("admin:credit_lists_registrar_add")
LIST = reverse("admin:credit_lists_registrar_changelist")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def invited_registrar(admin_user, email, college=None, **names) -> Registrar:
    names = {"first_name": "Lee", "last_name": "Park", **names}
    user = user_invite(email=email, invited_by=admin_user, role="registrar", **names)
    return Registrar.objects.create(user=user, college=college or CollegeFactory())


def registrar_with_password(college=None) -> Registrar:
    return Registrar.objects.create(user=UserFactory(), college=college or CollegeFactory())


def test_the_add_page_asks_for_the_person_and_their_college(admin_client):
    page = admin_client.get(ADD)

    form = page.context["adminform"].form
    assert list(form.fields) == ["first_name", "last_name", "email", "college"]
    assert form.fields["email"].label == "Email"
    # The college is picked by typing, as every foreign key in this admin.
    assertContains(page, 'class="admin-autocomplete" data-ajax--cache="true"')
    assertContains(page, 'data-field-name="college"')
    assertContains(page, "A registrar sees only the credit earned at their college.")


def test_adding_a_registrar_makes_the_login_and_emails_the_invitation(admin_client, admin_user):
    college = CollegeFactory(name="Bellevue College", code="BC")

    response = admin_client.post(
        ADD,
        {
            "first_name": "Lee",
            "last_name": "Park",
            "email": "LPark@bellevuecollege.edu",
            "college": college.pk,
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == LIST
    registrar = Registrar.objects.select_related("user").get()
    assert registrar.college == college
    assert registrar.user.username == "lpark@bellevuecollege.edu"
    assert registrar.user.get_full_name() == "Lee Park"
    assert not is_activated(registrar.user)
    email = OutboxEmail.objects.get(kind="invitation")
    assert email.recipient == "LPark@bellevuecollege.edu"
    assert "made you a SERS account as a college registrar" in email.body_text
    assert "/accounts/invitation/" in email.body_text
    assert email.about == "registrar lpark@bellevuecollege.edu"
    assert "SERS emailed LPark@bellevuecollege.edu an invitation" in messages_of(response)[0]
    assert LogEntry.objects.filter(
        object_id=str(registrar.pk), action_flag=ADDITION, user=admin_user
    ).exists()


def test_an_email_another_login_uses_is_refused_on_the_form(admin_client):
    UserFactory(username="lpark@bellevuecollege.edu")

    response = admin_client.post(
        ADD,
        {
            "first_name": "Lee",
            "last_name": "Park",
            "email": "lpark@bellevuecollege.edu",
            "college": CollegeFactory().pk,
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "The SERS login lpark@bellevuecollege.edu already uses lpark@bellevuecollege.edu. Each "
        "person needs an email address of their own: enter another one."
    ]
    assert not Registrar.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_an_email_taken_between_the_form_check_and_the_save_is_refused_and_nothing_saved(
    admin_client, monkeypatch
):
    UserFactory(username="lpark@bellevuecollege.edu")
    # Another staff member's invitation lands after this form was checked.
    monkeypatch.setattr("invitations.admin_tools.email_in_use_problem", lambda email: None)

    response = admin_client.post(
        ADD,
        {
            "first_name": "Lee",
            "last_name": "Park",
            "email": "lpark@bellevuecollege.edu",
            "college": CollegeFactory().pk,
        },
        follow=True,
    )

    assert response.redirect_chain == [(ADD, 302)]
    assert messages_of(response) == [
        "The SERS login lpark@bellevuecollege.edu already uses lpark@bellevuecollege.edu. Each "
        "person needs an email address of their own: enter another one."
    ]
    assert not Registrar.objects.exists()
    assert get_user_model().objects.filter(username="lpark@bellevuecollege.edu").count() == 1


def test_the_list_says_who_has_activated_and_filters_by_it(admin_client, admin_user):
    waiting = invited_registrar(admin_user, "waiting@college.edu")
    active = registrar_with_password()

    listed = admin_client.get(LIST)

    assertContains(listed, '<td class="field-activated">no</td>', count=1)
    assertContains(listed, '<td class="field-activated">yes</td>', count=1)
    assert list(admin_client.get(LIST, {"activated": "no"}).context["cl"].result_list) == [waiting]
    assert list(admin_client.get(LIST, {"activated": "yes"}).context["cl"].result_list) == [active]


@pytest.mark.parametrize("typed", ["Okafor", "nkem@rtc.edu", "Renton Technical", "RTC"])
def test_staff_find_a_registrar_by_name_email_or_college(admin_client, admin_user, typed):
    found = invited_registrar(
        admin_user,
        "nkem@rtc.edu",
        CollegeFactory(name="Renton Technical College", code="RTC"),
        first_name="Nkem",
        last_name="Okafor",
    )
    invited_registrar(admin_user, "other@college.edu")

    result = admin_client.get(LIST, {"q": typed}).context["cl"].result_list

    assert list(result) == [found]


def test_the_list_makes_the_same_queries_for_2_rows_as_for_10(admin_client, admin_user):
    numbers = itertools.count()

    def add_two():
        for _ in range(2):
            n = next(numbers)
            if n % 2:
                registrar_with_password()
            else:
                invited_registrar(admin_user, f"registrar{n}@college.edu")

    add_two()
    admin_client.get(LIST)  # the session and the like, once
    with CaptureQueriesContext(connection) as two_rows:
        admin_client.get(LIST)
    for _ in range(4):
        add_two()
    with CaptureQueriesContext(connection) as ten_rows:
        response = admin_client.get(LIST)

    assert response.context["cl"].result_count == 10
    assert len(ten_rows) == len(two_rows), [query["sql"] for query in ten_rows]


def test_resend_mails_only_those_who_have_not_activated_and_says_how_many(admin_client, admin_user):
    with time_machine.travel(NOVEMBER_2, tick=False):
        waiting = invited_registrar(admin_user, "waiting@college.edu")
        active = registrar_with_password()

    with time_machine.travel(NOVEMBER_2 + dt.timedelta(days=1), tick=False):
        response = admin_client.post(
            LIST,
            {"action": "resend_invitation", "_selected_action": [waiting.pk, active.pk]},
            follow=True,
        )

    assert messages_of(response) == [
        "Sent the invitation again to 1 registrar. 1 has already chosen a password and got nothing."
    ]
    assert list(
        OutboxEmail.objects.filter(kind="invitation").values_list("recipient", flat=True)
    ) == ["waiting@college.edu", "waiting@college.edu"]


def test_the_change_page_and_the_admin_checks(admin_client, admin_user):
    registrar = invited_registrar(admin_user, "waiting@college.edu")

    form = (
        admin_client.get(reverse("admin:credit_lists_registrar_change", args=[registrar.pk]))
        .context["adminform"]
        .form
    )

    assert list(form.fields) == ["user", "college"]
    problems = [
        problem
        for problem in checks.run_checks(tags=[checks.Tags.admin])
        if getattr(problem.obj, "__module__", "").startswith(("credit_lists", "invitations"))
    ]
    assert problems == []
