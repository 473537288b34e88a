"""A Generate form carries a one-time token: a replay of the same POST (a
double click that got through, a retried request, a forged second send) is
the same job, held once; the next Generate gets a new token."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits.models import EntryKind, LedgerEntry, Wallet
from credits.services import credits_grant
from generation import services
from generation.consent import CURRENT_VERSION
from generation.models import Job, JobStatus, StylePreset, Upload
from tests.factories import OfferFactory, StylePresetFactory, UserFactory
from tests.support.concurrency import at_once
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
TOKEN = re.compile(r'name="form_token" id="form-token" value="([^"]+)"')


def _token(body: str) -> str:
    return TOKEN.findall(body)[0]


def _generate(client, offer, token, **extra):
    data = {"offer": offer.pk, "prompt": "a lighthouse", "aspect_ratio": "1:1", "outputs": 1, "form_token": token}
    return client.post(reverse("job_create"), data, **extra)


def _held(user) -> int:
    return LedgerEntry.objects.filter(wallet__user=user, kind="hold").count()


def test_a_replayed_generate_is_the_same_job_held_once(alice_client, alice, demo_offer):
    token = _token(alice_client.get(reverse("image")).content.decode())

    first = _generate(alice_client, demo_offer, token, **HX)
    second = _generate(alice_client, demo_offer, token, **HX)

    job = Job.objects.get(user=alice)
    assert first.status_code == second.status_code == 200
    assert f'id="job-{job.pk}"' in first.content.decode() and f'id="job-{job.pk}"' in second.content.decode()
    assert _held(alice) == 1
    assert Wallet.objects.get(user=alice).held == job.price_credits
    # Without htmx the replay lands on the same job's page.
    assert _generate(alice_client, demo_offer, token)["Location"] == reverse("job_detail", args=[job.pk])
    assert Job.objects.count() == 1


def test_the_answer_to_a_generate_carries_a_new_token_for_the_next_one(alice_client, alice, demo_offer):
    token = _token(alice_client.get(reverse("image")).content.decode())
    body = _generate(alice_client, demo_offer, token, **HX).content.decode()

    new = re.findall(r'name="form_token" id="form-token" value="([^"]+)" hx-swap-oob="true"', body)
    assert new and new[0] != token
    _generate(alice_client, demo_offer, new[0], **HX)
    assert Job.objects.filter(user=alice).count() == 2


def test_every_page_load_gets_its_own_token_also_from_the_page_cache(alice_client, demo_offer):
    first = _token(alice_client.get(reverse("image")).content.decode())
    second = _token(alice_client.get(reverse("image")).content.decode())  # served from the cache
    assert first != second


def test_a_refused_generate_keeps_its_token_usable(alice_client, alice, demo_offer):
    token = _token(alice_client.get(reverse("image")).content.decode())
    data = {"offer": demo_offer.pk, "prompt": "", "aspect_ratio": "1:1", "outputs": 1, "form_token": token}
    assert "Write a prompt first." in alice_client.post(reverse("job_create"), data, **HX).content.decode()
    _generate(alice_client, demo_offer, token, **HX)
    assert Job.objects.filter(user=alice).count() == 1


def test_the_same_token_from_another_user_is_their_own_job(alice_client, charlie_client, charlie, demo_offer):
    credits_grant(user=charlie, amount=10, idempotency_key="charlie", reason="test")
    token = _token(alice_client.get(reverse("image")).content.decode())
    _generate(alice_client, demo_offer, token, **HX)
    _generate(charlie_client, demo_offer, token, **HX)
    assert Job.objects.filter(user=charlie).count() == 1


def test_a_replayed_avatar_generate_stores_its_photos_once(alice_client, alice):
    avatar_offer = OfferFactory(
        service="avatar",
        provider_model="demo/avatar",
        price_credits=1,
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
    )
    preset = StylePresetFactory()
    token = _token(alice_client.get(reverse("avatar")).content.decode())

    def post():
        data = {
            "offer": avatar_offer.pk,
            "preset": preset.pk,
            "outputs": 2,
            "details": "",
            "consent": "on",
            "consent_version": CURRENT_VERSION,
            "photos": [photo()],
            "form_token": token,
        }
        return alice_client.post(reverse("avatar_create"), data, **HX)

    post()
    post()
    assert Job.objects.filter(user=alice).count() == 1
    assert Upload.objects.filter(user=alice).count() == 1
    assert StylePreset.objects.filter(pk=preset.pk).exists()


@pytest.mark.parametrize("action", ["job_regenerate", "job_extend"])
def test_a_replayed_regenerate_or_extend_is_one_new_job(action, alice_client, alice, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # keep the new jobs queued: only their number matters here
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a lighthouse", "outputs": 1})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    token = _token(alice_client.get(reverse("image")).content.decode())
    url = reverse(action, args=[job.pk])
    for _ in range(2):
        alice_client.post(url, {"prompt": "further", "form_token": token}, **HX)
    expected = 1 if action == "job_regenerate" else 0  # the demo image model cannot be extended
    assert Job.objects.filter(user=alice, parent=job).count() == expected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_copies_of_one_generate_at_once_make_one_job(postgres, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="fund", reason="test")

    def attempt(n: int) -> str:
        job = services.job_submit(
            user=user, offer=demo_offer, params={"prompt": "x", "outputs": 1}, submission_key="generate:abc"
        )
        return str(job.pk)

    jobs = at_once(8, attempt)

    assert len(jobs) == 8 and len(set(jobs)) == 1, jobs
    assert Job.objects.filter(user=user).count() == 1
    assert _held(user) == 1
    call_command("check_ledger")


# --- free credits run a few jobs at a time ------------------------------------------


def test_free_credits_run_at_most_the_cap_of_jobs_at_once(alice_client, alice, demo_offer, settings):
    settings.MIRSAM_FREE_CONCURRENT_JOBS = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the first job stays queued
    first = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "one", "outputs": 1})

    with pytest.raises(services.GenerationError) as refused:
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "two", "outputs": 1})
    assert refused.value.code == "free_concurrency"
    data = {"offer": demo_offer.pk, "prompt": "two", "aspect_ratio": "1:1", "outputs": 1}
    body = alice_client.post(reverse("job_create"), data, **HX).content.decode()
    assert "With free credits, 1 creation runs at a time" in body
    assert Job.objects.filter(user=alice).count() == 1 and _held(alice) == 1

    Job.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    services.job_submit(user=alice, offer=demo_offer, params={"prompt": "two", "outputs": 1})
    assert Job.objects.filter(user=alice).count() == 2


def test_a_buyer_is_not_held_to_the_free_cap(alice, demo_offer, settings):
    settings.MIRSAM_FREE_CONCURRENT_JOBS = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    credits_grant(user=alice, amount=10, idempotency_key="stripe:cs_x", reason="pack", kind=EntryKind.PURCHASE)
    for prompt in ("one", "two", "three"):
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": prompt, "outputs": 1})
    assert Job.objects.filter(user=alice).count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_six_free_submissions_at_once_against_a_cap_of_two_let_two_through(postgres, demo_offer, settings):
    settings.MIRSAM_FREE_CONCURRENT_JOBS = 2
    settings.CELERY_TASK_ALWAYS_EAGER = False
    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="bonus", reason="test")

    def attempt(n: int) -> str:
        try:
            services.job_submit(user=user, offer=demo_offer, params={"prompt": f"x{n}", "outputs": 1})
        except services.GenerationError as exc:
            return exc.code
        return "made"

    outcomes = at_once(6, attempt)

    assert sorted(outcomes) == ["free_concurrency"] * 4 + ["made"] * 2
    assert Job.objects.filter(user=user).count() == 2
    call_command("check_ledger")
