"""The Stripe stand-in, driven by the real `stripe` client and a tiny local webhook receiver.

No database: these tests only need 127.0.0.1.
"""

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import stripe
import time_machine

from stripe_standin import RETRY_DELAYS, StandinError, StripeStandin, parse_stripe_form

SECRET = "whsec_standin_tests"
SUCCESS_URL = "http://127.0.0.1:8000/payments/done/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://127.0.0.1:8000/payments/"


def fee_params(**overrides) -> dict:
    """What the app sends for one student's yearly fee."""
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 5000,
                    "product_data": {"name": "CTE Dual Credit fee 2026-27"},
                },
            }
        ],
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "client_reference_id": "41",
        "metadata": {"student_year": "12"},
        "customer_email": "student@example.com",
        "payment_intent_data": {
            "description": "CTE Dual Credit fee",
            "metadata": {"for": "the PaymentIntent"},
        },
        **overrides,
    }


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.received.append(
            {
                "path": self.path,
                "signature": self.headers["Stripe-Signature"],
                "body": body,
                "at": time.monotonic(),
            }
        )
        if self.server.on_post:
            self.server.on_post()
        # `answers` first, one per request, then `answer_status` for the rest.
        status = self.server.answers.pop(0) if self.server.answers else self.server.answer_status
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    """A webhook endpoint on 127.0.0.1 that records what it receives and answers 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []
    server.answers = []
    server.answer_status = 200
    server.on_post = None
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def standin(receiver):
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/payments/stripe/webhook/"
    with StripeStandin(webhook_url=webhook_url, webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
def fast_standin(receiver):
    """A stand-in whose retries come after tenths of a second."""
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/payments/stripe/webhook/"
    with StripeStandin(
        webhook_url=webhook_url, webhook_secret=SECRET, retry_delays=(0.1, 0.2, 0.3)
    ) as running:
        yield running


@pytest.fixture
def client(standin):
    return stripe.StripeClient("sk_test_standin", base_addresses={"api": standin.url})


@pytest.fixture
def session(client):
    return client.v1.checkout.sessions.create(params=fee_params())


def fetch(standin, method: str, path: str) -> tuple[int, dict, str]:
    """One raw request, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def verified(delivery: dict) -> stripe.Event:
    return stripe.Webhook.construct_event(delivery["body"], delivery["signature"], SECRET)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def new_session(standin, **overrides):
    client = stripe.StripeClient("sk_test_standin", base_addresses={"api": standin.url})
    return client.v1.checkout.sessions.create(params=fee_params(**overrides))


# --- API through the real client ------------------------------------------------------------------


def test_create_retrieve_expire(client, standin):
    before = int(time.time())
    created = client.v1.checkout.sessions.create(
        params=fee_params(), options={"idempotency_key": "fee:41:1"}
    )

    assert created.id.startswith("cs_test_")
    assert created.object == "checkout.session"
    assert (created.status, created.payment_status, created.payment_intent) == (
        "open",
        "unpaid",
        None,
    )
    assert (created.amount_subtotal, created.amount_total, created.currency) == (5000, 5000, "usd")
    assert created.client_reference_id == "41"
    assert created.metadata.to_dict() == {"student_year": "12"}
    assert created.customer_email == "student@example.com"
    assert created.success_url == SUCCESS_URL  # the placeholder stays until the redirect
    assert created.url == f"{standin.url}/checkout/{created.id}"
    assert created.livemode is False
    assert before + 24 * 3600 <= created.expires_at <= int(time.time()) + 24 * 3600

    retrieved = client.v1.checkout.sessions.retrieve(created.id)
    assert retrieved.to_dict() == created.to_dict()

    expired = client.v1.checkout.sessions.expire(created.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert standin.sessions[created.id]["status"] == "expired"


def test_line_items_and_expand(client, session):
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(item.description, item.quantity, item.amount_total) for item in items] == [
        ("CTE Dual Credit fee 2026-27", 1, 5000)
    ]
    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert expanded.line_items.data[0].price.unit_amount == 5000


def test_amount_is_the_sum_of_unit_amount_times_quantity(client):
    items = [
        {
            "quantity": 2,
            "price_data": {
                "currency": "usd",
                "unit_amount": 2500,
                "product_data": {"name": "Fee"},
            },
        },
        {
            "quantity": 1,
            "price_data": {
                "currency": "usd",
                "unit_amount": 1000,
                "product_data": {"name": "Late fee"},
            },
        },
    ]
    created = client.v1.checkout.sessions.create(params=fee_params(line_items=items))
    assert created.amount_total == 6000


def test_same_idempotency_key_and_params_returns_the_same_session(client, standin):
    options = {"idempotency_key": "fee:41:1"}
    first = client.v1.checkout.sessions.create(params=fee_params(), options=options)
    again = client.v1.checkout.sessions.create(params=fee_params(), options=options)

    assert again.id == first.id
    assert list(standin.sessions) == [first.id]


def test_same_idempotency_key_with_other_params_is_refused(client, standin):
    options = {"idempotency_key": "fee:41:1"}
    client.v1.checkout.sessions.create(params=fee_params(), options=options)

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.checkout.sessions.create(
            params=fee_params(metadata={"student_year": "13"}), options=options
        )
    assert raised.value.http_status == 400
    assert len(standin.sessions) == 1


def test_without_a_key_every_create_is_a_new_session(client, standin):
    # The client invents a fresh Idempotency-Key per call when the caller gives none.
    client.v1.checkout.sessions.create(params=fee_params())
    client.v1.checkout.sessions.create(params=fee_params())
    assert len(standin.sessions) == 2


@pytest.mark.parametrize("api_key", ["sk_live_realmoney1234", "pk_test_publishable", "nonsense"])
def test_only_test_secret_keys_are_accepted(standin, api_key):
    client = stripe.StripeClient(api_key, base_addresses={"api": standin.url})
    with pytest.raises(stripe.AuthenticationError):
        client.v1.checkout.sessions.create(params=fee_params())
    assert standin.sessions == {}


def test_unknown_session_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve("cs_test_nothere")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


def test_only_open_sessions_can_be_expired(client, session):
    client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(stripe.InvalidRequestError, match="status of `open` can be expired"):
        client.v1.checkout.sessions.expire(session.id)


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        # A Decimal reaches the wire as "50.00": money must be cents by the time it leaves.
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": Decimal("50.00"),
                            "product_data": {"name": "Fee"},
                        },
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        ({"line_items": []}, "line_items"),
        ({"expires_at": int(time.time()) + 3 * 24 * 3600}, "expires_at"),
        ({"success_url": "not a url"}, "success_url"),
        ({"mode": "subscription"}, "mode"),
        ({"custmer_email": "typo@example.com"}, "custmer_email"),
    ],
)
def test_invalid_params_are_refused_like_stripe(client, standin, overrides, param):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params=fee_params(**overrides))
    assert raised.value.http_status == 400
    assert raised.value.param == param
    assert standin.sessions == {}


def test_retries_and_telemetry_do_not_disturb_it(standin):
    # Telemetry sends the previous Request-Id in a header on the next call; retries reuse keys.
    client = stripe.StripeClient(
        "sk_test_standin", base_addresses={"api": standin.url}, max_network_retries=2
    )
    first = client.v1.checkout.sessions.create(params=fee_params())
    assert client.v1.checkout.sessions.retrieve(first.id).id == first.id


# --- Hosted page and webhooks ----------------------------------------------------------------------


def test_hosted_page_is_marked_as_a_test_and_shows_the_amount(standin, session):
    status, headers, page = fetch(standin, "GET", urlsplit(session.url).path)

    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "TEST PAYMENT – no real money is charged" in page
    assert 'name="viewport"' in page
    assert "CTE Dual Credit fee 2026-27" in page
    assert "Pay $50.00 with a test card" in page
    assert "Pay by bank transfer (test: settles later)" in page
    assert f'href="{CANCEL_URL}"' in page


def test_pay_marks_paid_delivers_a_signed_webhook_and_redirects(standin, receiver, session):
    status, headers, _ = fetch(standin, "POST", f"/checkout/{session.id}/pay")

    assert status == 303
    assert headers["Location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session.id)
    [delivery] = receiver.received
    assert delivery["path"] == "/payments/stripe/webhook/"
    event = verified(delivery)
    assert event.type == "checkout.session.completed"
    assert event.id.startswith("evt_test_")
    assert event.api_version == stripe.api_version
    paid = event.data.object
    assert (paid.id, paid.status, paid.payment_status) == (session.id, "complete", "paid")
    assert paid.payment_intent.startswith("pi_test_")
    assert paid.metadata.student_year == "12"
    assert standin.sessions[session.id]["payment_status"] == "paid"
    assert standin.events[0]["delivery"]["status"] == 200


def test_a_wrong_secret_does_not_verify(standin, receiver, session):
    standin.complete(session.id)
    delivery = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery["body"], delivery["signature"], "whsec_other")


def test_a_paid_session_shows_a_message_instead_of_buttons(standin, session):
    standin.complete(session.id)
    _, _, page = fetch(standin, "GET", f"/checkout/{session.id}")
    assert "This payment is complete." in page
    assert "with a test card" not in page

    status, _, page = fetch(standin, "POST", f"/checkout/{session.id}/pay")
    assert status == 400  # a second payment is refused, no second event
    assert len(standin.events) == 1


@pytest.mark.parametrize(
    ("succeeded", "event_type", "payment_status"),
    [
        (True, "checkout.session.async_payment_succeeded", "paid"),
        (False, "checkout.session.async_payment_failed", "unpaid"),
    ],
)
def test_pay_later_then_settle(standin, receiver, session, succeeded, event_type, payment_status):
    status, headers, _ = fetch(standin, "POST", f"/checkout/{session.id}/pay-later")
    assert status == 303
    assert session.id in headers["Location"]
    started = verified(receiver.received[0])
    assert started.type == "checkout.session.completed"
    assert (started.data.object.status, started.data.object.payment_status) == (
        "complete",
        "unpaid",
    )

    settled = standin.settle(session.id, succeeded=succeeded)

    assert settled["type"] == event_type
    delivered = verified(receiver.received[1])
    assert delivered.id == settled["id"]
    assert delivered.data.object.payment_status == payment_status
    assert standin.sessions[session.id]["payment_status"] == payment_status


def test_settle_over_http(standin, receiver, session):
    standin.pay_later(session.id)
    status, _, body = fetch(standin, "POST", f"/standin/sessions/{session.id}/settle?result=failed")
    assert status == 200
    assert json.loads(body)["type"] == "checkout.session.async_payment_failed"
    # Nothing is left to settle.
    status, _, _ = fetch(standin, "POST", f"/standin/sessions/{session.id}/settle")
    assert status == 400


def test_expire_now_delivers_checkout_session_expired(standin, receiver, session):
    status, _, body = fetch(standin, "POST", f"/standin/sessions/{session.id}/expire-now")

    assert status == 200
    assert json.loads(body)["type"] == "checkout.session.expired"
    event = verified(receiver.received[0])
    assert (event.type, event.data.object.status) == ("checkout.session.expired", "expired")
    _, _, page = fetch(standin, "GET", f"/checkout/{session.id}")
    assert "has expired" in page
    assert "with a test card" not in page


def test_control_complete_and_event_list(standin, receiver, session):
    status, _, body = fetch(standin, "POST", f"/standin/sessions/{session.id}/complete")
    assert status == 200
    completed = json.loads(body)

    status, _, body = fetch(standin, "GET", "/standin/events")
    [listed] = json.loads(body)["data"]
    assert listed["event"]["id"] == completed["id"]
    assert listed["delivery"]["status"] == 200


def test_a_failing_receiver_is_recorded_not_raised(standin, receiver, session):
    receiver.answer_status = 500
    standin.complete(session.id)
    delivery = standin.events[0]["delivery"]
    assert (delivery["status"], delivery["attempts"], delivery["gave_up"]) == (500, 1, False)
    assert 0 < delivery["next_retry_in"] <= RETRY_DELAYS[0]  # a retry is on its way

    # Same body again, freshly signed, as Stripe's retries are; a 2xx ends the retries.
    receiver.answer_status = 200
    again = standin.redeliver(standin.events[0]["event"]["id"])
    assert (again["status"], again["attempts"], again["next_retry_in"]) == (200, 2, None)
    assert receiver.received[0]["body"] == receiver.received[1]["body"]


def test_an_unreachable_receiver_is_recorded_not_raised():
    # A port that was open a moment ago and is closed now.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    closed_port = probe.server_address[1]
    probe.server_close()
    with StripeStandin(webhook_url=f"http://127.0.0.1:{closed_port}/", webhook_secret=SECRET) as s:
        client = stripe.StripeClient("sk_test_standin", base_addresses={"api": s.url})
        session = client.v1.checkout.sessions.create(params=fee_params())
        event = s.complete(session.id)
        [record] = s.events
    assert record["event"]["id"] == event["id"]
    assert record["delivery"]["status"] is None
    assert "Connection refused" in record["delivery"]["error"]
    assert record["delivery"]["next_retry_in"] is not None


def test_without_a_webhook_url_events_are_only_recorded():
    with StripeStandin() as quiet:
        client = stripe.StripeClient("sk_test_standin", base_addresses={"api": quiet.url})
        session = client.v1.checkout.sessions.create(params=fee_params())
        quiet.complete(session.id)
        delivery = quiet.events[0]["delivery"]
        assert delivery["error"] == "no webhook URL configured"
        # Nothing to retry: Stripe sends an event to the endpoints it has when it happens.
        assert (delivery["next_retry_in"], delivery["gave_up"]) == (None, False)


def test_event_for_with_a_fixed_id_returns_the_same_event(standin, receiver, session):
    payload, signature = standin.event_for(
        session.id, "checkout.session.completed", event_id="evt_test_replayed"
    )
    for _ in range(3):
        again, again_signature = standin.event_for(
            session.id, "checkout.session.completed", event_id="evt_test_replayed"
        )
        assert again == payload
        stripe.Webhook.construct_event(again, again_signature, SECRET)
    event = stripe.Webhook.construct_event(payload, signature, SECRET)
    assert event.id == "evt_test_replayed"
    assert receiver.received == []  # built for the test to deliver, not sent
    assert standin.sessions[session.id]["status"] == "open"  # and the session is untouched


def test_event_for_a_delivered_event_returns_what_was_delivered(standin, receiver, session):
    delivered = standin.complete(session.id)
    payload, _ = standin.event_for(session.id, "checkout.session.completed", delivered["id"])
    assert payload == receiver.received[0]["body"]


# --- PaymentIntents ------------------------------------------------------------------------------


def test_a_card_payment_has_a_succeeded_payment_intent(standin, client, session):
    standin.complete(session.id)

    # The call the app makes: the session with its PaymentIntent in place of the id.
    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    intent = expanded.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.id.startswith("pi_test_")
    assert intent.object == "payment_intent"
    assert (intent.status, intent.amount, intent.amount_received, intent.currency) == (
        "succeeded",
        5000,
        5000,
        "usd",
    )
    assert (intent.livemode, intent.latest_charge, intent.last_payment_error) == (False, None, None)
    assert intent.created >= session.created
    # From payment_intent_data; the session's own metadata stays on the session, as at Stripe.
    assert intent.metadata.to_dict() == {"for": "the PaymentIntent"}
    assert intent.description == "CTE Dual Credit fee"

    # Not expanded, it is the id, in the API and in the event.
    assert client.v1.checkout.sessions.retrieve(session.id).payment_intent == intent.id
    assert standin.events[0]["event"]["data"]["object"]["payment_intent"] == intent.id
    assert client.v1.payment_intents.retrieve(intent.id).to_dict() == intent.to_dict()
    assert standin.payment_intents[intent.id]["status"] == "succeeded"


def test_an_open_session_has_no_payment_intent_even_expanded(client, session):
    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent", "line_items"]}
    )
    assert expanded.payment_intent is None
    assert expanded.line_items.data[0].amount_total == 5000


@pytest.mark.parametrize(
    ("succeeded", "status", "amount_received", "payment_status"),
    [(True, "succeeded", 5000, "paid"), (False, "requires_payment_method", 0, "unpaid")],
)
def test_a_bank_transfer_is_processing_until_it_settles(
    standin, client, session, succeeded, status, amount_received, payment_status
):
    standin.pay_later(session.id)
    waiting = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert (waiting.status, waiting.payment_status) == ("complete", "unpaid")
    assert (waiting.payment_intent.status, waiting.payment_intent.amount_received) == (
        "processing",
        0,
    )

    standin.settle(session.id, succeeded=succeeded)

    settled = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert (settled.status, settled.payment_status) == ("complete", payment_status)
    assert settled.payment_intent.id == waiting.payment_intent.id
    intent = client.v1.payment_intents.retrieve(settled.payment_intent.id)
    assert (intent.status, intent.amount_received) == (status, amount_received)
    assert (intent.last_payment_error is None) == succeeded


def test_unknown_payment_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_test_nothere")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


def test_expanding_what_the_stand_in_lacks_is_refused(client, session):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer"]})
    assert raised.value.param == "expand"


# --- Webhook retries -----------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_with_growing_delays_until_it_gets_a_2xx(
    fast_standin, receiver
):
    receiver.answers = [500, 503]  # then 200
    session = new_session(fast_standin)

    event = fast_standin.complete(session.id)

    wait_for(lambda: len(receiver.received) == 3)
    first, second, third = receiver.received
    assert first["body"] == second["body"] == third["body"]  # the same event, as sent first
    assert verified(third).id == event["id"]
    # Each attempt signs again; the backoff grows (0.1 s, then 0.2 s).
    assert second["at"] - first["at"] >= 0.1
    assert third["at"] - second["at"] >= 0.2
    wait_for(lambda: fast_standin.events[0]["delivery"]["status"] == 200)
    delivery = fast_standin.events[0]["delivery"]
    assert (delivery["attempts"], delivery["next_retry_in"], delivery["gave_up"]) == (
        3,
        None,
        False,
    )
    time.sleep(0.5)  # longer than any delay left: a delivered event is not sent again
    assert len(receiver.received) == 3


def test_retries_give_up_when_the_delays_run_out(fast_standin, receiver):
    receiver.answer_status = 500
    fast_standin.complete(new_session(fast_standin).id)

    wait_for(lambda: fast_standin.events[0]["delivery"]["gave_up"])

    delivery = fast_standin.events[0]["delivery"]
    assert (delivery["attempts"], delivery["status"], delivery["next_retry_in"]) == (4, 500, None)
    time.sleep(0.4)
    assert len(receiver.received) == 4  # the first and one per delay (0.1, 0.2, 0.3)


def test_an_unreachable_receiver_is_retried_too(receiver):
    port = receiver.server_address[1]
    receiver.shutdown()
    receiver.server_close()  # nobody listens on the port now
    with StripeStandin(
        webhook_url=f"http://127.0.0.1:{port}/", webhook_secret=SECRET, retry_delays=(0.05, 0.05)
    ) as standin:
        standin.complete(new_session(standin).id)
        wait_for(lambda: standin.events[0]["delivery"]["gave_up"])
        delivery = standin.events[0]["delivery"]
    assert delivery["attempts"] == 3
    assert "Connection refused" in delivery["error"]


def test_a_redirect_is_a_failed_delivery(fast_standin, receiver):
    receiver.answers = [302]
    fast_standin.complete(new_session(fast_standin).id)

    first = fast_standin.events[0]["delivery"]
    assert (first["status"], first["attempts"]) == (302, 1)
    assert first["next_retry_in"] is not None
    wait_for(lambda: fast_standin.events[0]["delivery"]["status"] == 200)
    assert [delivery["path"] for delivery in receiver.received] == [
        "/payments/stripe/webhook/",
        "/payments/stripe/webhook/",
    ]


def test_the_delivery_shows_when_the_next_retry_comes(receiver):
    receiver.answer_status = 500
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    with StripeStandin(webhook_url=webhook_url, webhook_secret=SECRET, retry_delays=(60,)) as s:
        s.complete(new_session(s).id)
        delivery = s.events[0]["delivery"]
    assert (delivery["attempts"], delivery["status"], delivery["gave_up"]) == (1, 500, False)
    assert 50 < delivery["next_retry_in"] <= 60


def test_a_successful_redeliver_cancels_the_pending_retries(receiver):
    receiver.answers = [500]
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    with StripeStandin(webhook_url=webhook_url, webhook_secret=SECRET, retry_delays=(1,)) as s:
        event = s.complete(new_session(s).id)
        assert s.redeliver(event["id"])["next_retry_in"] is None
        time.sleep(1.3)
        assert len(receiver.received) == 2
        assert s.events[0]["delivery"]["attempts"] == 2


def test_a_failed_redeliver_keeps_the_schedule(receiver):
    receiver.answers = [500, 500]  # the first delivery and the redelivery
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    with StripeStandin(webhook_url=webhook_url, webhook_secret=SECRET, retry_delays=(1,)) as s:
        event = s.complete(new_session(s).id)
        again = s.redeliver(event["id"])
        assert (again["status"], again["attempts"], again["gave_up"]) == (500, 2, False)
        assert 0 < again["next_retry_in"] <= 1
        wait_for(lambda: s.events[0]["delivery"]["status"] == 200)
        assert s.events[0]["delivery"]["attempts"] == 3


def test_a_retry_does_not_hold_the_stand_in_while_the_receiver_calls_back(fast_standin, receiver):
    session = new_session(fast_standin)
    client = stripe.StripeClient("sk_test_standin", base_addresses={"api": fast_standin.url})
    seen = []
    # The receiver reads the session back before it answers, as the app's webhook does.
    receiver.on_post = lambda: seen.append(client.v1.checkout.sessions.retrieve(session.id).status)
    receiver.answers = [500]

    fast_standin.complete(session.id)

    wait_for(lambda: fast_standin.events[0]["delivery"]["status"] == 200, timeout=5)
    assert seen == ["complete", "complete"]


def test_stop_halts_the_retries_at_once_and_start_resumes_them(receiver):
    receiver.answers = [500]
    webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/"
    standin = StripeStandin(webhook_url=webhook_url, webhook_secret=SECRET, retry_delays=(1,))
    standin.start()
    try:
        port = standin.port
        standin.complete(new_session(standin).id)
        began = time.monotonic()
        standin.stop()
        assert time.monotonic() - began < 1
        time.sleep(1.2)  # the retry fell due while the stand-in was down
        assert len(receiver.received) == 1
        assert standin.events[0]["delivery"]["next_retry_in"] == 0

        standin.start()  # back on the same port: the overdue retry goes out straight away

        assert standin.port == port
        wait_for(lambda: len(receiver.received) == 2, timeout=2)
        wait_for(lambda: standin.events[0]["delivery"]["status"] == 200, timeout=2)
    finally:
        standin.stop()


def test_retries_keep_their_pace_while_the_wall_clock_is_frozen(fast_standin, receiver):
    receiver.answers = [500, 500]
    session = new_session(fast_standin)
    with time_machine.travel(time.time() + 3600, tick=False):
        fast_standin.complete(session.id)
        wait_for(lambda: len(receiver.received) == 3, timeout=5)
        for delivery in receiver.received:
            verified(delivery)  # signed at the (frozen) time of the receiver's clock
        wait_for(lambda: fast_standin.events[0]["delivery"]["status"] == 200)


def test_retry_delays_must_not_be_negative():
    with pytest.raises(ValueError, match="negative"):
        StripeStandin(retry_delays=(1, -1))


# --- Sessions expire on their own ----------------------------------------------------------------


def overdue():
    """A minute past the default expires_at (24 hours after creation), the wall clock frozen."""
    return time_machine.travel(time.time() + 24 * 3600 + 60, tick=False)


def test_an_overdue_session_expires_when_the_api_reads_it(standin, receiver, client, session):
    with overdue():
        assert standin.sessions[session.id]["status"] == "open"  # nobody has looked yet

        read = client.v1.checkout.sessions.retrieve(session.id)

        assert (read.status, read.url) == ("expired", None)
        wait_for(lambda: len(receiver.received) == 1)  # sent from the background
        event = verified(receiver.received[0])
        assert (event.type, event.data.object.id) == ("checkout.session.expired", session.id)
        assert event.data.object.status == "expired"
        # Once: reading it again, its line items or its page sends nothing more.
        client.v1.checkout.sessions.retrieve(session.id)
        client.v1.checkout.sessions.line_items.list(session.id)
        fetch(standin, "GET", f"/checkout/{session.id}")
        time.sleep(0.1)
    assert len(receiver.received) == 1
    assert [record["event"]["type"] for record in standin.events] == ["checkout.session.expired"]
    assert standin.events[0]["delivery"]["status"] == 200


def test_a_session_within_its_time_stays_open(standin, receiver, client):
    created = client.v1.checkout.sessions.create(
        params=fee_params(expires_at=int(time.time()) + 3600)
    )
    with time_machine.travel(time.time() + 3500, tick=False):
        assert client.v1.checkout.sessions.retrieve(created.id).status == "open"
    with time_machine.travel(time.time() + 3600, tick=False):
        assert client.v1.checkout.sessions.retrieve(created.id).status == "expired"


def test_an_overdue_session_expires_when_its_page_is_opened(standin, receiver, session):
    with overdue():
        status, _, page = fetch(standin, "GET", f"/checkout/{session.id}")

        assert status == 200
        assert "has expired" in page
        assert "with a test card" not in page
        wait_for(lambda: len(receiver.received) == 1)
        assert verified(receiver.received[0]).type == "checkout.session.expired"


def test_an_overdue_session_cannot_be_paid_on_its_page(standin, receiver, session):
    with overdue():
        status, _, page = fetch(standin, "POST", f"/checkout/{session.id}/pay")

        assert status == 400
        assert "has expired" in page
        wait_for(lambda: len(receiver.received) == 1)
    assert [record["event"]["type"] for record in standin.events] == ["checkout.session.expired"]
    assert standin.sessions[session.id]["payment_intent"] is None
    assert standin.payment_intents == {}


def test_expiring_an_overdue_session_finds_it_expired_already(standin, receiver, client, session):
    with overdue():
        with pytest.raises(stripe.InvalidRequestError, match="status of `open` can be expired"):
            client.v1.checkout.sessions.expire(session.id)
        wait_for(lambda: len(receiver.received) == 1)
    assert standin.sessions[session.id]["status"] == "expired"


def test_the_python_api_does_not_expire_on_its_own(standin, receiver, session):
    with overdue():
        with pytest.raises(StandinError, match="passed its expires_at"):
            standin.complete(session.id)
        assert standin.sessions[session.id]["status"] == "open"
        standin.expire(session.id)  # as before: at once, its event delivered on the spot
        assert verified(receiver.received[0]).type == "checkout.session.expired"


# --- Pieces ------------------------------------------------------------------------------------------


def test_form_parser_builds_nested_dicts_and_lists():
    pairs = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][unit_amount]", "5000"),
        ("line_items[1][quantity]", "2"),
        ("metadata[0]", "a metadata key that looks like an index"),
        ("expand[]", "line_items"),
        ("success_url", "http://x/?id={CHECKOUT_SESSION_ID}"),
    ]
    assert parse_stripe_form(pairs) == {
        "mode": "payment",
        "line_items": [{"quantity": "1", "price_data": {"unit_amount": "5000"}}, {"quantity": "2"}],
        "metadata": {"0": "a metadata key that looks like an index"},
        "expand": ["line_items"],
        "success_url": "http://x/?id={CHECKOUT_SESSION_ID}",
    }


def test_it_listens_on_loopback_only():
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        StripeStandin(host="0.0.0.0")  # noqa: S104 - the address being refused


def test_command_line_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_standin", "--port", "0"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        client = stripe.StripeClient("sk_test_standin", base_addresses={"api": url})
        assert client.v1.checkout.sessions.create(params=fee_params()).status == "open"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_command_line_without_retries_delivers_once():
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    closed_port = probe.server_address[1]
    probe.server_close()
    process = subprocess.Popen(  # noqa: S603 - this module, with a port number of our own
        [
            sys.executable,
            "-m",
            "stripe_standin",
            "--port",
            "0",
            "--webhook-url",
            f"http://127.0.0.1:{closed_port}/",
            "--no-retries",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = process.stdout.readline().split("listening on ")[1].split()[0]
        client = stripe.StripeClient("sk_test_standin", base_addresses={"api": url})
        session = client.v1.checkout.sessions.create(params=fee_params())
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", f"/standin/sessions/{session.id}/complete")
        assert connection.getresponse().status == 200
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/standin/events")
        [listed] = json.loads(connection.getresponse().read())["data"]
        connection.close()
        assert listed["delivery"]["attempts"] == 1
        assert (listed["delivery"]["gave_up"], listed["delivery"]["next_retry_in"]) == (True, None)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        process.stdout.close()
