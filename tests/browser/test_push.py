"""The job card in a real browser under a real ASGI server (uvicorn, as the
Procfile's ``asgi`` process runs the site): with push it is updated by the
event stream and asks for itself only once its job changed; with the push
channel down (Redis unreachable) it polls every 2 s and still finishes."""

from __future__ import annotations

import pytest
from django.db import connection

from generation import services
from generation.models import Job
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.asgi import AsgiServer
from tests.support.browser import sign_in
from tests.support.env import need


def _running_job(settings, email: str) -> Job:
    """A demo job of two images whose tasks run at the provider for an hour."""
    need(connection.vendor == "postgresql", "the database is not PostgreSQL (the server's threads share it)")
    user = UserFactory(email=email)
    fund(user, 100)
    offer = OfferFactory(slug="push-demo", adapter="demo", price_credits=2, name="Push demo")
    settings.DEMO_DELAY_SECONDS = 3600
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a slow comet", "outputs": 2})
    job.refresh_from_db()
    assert not job.is_final and job.tasks.filter(status="running").count() == 2
    return job


def _deliver(settings, job: Job) -> None:
    """The provider is done: one poll records both results, as a worker would."""
    settings.DEMO_DELAY_SECONDS = 0
    assert services.job_poll(job_id=job.pk).is_final


def _card_requests(page, job: Job) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if f"/jobs/{job.pk}/card/" in r.url else None)
    return seen


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_card_changes_through_the_push_stream_without_a_single_poll(page, push_on, settings):
    push_on.MIRSAM_PUSH_STREAM_SECONDS = 300.0
    push_on.MIRSAM_PUSH_HEARTBEAT_SECONDS = 15.0
    job = _running_job(settings, "pushed@example.com")
    cards = _card_requests(page, job)
    streams: list[int] = []
    page.on("response", lambda r: streams.append(r.status) if "/events/" in r.url else None)
    with AsgiServer() as server:
        sign_in(page, server.url, "pushed@example.com", "pass-word-123")
        page.goto(f"{server.url}/jobs/{job.pk}/")
        page.wait_for_function("() => document.querySelector('.job-card.is-running') !== null")
        page.wait_for_timeout(6_500)  # three polls' worth of waiting
        assert streams == [200], streams
        assert cards == [], cards  # the open stream cancelled every 2-second poll

        _deliver(settings, job)
        page.locator(f"#job-{job.pk}[data-status=succeeded]").wait_for(timeout=10_000)
        assert page.locator(f"#job-{job.pk} img[elementtiming=job-output]").count() == 2
        # One fetch per change at most: the first result (the job still running) and the job's end.
        assert 1 <= len(cards) <= 2, cards
        fetched = len(cards)
        page.wait_for_timeout(2_500)
        assert len(cards) == fetched, cards  # a final card asks nothing more
        assert streams == [200], streams


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_the_push_channel_down_the_card_polls_and_still_finishes(page, push_on, settings):
    job = _running_job(settings, "polled@example.com")
    push_on.MIRSAM_REDIS_URL = "redis://127.0.0.1:1/0"  # Redis "stopped": nothing listens there
    cards = _card_requests(page, job)
    streams: list[int] = []
    page.on("response", lambda r: streams.append(r.status) if "/events/" in r.url else None)
    with AsgiServer() as server:
        sign_in(page, server.url, "polled@example.com", "pass-word-123")
        page.goto(f"{server.url}/jobs/{job.pk}/")
        page.wait_for_timeout(5_000)
        assert streams and set(streams) == {503}, streams  # the stream is refused …
        assert len(cards) >= 2, cards  # … so the card polls

        _deliver(settings, job)  # its push is lost (no Redis): the next poll shows it
        page.locator(f"#job-{job.pk}[data-status=succeeded]").wait_for(timeout=10_000)
        assert page.locator(f"#job-{job.pk} img[elementtiming=job-output]").count() == 2
