"""Queuing: rendered at once, stored in the caller's transaction, sent only after it commits."""

import pytest
from django.db import transaction

from outbox.models import OutboxEmail
from outbox.services import email_resend
from outbox.tests.factories import OutboxEmailFactory, queue_test_message

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    pass


def test_email_is_sent_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            email = queue_test_message(to="pat@example.org")
            assert OutboxEmail.objects.get().status == OutboxEmail.Status.READY
        assert mailoutbox == [], "nothing is sent before the commit"

    assert len(callbacks) == 1
    assert [message.to for message in mailoutbox] == [["pat@example.org"]]
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    assert email.sent_at is not None


def test_rolled_back_transaction_stores_and_sends_nothing(
    django_capture_on_commit_callbacks, mailoutbox
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RolledBack),
        transaction.atomic(),
    ):
        queue_test_message()
        raise RolledBack

    assert callbacks == []
    assert mailoutbox == []
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_real_commit_sends_and_real_rollback_does_not(mailoutbox):
    # No captured callbacks here: PostgreSQL commits and rolls back for real.
    with pytest.raises(RolledBack), transaction.atomic():
        queue_test_message(key="test_message:rolled-back")
        raise RolledBack
    assert mailoutbox == []

    with transaction.atomic():
        queue_test_message(key="test_message:committed")
        assert mailoutbox == []
    assert len(mailoutbox) == 1
    assert OutboxEmail.objects.get().unique_key == "test_message:committed"


def test_same_unique_key_twice_stores_one_email_and_sends_it_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        first = queue_test_message(key="account_created:7", name="Pat")
        second = queue_test_message(key="account_created:7", name="Someone else")
        # The duplicate rolled back only its savepoint: the caller carries on.
        assert OutboxEmail.objects.count() == 1

    assert second.pk == first.pk
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    assert "Hello Pat," in mailoutbox[0].body

    # Queued again later, after it went out: still nothing more.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = queue_test_message(key="account_created:7")
    assert again.pk == first.pk
    assert callbacks == []
    assert len(mailoutbox) == 1


def test_email_is_rendered_when_queued_text_unescaped_html_escaped(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_test_message(name="Pat O'Brien & <Sons>", about="student TP3-07-4412")

    # The subject template spans three lines; a header is one.
    assert email.subject == "SERS test message for Pat O'Brien & <Sons>"
    assert "Hello Pat O'Brien & <Sons>," in email.body_text
    assert "Hello Pat O&#x27;Brien &amp; &lt;Sons&gt;," in email.body_html
    for body in (email.body_text, email.body_html):
        assert "CTE Dual Credit – SERS" in body
        assert "info@PNWcollegecredit.org" in body
    assert email.kind == "test_message"
    assert email.about == "student TP3-07-4412"

    [message] = mailoutbox
    assert message.subject == email.subject
    assert message.body == email.body_text
    assert [(a.content, a.mimetype) for a in message.alternatives] == [
        (email.body_html, "text/html")
    ]
    assert message.from_email == "SERS <no-reply@pnwcollegecredit.org>"


def test_resend_turns_a_failed_email_back_to_ready_and_sends_it(
    django_capture_on_commit_callbacks, mailoutbox
):
    email = OutboxEmailFactory(
        status=OutboxEmail.Status.FAILED, attempts=7, last_error="SMTPDataError: 451 Busy"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert email_resend(email=email) is True
        assert email.status == OutboxEmail.Status.READY

    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    assert email.attempts == 8
    assert len(mailoutbox) == 1


def test_resend_leaves_a_sent_email_alone(django_capture_on_commit_callbacks, mailoutbox):
    email = OutboxEmailFactory(status=OutboxEmail.Status.SENT, attempts=1)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert email_resend(email=email) is False

    assert callbacks == []
    assert mailoutbox == []
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
