"""The Stripe stand-in fixtures, for the dashboard's payment-processing case."""

from payments.tests.conftest import stripe_settings, stripe_standin  # noqa: F401
