"""Two tabs submitting the same registration at once (PostgreSQL, real transactions)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from registration.models import Registration
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db(transaction=True)

TABS = 4


@pytest.fixture(autouse=True)
def february():
    # Sessions are made after the time travel, or they would expire on arrival.
    with at(2027, 2, 1, 10, 0):
        yield


def test_simultaneous_submits_give_one_registration_and_friendly_pages():
    course_class = one_college_class()
    student = student_at(course_class.school)
    tabs = [Client() for _ in range(TABS)]
    for tab in tabs:
        tab.force_login(student.user)
    start = threading.Barrier(TABS)
    responses, errors = [], []

    def submit(tab):
        try:
            start.wait()
            responses.append(tab.post("/registrations/new/", {"course_class": course_class.pk}))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(tab,)) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Registration.objects.count() == 1
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (TABS - 1) + [302]
    for response in responses:
        if response.status_code == 200:
            assert (
                f"You already registered {course_class.course_name} for 2026-27"
                in response.content.decode()
            )
