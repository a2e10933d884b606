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

from payments.stripe_standin import StripeStandin, parse_stripe_form

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
        "payment_intent_data": {"description": "ignored by the stand-in"},
        **overrides,
    }


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.received.append(
            {"path": self.path, "signature": self.headers["Stripe-Signature"], "body": body}
        )
        self.send_response(self.server.answer_status)
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
    server.answer_status = 200
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
    assert standin.events[0]["delivery"]["status"] == 500

    # Same body again, freshly signed, as Stripe's retries are.
    receiver.answer_status = 200
    assert standin.redeliver(standin.events[0]["event"]["id"])["status"] == 200
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


def test_without_a_webhook_url_events_are_only_recorded():
    with StripeStandin() as quiet:
        client = stripe.StripeClient("sk_test_standin", base_addresses={"api": quiet.url})
        session = client.v1.checkout.sessions.create(params=fee_params())
        quiet.complete(session.id)
        assert quiet.events[0]["delivery"]["error"] == "no webhook URL configured"


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
        [sys.executable, "-m", "payments.stripe_standin", "--port", "0"],
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
