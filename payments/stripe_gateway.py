"""The Stripe client, configured once. Production talks to Stripe; tests and the
embedded run point ``STRIPE_API_BASE`` at the local stand-in (payments/stripe_standin.py)."""

import stripe
from django.conf import settings

# The client would otherwise write an id file under the home directory and report timings.
stripe.enable_telemetry = False


def stripe_client() -> stripe.StripeClient:
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base_addresses,
        # Stripe's own advice: retry network errors; idempotency keys make it safe.
        max_network_retries=2,
    )


def is_test_mode() -> bool:
    return settings.STRIPE_SECRET_KEY.startswith("sk_test_")
