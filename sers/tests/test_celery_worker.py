"""Tasks queued on commit reach a real worker over the real Redis broker."""

import time
import uuid

import pytest
import redis
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import transaction

from sers.celery import app

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DEFAULT_QUEUE = "celery"


@shared_task(name="sers.tests.set_marker")
def set_marker(key: str) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(key, "done", ex=60)


class RolledBack(Exception):
    pass


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


def wait_for_key(client: redis.Redis, key: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.exists(key):
            return True
        time.sleep(0.05)
    return False


def test_task_is_sent_on_commit_and_runs_on_a_real_worker_but_not_after_rollback(broker):
    rolled_back_key = f"test-marker-{uuid.uuid4()}"
    committed_key = f"test-marker-{uuid.uuid4()}"

    with pytest.raises(RolledBack), transaction.atomic():
        set_marker.delay_on_commit(rolled_back_key)
        raise RolledBack
    assert broker.llen(DEFAULT_QUEUE) == 0, "a rolled-back transaction must queue nothing"

    with transaction.atomic():
        set_marker.delay_on_commit(committed_key)
        assert broker.llen(DEFAULT_QUEUE) == 0, "nothing is sent before the commit"
    assert broker.llen(DEFAULT_QUEUE) == 1, "the commit sends exactly one message"

    # The worker only starts now, so the queue above is what it finds: one message.
    with start_worker(app, perform_ping_check=False, shutdown_timeout=20):
        assert wait_for_key(broker, committed_key), "the worker did not run the committed task"

    assert not broker.exists(rolled_back_key)
    assert broker.llen(DEFAULT_QUEUE) == 0
    broker.delete(committed_key)
