"""The reminder before the payment deadline: unpaid students only, once each."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.models import ConsortiumYear
from payments.services.reminders import payment_reminders_send
from payments.tests.helpers import registered_student
from payments.tests.test_ledger import record_check
from registration.models import Registration
from registration.tests.helpers import at

pytestmark = pytest.mark.django_db


def test_unpaid_students_are_reminded_once_in_the_last_two_weeks(
    admin_user, django_capture_on_commit_callbacks, mailoutbox
):
    unpaid, _ = registered_student()
    paid, consortium = registered_student()
    with at(2027, 2, 1, 10, 0):
        record_check(paid, consortium, staff=admin_user)
    mailoutbox.clear()

    with at(2027, 5, 20, 9, 0):
        assert payment_reminders_send() == 0  # too early
    with at(2027, 6, 5, 9, 0), django_capture_on_commit_callbacks(execute=True):
        assert payment_reminders_send() == 1
        assert payment_reminders_send() == 0  # the next day's run sends nothing again
    with at(2027, 6, 16, 9, 0):
        assert payment_reminders_send() == 0  # the window closed

    assert [message.to for message in mailoutbox] == [[unpaid.email]]
    message = mailoutbox[0]
    assert "June 15, 2027" in message.subject
    assert unpaid.sers_id in message.body
    assert "$50.00" in message.body


def test_the_reminder_says_what_is_left_after_a_part_payment_and_skips_what_is_not_owed(
    admin_user, django_capture_on_commit_callbacks, mailoutbox
):
    part_paid, consortium = registered_student()
    with at(2027, 2, 1, 10, 0):
        record_check(part_paid, consortium, amount="30.00", staff=admin_user)
    nothing_owed, other = registered_student()
    ConsortiumYear.objects.create(
        consortium=other, school_year_id=2026, consortium_fee=Decimal("0.00")
    )
    mailoutbox.clear()

    with at(2027, 6, 5, 9, 0), django_capture_on_commit_callbacks(execute=True):
        assert payment_reminders_send() == 1

    [message] = mailoutbox
    assert message.to == [part_paid.email]
    assert "You still owe $20.00." in message.body
    assert "$50.00" not in message.body
    assert "$20.00" in message.alternatives[0][0]
    assert message.subject.startswith("Reminder: pay your 2026-27 fee by June 15, 2027")


def test_working_out_who_owes_takes_the_same_queries_for_one_student_or_many():
    registered_student()
    course_class = Registration.objects.get().course_class

    def rerun_queries():
        with at(2027, 6, 5, 9, 0):
            payment_reminders_send()  # sends to whoever is new
            with CaptureQueriesContext(connection) as rerun:
                assert payment_reminders_send() == 0  # everyone already reminded: reads only
        return len(rerun.captured_queries)

    one = rerun_queries()
    for _ in range(3):
        registered_student(course_class=course_class)

    assert rerun_queries() == one
