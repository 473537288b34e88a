"""Mirsam's Stripe test configuration: the secret key and webhook secret the
billing fixtures install, and the URL of dj-stripe's webhook endpoint."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

KEY = "sk_test_" + "k" * 24
"""The Stripe test secret key (``STRIPE_TEST_SECRET_KEY`` and dj-stripe's APIKey)."""
WEBHOOK_SECRET = "whsec_mirsam_test"
"""The signing secret of the test WebhookEndpoint (and of the stand-in's deliveries)."""


def webhook_url(endpoint: Any) -> str:
    """The path of dj-stripe's webhook view for ``endpoint`` (a djstripe WebhookEndpoint)."""
    return reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})
