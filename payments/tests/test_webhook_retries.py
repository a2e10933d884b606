"""Stripe retries a webhook the site missed: the stand-in's retries against a site that was down.

The site's outage is a TCP relay in front of Django's live server, stopped and started again on
the same address.
"""

import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from outbox.models import OutboxEmail
from payments.models import CheckoutSession, Payment, StripeEvent
from payments.selectors import FeeState, year_account
from payments.services.checkout import checkout_start
from payments.tests.helpers import FEBRUARY, registered_student
from payments.tests.relay import TcpRelay
from registration.tests.helpers import at


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- The relay -------------------------------------------------------------------------------------


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _Hello(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = b"got " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def _serve(server):
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return thread


@pytest.fixture
def echo_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = _serve(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = _serve(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - 127.0.0.1
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
        return response.read()


def test_the_relay_copies_bytes_both_ways(echo_server):
    payload = bytes(range(256)) * 4096  # 1 MiB, more than one read each way
    with (
        TcpRelay(*echo_server.server_address) as relay,
        socket.create_connection(("127.0.0.1", relay.port), timeout=5) as conn,
    ):
        sender = threading.Thread(
            target=lambda: (conn.sendall(payload), conn.shutdown(socket.SHUT_WR))
        )
        sender.start()
        received = b""
        while data := conn.recv(65536):
            received += data
        sender.join()
    assert received == payload


def test_stopped_the_relay_refuses_and_started_again_it_serves_the_same_address(http_server):
    relay = TcpRelay(*http_server.server_address).start()
    try:
        url = relay.url
        assert post(url, b"one") == b"got one"

        relay.stop()
        with pytest.raises(urllib.error.URLError, match="Connection refused"):
            post(url, b"two")

        relay.start()
        assert relay.url == url
        assert post(url, b"three") == b"got three"
    finally:
        relay.stop()
    relay.stop()  # stopping twice is harmless


def test_stop_cuts_the_connections_in_progress(echo_server):
    relay = TcpRelay(*echo_server.server_address).start()
    conn = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
    try:
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        relay.stop()
        try:
            cut = conn.recv(4) == b""  # closed by the relay
        except ConnectionResetError:
            cut = True
        assert cut
    finally:
        conn.close()
        relay.stop()


def test_a_relay_to_nowhere_closes_the_connection():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with TcpRelay("127.0.0.1", port) as relay, pytest.raises(OSError):
        post(relay.url, b"anyone?")


# --- Stripe's retries against a site that was down ------------------------------------------------


@pytest.fixture
def february():
    with at(*FEBRUARY):
        yield


@pytest.fixture
def site_relay(live_server):
    """The live server, reachable through a relay that tests stop and start."""
    address = urlsplit(live_server.url)
    with TcpRelay(address.hostname, address.port) as relay:
        yield relay


def receipts_for(student):
    return OutboxEmail.objects.filter(kind="payment_receipt", about__contains=student.sers_id)


def delivery_of(standin, event_id: str) -> dict:
    [record] = [record for record in standin.events if record["event"]["id"] == event_id]
    return record["delivery"]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_missed_while_the_site_was_down_is_retried_and_recorded_once(
    february, stripe_settings, site_relay, settings
):
    settings.SITE_URL = site_relay.url
    # Stripe's default retry pace in the stand-in: 1 s, 2 s, 4 s...
    stripe_settings.webhook_url = f"{site_relay.url}/payments/stripe/webhook/"
    student, consortium = registered_student()
    url = checkout_start(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        cancel_url="http://127.0.0.1/payments/",
    )
    checkout = CheckoutSession.objects.get(url=url)
    site_relay.stop()  # the site is down

    event = stripe_settings.complete(checkout.stripe_session_id)  # paid at Stripe

    missed = delivery_of(stripe_settings, event["id"])
    assert missed["status"] is None
    assert "Connection refused" in missed["error"]
    assert missed["next_retry_in"] is not None
    wait_for(lambda: delivery_of(stripe_settings, event["id"])["attempts"] >= 2)  # missed again
    assert not Payment.objects.exists()
    assert not receipts_for(student).exists()

    site_relay.start()  # the site is back, on the same address

    wait_for(lambda: delivery_of(stripe_settings, event["id"])["status"] == 200)
    delivered = delivery_of(stripe_settings, event["id"])
    assert delivered["attempts"] >= 3
    assert (delivered["next_retry_in"], delivered["gave_up"]) == (None, False)
    payment = Payment.objects.get()
    assert payment.method == Payment.Method.CARD
    assert payment.stripe_checkout_session_id == checkout.stripe_session_id
    session = stripe_settings.sessions[checkout.stripe_session_id]
    assert payment.stripe_payment_intent_id == session["payment_intent"]
    assert receipts_for(student).count() == 1
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1

    # Further deliveries of the same event change nothing, and no retry is left to come.
    assert stripe_settings.redeliver(event["id"])["status"] == 200
    assert stripe_settings.redeliver(event["id"])["status"] == 200
    time.sleep(1.5)  # longer than the first retry delay
    assert delivery_of(stripe_settings, event["id"])["attempts"] == delivered["attempts"] + 2
    assert Payment.objects.count() == 1
    assert receipts_for(student).count() == 1
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
