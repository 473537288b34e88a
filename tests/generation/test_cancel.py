"""The owner cancels a running job (``generation.services.job_cancel``, the
API's cancel): delivered outputs are charged, the rest of the hold released,
once, also when cancels race each other or a result arrives afterwards."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from credits.models import LedgerEntry
from credits.services import credits_grant, wallet_for
from generation import services
from generation.models import JobStatus, ProviderTask, TaskStatus
from tests.factories import UserFactory
from tests.support.concurrency import at_once

pytestmark = pytest.mark.django_db


def _job(user, offer, outputs=2):
    return services.job_submit(user=user, offer=offer, params={"prompt": "a cat", "outputs": outputs})


def test_cancel_charges_what_was_delivered_and_returns_the_rest(alice, demo_offer):
    job = _job(alice, demo_offer)
    first = job.tasks.order_by("index").first()
    ProviderTask.objects.filter(pk=first.pk).update(status=TaskStatus.SUCCEEDED)
    job = services.job_cancel(job=job)
    per_output = job.price_credits // 2
    assert job.status == JobStatus.SUCCEEDED and job.charged_credits == per_output
    assert job.error_code == services.CANCELED_CODE
    wallet = wallet_for(alice)
    assert (wallet.balance, wallet.held) == (100 - per_output, 0)
    call_command("check_ledger")


def test_a_result_arriving_after_the_cancel_changes_nothing(alice, demo_offer):
    job = _job(alice, demo_offer, outputs=1)
    task = job.tasks.get()
    services.job_cancel(job=job)
    services.task_finish_failed(task_pk=task.pk, code="late", message="late")  # a late failure: already final
    ProviderTask.objects.filter(pk=task.pk, status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]).update(
        status=TaskStatus.SUCCEEDED
    )  # the recording step's claim: matches nothing now
    job.refresh_from_db()
    task.refresh_from_db()
    assert job.status == JobStatus.CANCELED and task.status == TaskStatus.FAILED and task.error_code == "canceled"
    assert services.job_try_finish(job_id=job.pk).charged_credits == 0
    assert (wallet_for(alice).balance, wallet_for(alice).held) == (100, 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_five_cancels_at_once_release_the_hold_once(postgres, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="fund", reason="test")
    from config.celery import app

    app.conf.task_always_eager = False  # keep it queued: nothing is delivered before the cancels
    try:
        job = _job(user, demo_offer)
    finally:
        app.conf.task_always_eager = True

    outcomes = at_once(5, lambda n: services.job_cancel(job=job).status)

    assert outcomes == ["canceled"] * 5, outcomes
    assert LedgerEntry.objects.filter(wallet__user=user, kind="release").count() == 1
    assert (wallet_for(user).balance, wallet_for(user).held) == (100, 0)
    call_command("check_ledger")
