"""Shared fixtures. Personas after healthchecks: alice (owner), charlie (outsider)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.utils import translation

from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund, with_totp
from tests.support.env import IN_CI, broker_reachable, need
from tests.support.worker import worker as celery_worker
from tests.support.worker import worker_env

pytest_plugins = ["tests.billing.fixtures"]

# Read before _test_settings blanks it for every test: the Redis the deployment
# would share (CI: the broker's), else the local default one.
REDIS_URL = django_settings.MIRSAM_REDIS_URL or "redis://127.0.0.1:6379/0"


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.support import faults

    faults.report(terminalreporter)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.DEMO_DELAY_SECONDS = 0
    settings.DEMO_FAILURE_RATE = 0.0
    settings.DEMO_CALLBACKS = False  # on with the embedded broker; tests of it turn it on
    settings.MIRSAM_POLL_MAX_ATTEMPTS = 3
    settings.MIRSAM_POLL_SCHEDULE = [0]
    settings.KIE_RETRY_BACKOFF_SECONDS = 0.01
    settings.MIRSAM_SIGNUP_CREDITS = 50
    settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION = False  # tests of it turn it on
    settings.MIRSAM_FREE_CONCURRENT_JOBS = 0  # tests of it set a cap
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Rate-limit counts live in the cache (and LocMemCache outlives its settings):
    # start every test with none, and with no rendered job cards or pages kept from an
    # earlier test (SQLite may hand out the same job ids again). The kie limiter
    # counts in this process, afresh.
    from django.core.cache import cache, caches

    from providers import ratelimit

    cache.clear()
    caches["fragments"].clear()
    caches["pages"].clear()
    settings.MIRSAM_REDIS_URL = ""
    settings.MIRSAM_PUSH_URL = ""  # push needs Redis; tests of it (tests/generation/test_push.py) turn it on
    ratelimit.reset_local()
    # A request to an /ar/ page leaves Arabic active in this thread; start each
    # test in English so reverse() gives unprefixed URLs.
    translation.activate(settings.LANGUAGE_CODE)
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


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


@pytest.fixture
def postgres(db):
    from django.db import connection

    need(connection.vendor == "postgresql", "the database is not PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def worker(settings, tmp_path, request):
    """A real Celery worker process on its own queue, sharing the test database
    (use with ``django_db(transaction=True, serialized_rollback=True)`` so it sees committed rows).
    Parametrized indirectly, its parameter is more environment for the worker
    (``{"MIRSAM_POLL_SCHEDULE": "30"}``)."""
    from django.db import connection

    broker = settings.CELERY_BROKER_URL
    if IN_CI:
        need(broker.startswith("redis"), "CELERY_BROKER_URL is not Redis")
        need(connection.vendor == "postgresql", "the database is not PostgreSQL")
    need(broker_reachable(broker), f"the broker {broker} is not reachable")
    from config.celery import app

    queue = f"mirsam-test-{uuid.uuid4().hex[:8]}"
    extra = getattr(request, "param", None) or {}
    proc = celery_worker(queue, env=worker_env(settings, queue, **extra), log=tmp_path / "worker.log").start()
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MIRSAM_QUEUE_IMAGES = settings.MIRSAM_QUEUE_VIDEOS = queue
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield proc
    finally:
        app.conf.task_default_queue = old_queue
        app.conf.task_always_eager = True
        proc.stop()
        if os.environ.get("MIRSAM_SHOW_WORKER_LOG"):
            print(proc.log.read_text())


@pytest.fixture
def staff(db):
    return with_totp(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def push_on(settings):
    """Push (generation/push.py) on, against the real Redis: streams end after
    2 s, with heartbeats every 0.2 s. Fails under CI=true without Redis."""
    try:
        reachable = bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        reachable = False
    need(reachable, f"Redis at {REDIS_URL} is not reachable")
    settings.MIRSAM_REDIS_URL = REDIS_URL
    settings.MIRSAM_PUSH_URL = "/events/"
    settings.MIRSAM_PUSH_HEARTBEAT_SECONDS = 0.2
    settings.MIRSAM_PUSH_STREAM_SECONDS = 2.0
    return settings
