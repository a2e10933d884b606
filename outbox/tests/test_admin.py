"""Staff find emails in the admin and send the failed ones again."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outbox.models import OutboxEmail
from outbox.tests.factories import OutboxEmailFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:outbox_outboxemail_changelist")


def changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return len(queries)


def test_changelist_shows_status_as_a_word_with_the_same_queries_for_any_number_of_rows(
    admin_client,
):
    OutboxEmailFactory(subject="Welcome to SERS", status=OutboxEmail.Status.SENT)
    OutboxEmailFactory(subject="Class registered", status=OutboxEmail.Status.FAILED)
    few = changelist_queries(admin_client)

    OutboxEmailFactory.create_batch(10, kind="payment_received")
    many = changelist_queries(admin_client)

    assert many == few
    page = admin_client.get(CHANGELIST).text
    assert "Welcome to SERS" in page
    assert '<td class="field-status">Failed</td>' in page
    assert '<td class="field-status">Sent</td>' in page


def test_search_finds_a_students_emails_by_the_reference_staff_know(admin_client):
    OutboxEmailFactory(subject="Welcome to SERS", about="student TP3-07-4412")
    OutboxEmailFactory(subject="Payment received", about="student TP3-07-9999")

    for typed in ("TP3-07-4412", "tp3 07 4412", "074412"):
        page = admin_client.get(CHANGELIST, {"q": typed}).text

        assert "Welcome to SERS" in page, typed
        assert "Payment received" not in page


def test_resend_action_sends_failed_emails_and_leaves_sent_ones_alone(
    admin_client, django_capture_on_commit_callbacks, mailoutbox
):
    failed = OutboxEmailFactory(
        recipient="pat@example.org",
        status=OutboxEmail.Status.FAILED,
        attempts=7,
        last_error="ConnectionRefusedError: [Errno 111] Connection refused",
    )
    sent = OutboxEmailFactory(recipient="sam@example.org", status=OutboxEmail.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "resend", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["1 email queued to send again. 1 was already sent and was left alone."]
    assert [message.to for message in mailoutbox] == [["pat@example.org"]]
    failed.refresh_from_db()
    assert failed.status == OutboxEmail.Status.SENT
    assert failed.attempts == 8


def test_resend_from_the_emails_own_page(
    admin_client, django_capture_on_commit_callbacks, mailoutbox
):
    failed = OutboxEmailFactory(status=OutboxEmail.Status.FAILED, attempts=1)
    change_url = reverse("admin:outbox_outboxemail_change", args=[failed.pk])

    page = admin_client.get(change_url).text
    assert "Resend selected emails" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url,
            {"CHANGE_FORM-action": "resend", "_selected_action": [failed.pk]},
        )

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    failed.refresh_from_db()
    assert failed.status == OutboxEmail.Status.SENT


def test_staff_cannot_add_edit_or_delete_emails(admin_client):
    email = OutboxEmailFactory(subject="Welcome to SERS")
    change_url = reverse("admin:outbox_outboxemail_change", args=[email.pk])

    assert admin_client.get(reverse("admin:outbox_outboxemail_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:outbox_outboxemail_delete", args=[email.pk])).status_code
        == 403
    )
    admin_client.post(change_url, {"subject": "Edited"})
    email.refresh_from_db()
    assert email.subject == "Welcome to SERS"
