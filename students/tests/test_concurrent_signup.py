"""SERS IDs stay unique when many students sign up at the same moment (PostgreSQL)."""

import random
import threading

import pytest
from django.db import connection

from articulations.tests.factories import SchoolFactory
from sers.sers_id import format_sers_id
from students import services
from students.models import Student
from students.tests.helpers import sign_up

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
SIGNUPS_PER_THREAD = 5


def run_concurrently(work):
    errors = []
    start = threading.Barrier(THREADS)

    def worker(index):
        try:
            start.wait()
            for round_ in range(SIGNUPS_PER_THREAD):
                work(index, round_)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_sign_ups_get_distinct_ids_without_errors(monkeypatch):
    school = SchoolFactory()
    # Draw IDs from a pool twice the sign-ups, so clashes are certain
    # and the retry is exercised while the other transactions are still open.
    pool = [format_sers_id(number) for number in range(2 * THREADS * SIGNUPS_PER_THREAD)]
    monkeypatch.setattr(services, "random_sers_id", lambda: random.choice(pool))  # noqa: S311

    errors = run_concurrently(lambda index, round_: sign_up(school, f"student-{index}-{round_}"))

    assert errors == []
    ids = list(Student.objects.values_list("sers_id", flat=True))
    assert len(ids) == THREADS * SIGNUPS_PER_THREAD
    assert len(set(ids)) == len(ids)


def test_two_sign_ups_racing_for_one_username_give_one_account_and_a_message():
    school = SchoolFactory()
    outcomes = []

    def work(index, round_):
        if round_:
            return
        try:
            sign_up(school, "same-name")
            outcomes.append("created")
        except services.UsernameTaken as error:
            outcomes.append(str(error))

    errors = run_concurrently(work)

    assert errors == []
    assert outcomes.count("created") == 1
    assert outcomes.count("The username same-name is taken. Choose another one.") == THREADS - 1
    assert Student.objects.count() == 1
