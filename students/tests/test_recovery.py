"""Forgot login and password reset: mailed through the outbox, same answer for unknown addresses."""

import re

import pytest
from django.core import mail
from django.core.cache import cache

from registration.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def ask_for_login(client, email, capture):
    with capture(execute=True):
        return client.post("/accounts/forgot-login/", {"email": email})


def test_a_known_email_gets_its_username_and_sers_id(client, django_capture_on_commit_callbacks):
    student = StudentFactory(email="maya@example.org")

    response = ask_for_login(client, "Maya@Example.org", django_capture_on_commit_callbacks)

    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["maya@example.org"]
    assert student.user.username in message.body
    assert student.sers_id in message.body


def test_an_unknown_email_gets_the_same_page_and_no_mail(
    client, django_capture_on_commit_callbacks
):
    StudentFactory(email="maya@example.org")
    known = ask_for_login(client, "maya@example.org", django_capture_on_commit_callbacks)
    mail.outbox.clear()

    unknown = ask_for_login(client, "stranger@example.org", django_capture_on_commit_callbacks)

    assert mail.outbox == []

    def without_address(response, email):
        return response.content.decode().replace(email, "EMAIL")

    assert without_address(known, "maya@example.org") == without_address(
        unknown, "stranger@example.org"
    )


def test_a_shared_email_lists_every_student_in_one_message(
    client, django_capture_on_commit_callbacks
):
    first = StudentFactory(email="family@example.org", legal_first_name="Ana")
    second = StudentFactory(email="family@example.org", legal_first_name="Luis")

    ask_for_login(client, "family@example.org", django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    for student in (first, second):
        assert student.sers_id in body
        assert student.user.username in body


@pytest.mark.redis
def test_forgot_login_is_rate_limited_per_address(client, django_capture_on_commit_callbacks):
    StudentFactory(email="maya@example.org")
    for _ in range(3):
        ask_for_login(client, "maya@example.org", django_capture_on_commit_callbacks)

    response = ask_for_login(client, "maya@example.org", django_capture_on_commit_callbacks)

    assert "You have asked several times in the last hour" in response.content.decode()
    assert len(mail.outbox) == 3


def test_password_reset_mails_a_link_that_sets_a_new_password(
    client, django_capture_on_commit_callbacks
):
    student = StudentFactory(email="maya@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/password-reset/", {"email": "maya@example.org"}, follow=True
        )

    assert "Check your email" in response.content.decode()
    link = re.search(r"http://[^\s]+/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    path = link.split("8000", 1)[1] if "8000" in link else link
    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-pass", "new_password2": "a-brand-new-pass"},
        follow=True,
    )
    assert "Your password is changed" in done.content.decode()
    logged_in = client.post(
        "/accounts/login/", {"username": student.sers_id, "password": "a-brand-new-pass"}
    )
    assert logged_in.status_code == 302


@pytest.mark.redis
def test_password_reset_is_rate_limited_too(client, django_capture_on_commit_callbacks):
    StudentFactory(email="maya@example.org")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/accounts/password-reset/", {"email": "maya@example.org"})
    sent_before = len(mail.outbox)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "maya@example.org"})

    assert "You have asked several times in the last hour" in response.content.decode()
    assert sent_before >= 1
    assert len(mail.outbox) == sent_before
