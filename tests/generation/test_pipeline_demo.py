from __future__ import annotations

import pytest

from credits.models import Wallet
from generation import services
from generation.models import JobStatus
from generation.services import pipeline


@pytest.mark.django_db
def test_a_demo_job_runs_to_done_and_charges_its_price(alice, demo_offer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a red fox", "outputs": 2})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 2
    assert all(a.content_type == "image/png" and a.width == 768 for a in job.assets.all())
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (100 - 4, 0)
    assert job.charged_credits == 4


@pytest.mark.django_db
def test_an_arabic_users_failure_reason_is_written_in_arabic(
    alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    settings.DEMO_FAILURE_RATE = 1.0
    alice.preferred_language = "ar"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "DEMO_FAILURE_RATE" not in job.error_message
    assert any("\u0600" <= ch <= "\u06ff" for ch in job.error_message)


@pytest.mark.django_db
def test_a_job_that_partly_fails_charges_only_for_the_images_made(
    alice, demo_offer, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from providers.base import TaskResult, TaskState
    from providers.demo import DemoAdapter

    real_fetch = DemoAdapter.fetch

    def fetch(self, task_id, request):
        if request.index == 1:
            return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code="501", error_message="refused")
        return real_fetch(self, task_id, request)

    monkeypatch.setattr(DemoAdapter, "fetch", fetch)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 3})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.assets.count(), job.charged_credits, job.credits_returned) == (2, 4, 2)
    assert "2" in job.error_message and "3" in job.error_message
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (96, 0)


@pytest.mark.django_db
def test_a_result_someone_else_recorded_while_it_downloaded_stores_nothing_and_charges_once(
    alice, demo_offer, settings, django_capture_on_commit_callbacks, monkeypatch
):
    """A poll and a callback (or staff canceling the job) can both find a task
    running; the one that records second must leave no file and no charge."""
    from generation.models import Asset, ProviderTask, TaskStatus

    real_fetch = pipeline._fetch_outputs
    stored: list = []

    def fetch_while_another_records(job, task, result):
        fetched = real_fetch(job, task, result)
        services.job_fail(job_id=job.pk, code="canceled", message="canceled meanwhile")
        return fetched

    real_store = pipeline._stored_asset

    def store(*args):
        asset = real_store(*args)
        stored.append(settings.MEDIA_ROOT / asset.file.name)
        return asset

    monkeypatch.setattr(pipeline, "_fetch_outputs", fetch_while_another_records)
    monkeypatch.setattr(pipeline, "_stored_asset", store)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 1})
    job.refresh_from_db()

    assert job.status == JobStatus.CANCELED
    assert ProviderTask.objects.get(job=job).status == TaskStatus.FAILED
    assert not Asset.objects.filter(job=job).exists()
    assert stored and not any(path.exists() for path in stored)  # stored, then deleted again
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held, job.charged_credits) == (100, 0, 0)
