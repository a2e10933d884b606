"""Sending through a real SMTP conversation: an aiosmtpd server on 127.0.0.1.

Django's test setup swaps every mailer for the in-memory one; these tests put
the SMTP backend back, pointed at the local server, inside each test. Celery
runs eagerly and propagates, so a task that asks for a retry raises Retry
here (with the countdown it asked for) and the test runs the retry itself,
as a worker would once the countdown is over.
"""

import email
import email.policy
import socket
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from django.db import transaction
from django.test import override_settings

from outbox.models import OutboxEmail
from outbox.tasks import send_outbox_email
from outbox.tests.factories import queue_test_message

pytestmark = pytest.mark.django_db

ACCEPTED = "250 Message accepted for delivery"


class ScriptedHandler:
    """Answers DATA (and RCPT) with the scripted replies in turn, then accepts."""

    def __init__(self, *, data=(), rcpt=()):
        self.data_replies = list(data)
        self.rcpt_replies = list(rcpt)
        self.received: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_replies.pop(0) if self.data_replies else ACCEPTED
        if reply.startswith("250"):
            self.received.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_mailer(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


@contextmanager
def smtp_server(handler: ScriptedHandler):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(MAILERS=smtp_mailer(port)):
            yield
    finally:
        controller.stop()


def queued_but_not_sent(**fields) -> OutboxEmail:
    # The test's transaction never commits, so the on-commit send never runs:
    # each test drives the attempts itself.
    return queue_test_message(**fields)


def test_temporary_421_is_recorded_retried_and_then_sent_once(mailoutbox):
    handler = ScriptedHandler(data=["421 4.3.2 Service not available, try again later"])
    queued = queued_but_not_sent(to="pat@example.org", name="Pat")

    with smtp_server(handler):
        with pytest.raises(Retry) as retry:
            send_outbox_email.apply(args=[queued.pk])

        # The first run kept its record although it ended in Retry.
        assert retry.value.when == 60
        waiting = OutboxEmail.objects.get(pk=queued.pk)
        assert waiting.status == OutboxEmail.Status.READY
        assert waiting.attempts == 1
        assert waiting.last_error == (
            "SMTPDataError: 421 4.3.2 Service not available, try again later"
        )
        assert waiting.retry_at is not None
        assert handler.received == []

        result = send_outbox_email.apply(args=[queued.pk], retries=1)

    assert result.result == "sent"
    sent = OutboxEmail.objects.get(pk=queued.pk)
    assert sent.status == OutboxEmail.Status.SENT
    assert sent.attempts == 2
    assert sent.sent_at is not None

    [message] = handler.received
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "SERS test message for Pat"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Pat," in text
    assert '<p style="margin:0 0 16px;">Hello Pat,</p>' in html
    assert mailoutbox == [], "the mail went over SMTP, not to the test mailbox"


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (
            ScriptedHandler(rcpt=["550 5.1.1 Mailbox does not exist"]),
            "SMTPRecipientsRefused: pat@example.org: 550 5.1.1 Mailbox does not exist",
        ),
        (
            ScriptedHandler(data=["554 5.7.1 Message rejected as spam"]),
            "SMTPDataError: 554 5.7.1 Message rejected as spam",
        ),
    ],
    ids=["recipient refused", "message refused"],
)
def test_permanent_5xx_marks_the_email_failed_without_retry(handler, error):
    queued = queued_but_not_sent(to="pat@example.org")

    with smtp_server(handler):
        # No Retry raised: the task ends normally, with the failure on the row.
        result = send_outbox_email.apply(args=[queued.pk])

    assert result.result == "failed"
    assert handler.received == []
    failed = OutboxEmail.objects.get(pk=queued.pk)
    assert failed.status == OutboxEmail.Status.FAILED
    assert failed.attempts == 1
    assert failed.last_error == error
    assert failed.retry_at is None
    assert failed.sent_at is None


def test_server_not_listening_is_retried_with_growing_waits_then_marked_failed():
    queued = queued_but_not_sent()
    closed_port = free_port()  # nothing listens there once the probe closes

    countdowns = []
    with override_settings(MAILERS=smtp_mailer(closed_port)):
        for retries in range(6):
            with pytest.raises(Retry) as retry:
                send_outbox_email.apply(args=[queued.pk], retries=retries)
            countdowns.append(retry.value.when)
            waiting = OutboxEmail.objects.get(pk=queued.pk)
            assert (waiting.status, waiting.attempts) == ("ready", retries + 1)
            assert waiting.last_error.startswith("ConnectionRefusedError:")
        # The seventh attempt has no retry left.
        result = send_outbox_email.apply(args=[queued.pk], retries=6)

    assert countdowns == [60, 120, 240, 480, 960, 1920]
    assert result.result == "failed"
    failed = OutboxEmail.objects.get(pk=queued.pk)
    assert failed.status == OutboxEmail.Status.FAILED
    assert failed.attempts == 7
    assert failed.last_error.startswith("ConnectionRefusedError:")


@pytest.mark.django_db(transaction=True)
def test_unreachable_server_at_commit_does_not_break_the_callers_commit():
    # In the embedded run the task runs inside the on-commit callback. A mail
    # server that does not answer must not undo or break the committed change.
    with override_settings(MAILERS=smtp_mailer(free_port())), transaction.atomic():
        queue_test_message()

    email = OutboxEmail.objects.get()
    assert email.status == OutboxEmail.Status.READY
    assert email.attempts == 1
    assert email.retry_at is not None, "left for the retry or the safety net"
