"""Rate limits: allauth's on login, sign-up and password reset (our 429 page in
both languages), django-ratelimit's on Generate (per user) and on the provider
callback (per IP). Counts live in the cache, cleared before every test."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from credits.models import Wallet
from generation.models import Job, Upload
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.env import ROOT, need

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
TOO_FAST = "You are generating too fast. Please wait a minute, then try again."
# Read before tests/conftest.py blanks it: the Redis of the deployment (CI: the broker's).
REDIS_URL = django_settings.MIRSAM_REDIS_URL or "redis://127.0.0.1:6379/0"


@pytest.fixture
def limits(settings):
    """Set some of allauth's limits (the rest keep the settings' values)."""

    def _set(**rates: str) -> None:
        settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, **rates}

    return _set


def test_the_account_limits_default_to_allauths_and_are_settings(settings):
    assert settings.ACCOUNT_RATE_LIMITS == {
        "login": "30/m/ip",
        "login_failed": "10/m/ip,5/300s/key",
        "signup": "20/m/ip",
        "reset_password": "20/m/ip,5/m/key",
    }


@pytest.mark.parametrize(
    ("prefix", "lang", "heading"),
    [("", 'lang="en" dir="ltr"', "Slow down a little"), ("/ar", 'lang="ar" dir="rtl"', "تمهّل قليلًا")],
)
def test_rate_limited_login_returns_429(client, alice, limits, prefix, lang, heading):
    limits(login="3/m/ip")
    url = f"{prefix}/accounts/login/"
    for _ in range(3):
        response = client.post(url, {"login": "alice@example.com", "password": "not-her-password"})
        assert response.status_code == 200  # the form, with its error

    response = client.post(url, {"login": "alice@example.com", "password": "not-her-password"})

    assert response.status_code == 429
    assert "429.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert lang in body and heading in body


def test_a_rate_limited_sign_up_returns_our_429_page(client, limits):
    limits(signup="1/m/ip")
    data = {"email": "new@example.com", "password1": "x", "password2": "y"}
    assert client.post("/accounts/signup/", data).status_code == 200
    response = client.post("/accounts/signup/", data)
    assert response.status_code == 429
    assert "Slow down a little" in response.content.decode()
    assert not UserFactory._meta.model.objects.filter(email="new@example.com").exists()


def test_a_rate_limited_password_reset_returns_our_429_page(client, limits, mailoutbox):
    limits(reset_password="1/m/ip")
    assert client.post("/accounts/password/reset/", {"email": "someone@example.com"}).status_code == 302
    response = client.post("/accounts/password/reset/", {"email": "someone@example.com"})
    assert response.status_code == 429
    assert "Slow down a little" in response.content.decode()


# --- Generate -----------------------------------------------------------------------


def _generate(client, offer, **extra):
    data = {"offer": offer.pk, "prompt": "a lighthouse", "aspect_ratio": "1:1", "outputs": 1}
    return client.post(reverse("job_create"), data, **extra)


def test_generate_over_the_limit_is_refused_with_the_message_and_nothing_held(
    alice_client, alice, demo_offer, settings
):
    settings.MIRSAM_RATE_GENERATE = "2/m"
    assert _generate(alice_client, demo_offer, **HX).status_code == 200
    assert _generate(alice_client, demo_offer, **HX).status_code == 200
    wallet = Wallet.objects.get(user=alice)
    before = (wallet.balance, wallet.held, Job.objects.count(), Upload.objects.count())

    response = _generate(alice_client, demo_offer, **HX)

    # htmx: into #form-errors with a 200, like every other form error.
    assert response.status_code == 200
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#form-errors", "innerHTML")
    assert TOO_FAST in response.content.decode()
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held, Job.objects.count(), Upload.objects.count()) == before

    # Without htmx: a real 429 page with the same message.
    response = _generate(alice_client, demo_offer)
    assert response.status_code == 429
    assert TOO_FAST in response.content.decode()
    assert Job.objects.count() == before[2]


def test_image_video_and_avatar_share_one_count_per_user(alice_client, charlie_client, charlie, demo_offer, settings):
    settings.MIRSAM_RATE_GENERATE = "1/m"
    fund(charlie, 10)
    assert _generate(alice_client, demo_offer, **HX).status_code == 200

    response = alice_client.post(reverse("avatar_create"), {}, **HX)
    assert TOO_FAST in response.content.decode()
    # Another user has a count of their own.
    assert TOO_FAST not in _generate(charlie_client, demo_offer, **HX).content.decode()
    assert Job.objects.filter(user=charlie).count() == 1


def test_the_arabic_studio_refuses_in_arabic_layout(alice_client, demo_offer, settings):
    settings.MIRSAM_RATE_GENERATE = "1/m"
    _generate(alice_client, demo_offer, **HX)
    data = {"offer": demo_offer.pk, "prompt": "a lighthouse", "aspect_ratio": "1:1", "outputs": 1}
    response = alice_client.post("/ar" + reverse("job_create"), data)
    assert response.status_code == 429
    assert 'lang="ar" dir="rtl"' in response.content.decode()


# --- the provider callback ------------------------------------------------------------


def test_the_callback_over_the_limit_answers_429_json(client, settings):
    settings.MIRSAM_RATE_CALLBACK = "2/m"
    url = reverse("provider_callback", kwargs={"token": "no-such-token"})
    assert client.post(url, b"{}", content_type="application/json").status_code == 404
    assert client.post(url, b"{}", content_type="application/json").status_code == 404

    response = client.post(url, b"{}", content_type="application/json")

    assert response.status_code == 429
    assert response.json() == {"ok": False, "error": "rate_limited"}
    # Counted per client IP: another sender is not held back.
    other = client.post(url, b"{}", content_type="application/json", REMOTE_ADDR="10.0.0.2")
    assert other.status_code == 404


def test_the_limits_count_in_a_redis_cache_as_in_production(client, settings):
    """Production's cache (CACHE_URL=redis://… → Django's RedisCache): the
    counts are shared, so any web process refuses the over-limit request."""
    try:
        reachable = bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        reachable = False
    need(reachable, f"Redis at {REDIS_URL} is not reachable")
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"mirsam-test-{uuid.uuid4().hex}",
        },
    }
    settings.MIRSAM_RATE_CALLBACK = "1/m"
    url = reverse("provider_callback", kwargs={"token": "no-such-token"})
    assert client.post(url, b"{}", content_type="application/json").status_code == 404
    assert client.post(url, b"{}", content_type="application/json").status_code == 429


@pytest.mark.parametrize("action", ["job_regenerate", "job_extend"])
def test_regenerate_and_extend_count_against_the_generate_limit(
    action, alice_client, alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    from generation import services
    from providers.models import Offer
    from tests.support.catalogue import install_seeded_catalogue

    settings.MIRSAM_RATE_GENERATE = "2/m"
    offer = demo_offer
    if action == "job_extend":  # only a video extends
        install_seeded_catalogue()
        offer = Offer.objects.get(slug="demo-video")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=offer, params={"prompt": "a lighthouse", "outputs": 1})
    url = reverse(action, args=[job.pk])
    alice_client.post(url, {"prompt": "further"}, **HX)
    alice_client.post(url, {"prompt": "further"}, **HX)
    count = Job.objects.count()

    response = alice_client.post(url, {"prompt": "further"}, **HX)

    assert response["HX-Redirect"] == reverse("job_detail", args=[job.pk])
    assert Job.objects.count() == count
    page = alice_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert TOO_FAST in page
    response = alice_client.post(url, {"prompt": "further"})
    assert response.status_code == 429 and TOO_FAST in response.content.decode()
    assert Job.objects.count() == count


# --- behind a proxy -----------------------------------------------------------------


def test_the_proxy_settings_are_read_from_the_environment():
    code = (
        "from django.conf import settings as s; "
        "print(s.ALLAUTH_TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_CLIENT_IP_HEADER)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ALLAUTH_TRUSTED_PROXY_COUNT": "2",
        "ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP",
        "PATH": "",
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "X-Real-IP"]


@pytest.mark.parametrize("proxies", [1, 0])
def test_behind_a_proxy_one_clients_failed_sign_ins_do_not_lock_out_another(proxies, client, alice, settings, limits):
    """All requests come from the proxy's address; the client is the last
    X-Forwarded-For entry the proxy appended (ALLAUTH_TRUSTED_PROXY_COUNT=1).
    Unset (0), every client shares the proxy's bucket: what main did, since
    it never read the variable."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    limits(login_failed="3/m/ip")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(4):
        client.post(
            "/accounts/login/",
            {"login": "alice@example.com", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="203.0.113.5",
            **proxy,
        )
    locked = client.post(
        "/accounts/login/",
        {"login": "alice@example.com", "password": "pass-word-123"},
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        **proxy,
    )
    # The right password is refused now: allauth answers with the form and its error.
    assert locked.status_code == 200 and "Too many failed login attempts" in locked.content.decode()

    other = Client().post(
        "/accounts/login/",
        {"login": "alice@example.com", "password": "pass-word-123"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        **proxy,
    )
    if proxies:
        assert other.status_code == 302, "another client behind the same proxy was locked out"
    else:
        assert "Too many failed login attempts" in other.content.decode()
