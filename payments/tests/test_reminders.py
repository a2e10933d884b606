"""The reminder before the payment deadline: unpaid students only, once each."""

import pytest

from payments.services import payment_reminders_send
from payments.tests.helpers import registered_student
from payments.tests.test_ledger import record_check
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
