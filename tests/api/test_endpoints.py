"""The public API's endpoints: what the owner gets, what an outsider, a
revoked key and a key without the scope get, and that jobs made through it
hold, charge and return credits as the pages' jobs do."""

from __future__ import annotations

import pytest
from django.test import Client

from api.models import ApiKey
from api.services import api_key_revoke
from credits.models import LedgerEntry
from credits.services import wallet_for
from generation import services
from generation.models import Job, JobStatus
from tests.support.uploads import photo

from .conftest import key_client

pytestmark = pytest.mark.django_db
BASE = "/api/v1"
JOB = {"model": "test-demo", "prompt": "a lighthouse at dusk", "params": {"aspect_ratio": "1:1"}, "outputs": 2}


def _job(alice, demo_offer, **params) -> Job:
    return services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cat", "outputs": 1, **params})


def test_models_lists_the_studio_models_with_options_and_prices(alice_api, demo_offer):
    body = alice_api.get(f"{BASE}/models").json()
    model = next(m for m in body["models"] if m["slug"] == "test-demo")
    assert model["unit_price"] == demo_offer.unit_price()
    option = model["options"][0]
    assert option["name"] == "aspect_ratio" and option["default"] == "1:1"
    assert [c["value"] for c in option["choices"]] == ["1:1", "16:9"]
    assert body["consent"]["version"]
    assert alice_api.get(f"{BASE}/models/test-demo").json()["slug"] == "test-demo"
    missing = alice_api.get(f"{BASE}/models/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_quote_is_the_catalogue_price_and_refuses_bad_options(alice_api, demo_offer):
    body = alice_api.post(f"{BASE}/quote", JOB).json()
    assert body["price"] == demo_offer.price_for(outputs=2, params={"aspect_ratio": "1:1"})
    assert body["available"] == 100 and body["can_afford"] is True
    bad = alice_api.post(f"{BASE}/quote", {**JOB, "params": {"aspect_ratio": "7:3"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "option"
    too_many = alice_api.post(f"{BASE}/quote", {**JOB, "outputs": 99})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "outputs"
    assert alice_api.post(f"{BASE}/quote", {"prompt": 3}).json()["error"]["code"] == "invalid_request"


def test_a_job_made_through_the_api_holds_charges_and_shows_download_links(
    alice_api, alice, demo_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post(f"{BASE}/jobs", JOB)
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    job = alice_api.get(f"{BASE}/jobs/{job_id}").json()  # the demo provider finished it (eager Celery)
    assert job["status"] == "succeeded"
    price = demo_offer.price_for(outputs=2, params={"aspect_ratio": "1:1"})
    assert job["credits"] == {"price": price, "held": 0, "charged": price, "returned": 0}
    assert wallet_for(alice).balance == 100 - price
    assert len(job["outputs"]) == 2
    download = Client().get(job["outputs"][0]["url"])  # no session, no key: the signed link suffices
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    forged = job["outputs"][0]["url"].replace("token=", "token=x")
    assert Client().get(forged).status_code == 404
    listed = alice_api.get(f"{BASE}/jobs", limit=1).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == job_id and listed["next_offset"] is None


def test_an_expired_download_link_is_refused(
    alice_api, alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = alice_api.post(f"{BASE}/jobs", JOB).json()["id"]
    url = alice_api.get(f"{BASE}/jobs/{job_id}").json()["outputs"][0]["url"]
    settings.MIRSAM_API_DOWNLOAD_URL_SECONDS = -1
    assert Client().get(url).status_code == 404


def test_a_short_balance_is_402_with_what_is_needed_and_available(alice_api, alice, demo_offer):
    demo_offer.price_credits = 60
    demo_offer.save()
    answer = alice_api.post(f"{BASE}/jobs", {**JOB, "outputs": 2})
    assert answer.status_code == 402
    error = answer.json()["error"]
    assert error["code"] == "insufficient_credits" and error["needed"] >= 120 and error["available"] == 100
    assert not Job.objects.filter(user=alice).exists()
    assert not LedgerEntry.objects.filter(wallet__user=alice, kind="hold").exists()


def test_upload_then_use_it_as_an_input(alice_api, alice, demo_offer):
    demo_offer.options = {**demo_offer.options, "inputs": {"min": 1, "max": 1, "roles": ["reference"]}}
    demo_offer.save()
    up = alice_api.upload(f"{BASE}/uploads", {"file": photo()})
    assert up.status_code == 201, up.content
    upload_id = up.json()["id"]
    created = alice_api.post(f"{BASE}/jobs", {**JOB, "outputs": 1, "uploads": [upload_id]})
    assert created.status_code == 201, created.content
    assert Job.objects.get(pk=created.json()["id"]).inputs.get().upload_id == upload_id
    not_an_image = alice_api.upload(f"{BASE}/uploads", {"file": photo(fmt="GIF", name="x.gif")})
    assert not_an_image.status_code == 422


def test_someone_elses_upload_is_not_found(alice_api, charlie_api, demo_offer):
    demo_offer.options = {**demo_offer.options, "inputs": {"min": 1, "max": 1, "roles": ["reference"]}}
    demo_offer.save()
    upload_id = alice_api.upload(f"{BASE}/uploads", {"file": photo()}).json()["id"]
    answer = charlie_api.post(f"{BASE}/jobs", {**JOB, "outputs": 1, "uploads": [upload_id]})
    assert answer.status_code == 404


def test_cancel_releases_the_hold_of_a_running_job_once(alice_api, alice, demo_offer):
    job = _job(alice, demo_offer)  # queued: its submit message waits for a commit that never comes here
    assert wallet_for(alice).held == job.price_credits
    for _ in range(2):
        answer = alice_api.post(f"{BASE}/jobs/{job.pk}/cancel")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "canceled"
        assert body["credits"] == {"price": job.price_credits, "held": 0, "charged": 0, "returned": job.price_credits}
    wallet = wallet_for(alice)
    assert (wallet.balance, wallet.held) == (100, 0)
    assert LedgerEntry.objects.filter(wallet__user=alice, kind="release").count() == 1


def test_cancel_of_a_finished_job_changes_nothing(alice_api, alice, demo_offer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(alice, demo_offer)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    before = wallet_for(alice).balance
    body = alice_api.post(f"{BASE}/jobs/{job.pk}/cancel").json()
    assert body["status"] == "succeeded" and wallet_for(alice).balance == before


def test_balance_and_history(alice_api, alice, demo_offer):
    _job(alice, demo_offer)
    wallet = wallet_for(alice)
    assert alice_api.get(f"{BASE}/balance").json() == {
        "balance": wallet.balance,
        "held": wallet.held,
        "available": wallet.available,
        "owed": 0,
    }
    history = alice_api.get(f"{BASE}/credits/history", limit=1).json()
    assert history["count"] == LedgerEntry.objects.filter(wallet__user=alice).count() == 2  # grant, hold
    assert len(history["items"]) == 1 and history["next_offset"] == 1
    assert history["items"][0]["kind"] == "hold" and history["items"][0]["held_change"] > 0
    assert all(item["description"] for item in history["items"])
    assert alice_api.get(f"{BASE}/credits/history", limit=0).status_code == 422


# --- who may -------------------------------------------------------------------------

READS = ["/models", "/models/test-demo", "/jobs", "/balance", "/credits/history"]


@pytest.mark.parametrize("path", ["/jobs/{id}", "/jobs/{id}/cancel"])
def test_an_outsider_gets_404_for_someone_elses_job(alice, charlie_api, demo_offer, path):
    job = _job(alice, demo_offer)
    url = BASE + path.format(id=job.pk)
    answer = charlie_api.post(url) if url.endswith("cancel") else charlie_api.get(url)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert charlie_api.get(f"{BASE}/jobs").json()["count"] == 0


@pytest.mark.parametrize("path", [*READS, "/jobs/1"])
def test_no_key_or_a_wrong_one_is_401(db, path):
    assert Client().get(BASE + path).json()["error"]["code"] == "unauthenticated"
    wrong = Client().get(BASE + path, headers={"Authorization": "Bearer msk_notakeyatall123456"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_key"


def test_a_revoked_key_is_401_on_every_endpoint(alice, alice_api, demo_offer):
    job = _job(alice, demo_offer)
    api_key_revoke(key=ApiKey.objects.get(user=alice))
    for path in [*READS, f"/jobs/{job.pk}"]:
        answer = alice_api.get(BASE + path)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "revoked_key", path
    for path in ["/quote", "/jobs", f"/jobs/{job.pk}/cancel", "/uploads"]:
        answer = alice_api.post(BASE + path, JOB)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "revoked_key", path


def test_a_key_without_the_scope_is_403(alice, demo_offer):
    job = _job(alice, demo_offer)
    reader, generator = key_client(alice, scopes=["read"]), key_client(alice, scopes=["generate"])
    for path in ["/jobs", f"/jobs/{job.pk}/cancel"]:
        answer = reader.post(BASE + path, JOB)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "missing_scope", path
    assert reader.upload(f"{BASE}/uploads", {"file": photo()}).status_code == 403
    for path in [*READS, f"/jobs/{job.pk}"]:
        assert generator.get(BASE + path).status_code == 403, path
    assert generator.post(f"{BASE}/quote", JOB).status_code == 403
    assert not Job.objects.exclude(pk=job.pk).exists()


def test_requests_over_the_keys_limit_are_429_with_retry_after(alice_api, settings, demo_offer):
    settings.MIRSAM_API_RATE_REQUESTS = "3/m"
    for _ in range(3):
        assert alice_api.get(f"{BASE}/balance").status_code == 200
    answer = alice_api.get(f"{BASE}/models")
    assert answer.status_code == 429 and answer["Retry-After"] == "60"
    assert answer.json()["error"]["code"] == "rate_limited"


def test_jobs_over_the_keys_limit_are_429_and_hold_nothing(alice_api, alice, settings, demo_offer):
    settings.MIRSAM_API_RATE_JOBS = "1/m"
    assert alice_api.post(f"{BASE}/jobs", {**JOB, "outputs": 1}).status_code == 201
    answer = alice_api.post(f"{BASE}/jobs", {**JOB, "outputs": 1})
    assert answer.status_code == 429 and answer["Retry-After"] == "60"
    assert Job.objects.filter(user=alice).count() == 1
    assert alice_api.get(f"{BASE}/balance").status_code == 200  # reads go on


def test_limits_are_per_key(alice, settings, demo_offer):
    settings.MIRSAM_API_RATE_REQUESTS = "1/m"
    first, second = key_client(alice), key_client(alice)
    assert first.get(f"{BASE}/balance").status_code == 200
    assert first.get(f"{BASE}/balance").status_code == 429
    assert second.get(f"{BASE}/balance").status_code == 200


def test_errors_speak_the_owners_language_unless_accept_language_says_otherwise(alice, demo_offer):
    alice.preferred_language = "ar"
    alice.save()
    client = key_client(alice)
    arabic = client.get(f"{BASE}/models/nope").json()["error"]["message"]
    english = client.get(f"{BASE}/models/nope", headers={"Accept-Language": "en"}).json()["error"]["message"]
    assert english == "There is no model “nope”."
    assert arabic != english and any("\u0600" <= ch <= "\u06ff" for ch in arabic)


def test_accept_language_overrides_the_owners_language(alice_api, demo_offer):
    arabic = alice_api.get(f"{BASE}/models/nope", headers={"Accept-Language": "ar"}).json()["error"]["message"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in arabic)


def test_an_avatar_job_needs_consent_given_with_each_photo(alice_api, alice):
    from tests.factories import OfferFactory

    OfferFactory(
        slug="test-avatar",
        service="avatar",
        adapter="demo",
        provider_model="demo/avatar",
        options={"inputs": {"min": 1, "max": 2, "roles": ["photo"]}, "max_outputs": 2, "prompt_optional": True},
    )
    without = alice_api.upload(f"{BASE}/uploads", {"file": photo()}).json()["id"]
    refused = alice_api.post(f"{BASE}/jobs", {"model": "test-avatar", "uploads": [without]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "consent"
    old = alice_api.upload(f"{BASE}/uploads", {"file": photo(), "consent_version": "2000-01-01"})
    assert old.status_code == 422 and old.json()["error"]["code"] == "consent_changed"
    version = alice_api.get(f"{BASE}/models").json()["consent"]["version"]
    given = alice_api.upload(f"{BASE}/uploads", {"file": photo(), "consent_version": version}).json()["id"]
    created = alice_api.post(f"{BASE}/jobs", {"model": "test-avatar", "uploads": [given]})
    assert created.status_code == 201, created.content
    mixed = alice_api.post(f"{BASE}/jobs", {"model": "test-avatar", "uploads": [given, without]})
    assert mixed.status_code == 422 and Job.objects.filter(user=alice).count() == 1
