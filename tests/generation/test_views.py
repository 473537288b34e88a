from __future__ import annotations

import pytest
from django.urls import reverse

from credits.models import LedgerEntry, Wallet
from generation import services
from generation.models import Job, JobStatus
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _done_job(user, offer, django_capture_on_commit_callbacks, outputs=1):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "sunrise", "outputs": outputs})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def test_the_image_page_needs_a_signed_in_user(client):
    response = client.get(reverse("image"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_image_page_offers_the_available_models_and_shows_the_price(alice_client, demo_offer):
    response = alice_client.get(reverse("image"))
    assert response.status_code == 200
    assert demo_offer.name in response.content.decode()


def test_the_price_updates_with_the_number_of_images(alice_client, demo_offer):
    response = alice_client.get(reverse("studio_options", args=["image"]), {"offer": demo_offer.pk, "outputs": 3}, **HX)
    assert response.status_code == 200
    assert response.context["price"] == 6


def test_generate_holds_the_price_and_returns_a_polling_job_card(alice_client, alice, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # keep it queued: on_commit never runs in this test
    response = alice_client.post(
        reverse("job_create"),
        {"offer": demo_offer.pk, "prompt": "a lighthouse", "aspect_ratio": "16:9", "outputs": 2, "price": 0},
        **HX,
    )
    assert response.status_code == 200
    job = Job.objects.get(user=alice)
    assert (job.price_credits, job.params["aspect_ratio"], job.outputs) == (4, "16:9", 2)
    assert Wallet.objects.get(user=alice).held == 4
    body = response.content.decode()
    assert f'id="job-{job.pk}"' in body and reverse("job_card", args=[job.pk]) in body
    assert "balanceChanged" in response["HX-Trigger"]


def test_a_short_balance_blocks_generate_with_a_link_to_pricing(client, demo_offer):
    poor = UserFactory()
    fund(poor, 1)
    client.force_login(poor)
    response = client.post(
        reverse("job_create"), {"offer": demo_offer.pk, "prompt": "x", "aspect_ratio": "1:1", "outputs": 2}, **HX
    )
    assert response["HX-Retarget"] == "#form-errors"
    assert reverse("pricing") in response.content.decode()
    assert not Job.objects.exists()
    assert Wallet.objects.get(user=poor).held == 0


@pytest.mark.parametrize(
    "data",
    [
        {"prompt": "", "aspect_ratio": "1:1", "outputs": 1},
        {"prompt": "x" * 600, "aspect_ratio": "1:1", "outputs": 1},
        {"prompt": "ok", "aspect_ratio": "7:3", "outputs": 1},
        {"prompt": "ok", "aspect_ratio": "1:1", "outputs": 9},
    ],
    ids=["empty prompt", "long prompt", "unknown ratio", "too many images"],
)
def test_bad_input_is_refused_with_a_message_and_holds_nothing(alice_client, alice, demo_offer, data):
    response = alice_client.post(reverse("job_create"), {"offer": demo_offer.pk, **data}, **HX)
    assert response["HX-Retarget"] == "#form-errors"
    assert response.content.strip()
    assert not Job.objects.exists()
    assert Wallet.objects.get(user=alice).held == 0


def test_a_forged_model_id_is_refused(alice_client, alice, demo_offer):
    hidden = OfferFactory(slug="inactive", is_active=False)
    response = alice_client.post(
        reverse("job_create"), {"offer": hidden.pk, "prompt": "x", "aspect_ratio": "1:1", "outputs": 1}, **HX
    )
    assert response["HX-Retarget"] == "#form-errors"
    assert not Job.objects.exists()


def test_the_job_card_shows_the_images_when_done(alice_client, alice, demo_offer, django_capture_on_commit_callbacks):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks, outputs=2)
    response = alice_client.get(reverse("job_card", args=[job.pk]), **HX)
    body = response.content.decode()
    for asset in job.assets.all():
        assert reverse("asset_file", args=[asset.pk]) in body
    assert "every 2s" not in body
    assert "balanceChanged" in response["HX-Trigger"]


def test_a_failed_job_shows_its_reason_and_the_returned_credits(
    alice_client, alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    settings.DEMO_FAILURE_RATE = 1.0
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    body = alice_client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert "failed this on purpose" in body and "DEMO_FAILURE_RATE" not in body  # words for people, not a setting
    assert Wallet.objects.get(user=alice).balance == 100


def test_the_owner_downloads_a_file_and_an_outsider_gets_404(
    alice_client, charlie_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    asset = job.assets.get()
    response = alice_client.get(reverse("asset_file", args=[asset.pk]) + "?download=1")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:4] == b"\x89PNG"
    assert "attachment" in response["Content-Disposition"]
    assert charlie_client.get(reverse("asset_file", args=[asset.pk])).status_code == 404


@pytest.mark.parametrize("name", ["job_detail", "job_card", "job_delete"])
def test_an_outsider_gets_404_for_another_users_job(
    charlie_client, alice, demo_offer, name, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert charlie_client.get(reverse(name, args=[job.pk])).status_code == 404
    assert charlie_client.post(reverse(name, args=[job.pk])).status_code in (404, 405)
    assert Job.objects.filter(pk=job.pk).exists()


def test_an_outsider_cannot_regenerate_someone_elses_job(
    charlie_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert charlie_client.post(reverse("job_regenerate", args=[job.pk])).status_code == 404
    assert Job.objects.count() == 1


def test_regenerate_makes_a_new_job_with_the_same_settings(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks, outputs=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("job_regenerate", args=[job.pk]))
    new = Job.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[new.pk])
    assert (new.parent, new.params, new.price_credits) == (job, job.params, job.price_credits)
    assert new.status == JobStatus.SUCCEEDED


def test_delete_asks_first_and_then_removes_the_job_and_its_files(
    alice_client, alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    path = settings.MEDIA_ROOT / job.assets.get().file.name
    assert path.exists()
    confirm = alice_client.get(reverse("job_delete", args=[job.pk]))
    assert confirm.status_code == 200 and Job.objects.filter(pk=job.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("job_delete", args=[job.pk]))
    assert response.status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not path.exists()
    assert LedgerEntry.objects.filter(reference=f"job:{job.pk}").exists()  # history stays


def test_a_running_job_cannot_be_deleted(alice_client, alice, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 1})
    alice_client.post(reverse("job_delete", args=[job.pk]))
    assert Job.objects.filter(pk=job.pk).exists()
    assert Wallet.objects.get(user=alice).held == 2


def test_my_creations_lists_only_my_jobs_newest_first_filtered_and_paginated(
    alice_client, alice, charlie, demo_offer, settings
):
    settings.MIRSAM_CREATIONS_PER_PAGE = 2
    mine = [
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": f"p{i}", "outputs": 1}) for i in range(3)
    ]
    fund(charlie, 10)
    services.job_submit(user=charlie, offer=demo_offer, params={"prompt": "theirs", "outputs": 1})
    Job.objects.filter(pk=mine[0].pk).update(status=JobStatus.FAILED)

    first = alice_client.get(reverse("creations"))
    assert [j.pk for j in first.context["page"].object_list] == [mine[2].pk, mine[1].pk]
    second = alice_client.get(reverse("creations"), {"page": 2})
    assert [j.pk for j in second.context["page"].object_list] == [mine[0].pk]
    failed = alice_client.get(reverse("creations"), {"status": "failed"})
    assert [j.pk for j in failed.context["page"].object_list] == [mine[0].pk]
    video = alice_client.get(reverse("creations"), {"service": "video"})
    assert list(video.context["page"].object_list) == []


def test_my_creations_runs_the_same_number_of_queries_for_a_long_history(
    alice_client, alice, demo_offer, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    fund(alice, 500)
    for _ in range(15):
        _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(12):
        assert alice_client.get(reverse("creations")).status_code == 200


def test_the_dashboard_shows_balance_and_recent_work(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    response = alice_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["wallet"].available == 98
    assert job in list(response.context["jobs"])


def test_switching_to_a_model_with_fewer_images_keeps_a_valid_selection(alice_client, demo_offer):
    small = OfferFactory(slug="small", options={"params": {"aspect_ratio": {"choices": ["1:1"]}}, "max_outputs": 2})
    response = alice_client.get(
        reverse("studio_options", args=["image"]), {"offer": small.pk, "outputs": 4, "aspect_ratio": "16:9"}, **HX
    )
    assert response.context["price"] == small.price_for(outputs=2)
    body = response.content.decode()
    assert 'value="2" selected' in body
    assert 'value="1:1" selected' in body


def test_regenerate_from_a_feed_card_puts_the_new_card_on_top_in_place(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a red fox", "outputs": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("job_regenerate", args=[job.pk]), {"in_feed": "1"}, HTTP_HX_REQUEST="true")

    new = Job.objects.exclude(pk=job.pk).get(user=alice)
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert f'id="job-{new.pk}"' in response.content.decode()
    assert new.parent == job and new.prompt == "a red fox"


def test_regenerate_in_the_feed_with_too_few_credits_says_so_above_the_form(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a red fox", "outputs": 1})
    Wallet.objects.filter(user=alice).update(balance=0)
    response = alice_client.post(reverse("job_regenerate", args=[job.pk]), {"in_feed": "1"}, HTTP_HX_REQUEST="true")
    assert response["HX-Retarget"] == "#form-errors"
    assert Job.objects.filter(user=alice).count() == 1


def test_the_avatar_page_asks_for_four_variants_and_shows_their_total(alice_client, db):
    offer = OfferFactory(slug="test-stylist", service="avatar", adapter="demo", price_credits=2)
    body = alice_client.get(reverse("avatar")).content.decode()
    assert '<option value="4" selected>' in body and "8 credits" in body

    partial = alice_client.get(reverse("avatar_price"), {"offer": offer.pk, "outputs": "2"}).content.decode()
    assert "4 credits" in partial and "2 credits per variant" in partial
