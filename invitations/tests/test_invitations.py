"""Invitations: a login without a password, a one-time expiring link, then an ordinary log-in."""

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from articulations.tests.factories import TeacherFactory, UserFactory
from invitations.services import (
    InvitationRefused,
    activated_q,
    invitation_send,
    is_activated,
    user_invite,
)
from invitations.tokens import invitation_token_generator
from outbox.models import OutboxEmail

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
NOVEMBER_2 = dt.datetime(2026, 11, 2, 9, tzinfo=PACIFIC)
LINK = re.compile(r"http://\S+/accounts/invitation/[^/\s]+/[^/\s]+/")
PASSWORD = "chalk-and-lathe-77"


@pytest.fixture
def staff():
    return UserFactory(username="office", first_name="Rosa", last_name="Diaz", is_staff=True)


def invite_teacher(staff, email="Jane.Doe@Bellevue.k12.wa.us"):
    """What the teacher admin does: the login through user_invite, then the Teacher row."""
    with transaction.atomic():
        user = user_invite(
            email=email, first_name="Jane", last_name="Doe", invited_by=staff, role="teacher"
        )
        TeacherFactory(user=user)
    return user


def link_in(email: OutboxEmail) -> str:
    """The invitation link of an email, as a path the test client opens."""
    (link,) = set(LINK.findall(email.body_text))
    assert f'href="{link}"' in email.body_html
    return link.removeprefix(settings.SITE_URL)


def invitation_link(user) -> str:
    return link_in(OutboxEmail.objects.filter(recipient=user.email).latest("pk"))


def open_link(client, link):
    """Open the link: the token goes into the session, and the browser on to the form."""
    response = client.get(link)
    assert response.status_code == 302, response.content.decode()
    assert response.url.endswith("/set-password/")
    return response.url


def post_password(client, form_url, password=PASSWORD, again=None):
    return client.post(
        form_url,
        {"new_password1": password, "new_password2": again or password},
        follow=True,
    )


def log_in(client, username, password=PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def can_log_in(username, password) -> bool:
    return log_in(Client(), username, password).status_code == 302


def refused(response) -> bool:
    """The page of a link that does not work: why, and whom to ask for a new one."""
    page = response.content.decode()
    return (
        response.status_code == 200
        and "This invitation link does not work any more" in page
        and "An invitation link works once, for 3 days." in page
        and f"ask {settings.SERS_CONTACT['name']} to send you a new invitation" in page
        and f"mailto:{settings.SERS_CONTACT['email']}" in page
        and "new_password1" not in page
    )


@time_machine.travel(NOVEMBER_2, tick=False)
def test_an_invited_teacher_follows_the_link_chooses_a_password_and_logs_in(client, staff):
    user = invite_teacher(staff)

    assert user.username == "jane.doe@bellevue.k12.wa.us"
    assert user.email == "Jane.Doe@bellevue.k12.wa.us"
    assert (user.first_name, user.last_name) == ("Jane", "Doe")
    assert user.is_active and not user.is_staff and not is_activated(user)
    email = OutboxEmail.objects.get(kind="invitation")
    assert email.recipient == user.email
    assert email.subject == "Choose your password for SERS, the CTE Dual Credit site"
    assert "Hello Jane," in email.body_text
    assert "Rosa Diaz at the consortium office made you a SERS account as a teacher." in (
        email.body_text
    )
    assert "Your username is your email address: jane.doe@bellevue.k12.wa.us" in email.body_text
    assert "The link works once, for 3 days." in email.body_text
    assert email.about == "teacher jane.doe@bellevue.k12.wa.us"

    form_url = open_link(client, link_in(email))
    form_page = client.get(form_url)
    page = form_page.content.decode()
    assert "<title>Choose your password – SERS</title>" in page
    assert 'for="id_new_password1" class="form-label' in page
    assert 'for="id_new_password2" class="form-label' in page
    assert page.count('autocomplete="new-password"') == 2
    assert 'data-testid="invited-username">jane.doe@bellevue.k12.wa.us<' in page

    answer = post_password(client, form_url)

    assert answer.redirect_chain == [("/accounts/login/", 302)]
    assert (
        "Your password is set. Log in with your username, jane.doe@bellevue.k12.wa.us, and the "
        "password you just chose." in answer.content.decode()
    )
    user.refresh_from_db()
    assert is_activated(user)
    landed = log_in(client, "jane.doe@bellevue.k12.wa.us")
    assert landed.status_code == 302 and landed.url == "/teacher/"


def test_the_invitation_is_mailed_once_the_transaction_commits(
    staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = invite_teacher(staff)

    (message,) = mail.outbox
    assert message.to == [user.email]
    assert LINK.search(message.body)


def test_nothing_is_made_or_mailed_when_the_callers_transaction_rolls_back(staff):
    with pytest.raises(RuntimeError), transaction.atomic():
        invite_teacher(staff)
        raise RuntimeError("the teacher's row could not be saved")

    assert not get_user_model().objects.filter(username="jane.doe@bellevue.k12.wa.us").exists()
    assert not OutboxEmail.objects.exists()


@time_machine.travel(NOVEMBER_2, tick=False)
def test_before_following_the_link_the_login_cannot_log_in(client, staff):
    user = invite_teacher(staff)

    for password in ("!", user.password, PASSWORD):
        response = log_in(client, user.username, password)
        assert response.status_code == 200
        assert not response.wsgi_request.user.is_authenticated
        assert "do not match" in response.content.decode()


@time_machine.travel(NOVEMBER_2, tick=False)
def test_the_link_works_once(client, staff):
    user = invite_teacher(staff)
    link = invitation_link(user)
    # The same link, opened in a second browser before the first one used it.
    other_browser = Client()
    other_form_url = open_link(other_browser, link)

    post_password(client, open_link(client, link))

    client.logout()
    assert refused(client.get(link, follow=True))
    assert refused(post_password(other_browser, other_form_url, "another-password-99"))
    assert not can_log_in(user.username, "another-password-99")
    assert can_log_in(user.username, PASSWORD)


def test_the_link_expires_after_password_reset_timeout(client, staff):
    with time_machine.travel(NOVEMBER_2, tick=False):
        user = invite_teacher(staff)
    link = invitation_link(user)
    timeout = dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    assert timeout == dt.timedelta(days=3)

    with time_machine.travel(NOVEMBER_2 + timeout - dt.timedelta(minutes=1), tick=False):
        assert open_link(Client(), link)
    with time_machine.travel(NOVEMBER_2 + timeout + dt.timedelta(minutes=1), tick=False):
        assert refused(client.get(link, follow=True))
        user.refresh_from_db()
        assert not is_activated(user)


@time_machine.travel(NOVEMBER_2, tick=False)
def test_a_form_that_was_opened_in_time_is_refused_once_the_link_expired(client, staff):
    form_url = open_link(client, invitation_link(invite_teacher(staff)))

    with time_machine.travel(NOVEMBER_2 + dt.timedelta(days=3, minutes=1), tick=False):
        assert refused(post_password(client, form_url))


@time_machine.travel(NOVEMBER_2, tick=False)
def test_a_password_that_does_not_fit_is_explained_on_the_form(client, staff):
    form_url = open_link(client, invitation_link(invite_teacher(staff)))

    different = post_password(client, form_url, PASSWORD, "chalk-and-lathe-78")
    common = post_password(client, form_url, "password", "password")
    short = post_password(client, form_url, "jd-1", "jd-1")

    assert different.context["form"].errors == {
        "new_password2": ["The two passwords are different. Type the same one twice."]
    }
    assert list(common.context["form"].errors) == ["new_password1"]
    assert "too common" in str(common.context["form"].errors)
    assert "too short" in str(short.context["form"].errors["new_password1"])
    page = different.content.decode()
    assert "<title>Error: Choose your password – SERS</title>" in page
    assert "There is a problem" in page
    assert '<a href="#id_new_password2">The two passwords are different.' in page
    assert not is_activated(
        get_user_model().objects.get(email__iexact="jane.doe@bellevue.k12.wa.us")
    )


@time_machine.travel(NOVEMBER_2, tick=False)
def test_a_link_that_was_tampered_with_is_refused(client, staff):
    user = invite_teacher(staff)
    link = invitation_link(user)
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    other = urlsafe_base64_encode(force_bytes(staff.pk))

    assert refused(client.get(link.replace(uidb64, other)))
    assert refused(client.get(link[:-3] + "x0/"))
    assert refused(client.get("/accounts/invitation/bm9wZQ/nope/"))


@time_machine.travel(NOVEMBER_2, tick=False)
def test_invitation_and_password_reset_tokens_do_not_stand_for_each_other(client, staff):
    user = invite_teacher(staff)
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    reset_token = default_token_generator.make_token(user)
    invitation_token = invitation_token_generator.make_token(user)

    assert refused(client.get(f"/accounts/invitation/{uidb64}/{reset_token}/"))
    reset_page = client.get(f"/accounts/reset/{uidb64}/{invitation_token}/")
    assert "This link does not work any more" in reset_page.content.decode()


@time_machine.travel(NOVEMBER_2, tick=False)
def test_a_switched_off_login_cannot_follow_its_invitation(client, staff):
    user = invite_teacher(staff)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    assert refused(client.get(invitation_link(user)))


def test_a_new_invitation_sends_a_new_link_and_both_work_until_one_is_used(client, staff):
    with time_machine.travel(NOVEMBER_2, tick=False):
        user = invite_teacher(staff)
    with time_machine.travel(NOVEMBER_2 + dt.timedelta(days=1), tick=False):
        invitation_send(user=user, role="teacher", sent_by=staff)
        first, second = OutboxEmail.objects.filter(kind="invitation").order_by("pk")
        assert link_in(first) != link_in(second)
        assert open_link(Client(), link_in(first))

        post_password(client, open_link(client, link_in(second)))

        user.refresh_from_db()
        assert refused(Client().get(link_in(first)))
        with pytest.raises(InvitationRefused, match="has already chosen a password"):
            invitation_send(user=user, role="teacher", sent_by=staff)
    assert OutboxEmail.objects.filter(kind="invitation").count() == 2


@pytest.mark.parametrize(
    "existing",
    [
        {"username": "jane.doe@bellevue.k12.wa.us"},
        {"username": "JANE.DOE@bellevue.k12.wa.us"},
        {"username": "janed", "email": "jane.doe@BELLEVUE.k12.wa.us"},
    ],
    ids=["username", "username-in-capitals", "email-of-another-login"],
)
def test_an_email_another_login_uses_is_refused(staff, existing):
    other = UserFactory(**existing)

    with pytest.raises(InvitationRefused) as refusal:
        invite_teacher(staff)

    assert str(refusal.value) == (
        f"The SERS login {other.username} already uses Jane.Doe@Bellevue.k12.wa.us. Each person "
        "needs an email address of their own: enter another one."
    )
    assert get_user_model().objects.count() == 2
    assert not OutboxEmail.objects.exists()


def test_an_unknown_role_is_a_mistake_that_writes_nothing(staff):
    with pytest.raises(ValueError, match="Unknown role 'teacher '"):
        user_invite(
            email="jd@example.org", first_name="J", last_name="D", invited_by=staff, role="teacher "
        )

    assert not get_user_model().objects.filter(email="jd@example.org").exists()


def test_the_activated_query_agrees_with_is_activated(staff):
    invited = invite_teacher(staff)
    with_password = UserFactory()

    activated = get_user_model().objects.filter(activated_q())

    assert staff in activated and with_password in activated
    assert invited not in activated
    assert [is_activated(user) for user in (staff, with_password, invited)] == [True, True, False]
