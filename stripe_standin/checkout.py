"""The Stripe stand-in's Checkout in memory: sessions, PaymentIntents and their transitions,
events, signed webhook delivery with retries, and the Python API tests drive."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import stripe

from stripe_standin.common import API_VERSION, StandinError, _now, _random_id

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10
# Seconds between failed webhook deliveries: Stripe's backoff on a dev-sized clock (about nine
# minutes in all, where Stripe keeps trying for three days), then it gives up.
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16, 30, 60, 120, 300)
# How long stop() waits for the retry thread; one stuck on a slow receiver is left to finish.
STOP_WAIT_SECONDS = 1.0
EVENT_TYPES = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe counts a redirect as a failed delivery; it does not follow it."""

    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx then surfaces as an HTTPError, recorded with its status


# Webhooks go straight to the receiver: an http_proxy in the environment must not catch them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


class _Checkout:
    """Stripe Checkout in memory, without HTTP of its own: `StripeStandin` serves it.

    Holds the sessions, their PaymentIntents and events, makes their transitions, delivers the
    signed webhooks (and their retries, from a sender thread) and offers the Python API that
    tests and demos drive.
    """

    def __init__(self, webhook_url: str | None, webhook_secret: str, retry_delays: Iterable[float]):
        if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ValueError(f"webhook_url must be an http(s) URL, not {webhook_url!r}")
        self.retry_delays = tuple(float(delay) for delay in retry_delays)
        if any(delay < 0 for delay in self.retry_delays):
            raise ValueError(f"retry_delays must not be negative, not {self.retry_delays}")
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        # One lock for all state; it is never held while a webhook is on its way, because the
        # receiver may well call back into the stand-in (retrieve the session) before answering.
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._payment_intents: dict[str, dict] = {}
        self._events: list[_EventRecord] = []
        self._payloads: dict[str, _EventRecord] = {}  # event id -> event, for replays
        # The thread that sends due events (retries, and expiries found by the API), with the
        # flag that stops it; a thread per start(), so one still finishing a delivery after
        # stop() never picks up work again.
        self._due_events = threading.Condition(self._lock)
        self._sender: tuple[threading.Thread, threading.Event] | None = None

    # --- The sender thread (StripeStandin's start() and stop() run it) ---------------------------

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
