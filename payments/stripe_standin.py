"""A local stand-in for the small part of Stripe that SERS uses: Checkout Sessions and their webhooks.

For the tests and the embedded dev run (`make run`) only, where there is no internet: the real
`stripe` client is pointed at this server (`base_addresses={"api": standin.url}`) and talks to it
over HTTP exactly as it would to api.stripe.com. Production talks to Stripe itself and never
imports this module.

What it does, with Stripe's shapes and error types:

- `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/<id>` (optionally
  `expand[]=line_items`, `expand[]=payment_intent`), `GET /v1/checkout/sessions/<id>/line_items`,
  `POST /v1/checkout/sessions/<id>/expire` and `GET /v1/payment_intents/<id>`; test secret keys
  only; `Idempotency-Key` honoured.
- A PaymentIntent for each session paid or started by bank transfer: `succeeded` after a card
  payment or a transfer that settled, `processing` while the transfer is on its way,
  `requires_payment_method` after it failed (the session stays `complete` and `unpaid`).
- A hosted, phone-sized test payment page at `/checkout/<id>`, clearly marked as a test.
- Signed webhook events (`Stripe-Signature`, as Stripe computes it) POSTed to one URL. A failed
  delivery (refused, timed out, any answer but a 2xx, redirects included) is sent again, same
  body, fresh signature, after growing delays (`retry_delays`: minutes where Stripe's span three
  days) until a 2xx answer or the delays run out. Each event's `delivery` tells `attempts`, the
  last `status`/`error`, `next_retry_in` and `gave_up`. Retries wait on a monotonic clock, so a
  test that freezes or travels the wall clock (time-machine) neither stops nor rushes them.
- A session still `open` past its `expires_at` expires on its own when the API or the hosted
  page next touches it (Stripe does it shortly after the deadline); its
  `checkout.session.expired` event goes out from the background, never inside the API call.
- Control endpoints under `/standin/` and a Python API (`StripeStandin`) for tests and demos;
  those show and change sessions as they are, without expiring them on the way.

It listens on 127.0.0.1 only. State lives in memory and is lost with the object. stop() closes
the port and halts the retries at once (a delivery already on its way finishes); start() serves
the same port again and resumes them, sending straight away those that fell due meanwhile: a
stop()/start() pair is a Stripe outage, not a reset.

    python -m payments.stripe_standin --port 12111 \\
        --webhook-url http://127.0.0.1:8000/payments/stripe/webhook/ --webhook-secret whsec_...
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import stripe

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Events carry the API version the installed client speaks, as Stripe's would for this account.
API_VERSION = stripe.api_version
WEBHOOK_TIMEOUT_SECONDS = 10
# Seconds between failed webhook deliveries: Stripe's backoff on a dev-sized clock (about nine
# minutes in all, where Stripe keeps trying for three days), then it gives up.
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16, 30, 60, 120, 300)
# How long stop() waits for the retry thread; one stuck on a slow receiver is left to finish.
STOP_WAIT_SECONDS = 1.0
DAY = 24 * 60 * 60
# Stripe accepts `expires_at` between 30 minutes and 24 hours after creation.
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, DAY
# Parameters of a create call the stand-in accepts without acting on them.
IGNORED_CREATE_PARAMS = {
    "payment_method_types",
    "locale",
    "submit_type",
    "billing_address_collection",
    "allow_promotion_codes",
    "expand",
}
CREATE_PARAMS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "metadata",
    "customer_email",
    "expires_at",
    "payment_intent_data",  # its description and metadata go to the PaymentIntent
} | IGNORED_CREATE_PARAMS
# What `expand[]` may name on a Checkout Session.
EXPANDABLE = ("line_items", "payment_intent")
EVENT_TYPES = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


class StandinError(Exception):
    """An API error, rendered like Stripe's: `{"error": {"type": ..., "message": ...}}`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.message, self.status, self.type, self.code, self.param = (
            message,
            status,
            type,
            code,
            param,
        )

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _random_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _now() -> int:
    return int(time.time())


# --- Stripe's form encoding ----------------------------------------------------------------------

_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


def _key_path(key: str) -> list[str]:
    """`line_items[0][price_data][unit_amount]` -> ["line_items", "0", "price_data", "unit_amount"]."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = _BRACKETED.findall("[" + rest)
    if not head or "".join(f"[{part}]" for part in parts) != "[" + rest:
        raise StandinError(f"Invalid parameter name: {key}", param=key)
    return [head, *parts]


def _listify(value, key: str = ""):
    """Turn dicts keyed "0".."n-1" into lists; metadata keeps its keys, whatever they look like."""
    if not isinstance(value, dict):
        return value
    children = {name: _listify(child, name) for name, child in value.items()}
    if key != "metadata" and children and set(children) == {str(i) for i in range(len(children))}:
        return [children[str(i)] for i in range(len(children))]
    return children


def parse_stripe_form(pairs: Iterable[tuple[str, str]]) -> dict:
    """Nested dicts and lists from Stripe's bracket notation (`metadata[student_year]=12`)."""
    root: dict = {}
    for key, value in pairs:
        *parents, leaf = _key_path(key)
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict) or part == "":
                raise StandinError(f"Invalid parameter name: {key}", param=key)
        if isinstance(node.get(leaf), dict):
            raise StandinError(f"Invalid parameter name: {key}", param=key)
        node[leaf or str(len(node))] = value  # `expand[]=x` appends
    return _listify(root)


def _parse_query(query: str) -> dict:
    return parse_stripe_form(parse_qsl(query, keep_blank_values=True))


# --- Parameter checks (messages follow Stripe's where it matters) -------------------------------


def _integer(value, param: str, *, minimum: int = 0) -> int:
    # The client sends ints as "5000"; a Decimal or float would arrive as "50.00" and Stripe
    # rejects it, so the stand-in does too (money becomes cents before it reaches Stripe).
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StandinError(f"Invalid integer: {value}", param=param)
    number = int(value)
    if number < minimum:
        raise StandinError(f"{param} must be at least {minimum}.", param=param)
    return number


def _optional_string(params: dict, name: str, *, max_length: int = 5000) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None  # Stripe reads an empty value as "not given"
    if not isinstance(value, str):
        raise StandinError(f"Invalid string: {name}", param=name)
    if len(value) > max_length:
        raise StandinError(f"{name} must be at most {max_length} characters long.", param=name)
    return value


def _url(params: dict, name: str) -> str | None:
    value = _optional_string(params, name, max_length=5000)
    if value is not None:
        parts = urlsplit(value.replace("{CHECKOUT_SESSION_ID}", "x"))
        # Control characters would end up in the redirect's Location header.
        has_controls = any(ord(char) < 32 or ord(char) == 127 for char in value)
        if parts.scheme not in ("http", "https") or not parts.netloc or has_controls:
            raise StandinError("Not a valid URL", param=name)
    return value


def _metadata(raw) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict) or len(raw) > 50:
        raise StandinError("metadata must be a hash of at most 50 keys.", param="metadata")
    for key, value in raw.items():
        if len(key) > 40 or not isinstance(value, str) or len(value) > 500:
            raise StandinError(
                "Metadata keys are at most 40 characters and values at most 500 characters.",
                param=f"metadata[{key}]",
            )
    return {key: value for key, value in raw.items() if value != ""}


def _required(params, name: str, where: str):
    if not isinstance(params, dict):
        raise StandinError(f"Invalid object: {where}", param=where)
    if params.get(name) in (None, ""):
        raise StandinError(f"Missing required param: {where}[{name}].", param=f"{where}[{name}]")
    return params[name]


def _price_data(raw, where: str) -> tuple[str, int, str]:
    """(currency, unit_amount, product name) from `price_data`, the only pricing supported."""
    if not isinstance(raw, dict):
        raise StandinError(f"Missing required param: {where}.", param=where)
    currency = _required(raw, "currency", where)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise StandinError("Invalid currency", param=f"{where}[currency]")
    unit_amount = _integer(_required(raw, "unit_amount", where), f"{where}[unit_amount]")
    product_data = _required(raw, "product_data", where)
    name = _required(product_data, "name", f"{where}[product_data]")
    if not isinstance(name, str):
        raise StandinError("Invalid string", param=f"{where}[product_data][name]")
    return currency.lower(), unit_amount, name


def _line_item(raw, index: int) -> dict:
    where = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise StandinError(f"Invalid object: {where}", param=where)
    if "price" in raw:
        raise StandinError(
            "The stand-in supports price_data only, not saved prices.", param=f"{where}[price]"
        )
    currency, unit_amount, name = _price_data(raw.get("price_data"), f"{where}[price_data]")
    quantity = _integer(_required(raw, "quantity", where), f"{where}[quantity]", minimum=1)
    amount = unit_amount * quantity
    return {
        "id": _random_id("li_test_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": currency,
        "description": name,
        "price": {
            "id": _random_id("price_test_"),
            "object": "price",
            "currency": currency,
            "livemode": False,
            "product": _random_id("prod_test_"),
            "type": "one_time",
            "unit_amount": unit_amount,
        },
        "quantity": quantity,
    }


def _line_items(raw) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise StandinError("Missing required param: line_items.", param="line_items")
    items = [_line_item(item, index) for index, item in enumerate(raw)]
    if len({item["currency"] for item in items}) > 1:
        raise StandinError("All line items must use the same currency.", param="line_items")
    return items


def _expires_at(raw, created: int) -> int:
    if raw in (None, ""):
        return created + DAY
    expires_at = _integer(raw, "expires_at")
    # A minute of slack: the caller computed its "now + 24 h" a moment before `created`.
    if not created + MIN_EXPIRY - 60 <= expires_at <= created + MAX_EXPIRY + 60:
        raise StandinError(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from"
            " Checkout Session creation.",
            param="expires_at",
        )
    return expires_at


def _intent_data(raw) -> tuple[str | None, dict]:
    """The PaymentIntent's (description, metadata) from `payment_intent_data`; the rest is ignored.

    As at Stripe, the session's own metadata is not copied to its PaymentIntent.
    """
    if raw in (None, ""):
        return None, {}
    if not isinstance(raw, dict):
        raise StandinError("Invalid object: payment_intent_data", param="payment_intent_data")
    return _optional_string(raw, "description", max_length=1000), _metadata(raw.get("metadata"))


def _expand(query: dict) -> list[str]:
    expand = query.get("expand") or []
    expand = expand if isinstance(expand, list) else [expand]
    for name in expand:
        if name not in EXPANDABLE:
            raise StandinError(
                f"The Stripe stand-in can expand {' and '.join(EXPANDABLE)} only, not {name}.",
                param="expand",
            )
    return expand


# --- Money on the hosted page ---------------------------------------------------------------------


def format_amount(cents: int, currency: str) -> str:
    """5000, "usd" -> "$50.00"; other currencies keep their code."""
    number = f"{cents // 100:,}.{cents % 100:02d}"
    return f"${number}" if currency == "usd" else f"{number} {currency.upper()}"


# --- State ---------------------------------------------------------------------------------------


@dataclass
class _Session:
    data: dict  # exactly what the API returns
    line_items: list[dict]
    # From `payment_intent_data`, for the PaymentIntent made when the customer pays.
    intent_description: str | None = None
    intent_metadata: dict = field(default_factory=dict)
    # A pay-later (bank transfer) payment waits here until settle() says how it went.
    awaiting_settlement: bool = False


@dataclass
class _EventRecord:
    event: dict
    payload: str  # the exact body that was (or will be) signed and sent
    delivery: dict = field(default_factory=dict)  # how the last attempt went
    # Automatic delivery: when the next attempt is due (time.monotonic(), None for none), how
    # many automatic attempts failed so far, and whether any attempt got a 2xx answer.
    due: float | None = None
    failures: int = 0
    delivered: bool = False

    def delivery_view(self) -> dict:
        next_retry_in = None if self.due is None else max(self.due - time.monotonic(), 0.0)
        return {
            "attempts": 0,
            "url": None,
            "status": None,
            "error": None,
            "gave_up": False,
            **self.delivery,
            "next_retry_in": None if next_retry_in is None else round(next_retry_in, 3),
        }

    def public(self) -> dict:
        return {"event": copy.deepcopy(self.event), "delivery": self.delivery_view()}


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)

    @classmethod
    def json_body(cls, status: int, data, **headers) -> _Response:
        body = json.dumps(data, indent=2).encode()
        return cls(status, body, "application/json", headers)

    @classmethod
    def page(cls, status: int, text: str) -> _Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> _Response:
        return cls(303, headers={"Location": location})


class StripeStandin:
    """An in-memory Stripe Checkout with a hosted test page and signed webhooks.

    Use it as a context manager (or start()/stop()) and point the real client at it:

        with StripeStandin(webhook_url=..., webhook_secret="whsec_test") as standin:
            client = stripe.StripeClient("sk_test_x", base_addresses={"api": standin.url})

    `retry_delays` are the seconds between failed deliveries of one event (the first retry
    after the first, and so on); `()` delivers each event once. `webhook_url` and
    `retry_delays` may be changed while it runs; a retry uses the values of its moment.
    """

    def __init__(
        self,
        webhook_url: str | None = None,
        webhook_secret: str = "whsec_test",  # noqa: S107 - signs stand-in events only
        host: str = LOOPBACK,
        port: int = 0,
        retry_delays: Iterable[float] = RETRY_DELAYS,
    ):
        if host != LOOPBACK:
            raise ValueError(f"the Stripe stand-in listens on {LOOPBACK} only, not {host}")
        if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ValueError(f"webhook_url must be an http(s) URL, not {webhook_url!r}")
        self.retry_delays = tuple(float(delay) for delay in retry_delays)
        if any(delay < 0 for delay in self.retry_delays):
            raise ValueError(f"retry_delays must not be negative, not {self.retry_delays}")
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.host, self.port = host, port
        # One lock for all state; it is never held while a webhook is on its way, because the
        # receiver may well call back into the stand-in (retrieve the session) before answering.
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._payment_intents: dict[str, dict] = {}
        self._events: list[_EventRecord] = []
        self._payloads: dict[str, _EventRecord] = {}  # event id -> event, for replays
        self._idempotency: dict[tuple[str, str], tuple[str, _Response]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # The thread that sends due events (retries, and expiries found by the API), with the
        # flag that stops it; a thread per start(), so one still finishing a delivery after
        # stop() never picks up work again.
        self._due_events = threading.Condition(self._lock)
        self._sender: tuple[threading.Thread, threading.Event] | None = None

    # --- Life cycle -------------------------------------------------------------------------------

    def start(self) -> StripeStandin:
        """Serve in a daemon thread; `url` then says where."""
        if self._server is not None:
            raise RuntimeError("the Stripe stand-in is already running")
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        # A short poll interval so that stop() (and every test's teardown) takes milliseconds.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="stripe-standin",
            daemon=True,
        )
        self._thread.start()
        self._start_sender()
        return self

    def stop(self) -> None:
        """Close the port and halt the retries; pending ones resume on the next start()."""
        self._stop_sender()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def _start_sender(self) -> None:
        stopping = threading.Event()
        thread = threading.Thread(
            target=self._send_due_events,
            args=(stopping,),
            name="stripe-standin-webhooks",
            daemon=True,
        )
        with self._lock:
            self._sender = (thread, stopping)
        thread.start()

    def _stop_sender(self) -> None:
        with self._lock:
            sender, self._sender = self._sender, None
            if sender is None:
                return
            thread, stopping = sender
            stopping.set()
            self._due_events.notify_all()
        if thread is not threading.current_thread():
            thread.join(timeout=STOP_WAIT_SECONDS)

    def __enter__(self) -> StripeStandin:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash: the client appends `/v1/...`."""
        if self._server is None:
            raise RuntimeError("start() the Stripe stand-in first")
        return f"http://{self.host}:{self.port}"

    # --- Python API for tests and demos -----------------------------------------------------------

    @property
    def sessions(self) -> dict[str, dict]:
        """A copy of every session, as the API would return it."""
        with self._lock:
            return {key: copy.deepcopy(session.data) for key, session in self._sessions.items()}

    @property
    def payment_intents(self) -> dict[str, dict]:
        """A copy of every PaymentIntent, as the API would return it."""
        with self._lock:
            return copy.deepcopy(self._payment_intents)

    @property
    def events(self) -> list[dict]:
        """Every recorded event with its delivery result, oldest first (copies).

        `delivery`: `attempts` (POSTs so far, retries and redeliver() included), `url`, `status`
        and `error` of the last attempt (`status` None when there was no answer),
        `response_body`, `delivered_at` (when the last attempt was made), `next_retry_in`
        (seconds until the next automatic attempt, None for none) and `gave_up` (the retries
        ran out before a 2xx answer).
        """
        with self._lock:
            return [record.public() for record in self._events]

    def complete(self, session_id: str) -> dict:
        """Pay by test card, as the hosted page does, and deliver `checkout.session.completed`."""
        return self._transition_and_deliver(session_id, self._pay)

    def pay_later(self, session_id: str) -> dict:
        """Start a bank transfer that settles later; delivers `checkout.session.completed`."""
        return self._transition_and_deliver(session_id, self._pay_later)

    def settle(self, session_id: str, succeeded: bool = True) -> dict:
        """Settle a pay-later payment; delivers `checkout.session.async_payment_succeeded|failed`."""
        return self._transition_and_deliver(
            session_id, lambda session: self._settle(session, succeeded=succeeded)
        )

    def expire(self, session_id: str) -> dict:
        """Expire an open session and deliver `checkout.session.expired`."""
        return self._transition_and_deliver(session_id, self._expire)

    def redeliver(self, event_id: str) -> dict:
        """Send a recorded event again now (same body, fresh signature); returns its `delivery`.

        Like a resend from Stripe's dashboard: a 2xx answer cancels the retries still pending,
        a failure leaves their schedule as it was (and schedules none of its own).
        """
        with self._lock:
            record = self._payloads.get(event_id)
            if record is None or record not in self._events:
                raise StandinError(f"No such event: '{event_id}'", status=404)
        self._deliver(record, automatic=False)
        with self._lock:
            return record.delivery_view()

    def event_for(self, session_id: str, type: str, event_id: str | None = None) -> tuple[str, str]:
        """Build and sign an event for a test to deliver itself: `(payload, Stripe-Signature)`.

        The session is not changed and nothing is sent or recorded. Asking again with the same
        `event_id` (also the id of an event the stand-in delivered) returns the same payload,
        freshly signed, as Stripe's retries do.
        """
        with self._lock:
            record = self._payloads.get(event_id) if event_id else None
            if record is None:
                record = self._new_event(self._get(session_id), type, event_id=event_id)
            elif (record.event["type"], record.event["data"]["object"]["id"]) != (
                type,
                session_id,
            ):
                raise ValueError(f"event {event_id} is a {record.event['type']} of another session")
        return record.payload, self.signature(record.payload)

    def signature(self, payload: str, timestamp: int | None = None) -> str:
        """The `Stripe-Signature` header for `payload`: `t=<ts>,v1=<hmac-sha256>`."""
        return stripe.WebhookSignature.generate_signature_header(
            payload, self.webhook_secret, timestamp=timestamp
        )

    # --- Session transitions (called with the lock held) ------------------------------------------

    def _get(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise StandinError(
                f"No such checkout.session: '{session_id}'",
                status=404,
                code="resource_missing",
                param="session",
            )
        return session

    def _touch(self, session_id: str) -> _Session:
        """The session, as the API and the hosted page meet it: expired if its time is up."""
        session = self._get(session_id)
        self._expire_if_overdue(session)
        return session

    def _expire_if_overdue(self, session: _Session) -> None:
        """Stripe expires an open session on its own shortly after `expires_at`; the stand-in
        does when it next meets it. The event is sent from the background, never from inside
        the caller's request: the caller may hold a lock the webhook's receiver needs."""
        if session.data["status"] == "open" and _now() >= session.data["expires_at"]:
            record = self._new_event(session, self._expire(session))
            self._events.append(record)
            self._schedule(record, 0)

    def _require_payable(self, session: _Session) -> None:
        data = session.data
        if data["status"] != "open":
            raise StandinError(f"This Checkout Session is {data['status']}, not open.")
        if _now() >= data["expires_at"]:
            # The Python API (complete(), pay_later()) does not expire a session on its own
            # (the API and the hosted page do), but nobody can pay past the deadline.
            raise StandinError("This Checkout Session has passed its expires_at.")

    def _mark_paid_or_pending(self, session: _Session, payment_status: str) -> str:
        self._require_payable(session)
        intent = self._new_payment_intent(
            session, "succeeded" if payment_status == "paid" else "processing"
        )
        session.data.update(
            status="complete",
            payment_status=payment_status,
            payment_intent=intent["id"],
            customer_details={"email": session.data["customer_email"], "name": None},
            url=None,  # Stripe drops the hosted page's URL once the session is no longer open
        )
        return "checkout.session.completed"

    def _new_payment_intent(self, session: _Session, status: str) -> dict:
        data = session.data
        intent = {
            "id": _random_id("pi_test_"),
            "object": "payment_intent",
            "amount": data["amount_total"],
            "amount_capturable": 0,
            "amount_received": data["amount_total"] if status == "succeeded" else 0,
            "created": _now(),
            "currency": data["currency"],
            "customer": None,
            "description": session.intent_description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": copy.deepcopy(session.intent_metadata),
            "status": status,
        }
        self._payment_intents[intent["id"]] = intent
        return intent

    def _pay(self, session: _Session) -> str:
        return self._mark_paid_or_pending(session, "paid")

    def _pay_later(self, session: _Session) -> str:
        event_type = self._mark_paid_or_pending(session, "unpaid")
        session.awaiting_settlement = True
        return event_type

    def _settle(self, session: _Session, *, succeeded: bool) -> str:
        if not session.awaiting_settlement:
            raise StandinError("This Checkout Session has no payment waiting to settle.")
        session.awaiting_settlement = False
        intent = self._payment_intents[session.data["payment_intent"]]
        if succeeded:
            session.data["payment_status"] = "paid"
            intent.update(status="succeeded", amount_received=intent["amount"])
            return "checkout.session.async_payment_succeeded"
        # Stripe leaves the session complete and unpaid; its PaymentIntent wants another method.
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "code": "payment_intent_payment_attempt_failed",
                "message": "The bank transfer failed (stand-in test).",
                "type": "invalid_request_error",
            },
        )
        return "checkout.session.async_payment_failed"

    def _expire(self, session: _Session) -> str:
        if session.data["status"] != "open":
            raise StandinError(
                "Only Checkout Sessions with a status of `open` can be expired.",
                param="session",
            )
        session.data.update(status="expired", url=None)
        return "checkout.session.expired"

    # --- Events ------------------------------------------------------------------------------------

    def _new_event(self, session: _Session, type: str, event_id: str | None = None) -> _EventRecord:
        if type not in EVENT_TYPES:
            raise ValueError(f"the stand-in does not send {type} events")
        event = {
            "id": event_id or _random_id("evt_test_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": _now(),
            "data": {"object": copy.deepcopy(session.data)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        # Stripe's bodies are pretty-printed; a receiver must verify the raw bytes it got,
        # not JSON it re-serialised, and this keeps that honest.
        record = _EventRecord(event=event, payload=json.dumps(event, indent=2))
        self._payloads[event["id"]] = record
        return record

    def _transition_and_deliver(
        self, session_id: str, transition: Callable[[_Session], str]
    ) -> dict:
        with self._lock:
            session = self._get(session_id)
            record = self._new_event(session, transition(session))
            self._events.append(record)
        self._deliver(record)  # outside the lock: the receiver may call us back
        return copy.deepcopy(record.event)

    def _deliver(self, record: _EventRecord, *, automatic: bool = True) -> None:
        """POST the event to the webhook URL and record what happened; never raise.

        An automatic attempt that fails schedules the next one, while `retry_delays` last;
        a manual one (redeliver()) schedules nothing. Any 2xx answer ends the retries.
        """
        url = self.webhook_url
        if not url:
            # Nothing to retry: Stripe sends an event only to the endpoints it has at the time.
            outcome = {"url": None, "status": None, "error": "no webhook URL configured"}
        else:
            outcome = self._post(url, record.payload)
        with self._lock:
            self._record_attempt(record, outcome, automatic=automatic)
            delivery = record.delivery_view()
        logger.info(
            "webhook %s %s -> %s (attempt %s%s)",
            record.event["type"],
            record.event["id"],
            outcome["status"] or outcome["error"],
            delivery["attempts"],
            f", again in {delivery['next_retry_in']:g} s" if delivery["next_retry_in"] else "",
        )

    def _post(self, url: str, payload: str) -> dict:
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.signature(payload),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        status, error, body = None, None, b""
        try:
            with _DIRECT.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                status, body = response.status, response.read(2000)
        except urllib.error.HTTPError as failure:  # a 3xx/4xx/5xx answer is a result, not a crash
            status, body = failure.code, failure.read(2000)
            failure.close()
        except Exception as failure:  # refused, timed out, reset: record it, keep serving
            error = f"{type(failure).__name__}: {failure}"
        return {
            "url": url,
            "status": status,
            "error": error,
            "response_body": body.decode(errors="replace"),
        }

    def _record_attempt(self, record: _EventRecord, outcome: dict, *, automatic: bool) -> None:
        """Called with the lock held."""
        succeeded = outcome["status"] is not None and 200 <= outcome["status"] < 300
        gave_up = record.delivery.get("gave_up", False)
        if succeeded:
            record.delivered, record.due = True, None
        elif automatic and outcome["url"] and not record.delivered:
            record.failures += 1
            if record.failures <= len(self.retry_delays):
                self._schedule(record, self.retry_delays[record.failures - 1])
            else:
                gave_up = True
        record.delivery = {
            **outcome,
            "attempts": record.delivery.get("attempts", 0) + 1,
            "delivered_at": _now(),
            "gave_up": gave_up,
        }

    def _schedule(self, record: _EventRecord, delay: float) -> None:
        """Have the background sender deliver `record` in `delay` seconds (lock held)."""
        # time.monotonic(): time-machine and clock changes leave it alone.
        record.due = time.monotonic() + delay
        self._due_events.notify_all()

    def _send_due_events(self, stopping: threading.Event) -> None:
        """The sender thread: deliver each event when it falls due, one at a time, until stopped."""
        while True:
            with self._lock:
                while True:
                    if stopping.is_set():
                        return
                    record, wait = self._next_due()
                    if record is not None:
                        break
                    self._due_events.wait(wait)
                record.due = None  # claimed; _deliver() schedules the next attempt if need be
            self._deliver(record)

    def _next_due(self) -> tuple[_EventRecord | None, float | None]:
        """(an event due now, None) or (None, seconds until the next, or None for none)."""
        pending = [record for record in self._events if record.due is not None]
        if not pending:
            return None, None
        first = min(pending, key=lambda record: record.due)
        wait = first.due - time.monotonic()
        return (first, None) if wait <= 0 else (None, wait)

    # --- HTTP endpoints -----------------------------------------------------------------------------

    def _api_create(self, params: dict) -> _Response:
        unknown = sorted(set(params) - CREATE_PARAMS)
        if unknown:
            raise StandinError(f"Received unknown parameter: {unknown[0]}", param=unknown[0])
        if params.get("mode") != "payment":
            raise StandinError("The stand-in supports mode=payment only.", param="mode")
        created = _now()
        items = _line_items(params.get("line_items"))
        intent_description, intent_metadata = _intent_data(params.get("payment_intent_data"))
        session_id = _random_id("cs_test_", 58)
        amount = sum(item["amount_total"] for item in items)
        data = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": _url(params, "cancel_url"),
            "client_reference_id": _optional_string(params, "client_reference_id", max_length=200),
            "created": created,
            "currency": items[0]["currency"],
            "customer": None,
            "customer_details": None,
            "customer_email": _optional_string(params, "customer_email", max_length=800),
            "expires_at": _expires_at(params.get("expires_at"), created),
            "livemode": False,
            "metadata": _metadata(params.get("metadata")),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": _url(params, "success_url"),
            "ui_mode": "hosted",
            "url": f"{self.url}/checkout/{session_id}",
        }
        self._sessions[session_id] = _Session(
            data=data,
            line_items=items,
            intent_description=intent_description,
            intent_metadata=intent_metadata,
        )
        return _Response.json_body(200, copy.deepcopy(data))

    def _api_retrieve(self, session_id: str, query: dict) -> _Response:
        expand = _expand(query)
        session = self._touch(session_id)
        data = copy.deepcopy(session.data)
        if "line_items" in expand:
            data["line_items"] = self._line_items_list(session)
        if "payment_intent" in expand and data["payment_intent"]:
            # Expanded, the id becomes the object itself (null stays null), as at Stripe.
            data["payment_intent"] = copy.deepcopy(self._payment_intents[data["payment_intent"]])
        return _Response.json_body(200, data)

    def _api_line_items(self, session_id: str) -> _Response:
        return _Response.json_body(200, self._line_items_list(self._touch(session_id)))

    def _api_payment_intent(self, intent_id: str) -> _Response:
        intent = self._payment_intents.get(intent_id)
        if intent is None:
            raise StandinError(
                f"No such payment_intent: '{intent_id}'",
                status=404,
                code="resource_missing",
                param="intent",
            )
        return _Response.json_body(200, copy.deepcopy(intent))

    def _line_items_list(self, session: _Session) -> dict:
        return {
            "object": "list",
            "data": copy.deepcopy(session.line_items),
            "has_more": False,
            "url": f"/v1/checkout/sessions/{session.data['id']}/line_items",
        }

    def _api_expire(self, session_id: str) -> _Response:
        # Stripe would also send checkout.session.expired some moments later; the stand-in does
        # not, so that no webhook races the caller's own transaction (use expire() for that).
        # A session already past expires_at has expired on its own: it is not open any more.
        session = self._touch(session_id)
        self._expire(session)
        return _Response.json_body(200, copy.deepcopy(session.data))

    def _idempotent(
        self, api_key: str, key: str | None, fingerprint: str, run: Callable[[], _Response]
    ) -> _Response:
        """Run a POST once per Idempotency-Key; replay its saved response, like Stripe."""
        with self._lock:
            saved = self._idempotency.get((api_key, key)) if key else None
            if saved is not None:
                saved_fingerprint, response = saved
                if saved_fingerprint != fingerprint:
                    raise StandinError(
                        "Keys for idempotent requests can only be used with the same parameters"
                        f" they were first used with. Try using a key other than '{key}' if you"
                        " meant to execute a different request.",
                        type="idempotency_error",
                    )
                return _Response(
                    response.status,
                    response.body,
                    response.content_type,
                    {**response.headers, "Idempotent-Replayed": "true"},
                )
            response = run()
            # Only executed requests are saved; a request that failed validation is not.
            if key and 200 <= response.status < 300:
                self._idempotency[(api_key, key)] = (fingerprint, response)
            return response

    def _expire_if_overdue_by_id(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._expire_if_overdue(session)

    def _hosted_page(self, session_id: str, status: int = 200, notice: str = "") -> _Response:
        self._expire_if_overdue_by_id(session_id)
        with self._lock:
            session = self._sessions.get(session_id)
            data = copy.deepcopy(session.data) if session else None
            items = copy.deepcopy(session.line_items) if session else []
        if data is None:
            return _Response.page(404, _page("Not found", "<p>No such checkout session.</p>"))
        return _Response.page(status, _checkout_page(data, items, notice))

    def _hosted_pay(self, session_id: str, transition: Callable[[_Session], str]) -> _Response:
        self._expire_if_overdue_by_id(session_id)
        try:
            event = self._transition_and_deliver(session_id, transition)
        except StandinError as error:
            if error.status == 404:
                return self._hosted_page(session_id)
            return self._hosted_page(session_id, status=400, notice=error.message)
        success_url = event["data"]["object"]["success_url"]
        if not success_url:
            return self._hosted_page(session_id)
        return _Response.redirect(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))

    def _control_events(self) -> _Response:
        with self._lock:
            data = [record.public() for record in self._events]
        return _Response.json_body(200, {"object": "list", "data": data, "has_more": False})

    def handle(self, method: str, path: str, query: str, headers, body: str) -> _Response:
        """Route one request; every error becomes Stripe's JSON error (or a page for browsers)."""
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match and method == route_method:
                try:
                    return getattr(self, name)(match, query, headers, body)
                except StandinError as error:
                    return _Response.json_body(error.status, error.body())
        return _Response.json_body(
            404,
            StandinError(
                f"Unrecognized request URL ({method}: {path}). The Stripe stand-in implements"
                " Checkout Sessions and reading PaymentIntents only (see"
                " payments/stripe_standin.py)."
            ).body(),
        )

    # Route handlers: (match, query, headers, body) -> _Response.

    def _route_create(self, match, query, headers, body) -> _Response:
        api_key = _api_key(headers)
        params = _parse_query(body)
        fingerprint = json.dumps(["POST", "/v1/checkout/sessions", params], sort_keys=True)
        return self._idempotent(
            api_key, headers.get("Idempotency-Key"), fingerprint, lambda: self._api_create(params)
        )

    def _route_retrieve(self, match, query, headers, body) -> _Response:
        _api_key(headers)
        with self._lock:
            return self._api_retrieve(match["id"], _parse_query(query))

    def _route_line_items(self, match, query, headers, body) -> _Response:
        _api_key(headers)
        with self._lock:
            return self._api_line_items(match["id"])

    def _route_payment_intent(self, match, query, headers, body) -> _Response:
        _api_key(headers)
        with self._lock:
            return self._api_payment_intent(match["id"])

    def _route_expire(self, match, query, headers, body) -> _Response:
        api_key = _api_key(headers)
        path = f"/v1/checkout/sessions/{match['id']}/expire"
        fingerprint = json.dumps(["POST", path, _parse_query(body)], sort_keys=True)
        return self._idempotent(
            api_key,
            headers.get("Idempotency-Key"),
            fingerprint,
            lambda: self._api_expire(match["id"]),
        )

    def _route_page(self, match, query, headers, body) -> _Response:
        return self._hosted_page(match["id"])

    def _route_pay(self, match, query, headers, body) -> _Response:
        return self._hosted_pay(match["id"], self._pay)

    def _route_pay_later(self, match, query, headers, body) -> _Response:
        return self._hosted_pay(match["id"], self._pay_later)

    def _route_control_complete(self, match, query, headers, body) -> _Response:
        return _Response.json_body(200, self.complete(match["id"]))

    def _route_control_settle(self, match, query, headers, body) -> _Response:
        result = {**_parse_query(query), **_parse_query(body)}.get("result", "succeeded")
        if result not in ("succeeded", "failed"):
            raise StandinError("result must be succeeded or failed.", param="result")
        return _Response.json_body(200, self.settle(match["id"], succeeded=result == "succeeded"))

    def _route_control_expire(self, match, query, headers, body) -> _Response:
        return _Response.json_body(200, self.expire(match["id"]))

    def _route_control_events(self, match, query, headers, body) -> _Response:
        return self._control_events()


def _api_key(headers) -> str:
    """The secret key from `Authorization: Bearer sk_test_...`; 401 for anything else."""
    scheme, _, key = (headers.get("Authorization") or "").partition(" ")
    if scheme != "Bearer" or not key:
        raise StandinError(
            "You did not provide an API key. Provide it in the Authorization header, using"
            " Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if not key.startswith("sk_test_"):
        # A live key must never be sent anywhere but Stripe, and a publishable key is a mistake.
        shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "****"
        raise StandinError(
            f"Invalid API Key provided: {shown}. The Stripe stand-in accepts test secret keys"
            " (sk_test_...) only.",
            status=401,
        )
    return key


_ID = r"/(?P<id>[A-Za-z0-9_]+)"
_ROUTES = [
    ("POST", re.compile(r"/v1/checkout/sessions"), "_route_create"),
    ("GET", re.compile(r"/v1/checkout/sessions" + _ID), "_route_retrieve"),
    ("GET", re.compile(r"/v1/checkout/sessions" + _ID + "/line_items"), "_route_line_items"),
    ("POST", re.compile(r"/v1/checkout/sessions" + _ID + "/expire"), "_route_expire"),
    ("GET", re.compile(r"/v1/payment_intents" + _ID), "_route_payment_intent"),
    ("GET", re.compile(r"/checkout" + _ID), "_route_page"),
    ("POST", re.compile(r"/checkout" + _ID + "/pay"), "_route_pay"),
    ("POST", re.compile(r"/checkout" + _ID + "/pay-later"), "_route_pay_later"),
    ("POST", re.compile(r"/standin/sessions" + _ID + "/complete"), "_route_control_complete"),
    ("POST", re.compile(r"/standin/sessions" + _ID + "/settle"), "_route_control_settle"),
    ("POST", re.compile(r"/standin/sessions" + _ID + "/expire-now"), "_route_control_expire"),
    ("GET", re.compile(r"/standin/events"), "_route_control_events"),
]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe counts a redirect as a failed delivery; it does not follow it."""

    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx then surfaces as an HTTPError, recorded with its status


# Webhooks go straight to the receiver: an http_proxy in the environment must not catch them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


# --- The hosted page ----------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #f6f7f9; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 1.25rem;
          text-align: center; padding: 1rem; }
main { max-width: 28rem; margin: 0 auto; padding: 1rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
td { padding: .5rem 0; border-bottom: 1px solid #ddd; vertical-align: top; }
td.amount { text-align: right; white-space: nowrap; }
tr.total td { font-weight: 700; border-bottom: none; }
button { display: block; width: 100%; font-size: 1.1rem; padding: .9rem; margin: .75rem 0;
         border-radius: .5rem; border: 1px solid #444; background: #fff; }
button.primary { background: #0a5cd5; color: #fff; border-color: #0a5cd5; }
.notice { background: #fff3cd; padding: .75rem; border-radius: .5rem; }
"""

_BANNER = "TEST PAYMENT – no real money is charged"


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – Stripe stand-in</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="banner" role="alert">{_BANNER}</div>
<main>
{content}
</main>
</body>
</html>
"""


def _status_message(data: dict) -> str:
    """Why a session cannot be paid (any more)."""
    if data["status"] in ("open", "expired"):  # open but past expires_at counts as expired
        return "This checkout session has expired. Go back to start a new payment."
    if data["payment_status"] == "paid":
        return "This payment is complete."
    return "Your bank transfer has been started and will settle later."


def _checkout_page(data: dict, items: list[dict], notice: str) -> str:
    currency = data["currency"]
    total = format_amount(data["amount_total"], currency)
    rows = "".join(
        f"<tr><td>{html.escape(item['description'])}"
        + (f" × {item['quantity']}" if item["quantity"] != 1 else "")
        + f'</td><td class="amount">{format_amount(item["amount_total"], currency)}</td></tr>'
        for item in items
    )
    rows += f'<tr class="total"><td>Total</td><td class="amount">{total}</td></tr>'
    parts = [
        "<h1>Checkout</h1>",
        f'<p class="notice">{html.escape(notice)}</p>' if notice else "",
        f"<table>{rows}</table>",
    ]
    payable = data["status"] == "open" and _now() < data["expires_at"]
    if payable:
        base = f"/checkout/{data['id']}"
        parts += [
            f'<form method="post" action="{base}/pay">'
            f'<button class="primary" type="submit">Pay {total} with a test card</button></form>',
            f'<form method="post" action="{base}/pay-later">'
            '<button type="submit">Pay by bank transfer (test: settles later)</button></form>',
        ]
        if data["cancel_url"]:
            parts.append(
                f'<p><a href="{html.escape(data["cancel_url"])}">Cancel and go back</a></p>'
            )
    else:
        parts.append(f'<p class="notice">{html.escape(_status_message(data))}</p>')
    return _page("Checkout", "\n".join(parts))


# --- HTTP plumbing ------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep the process (or a test run) alive

    def __init__(self, address, handler, standin: StripeStandin):
        self.standin = standin
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "StripeStandin/1.0"
    # HTTP/1.0: one request per connection, so stop() leaves no idle keep-alive sockets behind.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        try:
            response = self.server.standin.handle(
                method, parts.path, parts.query, self.headers, body
            )
        except Exception:
            logger.exception("Stripe stand-in failed on %s %s", method, self.path)
            # Stripe-Should-Retry: false, or the client would retry a bug in the stand-in.
            response = _Response.json_body(
                500,
                {"error": {"type": "api_error", "message": "The Stripe stand-in crashed."}},
                **{"Stripe-Should-Retry": "false"},
            )
        self._send(response)

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Request-Id", _random_id("req_test_", 14))
        self.send_header("Stripe-Version", API_VERSION)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        logger.info("%s %s", self.address_string(), format % args)


# --- Command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m payments.stripe_standin",
        description="A local Stripe Checkout stand-in for the SERS dev run (test data only).",
    )
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None, help="where to POST signed events")
    parser.add_argument("--webhook-secret", default="whsec_local_standin")
    parser.add_argument(
        "--no-retries",
        action="store_true",
        help="deliver each webhook once; by default a failed one is retried with backoff",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    standin = StripeStandin(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        host=args.host,
        port=args.port,
        retry_delays=() if args.no_retries else RETRY_DELAYS,
    ).start()
    where = f"webhooks to {args.webhook_url}" if args.webhook_url else "no webhook URL"
    try:
        # Announced inside the try: a Ctrl-C right after the line still stops it cleanly.
        print(f"Stripe stand-in listening on {standin.url} ({where}); Ctrl-C stops it", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
