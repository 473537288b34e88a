"""How long a provider task took, recorded with its result (kie.ai costTime,
docs/kie.md §2.1: ms in recordInfo, s in callbacks; else our own clock), and
the model's duration polling learns from it (generation.polling)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from generation import services
from generation.models import Job, JobStatus, TaskStatus
from generation.polling import duration_estimate
from tests.factories import OfferFactory
from tests.support.kie import (
    CREATE,
    RECORD,
    callback_body,
    created,
    envelope,
    kie_configure,
    record,
    serve_png,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def kie(settings, httpserver):
    server = kie_configure(settings, httpserver)
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.example"
    return server


@pytest.fixture
def kie_offer(db):
    return OfferFactory(slug="test-kie", adapter="kie", provider_model="google/nano-banana", typical_seconds=60)


@pytest.fixture
def submit(alice, kie_offer, django_capture_on_commit_callbacks):
    def _submit(offer=None) -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_submit(user=alice, offer=offer or kie_offer, params={"prompt": "a red fox"})
        job.refresh_from_db()
        return job

    return _submit


def test_a_polled_task_keeps_kies_costtime_in_seconds_not_milliseconds(kie, submit):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[serve_png(kie)], cost_time=15000)))

    job = submit()

    assert job.status == JobStatus.SUCCEEDED
    task = job.tasks.get()
    assert task.cost_seconds == 15.0
    assert task.finished_at is not None
    assert task.create_sent_at <= task.finished_at


def test_a_task_finished_by_callback_keeps_its_costtime_as_the_seconds_it_is(
    kie, submit, client, django_capture_on_commit_callbacks
):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    job = submit()
    assert job.status == JobStatus.PROCESSING

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("provider_callback", kwargs={"token": job.callback_token}),
            data=callback_body("success", urls=[serve_png(kie)], cost_time=12),
            content_type="application/json",
        )

    assert response.status_code == 200
    task = job.tasks.get()
    assert (task.status, task.cost_seconds) == (TaskStatus.SUCCEEDED, 12.0)
    assert task.finished_at is not None


def test_a_failed_task_is_recorded_with_its_time_and_a_record_without_costtime_with_none(kie, submit):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(
        envelope(record("fail", fail_code="500", fail_msg="Internal error", cost_time=None))
    )

    job = submit()

    task = job.tasks.get()
    assert task.status == TaskStatus.FAILED
    assert task.cost_seconds is None
    assert task.finished_at is not None


def test_the_model_learns_its_duration_from_the_costtime_of_its_polled_tasks(kie, submit, kie_offer):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[serve_png(kie)], cost_time=15000)))
    assert duration_estimate(offer_id=kie_offer.pk, seeded=60).samples == 0  # and now cached…

    for _ in range(5):
        assert submit().status == JobStatus.SUCCEEDED
    assert duration_estimate(offer_id=kie_offer.pk, seeded=60).typical == 60  # …for a while

    cache.clear()
    estimate = duration_estimate(offer_id=kie_offer.pk, seeded=60)
    assert (estimate.typical, estimate.low, estimate.samples) == (15.0, 15.0, 5)


def test_a_demo_task_without_costtime_is_measured_by_our_own_clock(submit, demo_offer):
    job = submit(demo_offer)

    assert job.status == JobStatus.SUCCEEDED
    task = job.tasks.get()
    assert task.cost_seconds is None
    assert task.create_sent_at is not None and task.finished_at >= task.create_sent_at
    for _ in range(4):
        submit(demo_offer)
    cache.clear()
    estimate = duration_estimate(offer_id=demo_offer.pk, seeded=5)
    assert estimate.samples == 5
    assert 0 <= estimate.typical < 5  # DEMO_DELAY_SECONDS is 0 in tests: far below the seeded 5 s
