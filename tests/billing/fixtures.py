"""Billing fixtures, registered for every test in tests/conftest.py: the Stripe
stand-in (tests/support/stripe) with ``stripe.api_base`` pointed at it, keys, a
dj-stripe webhook endpoint, packs and plans pushed to the stand-in, and signed event delivery to the real
dj-stripe endpoint (docs/stack.md §1, "Testing a webhook offline")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing import services
from billing.models import CreditPack, Plan
from tests.support.billing import KEY, WEBHOOK_SECRET, webhook_url
from tests.support.stripe import StripeStandIn, sign_event


@pytest.fixture
def stripe_standin() -> Iterator[StripeStandIn]:
    """A running StripeStandIn with ``stripe.api_base`` pointed at it (restored afterwards)."""
    import stripe

    standin = StripeStandIn()
    standin.start()
    old_base = stripe.api_base
    stripe.api_base = standin.url
    try:
        yield standin
    finally:
        stripe.api_base = old_base
        standin.stop()


@pytest.fixture
def stripe_env(settings, stripe_standin, db):
    """Stripe configured against the stand-in, with a webhook endpoint."""
    from djstripe.models import Account, APIKey, WebhookEndpoint

    settings.STRIPE_TEST_SECRET_KEY = KEY
    account = Account.objects.create(id="acct_standin", livemode=False)
    APIKey.objects.create(secret=KEY, type="secret", livemode=False, djstripe_owner_account=account)
    endpoint = WebhookEndpoint.objects.create(
        id="we_test",
        url="https://mirsam.test/stripe/",
        secret=WEBHOOK_SECRET,
        enabled_events=["*"],
        status="enabled",
        livemode=False,
        djstripe_owner_account=account,
    )
    stripe_standin.webhook_secret = WEBHOOK_SECRET
    stripe_standin.endpoint = endpoint
    return stripe_standin


@pytest.fixture
def pack(stripe_env):
    pack = CreditPack.objects.create(slug="test-pack", name="Test pack", credits=100, price_amount=500, currency="usd")
    services.offering_sync_to_stripe(offering=pack)
    return pack


@pytest.fixture
def plan(stripe_env):
    plan = Plan.objects.create(slug="test-plan", name="Test plan", credits_per_period=300, price_amount=1200)
    services.offering_sync_to_stripe(offering=plan)
    return plan


@pytest.fixture
def post_event(stripe_env):
    """POST an event signed as Stripe signs it to dj-stripe's endpoint."""
    from django.test import Client

    def post(event, *, secret=WEBHOOK_SECRET, timestamp=None, client=None):
        payload, signature = sign_event(event, secret, timestamp=timestamp)
        client = client or Client(raise_request_exception=False)
        return client.post(
            webhook_url(stripe_env.endpoint),
            payload,
            content_type="application/json",
            headers={"Stripe-Signature": signature},
        )

    return post
