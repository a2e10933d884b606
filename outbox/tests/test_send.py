"""Sending: once per email however often the task runs, and what counts as worth a retry."""

import smtplib
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from outbox.delivery import is_transient
from outbox.models import OutboxEmail
from outbox.tasks import send_outbox_email, send_ready_emails
from outbox.tests.factories import OutboxEmailFactory, queue_test_message

pytestmark = pytest.mark.django_db


def test_task_run_twice_for_one_email_sends_it_once(mailoutbox):
    # Queued outside captured callbacks: in a test transaction nothing commits,
    # so only the two explicit runs below send.
    email = queue_test_message()

    first = send_outbox_email.apply(args=[email.pk])
    second = send_outbox_email.apply(args=[email.pk])

    assert (first.result, second.result) == ("sent", "skipped")
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.SENT
    assert email.attempts == 1


def test_task_for_a_failed_or_missing_email_sends_nothing(mailoutbox):
    failed = OutboxEmailFactory(status=OutboxEmail.Status.FAILED, attempts=3)

    assert send_outbox_email.apply(args=[failed.pk]).result == "skipped"
    assert send_outbox_email.apply(args=[failed.pk + 1000]).result == "skipped"
    assert mailoutbox == []
    failed.refresh_from_db()
    assert failed.attempts == 3


@pytest.mark.django_db(transaction=True)
def test_second_worker_waits_for_the_first_and_then_does_not_send_again(mailoutbox):
    email = OutboxEmailFactory()
    outcome = {}

    def second_worker():
        try:
            outcome["result"] = send_outbox_email.apply(args=[email.pk]).result
        finally:
            connection.close()

    # The first worker holds the row, as while its SMTP conversation is under way.
    with transaction.atomic():
        OutboxEmail.objects.select_for_update().get(pk=email.pk)
        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive(), "the second worker must wait for the row lock"
        OutboxEmail.objects.filter(pk=email.pk).update(
            status=OutboxEmail.Status.SENT, sent_at=timezone.now(), attempts=1
        )
    worker.join(timeout=10)

    assert outcome == {"result": "skipped"}
    assert mailoutbox == []
    assert OutboxEmail.objects.get(pk=email.pk).attempts == 1


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPConnectError(421, b"Too many connections"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), True),
        (smtplib.SMTPDataError(421, b"Service not available"), True),
        (smtplib.SMTPDataError(451, b"Local error in processing"), True),
        (smtplib.SMTPResponseException(452, b"Insufficient storage"), True),
        (smtplib.SMTPRecipientsRefused({"pat@example.org": (450, b"Mailbox busy")}), True),
        (smtplib.SMTPDataError(550, b"Rejected as spam"), False),
        (smtplib.SMTPDataError(554, b"Transaction failed"), False),
        (smtplib.SMTPRecipientsRefused({"pat@example.org": (550, b"No such user")}), False),
        (smtplib.SMTPSenderRefused(553, b"Sender not allowed", "no-reply@x.org"), False),
        (smtplib.SMTPAuthenticationError(535, b"Bad credentials"), False),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), False),
        (ValueError("Invalid address 'pat@'"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_which_errors_are_worth_a_retry(error, transient):
    assert is_transient(error) is transient


def test_safety_net_sends_emails_stuck_in_ready_and_nothing_else(mailoutbox):
    long_ago = timezone.now() - timedelta(minutes=30)
    stuck = OutboxEmailFactory(recipient="stuck@example.org")
    fresh = OutboxEmailFactory(recipient="fresh@example.org")
    waiting_for_retry = OutboxEmailFactory(
        recipient="waiting@example.org", retry_at=timezone.now() + timedelta(minutes=5)
    )
    retry_overdue = OutboxEmailFactory(
        recipient="overdue@example.org", retry_at=long_ago, attempts=2
    )
    failed = OutboxEmailFactory(recipient="failed@example.org", status=OutboxEmail.Status.FAILED)
    sent = OutboxEmailFactory(recipient="sent@example.org", status=OutboxEmail.Status.SENT)
    # created_at is set on insert; move the old ones back in time.
    OutboxEmail.objects.exclude(pk=fresh.pk).update(created_at=long_ago)

    assert send_ready_emails.apply().result == 2

    assert sorted(message.to[0] for message in mailoutbox) == [
        "overdue@example.org",
        "stuck@example.org",
    ]
    statuses = dict(OutboxEmail.objects.values_list("recipient", "status"))
    assert statuses == {
        stuck.recipient: "sent",
        retry_overdue.recipient: "sent",
        fresh.recipient: "ready",
        waiting_for_retry.recipient: "ready",
        failed.recipient: "failed",
        sent.recipient: "sent",
    }
