"""Routing of the pipeline's Celery tasks by service (generation/queues.py), and
a rate-limited submit going back to its queue instead of failing."""

from __future__ import annotations

import pytest

from credits.models import HoldStatus
from generation import queues, services, tasks
from generation.models import Job, JobStatus
from providers.ratelimit import RateLimited
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Every ``apply_async`` of the pipeline's tasks, as (task name, args, options); nothing runs."""
    calls: list[tuple[str, tuple, dict]] = []
    for task in (tasks.submit_job_task, tasks.poll_job_task, tasks.complete_task_task):
        name = task.name.rsplit(".", 1)[-1]
        monkeypatch.setattr(
            task, "apply_async", lambda args=None, kwargs=None, _n=name, **options: calls.append((_n, args, options))
        )
    return calls


@pytest.fixture
def video_offer(db):
    return OfferFactory(slug="q-video", service="video", provider_model="demo/video", options={"max_outputs": 1})


@pytest.fixture
def avatar_offer(db):
    return OfferFactory(slug="q-avatar", service="avatar", provider_model="demo/avatar", options={"max_outputs": 1})


def _submit(user, offer, capture) -> Job:
    with capture(execute=True):
        return services.job_submit(user=user, offer=offer, params={"prompt": "a lighthouse", "outputs": 1})


def test_image_and_avatar_jobs_go_to_the_images_queue_and_videos_to_the_videos_queue(
    alice, demo_offer, video_offer, avatar_offer, sent, django_capture_on_commit_callbacks
):
    image = _submit(alice, demo_offer, django_capture_on_commit_callbacks)
    video = _submit(alice, video_offer, django_capture_on_commit_callbacks)
    avatar = _submit(alice, avatar_offer, django_capture_on_commit_callbacks)

    assert sent == [
        ("submit_job_task", (image.pk,), {"queue": "images"}),
        ("submit_job_task", (video.pk,), {"queue": "videos"}),
        ("submit_job_task", (avatar.pk,), {"queue": "images"}),
    ]


def test_the_queue_names_are_settings(settings, alice, video_offer, sent, django_capture_on_commit_callbacks):
    settings.MIRSAM_QUEUE_VIDEOS = "slow-lane"
    _submit(alice, video_offer, django_capture_on_commit_callbacks)
    assert sent[0][2] == {"queue": "slow-lane"}
    assert queues.all_queues() == [settings.CELERY_TASK_DEFAULT_QUEUE, "images", "slow-lane"]


def test_polls_stay_on_the_job_queue(alice, video_offer, sent, monkeypatch, django_capture_on_commit_callbacks):
    job = _submit(alice, video_offer, django_capture_on_commit_callbacks)
    monkeypatch.setattr(services, "job_dispatch", lambda *, job_id: Job.objects.get(pk=job_id))
    monkeypatch.setattr(services, "job_poll", lambda *, job_id, chain=None: Job.objects.get(pk=job_id))

    tasks.submit_job_task.run(job.pk)
    tasks.poll_job_task.run(job.pk, 0)

    assert [(name, options["queue"]) for name, _args, options in sent[1:]] == [
        ("poll_job_task", "videos"),
        ("poll_job_task", "videos"),
    ]


def test_a_rate_limited_submit_is_sent_again_later_without_spending_a_retry(
    alice, demo_offer, sent, monkeypatch, django_capture_on_commit_callbacks
):
    job = _submit(alice, demo_offer, django_capture_on_commit_callbacks)

    def no_slot(*, job_id: int) -> Job:
        raise RateLimited(retry_after=4.0)

    monkeypatch.setattr(services, "job_dispatch", no_slot)
    tasks.submit_job_task.run(job.pk)

    name, args, options = sent[-1]
    assert (name, args, options["queue"]) == ("submit_job_task", (job.pk,), "images")
    assert 4.0 <= options["countdown"] <= 4.0 + 10.0  # the next slot, spread over one window
    assert "retries" not in options  # a fresh message: its retries are all still there
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.hold.status == HoldStatus.OPEN


def _arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def test_the_owners_language_travels_with_the_pipelines_messages(
    alice, demo_offer, monkeypatch, django_capture_on_commit_callbacks
):
    alice.preferred_language = "ar"
    alice.save()
    seen: list[tuple[str, dict]] = []
    for task in (tasks.submit_job_task, tasks.poll_job_task):
        name = task.name.rsplit(".", 1)[-1]
        monkeypatch.setattr(
            task, "apply_async", lambda args=None, kwargs=None, _n=name, **options: seen.append((_n, kwargs))
        )
    job = _submit(alice, demo_offer, django_capture_on_commit_callbacks)
    monkeypatch.setattr(services, "job_dispatch", lambda *, job_id: Job.objects.get(pk=job_id))
    monkeypatch.setattr(services, "job_poll", lambda *, job_id, chain=None: Job.objects.get(pk=job_id))

    tasks.submit_job_task.run(job.pk, language="ar")
    tasks.poll_job_task.run(job.pk, 0, language="ar")

    # Polls also carry their chain (generation.services.poll_chain_restart).
    assert seen == [
        ("submit_job_task", {"language": "ar"}),
        ("poll_job_task", {"language": "ar", "chain": 0}),
        ("poll_job_task", {"language": "ar", "chain": None}),
    ]


def test_a_failure_reason_reads_in_the_messages_language_and_an_older_message_asks_the_database(
    alice, demo_offer, settings, sent, django_capture_on_commit_callbacks
):
    settings.DEMO_FAILURE_RATE = 1.0
    carried = _submit(alice, demo_offer, django_capture_on_commit_callbacks)
    older = _submit(alice, demo_offer, django_capture_on_commit_callbacks)
    alice.preferred_language = "ar"
    alice.save()

    tasks.submit_job_task.run(carried.pk, language="en")  # the language when the job was made
    tasks.poll_job_task.run(carried.pk, 0, language="en")
    tasks.submit_job_task.run(older.pk)  # a message sent before messages carried it
    tasks.poll_job_task.run(older.pk, 0)

    carried.refresh_from_db()
    older.refresh_from_db()
    assert (carried.status, older.status) == (JobStatus.FAILED, JobStatus.FAILED)
    assert not _arabic(carried.error_message)
    assert _arabic(older.error_message)
