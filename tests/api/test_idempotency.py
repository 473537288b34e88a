"""An Idempotency-Key on POST /jobs: a retry gets the first answer and makes
nothing new; another body with the same key is 422; keys are per API key and
kept MIRSAM_API_IDEMPOTENCY_HOURS. On PostgreSQL, ten requests at once with
one key make one job and one hold and get ten identical answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from api.models import IdempotencyRecord
from api.services import idempotency_purge
from credits.models import LedgerEntry
from credits.services import credits_grant
from generation.models import Job
from tests.factories import OfferFactory, UserFactory
from tests.support.concurrency import at_once

from .conftest import key_client

pytestmark = pytest.mark.django_db
JOBS = "/api/v1/jobs"
JOB = {"model": "test-demo", "prompt": "a lighthouse", "outputs": 1}


def _holds(user) -> int:
    return LedgerEntry.objects.filter(wallet__user=user, kind="hold").count()


def test_a_retry_with_the_same_key_gets_the_first_answer_and_makes_nothing(alice_api, alice, demo_offer):
    headers = {"Idempotency-Key": "order-1"}
    first = alice_api.post(JOBS, JOB, headers=headers)
    again = alice_api.post(JOBS, {"outputs": 1, "prompt": "a lighthouse", "model": "test-demo"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Job.objects.filter(user=alice).count() == 1 and _holds(alice) == 1


def test_another_body_with_the_same_key_is_422(alice_api, alice, demo_offer):
    headers = {"Idempotency-Key": "order-2"}
    assert alice_api.post(JOBS, JOB, headers=headers).status_code == 201
    answer = alice_api.post(JOBS, {**JOB, "prompt": "a harbour"}, headers=headers)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "idempotency_mismatch"
    assert Job.objects.filter(user=alice).count() == 1


def test_without_a_key_each_post_is_a_new_job(alice_api, alice, demo_offer):
    alice_api.post(JOBS, JOB)
    alice_api.post(JOBS, JOB)
    assert Job.objects.filter(user=alice).count() == 2


def test_a_refusal_is_kept_too(alice_api, alice, demo_offer):
    demo_offer.price_credits = 500
    demo_offer.save()
    headers = {"Idempotency-Key": "order-3"}
    first = alice_api.post(JOBS, JOB, headers=headers)
    credits_grant(user=alice, amount=1000, idempotency_key="more", reason="test")
    again = alice_api.post(JOBS, JOB, headers=headers)
    assert first.status_code == again.status_code == 402 and first.json() == again.json()
    assert not Job.objects.filter(user=alice).exists()


def test_keys_are_per_api_key(alice, demo_offer):
    headers = {"Idempotency-Key": "same"}
    one, two = key_client(alice), key_client(alice)
    assert one.post(JOBS, JOB, headers=headers).json()["id"] != two.post(JOBS, JOB, headers=headers).json()["id"]


def test_a_key_older_than_a_day_is_forgotten(alice_api, alice, demo_offer):
    headers = {"Idempotency-Key": "order-4"}
    first = alice_api.post(JOBS, JOB, headers=headers).json()["id"]
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    second = alice_api.post(JOBS, JOB, headers=headers).json()["id"]
    assert first != second
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge() == 1 and not IdempotencyRecord.objects.exists()


def test_an_overlong_key_is_400(alice_api, demo_offer):
    answer = alice_api.post(JOBS, JOB, headers={"Idempotency-Key": "k" * 256})
    assert answer.status_code == 400 and not Job.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_posts_with_one_key_make_one_job_and_one_hold(postgres, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    offer = OfferFactory(slug="test-demo", adapter="demo")
    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="fund", reason="test")
    client = key_client(user)
    assert offer.pk

    def attempt(n: int) -> str:
        answer = client.post(JOBS, JOB, headers={"Idempotency-Key": "burst"})
        return f"{answer.status_code} {answer.content.decode()}"

    answers = at_once(10, attempt)

    assert len(answers) == 10 and len(set(answers)) == 1, answers
    assert answers[0].startswith("201 ")
    assert Job.objects.filter(user=user).count() == 1
    assert _holds(user) == 1
    assert IdempotencyRecord.objects.count() == 1
    call_command("check_ledger")


def test_beat_purges_old_answers(alice_api, demo_offer, settings):
    from api.tasks import idempotency_purge_task

    assert settings.CELERY_BEAT_SCHEDULE["purge-api-idempotency"]["task"] == "api.tasks.idempotency_purge_task"
    alice_api.post(JOBS, JOB, headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge_task.delay().get() == 1
