"""A queued email reaches a real Celery worker over the real Redis broker, and is sent once."""

import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import transaction

from outbox.models import OutboxEmail
from outbox.tasks import send_outbox_email
from outbox.tests.factories import queue_test_message
from sers.celery import app

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DEFAULT_QUEUE = "celery"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.REDIS_URL)
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    client.delete(DEFAULT_QUEUE)
    yield client
    app.conf.task_always_eager = was_eager
    client.delete(DEFAULT_QUEUE)
    client.close()


@pytest.fixture
def outcomes():
    """What each run of send_outbox_email on the worker returned."""
    seen = []

    def record(sender, retval, **kwargs):
        seen.append(retval)

    task_postrun.connect(record, sender=send_outbox_email, weak=False)
    yield seen
    task_postrun.disconnect(record, sender=send_outbox_email)


def wait_for(outcomes: list, count: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(outcomes) >= count:
            return True
        time.sleep(0.05)
    return False


def test_worker_sends_a_committed_email_once_even_when_its_task_arrives_twice(
    broker, outcomes, mailoutbox
):
    with transaction.atomic():
        email = queue_test_message(to="pat@example.org")
        assert broker.llen(DEFAULT_QUEUE) == 0, "nothing reaches the broker before the commit"
    assert broker.llen(DEFAULT_QUEUE) == 1
    # A second message for the same email, as after a redelivery or the safety net.
    send_outbox_email.delay(email.pk)

    with start_worker(app, perform_ping_check=False, shutdown_timeout=20):
        assert wait_for(outcomes, 2), f"the worker ran the task {len(outcomes)} of 2 times"

    assert sorted(outcomes) == ["sent", "skipped"]

    # The worker runs in this process, so the in-memory mailer is this test's.
    assert [message.to for message in mailoutbox] == [["pat@example.org"]]
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboxEmail.Status.SENT, 1)
