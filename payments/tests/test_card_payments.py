"""Card payments through Stripe Checkout: the real client, the local stand-in, signed webhooks."""

import json
import threading
import urllib.request
from decimal import Decimal

import pytest
import stripe
from django.conf import settings
from django.core import mail

from outbox.models import OutboxEmail
from payments.models import CheckoutSession, Payment, StripeEvent, StripeWebhookFailure
from payments.selectors import FeeState, year_account
from payments.services.checkout import stripe_event_process
from payments.tests.helpers import FEBRUARY, open_checkout, post_signed, registered_student
from registration.tests.helpers import at


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


def post_webhook(live_server, payload, signature):
    request = urllib.request.Request(  # noqa: S310 - the live server on 127.0.0.1
        f"{live_server.url}/payments/stripe/webhook/",
        data=payload.encode(),
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def receipts_for(student):
    return OutboxEmail.objects.filter(kind="payment_receipt", about__contains=student.sers_id)


@pytest.mark.django_db(transaction=True)
def test_the_full_card_journey_records_one_payment_and_one_receipt(stripe_to_live_server):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    session = stripe_to_live_server.sessions[checkout.stripe_session_id]
    assert session["amount_total"] == 5000
    assert session["client_reference_id"] == f"student-year-{checkout.student_year_id}"
    assert session["metadata"]["sers_id"] == student.sers_id

    event = stripe_to_live_server.complete(checkout.stripe_session_id)

    delivered = [
        record for record in stripe_to_live_server.events if record["event"]["id"] == event["id"]
    ]
    assert delivered[0]["delivery"]["status"] == 200
    payment = Payment.objects.get()
    assert payment.amount == Decimal("50.00")
    assert payment.method == Payment.Method.CARD
    assert payment.stripe_payment_intent_id.startswith("pi_test_")
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert receipts_for(student).count() == 1
    assert [message for message in mail.outbox if payment.receipt_number in message.subject]


@pytest.mark.django_db(transaction=True)
def test_one_event_replayed_20_times_at_once_and_the_success_page_give_one_payment(
    stripe_settings, live_server, settings
):
    settings.SITE_URL = live_server.url
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)  # paid at Stripe; no webhook URL yet
    payload, signature = stripe_settings.event_for(
        checkout.stripe_session_id, "checkout.session.completed", event_id="evt_test_replayed"
    )
    start = threading.Barrier(21)
    statuses = []

    def deliver():
        start.wait()
        statuses.append(post_webhook(live_server, payload, signature))

    def success_page():
        start.wait()
        url = (
            f"{live_server.url}/payments/checkout/success/?session_id={checkout.stripe_session_id}"
        )
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the live server
            statuses.append(response.status)

    threads = [threading.Thread(target=deliver) for _ in range(20)] + [
        threading.Thread(target=success_page)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses.count(200) == 21
    assert Payment.objects.count() == 1
    assert StripeEvent.objects.filter(event_id="evt_test_replayed").count() == 1
    assert receipts_for(student).count() == 1


@pytest.mark.django_db
def test_a_bad_signature_is_refused_and_records_nothing(client, stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)
    payload, _ = stripe_settings.event_for(checkout.stripe_session_id, "checkout.session.completed")
    forged = "t=1700000000,v1=" + "0" * 64

    for signature in (forged, ""):
        response = client.post(
            "/payments/stripe/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 400
    assert not Payment.objects.exists()
    assert not StripeEvent.objects.exists()


@pytest.mark.django_db
def test_a_signed_event_of_another_kind_is_acknowledged_and_ignored(client, stripe_settings):
    student, consortium = registered_student()
    open_checkout(student, consortium)
    payload = json.dumps(
        {
            "id": "evt_test_other",
            "object": "event",
            "type": "customer.created",
            "data": {"object": {"id": "cus_1"}},
        }
    )
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, settings.STRIPE_WEBHOOK_SECRET
    )

    response = client.post(
        "/payments/stripe/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )

    assert response.status_code == 200
    assert not StripeEvent.objects.exists()


@pytest.mark.django_db
def test_while_stripe_is_unreachable_the_webhook_answers_503_and_the_retry_records_once(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)  # paid at Stripe; no webhook URL yet

    def deliver():
        # Stripe's retry: the same event id, signed again.
        payload, signature = stripe_settings.event_for(
            checkout.stripe_session_id, "checkout.session.completed", event_id="evt_test_outage"
        )
        return client.post(
            "/payments/stripe/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )

    stripe_settings.stop()  # the session cannot be re-read from Stripe
    try:
        outage = deliver()
    finally:
        stripe_settings.start()  # the same address again: Stripe is back

    assert outage.status_code == 503  # so Stripe sends the event again
    failure = StripeWebhookFailure.objects.get()
    assert failure.event_id == "evt_test_outage"
    assert failure.type == "checkout.session.completed"
    assert "APIConnectionError" in failure.error
    assert not Payment.objects.exists()
    assert not StripeEvent.objects.exists()  # not marked handled: the retry must act

    assert deliver().status_code == 200
    assert deliver().status_code == 200

    payment = Payment.objects.get()
    assert payment.stripe_checkout_session_id == checkout.stripe_session_id
    assert StripeEvent.objects.filter(event_id="evt_test_outage").count() == 1
    assert receipts_for(student).count() == 1
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert StripeWebhookFailure.objects.count() == 1


@pytest.mark.django_db
def test_processing_an_event_reports_a_failure_and_keeps_it_for_staff(stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)
    event = dict(
        event_id="evt_test_down",
        event_type="checkout.session.completed",
        stripe_session_id=checkout.stripe_session_id,
    )

    stripe_settings.stop()
    try:
        assert stripe_event_process(**event) is False
    finally:
        stripe_settings.start()

    assert StripeWebhookFailure.objects.filter(event_id="evt_test_down").count() == 1
    assert not Payment.objects.exists()
    assert stripe_event_process(**event) is True
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_expired_session_records_nothing_and_the_next_click_opens_a_new_one(
    stripe_to_live_server,
):
    student, consortium = registered_student()
    first = open_checkout(student, consortium)

    stripe_to_live_server.expire(first.stripe_session_id)

    first.refresh_from_db()
    assert first.status == CheckoutSession.Status.EXPIRED
    assert not Payment.objects.exists()
    second = open_checkout(student, consortium)
    assert second.pk != first.pk and second.attempt == 2


@pytest.mark.django_db
def test_clicking_pay_again_reuses_the_open_session(stripe_settings):
    student, consortium = registered_student()

    first = open_checkout(student, consortium)
    again = open_checkout(student, consortium)

    assert first == again
    assert len(stripe_settings.sessions) == 1


@pytest.mark.django_db
def test_the_success_page_confirms_early_without_waiting_for_the_webhook(client, stripe_settings):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.complete(checkout.stripe_session_id)  # no webhook URL: nothing delivered
    client.force_login(student.user)

    page = client.get(
        f"/payments/checkout/success/?session_id={checkout.stripe_session_id}"
    ).content.decode()

    assert "Payment received" in page
    assert Payment.objects.get().receipt_number in page
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID


@pytest.mark.django_db
def test_until_stripe_confirms_the_success_page_says_processing_never_failed(
    client, stripe_settings, django_capture_on_commit_callbacks
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)
    client.force_login(student.user)
    url = f"/payments/checkout/success/?session_id={checkout.stripe_session_id}"

    page = client.get(url).content.decode()
    assert "We are processing your payment" in page
    assert "failed" not in page.lower()

    payload, signature = stripe_settings.event_for(
        checkout.stripe_session_id, "checkout.session.async_payment_failed"
    )
    stripe_settings.settle(checkout.stripe_session_id, succeeded=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/payments/stripe/webhook/",
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )

    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.FAILED
    assert not Payment.objects.exists()
    student_year = checkout.student_year
    student_year.refresh_from_db()
    assert student_year.needs_attention  # on the office's list
    assert checkout.stripe_session_id in student_year.attention_note
    [notice] = [message for message in mail.outbox if "did not go through" in message.subject]
    assert notice.to == [student.email]
    assert "2026-27" in notice.subject
    assert "$50.00 payment" in notice.body
    fees = client.get("/payments/").content.decode()
    assert "Pay $50.00 by card" in fees


@pytest.mark.django_db
def test_a_card_payment_for_a_year_already_paid_is_kept_and_flagged(
    client, stripe_settings, admin_user
):
    from payments.tests.test_ledger import record_check

    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)  # the bank transfer is on its way
    record_check(student, consortium, staff=admin_user)  # meanwhile a check arrives

    stripe_settings.settle(checkout.stripe_session_id, succeeded=True)
    payload, signature = stripe_settings.event_for(
        checkout.stripe_session_id, "checkout.session.async_payment_succeeded"
    )
    response = client.post(
        "/payments/stripe/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )

    assert response.status_code == 200
    card = Payment.objects.get(method=Payment.Method.CARD)
    assert card.is_overpayment
    assert card.student_year.needs_attention
    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.OVERPAID
    assert account.balance == Decimal("-50.00")


@pytest.mark.django_db
def test_recording_a_check_first_closes_the_open_card_page(stripe_settings, admin_user):
    from payments.tests.test_ledger import record_check

    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)

    record_check(student, consortium, staff=admin_user)

    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.EXPIRED
    assert stripe_settings.sessions[checkout.stripe_session_id]["status"] == "expired"


@pytest.mark.django_db
def test_the_pay_button_takes_the_student_to_the_stripe_page(client, stripe_settings):
    student, consortium = registered_student()
    client.force_login(student.user)

    page = client.get("/payments/").content.decode()
    assert "Pay $50.00 by card" in page
    assert "non-refundable" in page
    response = client.post("/payments/checkout/", {"consortium": consortium.pk, "year": 2026})

    assert response.status_code == 303
    assert response["Location"].startswith(f"{stripe_settings.url}/checkout/cs_test_")


@pytest.mark.django_db
def test_pay_is_refused_on_the_page_after_the_window(client, stripe_settings):
    student, consortium = registered_student()

    with at(2027, 6, 20, 10, 0):
        client.force_login(student.user)
        page = client.get("/payments/").content.decode()
        response = client.post(
            "/payments/checkout/", {"consortium": consortium.pk, "year": 2026}, follow=True
        )

    assert "Pay $50.00 by card" not in page
    assert "The payment deadline for 2026-27 was June 15, 2027." in page
    assert "The payment deadline for 2026-27 was June 15, 2027." in response.content.decode()
    assert not stripe_settings.sessions


@pytest.mark.django_db
def test_after_a_failed_bank_payment_the_success_page_says_it_did_not_go_through(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.pay_later(checkout.stripe_session_id)
    stripe_settings.settle(checkout.stripe_session_id, succeeded=False)
    post_signed(client, stripe_settings, checkout, "checkout.session.async_payment_failed")
    client.force_login(student.user)

    page = client.get(
        f"/payments/checkout/success/?session_id={checkout.stripe_session_id}"
    ).content.decode()

    assert "Your payment did not go through" in page
    assert "Nothing was charged." in page
    assert "We are processing your payment" not in page
    assert "You do not need to pay again" not in page
    assert 'href="/payments/"' in page
    assert 'href="/payments/pay/"' in page  # a parent can pay too
    assert "$50.00" in page


@pytest.mark.django_db
def test_an_expired_session_on_the_success_page_sends_a_parent_back_to_the_pay_page(
    client, stripe_settings
):
    student, consortium = registered_student()
    checkout = open_checkout(student, consortium)
    stripe_settings.expire(checkout.stripe_session_id)  # no webhook URL: the page learns it first

    page = client.get(
        f"/payments/checkout/success/?session_id={checkout.stripe_session_id}"
    ).content.decode()

    checkout.refresh_from_db()
    assert checkout.status == CheckoutSession.Status.EXPIRED
    assert "Your payment did not go through" in page
    assert "Nothing was charged." in page
    assert "You do not need to pay again" not in page
    assert "Pay again on the parent pay page" in page
