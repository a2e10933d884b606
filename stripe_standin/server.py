"""`StripeStandin`: the in-memory Checkout served over HTTP on 127.0.0.1, with Stripe's API
routes, the hosted page and the control endpoints under `/standin/`."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Iterable

from stripe_standin.checkout import RETRY_DELAYS, _Checkout, _Session
from stripe_standin.common import StandinError, _now, _random_id
from stripe_standin.http import _Handler, _Response, _Server
from stripe_standin.page import _checkout_page, _page
from stripe_standin.params import (
    CREATE_PARAMS,
    _expand,
    _expires_at,
    _intent_data,
    _line_items,
    _metadata,
    _optional_string,
    _parse_query,
    _url,
)

LOOPBACK = "127.0.0.1"


class StripeStandin(_Checkout):
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
        super().__init__(webhook_url, webhook_secret, retry_delays)
        self.host, self.port = host, port
        self._idempotency: dict[tuple[str, str], tuple[str, _Response]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

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
                " stripe_standin/)."
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
