"""The Stripe client, configured once. Production talks to Stripe; tests and the
embedded run point ``STRIPE_API_BASE`` at the local stand-in (stripe_standin/)."""

import time

import stripe
from django.conf import settings

# The client would otherwise write an id file under the home directory and report timings.
stripe.enable_telemetry = False

# How far a webhook's signed timestamp may be from our clock, either way (Stripe's default).
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


def stripe_client() -> stripe.StripeClient:
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base_addresses,
        # Stripe's own advice: retry network errors; idempotency keys make it safe.
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def checkout_session_read(client: stripe.StripeClient, stripe_session_id: str):
    """A Checkout Session as Stripe has it now, with its PaymentIntent, which tells a bank
    payment still on its way (processing) from one that failed."""
    return client.v1.checkout.sessions.retrieve(
        stripe_session_id, params={"expand": ["payment_intent"]}
    )


def webhook_event(payload: bytes, signature_header: str) -> stripe.Event:
    """A verified event; ValueError or SignatureVerificationError otherwise.

    The client refuses a signature older than the tolerance; one dated further in the future
    is refused here too, so that a captured request cannot be kept for a later replay.
    """
    event = stripe.Webhook.construct_event(
        payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE_SECONDS
    )
    timestamps = [
        int(value)
        for key, _, value in (part.partition("=") for part in signature_header.split(","))
        if key.strip() == "t" and value.strip().isdigit()
    ]
    if not timestamps or timestamps[0] > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(
            "Timestamp outside the tolerance zone", signature_header, payload
        )
    return event


def is_test_mode() -> bool:
    return settings.STRIPE_SECRET_KEY.startswith("sk_test_")
