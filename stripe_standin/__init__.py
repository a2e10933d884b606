"""A local stand-in for the small part of Stripe that SERS uses: Checkout Sessions and their webhooks.

For the tests and the embedded dev run (`make run`) only, where there is no internet: the real
`stripe` client is pointed at this server (`base_addresses={"api": standin.url}`) and talks to it
over HTTP exactly as it would to api.stripe.com. Production talks to Stripe itself and never
imports this package.

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

    python -m stripe_standin --port 12111 \\
        --webhook-url http://127.0.0.1:8000/payments/stripe/webhook/ --webhook-secret whsec_...

The package, from the bottom up (no module imports one above it, none imports Django):

- `common`: what they all share: `StandinError`, Stripe-style ids, the clock, the API version.
- `params`: Stripe's form encoding (`parse_stripe_form`) and the checks of a create call.
- `page`: the hosted test payment page.
- `http`: HTTP plumbing: the threaded server, the request handler, `_Response`.
- `checkout`: sessions, PaymentIntents and their transitions, events, webhook delivery and
  retries, and the Python API tests drive (`_Checkout`, with no HTTP of its own).
- `server`: `StripeStandin`, the above served over HTTP: life cycle, API routes, hosted page
  and control endpoints.
- `__main__`: the command line.
"""

from stripe_standin.checkout import RETRY_DELAYS
from stripe_standin.common import StandinError
from stripe_standin.params import parse_stripe_form
from stripe_standin.server import StripeStandin

__all__ = ["RETRY_DELAYS", "StandinError", "StripeStandin", "parse_stripe_form"]
