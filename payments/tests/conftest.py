"""Stripe in tests: the real client over HTTP to the local stand-in, webhooks signed for real."""

import pytest
from django.conf import settings

from stripe_standin import StripeStandin


@pytest.fixture
def stripe_standin():
    standin = StripeStandin(webhook_secret=settings.STRIPE_WEBHOOK_SECRET).start()
    yield standin
    standin.stop()


@pytest.fixture
def stripe_settings(stripe_standin, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_standin"
    settings.STRIPE_API_BASE = stripe_standin.url
    return stripe_standin


@pytest.fixture
def stripe_to_live_server(stripe_settings, live_server, settings):
    """The stand-in delivers its webhooks to Django's live server, as Stripe would."""
    settings.SITE_URL = live_server.url
    stripe_settings.webhook_url = f"{live_server.url}/payments/stripe/webhook/"
    return stripe_settings
