"""Shared fixtures. Personas after healthchecks: alice (owner), charlie (outsider)."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from credits.services import credits_grant
from tests.factories import OfferFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.DEMO_DELAY_SECONDS = 0
    settings.DEMO_FAILURE_RATE = 0.0
    settings.MIRSAM_POLL_MAX_ATTEMPTS = 3
    settings.MIRSAM_POLL_SCHEDULE = [0]
    settings.KIE_RETRY_BACKOFF_SECONDS = 0.01
    settings.MIRSAM_SIGNUP_CREDITS = 50
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


def fund(user, amount: int) -> None:
    credits_grant(user=user, amount=amount, idempotency_key=f"test-fund:{user.pk}:{amount}", reason="test")


@pytest.fixture
def alice(db):
    user = UserFactory(email="alice@example.com", username="alice")
    fund(user, 100)
    return user


@pytest.fixture
def charlie(db):
    return UserFactory(email="charlie@example.com", username="charlie")


@pytest.fixture
def demo_offer(db):
    return OfferFactory(slug="test-demo", adapter="demo")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def charlie_client(charlie):
    other = Client()
    other.force_login(charlie)
    return other


def need(condition: bool, why: str) -> None:
    """Skip a service test where the service is missing, but fail under CI=true:
    CI must run the PostgreSQL / Redis / worker tests, never skip them."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture
def postgres(db):
    from django.db import connection

    need(connection.vendor == "postgresql", "the database is not PostgreSQL (set DATABASE_URL)")
