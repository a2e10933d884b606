"""Money that cannot go wrong: the journeys where a family could pay twice or be stuck.

Each runs on the real PostgreSQL through the local Stripe stand-in with the real client.
"""

import datetime as dt
import socket
import threading
import time
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.models import OutboxEmail
from payments.models import CheckoutSession, Payment, Waiver
from payments.selectors import FeeState, year_account
from payments.services.checkout import checkouts_reconcile, stripe_event_process
from payments.services.ledger import PaymentRefused
from payments.services.waivers import waiver_grant
from payments.tests.helpers import FEBRUARY, open_checkout, post_signed, registered_student
from registration.services import (
    prior_year_request_approve,
    prior_year_request_create,
)
from registration.tests.helpers import at, one_college_class, student_at


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


def fees_page(client, student):
    client.force_login(student.user)
    return client.get("/payments/").content.decode()


def emails(kind, student):
    return OutboxEmail.objects.filter(kind=kind, about__contains=student.sers_id)


# --- A bank payment on its way ------------------------------------------------------------------


@pytest.mark.django_db
def test_while_a_bank_transfer_settles_no_second_payment_is_offered_or_taken(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)  # "Pay by bank transfer"
    assert (
        post_signed(client, stripe_settings, checkout, "checkout.session.completed").status_code
        == 200
    )

    page = fees_page(client, student)
    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.PROCESSING
    assert ">Processing<" in page
    assert "started on February 1, 2027 and is processing" in page
    assert "We will email a receipt" in page
    assert "Pay $50.00 by card" not in page
    assert "check or money order" not in page

    response = client.post(
        "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
    )
    assert "is processing" in response.content.decode()
    with pytest.raises(PaymentRefused, match="is processing"):
        open_checkout(student, consortium)
    assert len(stripe_settings.sessions) == 1  # no second Checkout page at Stripe

    stripe_settings.settle(checkout.stripe_session_id, succeeded=True)
    post_signed(client, stripe_settings, checkout, "checkout.session.async_payment_succeeded")

    assert Payment.objects.get().amount == Decimal("50.00")
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert ">Paid<" in fees_page(client, student)


@pytest.mark.django_db
def test_a_failed_bank_transfer_makes_the_year_payable_again_and_says_so_once(
    client, stripe_settings, django_capture_on_commit_callbacks
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)
    post_signed(client, stripe_settings, checkout, "checkout.session.completed")
    stripe_settings.settle(checkout.stripe_session_id, succeeded=False)

    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, stripe_settings, checkout, "checkout.session.async_payment_failed")
        # Stripe sends it again (a retry with a new id, or the same one): still one email.
        post_signed(client, stripe_settings, checkout, "checkout.session.async_payment_failed")

    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.FAILED
    assert emails("payment_failed", student).count() == 1
    assert len([m for m in mail.outbox if "did not go through" in m.subject]) == 1
    assert year_account(student, consortium.pk, 2026).state == FeeState.UNPAID
    assert "Pay $50.00 by card" in fees_page(client, student)
    second = open_checkout(student, consortium)
    assert second.attempt == 2


@pytest.mark.django_db
def test_a_late_failure_event_after_a_recorded_payment_changes_nothing(
    client, stripe_settings, django_capture_on_commit_callbacks
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)
    post_signed(client, stripe_settings, checkout, "checkout.session.completed")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(
            client, stripe_settings, checkout, "checkout.session.async_payment_failed"
        )

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.COMPLETE
    checkout.student_year.refresh_from_db()
    assert not checkout.student_year.needs_attention
    assert not emails("payment_failed", student).exists()
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_completed_after_expired_records_the_money_and_expired_after_completed_changes_nothing(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)
    # We had closed the page on our side a moment before the card went through.
    CheckoutSession.objects.filter(pk=checkout.pk).update(status=CheckoutSession.Status.EXPIRED)

    post_signed(client, stripe_settings, checkout, "checkout.session.completed")
    post_signed(client, stripe_settings, checkout, "checkout.session.expired")

    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.COMPLETE
    assert Payment.objects.get().stripe_checkout_session_id == checkout.stripe_session_id
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID


# --- Webhook signatures -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signature_dated_in_the_future_beyond_the_tolerance_is_refused(client, stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)
    now = int(time.time())

    future = post_signed(
        client, stripe_settings, checkout, "checkout.session.completed", timestamp=now + 3600
    )
    assert future.status_code == 400
    assert not Payment.objects.exists()

    # A clock a minute apart is normal.
    near = post_signed(
        client, stripe_settings, checkout, "checkout.session.completed", timestamp=now + 60
    )
    assert near.status_code == 200
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_one_event_reads_the_fee_ledger_once(stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)

    with CaptureQueriesContext(connection) as queries:
        assert stripe_event_process(
            event_id="evt_test_once",
            event_type="checkout.session.completed",
            stripe_session_id=checkout.stripe_session_id,
        )

    ledger_reads = [q for q in queries if 'FROM "payments_waiver"' in q["sql"]]
    assert len(ledger_reads) == 1
    assert Payment.objects.count() == 1


# --- A lost webhook -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_paid_session_whose_webhook_was_lost_is_recorded_when_the_family_presses_pay_again(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)  # paid; the webhook never arrived
    assert "Pay $50.00 by card" in fees_page(client, student)

    response = client.post(
        "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
    )

    page = response.content.decode()
    payment = Payment.objects.get()
    assert f"went through (receipt {payment.receipt_number})" in page
    assert ">Paid<" in page
    assert "Pay $50.00 by card" not in page
    assert len(stripe_settings.sessions) == 1  # no second Checkout page: nobody pays $100
    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.COMPLETE
    assert emails("payment_receipt", student).count() == 1


@pytest.mark.django_db
def test_the_beat_job_records_a_lost_webhook_within_minutes_and_once(stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)  # no webhook URL: the event is lost

    assert checkouts_reconcile() == 0  # too soon: the webhook may still be on its way
    with time_machine.travel(dt.timedelta(minutes=6)):
        assert checkouts_reconcile() == 1
        assert checkouts_reconcile() == 0

    assert Payment.objects.count() == 1
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert emails("payment_receipt", student).count() == 1


@pytest.mark.django_db
def test_the_beat_job_closes_a_page_left_open_past_its_end_and_notes_a_bank_transfer(
    stripe_settings,
):
    student, consortium = registered_student()
    left_open = open_checkout(student, consortium)
    other, other_consortium = registered_student()
    transfer = open_checkout(other, other_consortium)
    stripe_settings.pay_later(transfer.stripe_session_id)  # its webhook is lost too

    with time_machine.travel(dt.timedelta(minutes=61)):
        assert checkouts_reconcile() == 2

    left_open.refresh_from_db()
    transfer.refresh_from_db()
    assert left_open.status == CheckoutSession.Status.EXPIRED
    assert stripe_settings.sessions[left_open.stripe_session_id]["status"] == "expired"
    assert transfer.status == CheckoutSession.Status.PROCESSING
    assert year_account(other, other_consortium.pk, 2026).state == FeeState.PROCESSING
    assert not Payment.objects.exists()


# --- What is owed changes while the family is on its way to pay ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_check_recorded_while_stripe_opens_the_page_is_not_blocked_and_the_page_is_not_used(
    client, stripe_settings, admin_user, monkeypatch
):
    from payments.tests.test_ledger import record_check

    student, consortium = registered_student()
    assert "Pay $50.00 by card" in fees_page(client, student)
    # The office records the mailed check just while Stripe is opening the card page. If the
    # year's row were locked during the call to Stripe, the office would wait (and time out).
    # checkout_start asks Stripe through the client its own module looks up.
    import payments.services.checkout as checkout_services

    real_client = checkout_services.stripe_client
    office = {}

    def stripe_client_with_office_at_work():
        stripe_client = real_client()
        create = stripe_client.v1.checkout.sessions.create

        def create_while_the_office_records_a_check(*args, **kwargs):
            def office_work():
                try:
                    record_check(student, consortium, staff=admin_user)
                    office["done"] = True
                finally:
                    connection.close()

            worker = threading.Thread(target=office_work)
            worker.start()
            worker.join(timeout=15)
            return create(*args, **kwargs)

        stripe_client.v1.checkout.sessions.create = create_while_the_office_records_a_check
        return stripe_client

    monkeypatch.setattr(checkout_services, "stripe_client", stripe_client_with_office_at_work)

    response = client.post(
        "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
    )

    assert office.get("done"), "the office's check had to wait for Stripe"
    assert "Nothing to pay for 2026-27: paid." in response.content.decode()
    assert not CheckoutSession.objects.exists()
    [session] = stripe_settings.sessions.values()
    assert session["status"] == "expired"  # the unused page can never take money
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID


@pytest.mark.django_db
def test_a_slow_stripe_gives_up_after_the_configured_timeout(client, settings):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    settings.STRIPE_SECRET_KEY = "sk_test_silent"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{silent.getsockname()[1]}"
    settings.STRIPE_TIMEOUT_SECONDS = 1
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    student, consortium = registered_student()
    try:
        started = time.monotonic()
        client.force_login(student.user)
        response = client.post(
            "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
        )
        waited = time.monotonic() - started
    finally:
        silent.close()

    assert "The card payment page is not answering" in response.content.decode()
    assert waited < 10  # not the client's default 80 s per try
    assert not CheckoutSession.objects.exists()


# --- Waivers --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_student_on_free_lunch_is_told_not_to_pay_while_the_waiver_is_checked(
    client, stripe_settings
):
    student, consortium = registered_student(free_reduced_lunch=True)

    page = fees_page(client, student)

    assert "Waiting for a decision" in page or "waiting for a decision" in page
    assert "You don&#x27;t need to pay while we check your waiver" in page
    assert "<summary" in page and "Pay anyway" in page  # only if the family insists
    assert "btn-lg" not in page  # no large pay button
    refused = client.post(
        "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
    )
    assert "need to pay while we check your waiver" in refused.content.decode()
    assert not stripe_settings.sessions
    insisted = client.post(
        "/payments/checkout/", {"consortium": consortium.pk, "year": 2026, "pay_anyway": "1"}
    )
    assert insisted.status_code == 303
    assert insisted["Location"].startswith(f"{stripe_settings.url}/checkout/")


@pytest.mark.django_db
def test_paying_anyway_then_a_granted_waiver_keeps_the_money_and_flags_the_year(
    client, stripe_settings, admin_user
):
    student, consortium = registered_student(free_reduced_lunch=True)
    fees_page(client, student)  # opens the waiting free-lunch waiver
    checkout = open_checkout(student, consortium, despite_waiver=True)
    stripe_settings.complete(checkout.stripe_session_id)
    post_signed(client, stripe_settings, checkout, "checkout.session.completed")

    assert waiver_grant(waiver=Waiver.objects.get(), staff_user=admin_user)

    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.OVERPAID
    assert Payment.objects.get().amount == Decimal("50.00")  # non-refundable: kept
    account.student_year.refresh_from_db()
    assert account.student_year.needs_attention


# --- An approved prior-year request is payable ----------------------------------------------------


def approved_prior_year(admin_user):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school, expected_graduation_year=2028)
    request = prior_year_request_create(
        student=student, course_class=last_year, articulation=None, note="Missed it."
    )
    assert prior_year_request_approve(request=request, staff_user=admin_user)
    return student, last_year.school.consortium


@pytest.mark.django_db
def test_an_approved_prior_year_is_payable_by_card_and_by_check_after_its_window(
    client, stripe_settings, admin_user
):
    student, consortium = approved_prior_year(admin_user)

    page = fees_page(client, student)

    assert "Pay $65.00 by card" in page
    assert "payment deadline" not in page
    assert f"payable to <strong>{consortium.name}</strong>" in page
    assert consortium.mailing_address.splitlines()[0] in page
    assert f"Write the SERS ID <strong>{student.sers_id}</strong>" in page
    response = client.post("/payments/checkout/", {"consortium": consortium.pk, "year": 2025})
    assert response.status_code == 303
    [session] = stripe_settings.sessions.values()
    assert session["amount_total"] == 6500

    client.logout()
    client.post(
        "/payments/pay/", {"sers_id": student.sers_id, "last_name": student.legal_last_name}
    )
    parent = client.get("/payments/pay/?continue=1").content.decode()
    assert "Pay $65.00 by card" in parent
    assert f"payable to <strong>{consortium.name}</strong>" in parent


@pytest.mark.django_db
def test_the_success_page_after_a_bank_transfer_says_since_when_and_what_happens_next(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)  # no webhook: the page learns it

    page = client.get(
        f"/payments/checkout/success/?session_id={checkout.stripe_session_id}"
    ).content.decode()

    assert "We are processing your payment" in page
    assert "$50.00 for 2026-27 started on February 1, 2027" in page
    assert "Please do not pay again" in page


@pytest.mark.django_db
def test_waiver_emails_on_a_paid_year_say_the_money_stays_and_nothing_is_owed(
    client, stripe_settings, admin_user, django_capture_on_commit_callbacks
):
    from payments.services.waivers import waiver_deny
    from payments.tests.test_ledger import record_check

    granted_student, granted_consortium = registered_student(free_reduced_lunch=True)
    denied_student, denied_consortium = registered_student(free_reduced_lunch=True)
    for student, consortium in (
        (granted_student, granted_consortium),
        (denied_student, denied_consortium),
    ):
        fees_page(client, student)  # opens the waiting free-lunch waiver
        record_check(student, consortium, staff=admin_user)  # the family paid anyway

    with django_capture_on_commit_callbacks(execute=True):
        waiver_grant(
            waiver=Waiver.objects.get(student_year__student=granted_student), staff_user=admin_user
        )
        waiver_deny(
            waiver=Waiver.objects.get(student_year__student=denied_student), staff_user=admin_user
        )

    [granted] = [m for m in mail.outbox if granted_student.email in m.to and "aiver" in m.subject]
    [denied] = [m for m in mail.outbox if denied_student.email in m.to and "aiver" in m.subject]
    assert "You pay nothing more for 2026-27" in granted.body
    assert "the $50.00 already paid is not paid back" in granted.body
    assert "Nothing is owed for 2026-27: paid." in denied.body
    assert "Pay it by" not in denied.body
